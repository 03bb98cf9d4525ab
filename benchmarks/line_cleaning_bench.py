"""Which cleaning should a single line image (``--segmenter none``) get before recognition?

Reads each labelled line of a dataset, cleans it several ways, recognises every variant with the
same model, decodes greedy and with the default beam + LM, and prints the corpus CER / WER of
each (scored like ``htrbatch evaluate --punctuation auto``):

    python benchmarks/line_cleaning_bench.py work/val work/val_alt --limit 400 \
        --json benchmarks/results/line-cleaning-400.json

Variants: ``raw`` (grayscale as read; what ``evaluate`` scored before session 13), ``flat``
(illumination flattened), ``flat_denoise`` (flattened, then median-filtered where noisy, as
``preprocess_page`` does; the winner, now ``htrbatch.preprocess.clean_line``), ``norules``
(``preprocess_page`` without rule removal: flatten, denoise, border-component whitening) and
``full`` (``preprocess_page``'s cleaned image: all of that plus ruled-line removal; what
``transcribe --segmenter none`` fed the model before session 13).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from htrbatch.data.datasets import load_dataset
from htrbatch.decode import PUNCTUATION_FIXES, DecodeOptions, build_decoder, decode_batch
from htrbatch.evaluate import reference_punctuation_style
from htrbatch.io import read_pages
from htrbatch.metrics import corpus_rates, normalize_text
from htrbatch.pipeline import Recognizer
from htrbatch.preprocess import (
    PreprocessOptions,
    estimate_noise,
    flatten_illumination,
    preprocess_page,
)


def _flat_denoise(gray: np.ndarray) -> np.ndarray:
    opts = PreprocessOptions()
    img = flatten_illumination(gray, opts.background_frac)
    sigma = estimate_noise(img)
    if sigma > opts.noise_sigma:
        img = cv2.medianBlur(img, 3)
        if sigma > 3 * opts.noise_sigma:
            img = cv2.medianBlur(img, 5)
    return img


VARIANTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "raw": lambda g: g,
    "flat": lambda g: flatten_illumination(g, PreprocessOptions().background_frac),
    "flat_denoise": _flat_denoise,
    "norules": lambda g: preprocess_page(g, PreprocessOptions(remove_rules=False)).image,
    "full": lambda g: preprocess_page(g).image,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("datasets", nargs="+", type=Path)
    ap.add_argument("--limit", type=int, default=0, help="evenly spaced lines per set (0 = all)")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--model", default="default")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    variants = args.variants.split(",")
    rec = Recognizer(args.model, "cpu", 32, DecodeOptions(decoder="greedy"))
    beam = build_decoder(DecodeOptions(), rec.charset.labels, rec.charset.blank)
    results = []
    for root in args.datasets:
        samples = load_dataset(root)
        if args.limit and args.limit < len(samples):
            step = len(samples) / args.limit
            samples = [samples[int(i * step)] for i in range(args.limit)]
        style = reference_punctuation_style(s.text for s in samples)
        respace = PUNCTUATION_FIXES.get(style or "", lambda t: t)
        grays = [read_pages(s.image)[0].image for s in samples]
        refs = [normalize_text(s.text) for s in samples]
        for name in variants:
            t0 = time.perf_counter()
            crops = [VARIANTS[name](g) for g in grays]
            lp = rec.logprobs(crops)
            row = {"set": str(root), "variant": name, "lines": len(samples)}
            for dec_name, dec in (("greedy", rec.decoder), ("beam", beam)):
                preds = [normalize_text(respace(d.text)) for d in decode_batch(dec, lp)]
                rates = corpus_rates(zip(refs, preds))
                row[dec_name] = {"cer": round(rates.cer, 5), "wer": round(rates.wer, 5)}
            row["seconds"] = round(time.perf_counter() - t0, 1)
            results.append(row)
            print(
                f"{root} {name:13s} greedy {100 * row['greedy']['cer']:.2f} / "
                f"{100 * row['greedy']['wer']:.2f}  beam {100 * row['beam']['cer']:.2f} / "
                f"{100 * row['beam']['wer']:.2f}  ({row['seconds']} s)",
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
