"""Figures for docs/segmentation.md: lines found without and with text blocks (regions).

Left: ``SegmentOptions(regions=False, archival=False)`` (the page as one block, as before);
right: the defaults (archival cleaning, blocks, lines per block). Blocks are teal with their
reading-order number, lines in alternating colours with their polygons.

    python benchmarks/regions_figure.py                      # synthetic letter -> docs/img
    python benchmarks/regions_figure.py --page ../shared/data/stanford-dev/Lettre241.jpg \
        --out docs/img/regions-stanford.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from htrbatch.segment import SegmentOptions, draw_segmentation, segment_page

ROOT = Path(__file__).resolve().parents[1]
FONT = cv2.FONT_HERSHEY_SCRIPT_SIMPLEX


def synthetic_letter() -> np.ndarray:
    """A letter-like page: date at the right, address, salutation, two paragraphs, a two-column
    list, a marginal note, a signature; a dark scanner border and a punch hole."""
    h, w = 1500, 1100
    ink = np.zeros((h, w), np.uint8)
    items = [
        ("Kew, Dec 21/95", 660, 150),
        ("Dr. W. T. Thiselton-Dyer", 120, 260),
        ("Royal Gardens", 200, 320),
        ("My dear Dyer", 120, 440),
        ("I have your letter of the tenth", 260, 520),
        ("and send the seeds you asked for", 120, 590),
        ("by the same post with the list", 120, 660),
        ("ferns", 200, 780),
        ("mosses", 200, 840),
        ("lichens", 200, 900),
        ("grasses", 560, 780),
        ("sedges", 560, 840),
        ("rushes", 560, 900),
        ("more of these will follow when", 120, 1020),
        ("the collector returns in spring", 120, 1090),
        ("Yours ever", 620, 1220),
        ("J. D. Hooker", 620, 1300),
    ]
    for text, x, y in items:
        cv2.putText(ink, text, (x + 60, y), FONT, 1.5, 255, 2, cv2.LINE_AA)
    note = np.zeros((90, 320), np.uint8)  # a note written up the left margin
    cv2.putText(note, "see p. 4", (10, 60), FONT, 1.4, 255, 2, cv2.LINE_AA)
    note = cv2.rotate(note, cv2.ROTATE_90_COUNTERCLOCKWISE)  # (320, 90)
    ink[480:800, 20:110] = np.maximum(ink[480:800, 20:110], note)
    page = 228.0 * (1.0 - ink / 255.0) + 40.0 * ink / 255.0
    page = np.clip(page, 0, 255).astype(np.uint8)
    cv2.rectangle(page, (0, 0), (w - 1, h - 1), 25, 30)
    cv2.circle(page, (70, 1200), 28, 35, -1)
    return page


def side_by_side(gray: np.ndarray, width: int) -> np.ndarray:
    panels = []
    for options in (SegmentOptions(regions=False, archival=False), SegmentOptions()):
        seg = segment_page(gray, options)
        pic = draw_segmentation(gray, seg)
        f = width / 2 / pic.shape[1]
        panels.append(cv2.resize(pic, None, fx=f, fy=f, interpolation=cv2.INTER_AREA))
    gap = np.full((panels[0].shape[0], 12, 3), 255, np.uint8)
    return np.hstack([panels[0], gap, panels[1]])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--page", type=Path, default=None, help="a page image (default: synthetic)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "regions-synthetic.png")
    ap.add_argument("--width", type=int, default=1400)
    args = ap.parse_args()
    gray = synthetic_letter() if args.page is None else cv2.imread(str(args.page), 0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # Photographs of pages: JPEG (quality 80) keeps the figure small; drawn pages: PNG.
    cv2.imwrite(str(args.out), side_by_side(gray, args.width), [cv2.IMWRITE_JPEG_QUALITY, 80])
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
