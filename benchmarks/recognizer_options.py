"""Recogniser and decoder options on CPU, measured on the same lines in one run (issue 26).

    python benchmarks/recognizer_options.py work/val --n 600 \\
        --out benchmarks/results/recognizer-options.json

The lines are read, cleaned and normalised as ``htrbatch evaluate`` does (``clean_line``,
``prepare_line_mapped``), then:

* recogniser variants, best of ``--rounds`` passes each, 1 torch thread (what a worker-process
  run gives the recogniser on 2 cores): fp32; bf16 autocast (what ``--precision auto`` picks
  on CPUs with bf16 instructions); each also with channels-last convolution weights (what the
  ``Recognizer`` uses on CPU since issue 26; the reference "default" is plain bf16, or fp32
  where the CPU has no bf16, as before); int8 dynamic
  quantisation of the LSTM and linear layers (``--quantize int8``), alone and under bf16.
  For each: lines/s, the largest change of a log-prob against the default, greedy CER, and how
  many greedy texts differ from the default's;
* beam + LM decoding (the defaults) of the default's log-probs with pyctcdecode's pruning
  thresholds ``token_min_logp`` (default -5) and ``beam_prune_logp`` (default -10) tightened:
  lines/s, CER, texts that differ from the default.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from htrbatch.decode import DecodeOptions, build_decoder, decode_batch
from htrbatch.io import read_pages
from htrbatch.metrics import corpus_rates, normalize_text
from htrbatch.pipeline import Recognizer
from htrbatch.preprocess import clean_line
from htrbatch.quantize import quantize_model


def run_variant(rec: Recognizer, prepared, model, dtype, channels_last: bool) -> list[np.ndarray]:
    """The recogniser's log-probs with ``model`` under autocast ``dtype`` (None: fp32), its
    weights in channels-last or plain (contiguous) memory format."""
    saved = rec.loaded.model, rec.autocast_dtype
    rec.loaded.model, rec.autocast_dtype = model, dtype
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model.to(memory_format=fmt)
    try:
        return rec.logprobs_prepared(prepared)
    finally:
        rec.loaded.model, rec.autocast_dtype = saved


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("lines", type=Path)
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--only", default="", help="comma-separated variant names (default: all)")
    ap.add_argument("--skip-beam", action="store_true", help="no beam-pruning section")
    ap.add_argument("--note", default="")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    files = sorted(args.lines.glob("*.png"))[: args.n]
    refs = [normalize_text(f.with_suffix(".gt.txt").read_text("utf-8")) for f in files]
    rec = Recognizer(threads=args.threads)
    prepared = [rec.prepare(clean_line(read_pages(f)[0].image)) for f in files]
    greedy = build_decoder(DecodeOptions(decoder="greedy"), rec.charset.labels)
    base_model = rec.loaded.model
    base_model.to(memory_format=torch.contiguous_format)  # Recognizer made it channels-last
    q_model = quantize_model(base_model, "int8")
    bf16 = torch.bfloat16
    variants = {
        "fp32": (base_model, None, False),
        "fp32 channels-last": (base_model, None, True),
        "bf16 autocast": (base_model, bf16, False),
        "bf16 autocast channels-last": (base_model, bf16, True),
        "int8 dynamic (LSTM, linear)": (q_model, None, False),
        "int8 dynamic + bf16 autocast convs": (q_model, bf16, False),
    }
    default = "bf16 autocast" if rec.autocast_dtype == bf16 else "fp32"
    if args.only:
        keep = {v.strip() for v in args.only.split(",")} | {default}
        variants = {k: v for k, v in variants.items() if k in keep}
    best: dict[str, float] = {}
    outputs: dict[str, list[np.ndarray]] = {}
    for _ in range(args.rounds):
        for name, (model, dtype, cl) in variants.items():
            t0 = time.perf_counter()
            outputs[name] = run_variant(rec, prepared, model, dtype, cl)
            best[name] = min(best.get(name, float("inf")), time.perf_counter() - t0)
            print(f"{name}: {len(files) / best[name]:.1f} lines/s", flush=True)
    base_text = [d.text for d in decode_batch(greedy, outputs[default])]
    report: dict = {
        "command": "python benchmarks/recognizer_options.py " + " ".join(sys.argv[1:]),
        "lines": len(files),
        "threads": args.threads,
        "default": default,
        "note": args.note,
        "recogniser": {},
    }
    for name in variants:
        texts = [d.text for d in decode_batch(greedy, outputs[name])]
        diff = max(
            float(np.abs(a - b).max()) if a.size else 0.0
            for a, b in zip(outputs[name], outputs[default], strict=True)
        )
        cer = corpus_rates(zip(refs, [normalize_text(t) for t in texts])).cer
        report["recogniser"][name] = {
            "lines_per_s": round(len(files) / best[name], 1),
            "ratio_to_default": round(best[default] / best[name], 3),
            "max_abs_logprob_change": round(diff, 4),
            "greedy_cer": round(cer, 5),
            "greedy_texts_changed": sum(a != b for a, b in zip(texts, base_text, strict=True)),
        }
        print(name, report["recogniser"][name], flush=True)

    # beam pruning on the default's log-probs
    lp = outputs[default]
    report["beam"] = {}
    if args.skip_beam:
        settings = ()
    else:
        settings = ((-5.0, -10.0), (-4.0, -10.0), (-3.0, -10.0), (-5.0, -6.0), (-3.0, -6.0))
    base_beam = None
    for tmin, bprune in settings:
        opts = replace(DecodeOptions(), token_min_logp=tmin, beam_prune_logp=bprune)
        dec = build_decoder(opts, rec.charset.labels)
        t = float("inf")
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            res = decode_batch(dec, lp)
            t = min(t, time.perf_counter() - t0)
        texts = [r.text for r in res]
        if base_beam is None:
            base_beam = texts
        cer = corpus_rates(zip(refs, [normalize_text(x) for x in texts])).cer
        key = f"token_min_logp {tmin}, beam_prune_logp {bprune}"
        report["beam"][key] = {
            "lines_per_s": round(len(files) / t, 1),
            "cer": round(cer, 5),
            "texts_changed": sum(a != b for a, b in zip(texts, base_beam, strict=True)),
        }
        print(key, report["beam"][key], flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
