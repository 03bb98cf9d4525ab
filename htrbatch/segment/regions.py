"""Archival page cleaning and text blocks (regions) with their reading order.

Archival cleaning (:func:`clean_archival`, on the cleaned page's ink before deskewing) removes
ink that is not writing: dark scanner borders and page edges (large components touching the
image border that lie mostly in a band along it, solid or not: a frame is a thin ring), colour
charts and rulers at the edge (solid components touching the border), punch holes (solid
square-ish blobs near an edge) and stamps (solid blobs several text heights across), thin
vertical streaks much taller than text where they run alone (paper folds, creases), and isolated
specks far from any writing (bleed-through and dust, which otherwise stretch line boxes into the
margins).

Text blocks (:func:`find_blocks`, on the deskewed analysis map) come from run-length smearing:
ink is joined across word gaps (``smear_x`` x the text height ``h``) and between the lines of a
paragraph (``smear_y`` x ``h``); each connected piece of the smeared map is a block, and its
lines are found inside it (:func:`htrbatch.segment.segment_page`), so an indented address, a
right-aligned date, a column or a signature neither merges into nor cuts through body lines.

Reading order (:func:`reading_order`), recursive XY cut: blocks are split into bands by rows
that no block spans (top to bottom), a band into columns by columns that no block spans (left to
right); a narrow column at the band's side (marginalia: under ``margin_frac`` of the band's width
beside a wider one) comes after the blocks beside it; blocks that neither cut separates go by
their top edge.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from htrbatch.segment.options import SegmentOptions
from htrbatch.types import BBox


@dataclass
class Block:
    """A text block on the analysis map."""

    box: tuple[int, int, int, int]  # x0, y0, x1, y1 (x1/y1 exclusive), analysis pixels
    mask: np.ndarray  # bool (y1 - y0, x1 - x0): the block's smeared area inside its box


def union_box(boxes: list[BBox]) -> BBox:
    """The box around ``boxes`` (x1/y1 exclusive)."""
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def _text_height(heights: np.ndarray, areas: np.ndarray) -> float:
    """Area-weighted median component height (as in :mod:`~htrbatch.segment.candidates`)."""
    order = np.argsort(heights)
    cum = np.cumsum(areas[order])
    return max(2.0, float(heights[order][np.searchsorted(cum, cum[-1] / 2)]))


def clean_archival(
    image: np.ndarray, binary: np.ndarray, band_frac: float = 0.06
) -> tuple[np.ndarray, np.ndarray, float]:
    """Ink of an archival scan that is not writing, removed.

    Args:
        image: uint8 (H, W) cleaned page.
        binary: bool (H, W) its ink.
        band_frac: width of the border band, as a fraction of the shorter side.

    Returns:
        ``(image, binary, removed)``: the page with removed ink painted to paper (a copy when
        anything was removed), its ink, and the fraction of the ink removed.
    """
    h, w = binary.shape
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary.view(np.uint8), connectivity=8)
    if n <= 1:
        return image, binary, 0.0
    x, y, bw, bh, area = (stats[1:, i].astype(np.int64) for i in range(5))
    side = min(h, w)
    band = max(2, int(band_frac * side))
    inner = np.zeros((h, w), dtype=bool)
    inner[band : h - band, band : w - band] = True
    # Ink of each component inside the band along the border.
    in_band = np.bincount(labels[~inner], minlength=n)[1:]
    touches = (x == 0) | (y == 0) | (x + bw == w) | (y + bh == h)
    fill = area / np.maximum(bw * bh, 1)
    big = (bw >= 0.2 * w) | (bh >= 0.2 * h)
    # Borders and page edges: big, touching the border, mostly inside the band (rings included).
    frame = touches & big & (in_band >= 0.6 * area)
    # The text height from the rest (a frame's height is the page's).
    rest = ~frame & ~big
    if not rest.any():
        return image, binary, 0.0
    h_ref = _text_height(bh[rest].astype(np.float64), area[rest].astype(np.float64))
    # Edge strips, charts and rulers: touching the border, solid or much longer than text.
    strip = (
        touches
        & (in_band >= 0.8 * area)
        & (
            (fill >= 0.5) & (np.minimum(bw, bh) >= 1.5 * h_ref)
            | (np.maximum(bw, bh) >= 6 * h_ref) & (np.minimum(bw, bh) <= 0.5 * h_ref)
        )
    )
    # Punch holes and stamps: solid square-ish blobs (a hole's light outline is left alone:
    # it looks like a large letter).
    size = np.maximum(bw, bh)
    squareish = (bw >= 0.7 * bh) & (bh >= 0.7 * bw)
    solid_blob = (size >= 1.2 * h_ref) & (fill >= 0.6)  # writing fills well under half its box
    blob = squareish & solid_blob
    near_edge = (x < 0.15 * w) | (x + bw > 0.85 * w) | (y < 0.15 * h) | (y + bh > 0.85 * h)
    hole = blob & near_edge
    stamp = (fill >= 0.6) & (np.minimum(bw, bh) >= 3 * h_ref)
    bad = frame | strip | hole | stamp
    streaks = _vertical_streaks(binary, h_ref)
    # Specks far from writing: small components with no larger ink within 1.5 text heights.
    small = size < 0.35 * h_ref
    text = ~small & ~bad
    q = max(1, int(h_ref // 4))  # work on a map shrunk q times: the distance is coarse anyway
    keep_lab = np.concatenate([[False], text])
    text_full = _lookup_labels(keep_lab, labels).view(np.uint8) * np.uint8(255)
    sh, sw = (h + q - 1) // q, (w + q - 1) // q
    # Area shrinking keeps thin strokes (any ink in a cell counts).
    text_map = (cv2.resize(text_full, (sw, sh), interpolation=cv2.INTER_AREA) > 0).astype(np.uint8)
    del text_full
    r = max(1, int(round(1.5 * h_ref / q)))
    near = cv2.dilate(
        text_map, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    )
    cyx = np.clip(((y + bh // 2) // q), 0, text_map.shape[0] - 1)
    cxx = np.clip(((x + bw // 2) // q), 0, text_map.shape[1] - 1)
    lone = small & (near[cyx, cxx] == 0)
    bad |= lone
    if not bad.any() and streaks is None:
        return image, binary, 0.0
    drop = _lookup_labels(np.concatenate([[False], bad]), labels)
    if streaks is not None:
        drop |= streaks & binary
    removed = float(drop.sum()) / max(1, int(area.sum()))
    binary = binary & ~drop
    image = image.copy()
    image[cv2.dilate(drop.view(np.uint8), np.ones((3, 3), np.uint8)) > 0] = 255
    return image, binary, removed


def _vertical_streaks(binary: np.ndarray, h_ref: float) -> np.ndarray | None:
    """Thin vertical streaks much taller than text (paper folds, creases, the shadow of a page
    edge), as a bool (H, W) mask, None when there are none.

    On a map shrunk so that text is about 8 cells tall: ink closed over gaps of half a text
    height vertically, opened by 3 text heights (what stays is ink running down unbroken), the
    parts narrower than 1.2 text heights that are 8 text heights tall, where no other ink lies
    within 2 text heights beside them."""
    h, w = binary.shape
    q = max(1, int(h_ref // 8))
    sh, sw = (h + q - 1) // q, (w + q - 1) // q
    small = cv2.resize(
        binary.view(np.uint8) * np.uint8(255), (sw, sh), interpolation=cv2.INTER_AREA
    )
    ink = (small > 20).astype(np.uint8)
    hq = h_ref / q
    ink = cv2.dilate(ink, np.ones((1, 3), np.uint8))  # a slanted or ragged streak stays connected
    tall = max(3, int(round(8 * hq)))
    # Ink that runs down unbroken (gaps under half a text height bridged) for 3 text heights:
    # writing does not, except a long stroke; a fold or crease does for much longer.
    bridge = np.ones((max(3, int(round(0.5 * hq))), 1), np.uint8)
    closed = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, bridge)
    run = cv2.morphologyEx(
        closed, cv2.MORPH_OPEN, np.ones((max(3, int(round(3 * hq))), 1), np.uint8)
    )
    if not run.any():
        return None
    wide = max(2, int(round(1.2 * hq)))
    broad = cv2.morphologyEx(run, cv2.MORPH_OPEN, np.ones((1, wide), np.uint8))
    thin = ((run > 0) & (broad == 0)).view(np.uint8)
    # Only thin pieces that are themselves tall.
    n, labels, stats, _ = cv2.connectedComponentsWithStats(thin, connectivity=8)
    long = np.concatenate([[False], stats[1:, cv2.CC_STAT_HEIGHT] >= tall])
    if not long.any():
        return None
    thin = cv2.dilate(long[labels].view(np.uint8), np.ones((3, 5), np.uint8))
    # Where a streak crosses writing, the writing stays: only its lone stretches go.
    other = ink & (1 - thin)
    reach = max(3, int(round(4 * hq)) | 1)
    near_text = cv2.dilate(other, np.ones((max(3, int(round(hq)) | 1), reach), np.uint8))
    thin = thin & (1 - near_text)
    if not thin.any():
        return None
    return cv2.resize(thin, (w, h), interpolation=cv2.INTER_NEAREST) > 0


def _lookup_labels(table: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``table[labels]`` (bool per label) a band of rows at a time (int64 index copies of a whole
    page would cost 8 bytes per pixel)."""
    out = np.empty(labels.shape, dtype=bool)
    step = max(1, (1 << 20) // max(1, labels.shape[1]))
    for y in range(0, labels.shape[0], step):
        out[y : y + step] = table[labels[y : y + step]]
    return out


def find_blocks(ink: np.ndarray, h_ref: float, options: SegmentOptions) -> list[Block] | None:
    """Text blocks of a deskewed analysis ink map, in reading order.

    Args:
        ink: bool (h, w) analysis ink.
        h_ref: typical text height (analysis px).

    Returns:
        The blocks (specks too small to hold a line left out), or None when there is no ink.
    """
    ah, aw = ink.shape
    if not ink.any():
        return None
    kx = max(1, int(round(options.smear_x * h_ref)))
    ky = max(1, int(round(options.smear_y * h_ref)))
    u8 = ink.view(np.uint8) if ink.dtype == bool else ink.astype(np.uint8)
    # Run-length smearing as closings: gaps shorter than the kernel are filled.
    smear = cv2.morphologyEx(u8, cv2.MORPH_CLOSE, np.ones((1, kx), np.uint8))
    smear = cv2.morphologyEx(smear, cv2.MORPH_CLOSE, np.ones((ky, 1), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(smear, connectivity=8)
    keep = []
    ink_count = np.bincount(labels[ink], minlength=n)
    for i in range(1, n):
        x, y, bw, bh, _ = (int(v) for v in stats[i])
        if max(bw, bh) >= options.min_block * h_ref and ink_count[i] >= 0.2 * h_ref * h_ref:
            keep.append(i)
    if not keep:
        return None
    groups = _join_rows([tuple(int(v) for v in stats[i, :4]) for i in keep], h_ref)
    boxes: list[tuple[int, int, int, int]] = []
    masks: list[np.ndarray] = []
    for group in groups:
        ids = [keep[k] for k in group]
        x0 = min(int(stats[i, 0]) for i in ids)
        y0 = min(int(stats[i, 1]) for i in ids)
        x1 = max(int(stats[i, 0] + stats[i, 2]) for i in ids)
        y1 = max(int(stats[i, 1] + stats[i, 3]) for i in ids)
        boxes.append((x0, y0, x1, y1))
        masks.append(np.isin(labels[y0:y1, x0:x1], ids))
    order = reading_order(boxes, options.margin_frac)
    return [Block(boxes[i], masks[i]) for i in order]


def _join_rows(stats: list[tuple[int, int, int, int]], h_ref: float) -> list[list[int]]:
    """Pieces (x, y, w, h) that share their rows joined into blocks (index groups): words of one
    line far apart or slanted, a line beside a paragraph it belongs to: two pieces join when
    their rows overlap, unless both are several lines tall (4.5 text heights) with a gutter of
    at least a text height between them (columns and marginal notes stay apart)."""
    n = len(stats)
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a in range(n):
        xa0, ya0, wa, ha = stats[a]
        for b in range(a + 1, n):
            xb0, yb0, wb, hb = stats[b]
            overlap = min(ya0 + ha, yb0 + hb) - max(ya0, yb0)
            gap = max(xa0, xb0) - min(xa0 + wa, xb0 + wb)  # < 0: side by side, overlapping
            # Pieces sharing rows are one block (words of a line far apart, a slanted line,
            # stacked paragraphs whose slanted lines interleave), unless both are paragraphs
            # with a gutter between them (columns, a marginal note beside the text).
            join = overlap > 0 and not (min(ha, hb) >= 4.5 * h_ref and gap >= h_ref)
            if join:
                parent[root(a)] = root(b)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


def reading_order(boxes: list[tuple[int, int, int, int]], margin_frac: float = 0.2) -> list[int]:
    """Indices of ``boxes`` (x0, y0, x1, y1) in reading order (recursive XY cut, see the module
    docstring): bands top to bottom, columns left to right, marginalia after the blocks beside
    them."""
    return _xy_cut(list(range(len(boxes))), boxes, margin_frac)


def _groups(idx: list[int], boxes, axis: int) -> list[list[int]]:
    """``idx`` split at gaps no box spans along ``axis`` (0: x, 1: y), in ascending order."""
    lo, hi = axis, axis + 2
    items = sorted(idx, key=lambda i: boxes[i][lo])
    groups: list[list[int]] = []
    end = None
    for i in items:
        if end is None or boxes[i][lo] >= end:
            groups.append([i])
            end = boxes[i][hi]
        else:
            groups[-1].append(i)
            end = max(end, boxes[i][hi])
    return groups


def _xy_cut(idx: list[int], boxes, margin_frac: float) -> list[int]:
    if len(idx) <= 1:
        return list(idx)
    bands = _groups(idx, boxes, 1)
    if len(bands) > 1:
        return [i for band in bands for i in _xy_cut(band, boxes, margin_frac)]
    cols = _groups(idx, boxes, 0)
    if len(cols) > 1:
        x0 = min(boxes[i][0] for i in idx)
        x1 = max(boxes[i][2] for i in idx)
        width = max(1, x1 - x0)

        def span(col: list[int]) -> int:
            return max(boxes[i][2] for i in col) - min(boxes[i][0] for i in col)

        widest = max(span(c) for c in cols)
        side = {0, len(cols) - 1}
        margins = [
            k
            for k, c in enumerate(cols)
            if k in side and span(c) < margin_frac * width and span(c) < widest
        ]
        main = [c for k, c in enumerate(cols) if k not in margins]
        tail = [cols[k] for k in margins]
        return [i for col in main + tail for i in _xy_cut(col, boxes, margin_frac)]
    return sorted(idx, key=lambda i: (boxes[i][1], boxes[i][0]))
