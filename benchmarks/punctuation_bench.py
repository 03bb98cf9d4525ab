"""Punctuation spacing styles scored against two transcription conventions.

Reads ``htrbatch evaluate --punctuation as-decoded --json`` reports (per-line reference and
prediction), gives each prediction every output style of ``htrbatch.decode`` and scores it
against the references as written (IAM-OnDB's transcriptions: written English, ``tomorrow. Mr.``)
and against the references put in IAM ``lines.txt`` style (``tomorrow . Mr.``; what reading an
IAM layout, whose tokens are joined by spaces, gives). No recogniser runs: the styles are text
functions applied after decoding, so this equals running ``evaluate --punctuation STYLE``.

    python benchmarks/punctuation_bench.py benchmarks/results/v8-val_alt-beam.json ... \
        --out benchmarks/results/punctuation-v8.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from htrbatch.decode import PUNCTUATION_FIXES, PUNCTUATION_STYLES, split_punctuation
from htrbatch.metrics import corpus_rates

REFERENCES = {"as written": lambda s: s, "IAM lines.txt style": split_punctuation}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("reports", nargs="+", type=Path)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    results: dict[str, dict] = {}
    print("| report | references | " + " | ".join(PUNCTUATION_STYLES) + " |")
    print("| --- | --- |" + " --- |" * len(PUNCTUATION_STYLES))
    for path in args.reports:
        items = json.loads(path.read_text(encoding="utf-8"))["items"]
        results[path.name] = {}
        for ref_name, ref_fn in REFERENCES.items():
            row = {}
            for style in PUNCTUATION_STYLES:
                fix = PUNCTUATION_FIXES.get(style, lambda s: s)  # "as-decoded": unchanged
                rates = corpus_rates((ref_fn(i["reference"]), fix(i["prediction"])) for i in items)
                row[style] = {"cer": rates.cer, "wer": rates.wer}
            results[path.name][ref_name] = row
            cells = " | ".join(
                f"{100 * row[s]['cer']:.2f} / {100 * row[s]['wer']:.2f}" for s in PUNCTUATION_STYLES
            )
            print(f"| {path.name} | {ref_name} | {cells} |")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
