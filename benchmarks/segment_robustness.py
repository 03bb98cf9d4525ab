"""Segmentation robustness checks on labelled pages (as written by ``htrbatch data pages``).

1. Line images: each true line box is cut out of its page with a margin (so that bits of the
   neighbouring lines show, as in real line images) and segmented with ``auto``; it should give
   one line.
2. Turned pages: pages are turned by a few degrees (paper-coloured corners); the skew reported by
   :func:`segment_page` should change by that angle and the line count stay right.

Line counts per page style (ruled notebook photos among them) are in ``segment_bench.py``'s output.

    python benchmarks/segment_robustness.py /work/data/pages_t --pages 40 --lines 200
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from segment_bench import load_set  # noqa: E402

from htrbatch.preprocess import rotate_page  # noqa: E402
from htrbatch.segment import segment_page  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def line_images(pages, limit: int, margin: float) -> dict:
    """Cut true lines out of pages (margin x the line's height above and below) and segment."""
    got = []
    for _name, path, truth, _style in pages:
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        h, w = gray.shape
        for x0, y0, x1, y1 in truth.astype(int):
            pad = int(margin * (y1 - y0))
            crop = gray[max(0, y0 - pad) : min(h, y1 + pad), max(0, x0 - 10) : min(w, x1 + 10)]
            got.append(len(segment_page(crop).lines))
            if len(got) >= limit:
                break
        if len(got) >= limit:
            break
    counts = np.array(got)
    return {
        "images": len(counts),
        "margin_x_line_height": margin,
        "one_line": float(np.mean(counts == 1)),
        "line_counts": {str(k): int(v) for k, v in zip(*np.unique(counts, return_counts=True))},
    }


def turned_pages(pages, limit: int, angles: list[float]) -> dict:
    """Turn pages by each angle; skew change error and line count against the truth."""
    err, exact, n = [], 0, 0
    for _name, path, truth, _style in pages[:limit]:
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        paper = int(np.median(gray))
        base = segment_page(gray).skew_deg
        for angle in angles:
            turned, _ = rotate_page(gray, angle, fill=paper)
            seg = segment_page(turned)
            err.append(seg.skew_deg - base - angle)
            exact += len(seg.lines) == len(truth)
            n += 1
    e = np.abs(np.array(err))
    return {
        "pages": min(limit, len(pages)),
        "angles_deg": angles,
        "turned_pages": n,
        "skew_change_abs_error_deg": {"median": float(np.median(e)), "max": float(e.max())},
        "count_exact": exact / max(n, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("folder", type=Path, help="labelled pages (<page>.png + <page>.lines.json)")
    ap.add_argument("--pages", type=int, default=40, help="pages to turn")
    ap.add_argument("--angles", default="-6,-3,3,6", help="turns in degrees, comma-separated")
    ap.add_argument("--lines", type=int, default=200, help="line images to cut out")
    ap.add_argument("--margin", type=float, default=0.3)
    ap.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "segment-robustness.json"
    )
    args = ap.parse_args()
    cv2.setNumThreads(1)
    pages = load_set(args.folder)
    angles = [float(a) for a in args.angles.split(",") if a.strip()]
    t0 = time.perf_counter()
    results = {
        "line_images": line_images(pages, args.lines, args.margin),
        "turned_pages": turned_pages(pages, args.pages, angles),
    }
    payload = {
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "command": " ".join(sys.argv),
        "seconds": time.perf_counter() - t0,
        "results": results,
    }
    print(json.dumps(results, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
