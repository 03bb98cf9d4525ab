"""A sidecar line set rewritten in IAM layout, its references in IAM ``lines.txt`` style.

Real IAM line sets come as ``lines.txt`` (tokens joined by ``|``, sentence marks as tokens of
their own: ``resolution|.|Mr.|Foot``) beside ``lines/<a01>/<a01-000u>/<id>.png``. This turns a
rendered IAM-OnDB set (``<id>.png`` + ``<id>.gt.txt``, written-English references) into that
layout, each reference put in IAM style with :func:`htrbatch.decode.split_punctuation`, the
images linked, not copied. ``htrbatch evaluate`` on the result goes through the IAM reader and
the references' other punctuation convention, as it would on real IAM:

    python benchmarks/iam_layout.py work/val_alt work/val_alt_iam
    htrbatch evaluate work/val_alt_iam --wer
"""

from __future__ import annotations

import argparse
from pathlib import Path

from htrbatch.data.datasets import load_dataset
from htrbatch.decode import split_punctuation


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("source", type=Path, help="sidecar set whose ids look like a01-003-01")
    ap.add_argument("out", type=Path)
    args = ap.parse_args()
    rows = []
    for s in load_dataset(args.source):
        line_id = Path(s.id).name
        writer, form = line_id.split("-")[:2]
        folder = args.out / "lines" / writer / f"{writer}-{form}"
        folder.mkdir(parents=True, exist_ok=True)
        link = folder / f"{line_id}{s.image.suffix}"
        if not link.exists():
            link.symlink_to(s.image.resolve())
        # id, status, gray level, components, x, y, w, h, then the tokens joined by |
        rows.append(f"{line_id} ok 0 0 0 0 0 0 {'|'.join(split_punctuation(s.text).split())}")
    (args.out / "lines.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
    print(f"{len(rows)} lines -> {args.out}")


if __name__ == "__main__":
    main()
