"""Does a line's result depend on the other lines of its batch?

A resumed run groups lines differently from an uninterrupted one, so if it did, a kill -9 and a
resume would write different text. Each line is run alone (batch of 1), in the width-sorted
batches the pipeline makes and in shuffled batches, with the pipeline's collate margin of zero
columns after each line (``CRNNConfig.right_reach``) and without it (margin 0, as before);
reported: the largest log-probability difference from the line alone (and between the two
batchings), and how many greedy transcriptions change.

    nice python benchmarks/batch_independence.py --lines 256 \
        --json benchmarks/results/batch-independence.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from soak import HOOKER, drawn_lines, hooker_lines  # noqa: E402

from htrbatch.decode import DecodeOptions, build_decoder  # noqa: E402
from htrbatch.model import collate  # noqa: E402
from htrbatch.pipeline import WIDTH_MULTIPLE, Recognizer  # noqa: E402


@torch.inference_mode()
def run_batches(rec: Recognizer, lines: list[np.ndarray], batches: list[list[int]], margin: int):
    out: list[np.ndarray] = [None] * len(lines)  # type: ignore[list-item]
    dtype = rec.autocast_dtype
    for idx in batches:
        x, widths = collate([lines[i] for i in idx], multiple=WIDTH_MULTIPLE, margin=margin)
        amp = torch.autocast("cpu", dtype=dtype) if dtype is not None else contextlib.nullcontext()
        with amp:
            lp, lengths = rec.loaded.model(x, widths)
        lp = lp.float().numpy()
        for b, i in enumerate(idx):
            out[i] = lp[: int(lengths[b]), b]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--lines", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--precision", nargs="+", default=["fp32", "auto"])
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    crops = hooker_lines(args.lines) if HOOKER.is_dir() else drawn_lines(args.lines)
    report = {"lines": len(crops), "source": "hooker" if HOOKER.is_dir() else "drawn", "runs": []}
    for precision in args.precision:
        rec = Recognizer(precision=precision, batch_size=args.batch_size, threads=0)
        greedy = build_decoder(
            DecodeOptions(decoder="greedy", lm="none"), rec.charset.labels, rec.charset.blank
        )
        lines = [rec.prepare(c) for c in crops]
        n, bs = len(lines), args.batch_size
        order = list(np.argsort([ln.shape[1] for ln in lines], kind="stable"))
        shuffled = list(range(n))
        random.Random(0).shuffle(shuffled)
        layouts = {
            "sorted": [order[i : i + bs] for i in range(0, n, bs)],
            "shuffled": [shuffled[i : i + bs] for i in range(0, n, bs)],
        }
        for margin in (0, rec.margin):
            alone = run_batches(rec, lines, [[i] for i in range(n)], margin)
            text_alone = [greedy.decode(lp).text for lp in alone]
            runs = {}
            for name, batches in layouts.items():
                got = runs[name] = run_batches(rec, lines, batches, margin)
                diff = max(float(np.abs(a - b).max()) for a, b in zip(alone, got))
                changed = sum(greedy.decode(lp).text != t for lp, t in zip(got, text_alone))
                row = {
                    "precision": rec.precision,
                    "margin": margin,
                    "batches": name,
                    "max_logprob_diff": diff,
                    "greedy_texts_changed": changed,
                }
                report["runs"].append(row)
                print(json.dumps(row))
            # two batchings of many lines each (what a resume changes), not a line alone
            a, b = runs["sorted"], runs["shuffled"]
            row = {
                "precision": rec.precision,
                "margin": margin,
                "batches": "sorted vs shuffled",
                "max_logprob_diff": max(float(np.abs(x - y).max()) for x, y in zip(a, b)),
                "greedy_texts_changed": sum(
                    greedy.decode(x).text != greedy.decode(y).text for x, y in zip(a, b)
                ),
            }
            report["runs"].append(row)
            print(json.dumps(row))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
