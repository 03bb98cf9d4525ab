"""Split the Hooker letters (../shared/data/hooker) into train / val / test BY LETTER.

    htrbatch data layout-lines ../shared/data/hooker/pages --out work/hooker-lines
    python benchmarks/hooker_split.py work/hooker-lines work/hooker

A letter is a page's file name without its last ``_NNN`` (page number). Letters are sorted by
name; letter i goes to test when i % 8 == 0, to val when i % 8 == 4, else to train (88 letters:
11 test, 11 val, 66 train). The split folders hold hard links to the files of the line
dataset (dataset readers do not follow symlinked folders), so every line of a letter lands in
one split and no page is seen by two.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def letter_of(page: str) -> str:
    return page.rsplit("_", 1)[0]


def split_of(index: int) -> str:
    return "test" if index % 8 == 0 else "val" if index % 8 == 4 else "train"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("lines", type=Path, help="line dataset from `htrbatch data layout-lines`")
    ap.add_argument("out", type=Path, help="folder for train/, val/, test/ (hard links)")
    args = ap.parse_args()
    pages = sorted(p.name for p in args.lines.iterdir() if p.is_dir())
    letters = sorted({letter_of(p) for p in pages})
    where = {letter: split_of(i) for i, letter in enumerate(letters)}
    counts: dict[str, dict[str, int]] = {}
    for page in pages:
        split = where[letter_of(page)]
        dst = args.out / split / page
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.mkdir(exist_ok=True)
        for f in (args.lines / page).iterdir():
            if not (dst / f.name).exists():
                os.link(f, dst / f.name)
        c = counts.setdefault(split, {"letters": 0, "pages": 0, "lines": 0})
        c["pages"] += 1
        c["lines"] += len(list((args.lines / page).glob("*.gt.txt")))
    for split in where.values():
        counts[split]["letters"] += 1
    summary = {"splits": counts, "test_letters": sorted(k for k, v in where.items() if v == "test")}
    (args.out / "split.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
