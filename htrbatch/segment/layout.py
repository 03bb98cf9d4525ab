"""``--segmenter xml``: the lines of the page's PAGE XML or ALTO file instead of found ones.

Users who already have a layout (from Transkribus or eScriptorium) keep it: each TextLine with a
polygon is cut out along it (masked outside it, :func:`htrbatch.formats.cut_line`) and given
the light cleaning ``--segmenter none`` gives a line image
(:func:`htrbatch.preprocess.clean_line`), in the file's reading order; its box is the polygon's
box clipped to the page. The layout's text regions become the page's regions. The layout file
is looked up from the image's path (:func:`layout_of`), so callers that know the path
(``pipeline.prepare_file``) do it.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from htrbatch.errors import InputError
from htrbatch.formats import Layout, cut_line, find_layout, read_layout
from htrbatch.formats.layout import layout_scale
from htrbatch.preprocess import _check_gray, clean_line
from htrbatch.segment.options import Segmentation, SegmentOptions
from htrbatch.types import BBox, LineImage, RegionResult

LOOKED_FOR = (
    "<stem>.xml, <stem>.page.xml or <stem>.alto.xml beside the image or in its page/ or alto/ "
    "subfolder"
)


def layout_of(image: str | Path) -> Layout:
    """The layout (PAGE XML or ALTO) of the page image ``image``
    (:func:`htrbatch.formats.find_layout`).

    Raises InputError naming the image and what was looked for when it has none, or naming the
    layout file when that cannot be read."""
    found = find_layout(image)
    if found is None:
        raise InputError(
            str(image), f"--segmenter xml: no PAGE XML or ALTO file found (looked for {LOOKED_FOR})"
        )
    return read_layout(found)


# A layout whose line polygons hold less than this share of the page's ink, with at least
# MIN_FIT_LINES lines, was made for another image (a different scan or crop of the page): of
# the 264 Hooker pages whose polygons fit inside their image, two pages of one letter hold 23 %
# and 34 % (every line cut from them is the wrong piece of writing); the rest hold 46-100 %
# (median 98 %; 2-line and partly transcribed pages lowest); the 13 stanford-dev pages
# (letterheads, stamps) 54-100 % (benchmarks/layout_fit.py).
MIN_INK_COVERAGE = 0.4
MIN_FIT_LINES = 5


def ink_coverage(gray: np.ndarray, polygons: list[np.ndarray]) -> float:
    """The share of the page's ink (dark strokes against the local paper, outside a 5 % border
    where page edges and scanner shadows lie) within ``polygons`` (page pixels), analysed at a
    quarter of the size; 1.0 on a page without ink."""
    h, w = gray.shape
    f = 4 if min(h, w) >= 400 else 1
    small = cv2.resize(gray, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA)
    paper = cv2.medianBlur(small, 31 if min(small.shape) > 31 else 3)
    ink = (paper.astype(np.int16) - small.astype(np.int16)) > 25
    sh, sw = ink.shape
    inner = np.zeros_like(ink)
    inner[sh // 20 : sh - sh // 20, sw // 20 : sw - sw // 20] = True
    ink &= inner
    total = int(ink.sum())
    if total == 0:
        return 1.0
    mask = np.zeros((sh, sw), np.uint8)
    cv2.fillPoly(mask, [np.round(p / f).astype(np.int32) for p in polygons if len(p) >= 3], 1)
    mask = cv2.dilate(mask, np.ones((7, 7), np.uint8)).astype(bool)
    return float((ink & mask).sum()) / total


def line_polygons(layout: Layout, scale: tuple[float, float]) -> list[np.ndarray]:
    """The layout's line polygons (those with 3 points or more) scaled onto the image."""
    polys = [ln.polygon * scale for ln in layout.lines if ln.polygon is not None]
    return [p for p in polys if len(p) >= 3]


