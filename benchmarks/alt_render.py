"""A second, deliberately independent stroke renderer: a proxy for "a renderer we have never seen".

The project's renderer (htrbatch/data/render.py) normalises x-height, smooths strokes with splines,
varies pen width with speed and adds slant, wobble, paper texture and so on; the model is trained
on its output, so scores on its renderings flatter the model. This script shares none of that code:
raw pen points are scaled so the line's ink box has a random height, drawn as constant-width
anti-aliased polylines in a random gray on a flat paper tone, lightly blurred, noised and JPEG
compressed. Nothing here is used for training.

    python benchmarks/alt_render.py ../shared/data/iam-ondb testset_t work/test_t_alt [--seed 5]

Writes ``<line id>.png`` + ``<line id>.gt.txt`` (the layout `htrbatch evaluate` reads).
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import cv2
import numpy as np

from htrbatch.data.iamondb import read_iamondb


def _rng(line_id: str, seed: int) -> np.random.Generator:
    digest = hashlib.blake2b(f"alt\0{seed}\0{line_id}".encode(), digest_size=8).digest()
    return np.random.default_rng(int.from_bytes(digest, "little"))


def render(strokes: list[np.ndarray], rng: np.random.Generator) -> np.ndarray | None:
    """Raw (N, >=2) pen strokes in sensor units -> uint8 (h, w) line image, or None."""
    pts = np.concatenate([s[:, :2] for s in strokes if len(s)])
    if len(pts) < 10:
        return None
    # Drop tracker glitches: points far outside the bulk of the ink vertically.
    q1, med, q3 = np.percentile(pts[:, 1], [25, 50, 75])
    keep_lo, keep_hi = med - 4 * (q3 - q1 + 1), med + 4 * (q3 - q1 + 1)
    strokes = [s[(s[:, 1] > keep_lo) & (s[:, 1] < keep_hi), :2] for s in strokes]
    strokes = [s for s in strokes if len(s)]
    pts = np.concatenate(strokes)
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    box_h = float(rng.uniform(45, 110))  # ink box height in px, ascender top to descender bottom
    scale = box_h / max(y1 - y0, 1.0)
    margin = int(rng.integers(4, 25))
    width = int((x1 - x0) * scale) + 2 * margin
    height = int(box_h) + 2 * margin
    if width > 8000:
        return None
    pen = float(rng.uniform(1.2, 3.5))
    ss = 4  # draw at 4x, then shrink: anti-aliased strokes with sub-pixel widths
    canvas = np.zeros((height * ss, width * ss), np.uint8)
    for s in strokes:
        xy = (s - [x0, y0]) * scale + margin
        poly = np.round(xy * ss * 16).astype(np.int32).reshape(-1, 1, 2)  # 4 fractional bits
        if len(poly) == 1:
            poly = np.concatenate([poly, poly])
        cv2.polylines(canvas, [poly], False, 255, max(1, int(round(pen * ss))), cv2.LINE_AA, 4)
    cov = cv2.resize(canvas, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32)
    cov /= 255.0
    paper = float(rng.uniform(200, 250))
    ink = float(rng.uniform(15, 110))
    img = paper * (1 - cov) + ink * cov
    img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.3, 1.0)))
    img += rng.normal(0, rng.uniform(1, 8), img.shape)
    img = np.clip(img, 0, 255).astype(np.uint8)
    ok, jpg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(55, 95))])
    return cv2.imdecode(jpg, cv2.IMREAD_GRAYSCALE) if ok else img


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", type=Path, help="IAM-OnDB folder")
    ap.add_argument("split", help="trainset, testset_v or testset_t")
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--limit", type=int, default=0, help="render at most this many lines")
    args = ap.parse_args()
    db = read_iamondb(args.src, args.split)
    args.out.mkdir(parents=True, exist_ok=True)
    lines = db.lines[: args.limit] if args.limit else db.lines
    written = 0
    for line in lines:
        img = render(line.strokes, _rng(line.id, args.seed))
        if img is None or not line.text.strip():
            continue
        cv2.imwrite(str(args.out / f"{line.id}.png"), img)
        (args.out / f"{line.id}.gt.txt").write_text(line.text + "\n", encoding="utf-8")
        written += 1
    print(f"{args.split}: wrote {written} of {len(lines)} lines to {args.out}")


if __name__ == "__main__":
    main()
