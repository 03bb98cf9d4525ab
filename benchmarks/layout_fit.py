"""How much of each page's writing its layout's line polygons hold (issue 21/22 data check).

    python benchmarks/layout_fit.py ../shared/data/hooker/pages ../shared/data/stanford-dev

Prints, per collection, the pages with the lowest share and the median; a page under
``htrbatch.segment.layout.MIN_INK_COVERAGE`` (with at least ``MIN_FIT_LINES`` lines) is refused
by ``train``, ``data layout-lines`` and ``--segmenter xml`` as a layout that does not match its
image.
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from htrbatch.data.layout_lines import find_layout_pages
from htrbatch.errors import InputError
from htrbatch.formats import read_layout
from htrbatch.formats.layout import layout_scale
from htrbatch.segment.layout import (
    MIN_FIT_LINES,
    MIN_INK_COVERAGE,
    ink_coverage,
    line_polygons,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("roots", nargs="+")
    ap.add_argument("--show", type=int, default=8, help="lowest pages to list")
    args = ap.parse_args()
    for root in args.roots:
        pages, _ = find_layout_pages(root)
        rows = []
        for page in pages:
            layout = read_layout(page.layout)
            gray = cv2.imread(str(page.image), cv2.IMREAD_GRAYSCALE)
            h, w = gray.shape
            try:
                sx, sy = layout_scale(layout, w, h)
            except InputError:
                print(f"  {page.image.name}: polygons reach past the image (refused already)")
                continue
            polys = line_polygons(layout, (sx, sy))
            rows.append((ink_coverage(gray, polys), len(polys), page.image.name))
        rows.sort()
        refused = [r for r in rows if r[0] < MIN_INK_COVERAGE and r[1] >= MIN_FIT_LINES]
        covs = np.array([r[0] for r in rows])
        print(
            f"{root}: {len(rows)} pages, ink within line polygons median {np.median(covs):.1%}, "
            f"refused {len(refused)}"
        )
        for cov, n, name in rows[: args.show]:
            mark = "  REFUSED" if (cov, n, name) in refused else ""
            print(f"  {cov:6.1%}  {n:3d} lines  {name}{mark}")


if __name__ == "__main__":
    main()