def check_layout_fits(
    gray: np.ndarray, layout: Layout, scale: tuple[float, float], image: str = ""
) -> None:
    """Raise InputError naming the layout file when its line polygons (scaled by ``scale``)
    miss most of the page's writing (:data:`MIN_INK_COVERAGE`): the layout was made for
    another image, and every line cut from it would be the wrong piece of writing."""
    polys = line_polygons(layout, scale)
    if len(polys) < MIN_FIT_LINES:
        return
    cov = ink_coverage(gray, polys)
    if cov < MIN_INK_COVERAGE:
        raise InputError(
            layout.path,
            f"its {len(polys)} line polygons hold only {cov:.0%} of the writing on "
            f"{image or 'the image'}: "
            "the layout does not match the image (made for another scan or crop of the page?); "
            "export it again with its image, or use --segmenter page",
        )


def _clip_points(pts: np.ndarray, w: int, h: int) -> np.ndarray:
    return np.column_stack([np.clip(pts[:, 0], 0, w - 1), np.clip(pts[:, 1], 0, h - 1)])


def _box(pts: np.ndarray, w: int, h: int) -> BBox | None:
    """The box of ``pts`` (x1/y1 exclusive) clipped to the page; None when nothing is left."""
    x0 = max(0, int(np.floor(pts[:, 0].min())))
    y0 = max(0, int(np.floor(pts[:, 1].min())))
    x1 = min(w, int(np.ceil(pts[:, 0].max())) + 1)
    y1 = min(h, int(np.ceil(pts[:, 1].max())) + 1)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def segment_layout(
    gray: np.ndarray, layout: Layout, options: SegmentOptions | None = None, image: str = ""
) -> Segmentation:
    """The lines of ``layout`` cut out of its page image ``gray``.

    Args:
        gray: uint8 (H, W) page (a (H, W, 3) BGR array is converted).
        layout: the page's layout; coordinates made for another size of the same page are
            scaled to ``gray`` (:func:`htrbatch.formats.layout.layout_scale`).
        options: ``line_types`` (keep only lines of these types), ``pad`` and ``preprocess``
            (the line cleaning) are used.
        image: the image's name, for the error when the layout does not fit it.

    Returns:
        :class:`Segmentation` with method ``xml``: lines in the layout's reading order, each with
        its polygon (and baseline) in input pixels clipped to the page and its id; regions in
        reading order (those with at least one line kept). Lines without a polygon, or whose
        polygon lies outside the page, are left out.

    Raises:
        InputError naming the layout file when its polygons reach far past the image, or miss
        most of its writing (:func:`check_layout_fits`).
    """
    options = options or SegmentOptions(method="xml")
    gray = _check_gray(gray)
    h, w = gray.shape
    scale = np.asarray(layout_scale(layout, w, h, image), dtype=np.float64)
    check_layout_fits(gray, layout, (scale[0], scale[1]), image)
    lines: list[LineImage] = []
    regions: list[RegionResult] = []
    for region in layout.regions:
        members: list[int] = []
        for ln in region.lines:
            if options.line_types and not any(ln.has_type(t) for t in options.line_types):
                continue
            if ln.polygon is None or len(ln.polygon) == 0:
                continue
            poly = ln.polygon * scale
            box = _box(poly, w, h)
            crop = cut_line(gray, poly, pad=options.pad) if box is not None else None
            if box is None or crop is None:
                continue
            baseline = None
            if ln.baseline is not None and len(ln.baseline):
                baseline = _clip_points(ln.baseline * scale, w, h)
            members.append(len(lines))
            lines.append(
                LineImage(
                    clean_line(crop, options.preprocess),
                    box,
                    polygon=_clip_points(poly, w, h),
                    baseline=baseline,
                    id=ln.id,
                )
            )
        if not members:
            continue
        boxes = [lines[i].bbox for i in members]
        if region.polygon is not None and len(region.polygon):
            rbox = _box(region.polygon * scale, w, h)
            if rbox is not None:
                boxes.append(rbox)
        union = (
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        )
        regions.append(RegionResult(union, members, region.id or None))
    return Segmentation(lines, 0.0, "xml", regions=regions)
