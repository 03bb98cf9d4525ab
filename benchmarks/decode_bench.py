"""Greedy vs beam vs beam+LM vs +spell on labelled lines: CER, WER and decoding speed.

The recogniser runs once; every decoder then decodes the same log-probabilities, so the
figures differ only by decoding. With --grid it also tunes alpha/beta (use validation data only).

    python benchmarks/decode_bench.py /work/data/val --limit 400 --grid \
        --out benchmarks/results/decode-val.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

from htrbatch.data.datasets import load_dataset
from htrbatch.decode import DecodeOptions, build_decoder, decode_batch
from htrbatch.io import read_pages
from htrbatch.metrics import corpus_rates
from htrbatch.pipeline import Recognizer
from htrbatch.preprocess import clean_line


def run(decoder, logprobs, refs) -> dict:
    t0 = time.perf_counter()
    hyps = [r.text for r in decode_batch(decoder, logprobs)]
    dt = time.perf_counter() - t0
    rates = corpus_rates(zip(refs, hyps))
    return {"cer": rates.cer, "wer": rates.wer, "ms_per_line": 1000 * dt / len(refs)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("--model", default="default")
    ap.add_argument("--limit", type=int, default=400)
    ap.add_argument("--grid", action="store_true")
    ap.add_argument("--beam-width", type=int, default=DecodeOptions().beam_width)
    ap.add_argument("--alphas", type=float, nargs="+", default=[0.3, 0.5, 0.7, 1.0])
    ap.add_argument("--betas", type=float, nargs="+", default=[0.0, 1.0, 2.0])
    ap.add_argument(
        "--lm", default="default", help="word LM for the beam rows: default, or an ARPA/binary path"
    )
    ap.add_argument("--out", default="")
    args = ap.parse_args()

    samples = load_dataset(args.dataset)
    samples = samples[:: max(1, len(samples) // args.limit)][: args.limit]
    rec = Recognizer(args.model, "cpu", 32, DecodeOptions(decoder="greedy"))
    t0 = time.perf_counter()
    # the line images as `evaluate` reads them (--segmenter none cleans each line first)
    logprobs = rec.logprobs([clean_line(read_pages(s.image)[0].image) for s in samples])
    model_ms = 1000 * (time.perf_counter() - t0) / len(samples)
    refs = [s.text for s in samples]
    labels, blank = rec.charset.labels, rec.charset.blank
    results: dict = {
        "dataset": args.dataset,
        "model": args.model,
        "lm": args.lm,
        "lines": len(samples),
        "model_ms_per_line": model_ms,
    }
    bw = args.beam_width

    def opts(**kw) -> DecodeOptions:
        lm = "default" if kw.get("decoder") == "greedy" else args.lm  # greedy takes no LM
        return DecodeOptions(**{"lm": lm, **kw})

    rows = {
        "greedy": opts(decoder="greedy"),
        f"beam{bw} no LM": opts(decoder="beam", lm="none", beam_width=bw),
        f"beam{bw} + LM": opts(decoder="beam", beam_width=bw),
    }
    for name, o in rows.items():
        results[name] = run(build_decoder(o, labels, blank), logprobs, refs)
        print(f"{name:24s} {json.dumps(results[name])}", flush=True)
    best = (DecodeOptions().alpha, DecodeOptions().beta)
    if args.grid:
        grid = {}
        for a, b in itertools.product(args.alphas, args.betas):
            r = run(
                build_decoder(opts(alpha=a, beta=b, beam_width=bw), labels, blank), logprobs, refs
            )
            grid[f"{a},{b}"] = r
            print(f"alpha={a} beta={b} {json.dumps(r)}", flush=True)
        results["grid"] = grid
        best = tuple(float(v) for v in min(grid, key=lambda k: grid[k]["cer"]).split(","))
        results["best_alpha_beta"] = best
    o = opts(alpha=best[0], beta=best[1], beam_width=bw)
    results[f"beam{bw} + LM (alpha={best[0]}, beta={best[1]})"] = run(
        build_decoder(o, labels, blank), logprobs, refs
    )
    results["... + spell"] = run(
        build_decoder(opts(alpha=best[0], beta=best[1], beam_width=bw, spell=True), labels, blank),
        logprobs,
        refs,
    )
    for k in list(results)[-2:]:
        print(f"{k:24s} {json.dumps(results[k])}", flush=True)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
