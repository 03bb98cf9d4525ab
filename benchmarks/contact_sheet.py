"""Render a contact sheet of IAM-OnDB lines to eyeball the stroke renderer.

Usage: python benchmarks/contact_sheet.py SRC OUT.png [--split testset_v] [--n 24] [--seed 0]
Each rendering is shown at its native size with its transcription and style summary below.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from htrbatch.data.iamondb import read_iamondb
from htrbatch.data.render import render_line, sample_style
from htrbatch.data.render_dataset import line_rng

WIDTH = 1400


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--split", default="testset_v")
    ap.add_argument("--n", type=int, default=24)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    lines = read_iamondb(args.src, args.split).lines
    pick = np.random.default_rng(args.seed).choice(len(lines), size=args.n, replace=False)
    rows = []
    for i in sorted(pick):
        line = lines[i]
        rng = line_rng(line.id, 0, args.seed)
        style = sample_style(rng)
        img = render_line(line.strokes, style, rng)
        if img.shape[1] > WIDTH:
            img = img[:, :WIDTH]
        row = np.full((img.shape[0], WIDTH), 128, np.uint8)
        row[:, : img.shape[1]] = img
        caption = np.full((22, WIDTH), 255, np.uint8)
        info = (
            f"{line.id} d={style.page.difficulty:.2f} xh={style.x_height:.0f} "
            f"pen={style.pen_width:.1f} {img.shape[0]}px | {line.text}"
        )
        cv2.putText(caption, info, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, 0, 1, cv2.LINE_AA)
        rows += [row, caption, np.full((4, WIDTH), 255, np.uint8)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), np.concatenate(rows))


if __name__ == "__main__":
    main()
