"""Pictures and boxes of a segmentation, for debugging and figures."""

from __future__ import annotations

import cv2
import numpy as np

from htrbatch.preprocess import _check_gray
from htrbatch.segment.options import Segmentation
from htrbatch.types import BBox


def draw_segmentation(gray: np.ndarray, seg: Segmentation) -> np.ndarray:
    """Picture of a segmentation for debugging.

    Args:
        gray: the uint8 (H, W) page given to :func:`segment_page`.
        seg: its result.

    Returns:
        uint8 (H, W, 3) BGR image: text blocks (regions) in teal with their 1-based reading-order
        number after ``R``, separators in orange, line boxes (and polygons, when
        known) in alternating colours with their 1-based reading-order number.
    """
    gray = _check_gray(gray)
    out = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    h, w = gray.shape
    thick = max(1, round(max(h, w) / 800))
    for poly in seg.separators:
        if len(poly) > 1:
            # polylines wants (N, 1, 2) int32 point lists.
            cv2.polylines(out, [poly.reshape(-1, 1, 2)], False, (0, 140, 255), thick, cv2.LINE_AA)
    colours = [(255, 60, 0), (0, 0, 230), (0, 150, 0), (200, 0, 200)]
    scale = max(0.4, max(h, w) / 1500)
    font = cv2.FONT_HERSHEY_SIMPLEX
    gap = 2 * thick
    for k, region in enumerate(seg.regions or []):
        x0, y0, x1, y1 = region.bbox
        teal = (160, 160, 0)
        cv2.rectangle(out, (x0 - gap, y0 - gap), (x1 - 1 + gap, y1 - 1 + gap), teal, thick * 2)
        org = (max(0, x0 - gap), max(int(18 * scale), y0 - 2 * gap))
        cv2.putText(out, f"R{k + 1}", org, font, scale, teal, thick, cv2.LINE_AA)
    for i, line in enumerate(seg.lines):
        x0, y0, x1, y1 = line.bbox
        colour = colours[i % len(colours)]
        cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), colour, thick)
        if line.polygon is not None and len(line.polygon) >= 3:
            pts = np.round(line.polygon).astype(np.int32).reshape(-1, 1, 2)
            cv2.polylines(out, [pts], True, colour, max(1, thick // 2), cv2.LINE_AA)
        org = (x0 + 2, max(y0 + int(18 * scale), int(18 * scale)))
        cv2.putText(out, str(i + 1), org, font, scale, colour, thick, cv2.LINE_AA)
    return out


def line_boxes(seg: Segmentation) -> list[BBox]:
    """The boxes of a segmentation's lines, top to bottom."""
    return [line.bbox for line in seg.lines]
