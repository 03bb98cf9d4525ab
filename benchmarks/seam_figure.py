"""Make docs/img/segment-seams.png: pages split by straight cuts (projection) and by A* seams.

One row per page: the ``projection`` segmentation on the left, ``seam`` on the right (separators
orange, line boxes numbered), each scaled to the same width.

    python benchmarks/seam_figure.py pages_t/<form>.png ... --out docs/img/segment-seams.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from htrbatch.segment import SegmentOptions, draw_segmentation, segment_page


def panel(gray: np.ndarray, method: str, width: int) -> np.ndarray:
    seg = segment_page(gray, SegmentOptions(method=method))
    pic = draw_segmentation(gray, seg)
    size = (width, round(pic.shape[0] * width / pic.shape[1]))
    pic = cv2.resize(pic, size, interpolation=cv2.INTER_AREA)
    label = f"{method}: {len(seg.lines)} lines"
    cv2.putText(pic, label, (10, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 0), 2, cv2.LINE_AA)
    return pic


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("pages", type=Path, nargs="+")
    ap.add_argument("--width", type=int, default=640, help="width of each panel (px)")
    ap.add_argument("--out", type=Path, default=Path("docs/img/segment-seams.png"))
    args = ap.parse_args()
    rows = []
    for path in args.pages:
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        left, right = (panel(gray, m, args.width) for m in ("projection", "seam"))
        gap = np.full((left.shape[0], 8, 3), 200, np.uint8)
        rows.append(np.hstack([left, gap, right]))
        rows.append(np.full((8, rows[-1].shape[1], 3), 200, np.uint8))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), np.vstack(rows[:-1]), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
