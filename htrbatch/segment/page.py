"""Stage orchestration: :func:`segment_page`.

The page is cleaned and its skew estimated (:mod:`htrbatch.preprocess`), rotated so the lines are
horizontal on average, and analysed on a downscaled ink-coverage map: candidates
(:mod:`~htrbatch.segment.candidates`), checked (:mod:`~htrbatch.segment.rules`), separated
(:mod:`~htrbatch.segment.separators`, :mod:`~htrbatch.segment.seams`), split where one holds
two lines (:mod:`~htrbatch.segment.merged`) and cut out (:mod:`~htrbatch.segment.cut`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from htrbatch.errors import OptionsError
from htrbatch.preprocess import (
    _check_gray,
    clean_line,
    estimate_skew,
    preprocess_page,
    rotate_page,
)
from htrbatch.segment.candidates import (
    Components,
    components,
    profile_candidates,
    ridge_candidates,
)
from htrbatch.segment.cut import cut_line, line_pitch, to_input_polyline
from htrbatch.segment.insertions import LinePart, split_insertions
from htrbatch.segment.merged import split_merged
from htrbatch.segment.options import Segmentation, SegmentOptions
from htrbatch.segment.regions import clean_archival, find_blocks, union_box
from htrbatch.segment.rules import validate_candidates
from htrbatch.segment.seams import seams
from htrbatch.segment.separators import order_fences, straight_cuts, valley
from htrbatch.types import LineImage, RegionResult


def segment_page(gray: np.ndarray, options: SegmentOptions | None = None) -> Segmentation:
    """Split a page image into text lines.

    Args:
        gray: uint8 (H, W) grayscale, dark ink on light paper, any size (also a single line or an
            empty page). A (H, W, 3) BGR array is converted.
        options: see :class:`SegmentOptions`.

    Returns:
        :class:`Segmentation` with lines in reading order (with ``options.regions``: block by
        block in the blocks' reading order, :mod:`~htrbatch.segment.regions`; top to bottom
        within a block), each with its box and polygon; ``regions`` in reading order (``[]`` on
        a blank page; None without ``options.regions``); no lines on a blank page.
    """
    options = options or SegmentOptions()
    seg = _segment(gray, options)
    if options.regions and seg.regions is None:
        # Every page has its regions: one block holding all its lines, or none on a blank page.
        members = list(range(len(seg.lines)))
        seg.regions = (
            [RegionResult(union_box([ln.bbox for ln in seg.lines]), members)] if members else []
        )
    return seg


def _segment(gray: np.ndarray, options: SegmentOptions) -> Segmentation:
    options.validate()
    gray = _check_gray(gray)
    h, w = gray.shape
    if options.method == "xml":
        raise OptionsError(
            "--segmenter xml takes the lines from the page's layout file, which segment_page "
            "cannot see: use segment_layout(gray, layout_of(image_path), options)"
        )
    if options.method == "none":
        # A line image gets only the cleaning that helps recognition on lines (see clean_line).
        return Segmentation(
            [LineImage(clean_line(gray, options.preprocess), (0, 0, w, h))], 0.0, "none"
        )
    pre = preprocess_page(gray, options.preprocess)
    if min(h, w) < 8:
        # Too small to have a layout: one line if anything is written, else nothing.
        if pre.binary.any():
            return Segmentation([LineImage(pre.image.copy(), (0, 0, w, h))], 0.0, "projection")
        return Segmentation([], 0.0, "projection")
    if not pre.binary.any():
        return Segmentation([], pre.skew_deg, "projection")

    skew = pre.skew_deg
    image, binary = pre.image, pre.binary
    if options.archival:
        image, binary, removed = clean_archival(pre.image, pre.binary)
        if not binary.any():
            return Segmentation([], skew, "projection")
        popt = options.preprocess
        if removed > 0.2 and popt.deskew and popt.max_skew_deg > 0:
            # A scanner border or page edge carried much of the ink: the skew was its angle.
            skew = estimate_skew(binary, popt.max_skew_deg, popt.skew_step_deg)
    img_r, m = rotate_page(image, -skew, fill=255)
    bin_r, _ = rotate_page(binary, -skew, fill=0)
    rh, rw = bin_r.shape
    # Downscale factor for analysis; identical in x and y so distances keep their meaning.
    f = min(1.0, options.analysis_side / max(rh, rw))
    ah, aw = max(1, round(rh * f)), max(1, round(rw * f))
    # uint8 0/255 resizes much faster than float; coverage back in [0, 1].
    cover = cv2.resize(bin_r.view(np.uint8) * np.uint8(255), (aw, ah), interpolation=cv2.INTER_AREA)
    cover = cover.astype(np.float32) / 255.0
    ink_a = cover > 0.15

    edge, edge_rows = _border_zone(m, f, (h, w), (ah, aw))

    comps = components(ink_a)
    if comps is None:
        return Segmentation([], skew, "projection")
    page = _Page(img_r, bin_r, cv2.invertAffineTransform(m), (h, w), f)
    blocks = None
    if options.regions:
        blocks = find_blocks(ink_a, comps.h_ref, options)
    if blocks is None or len(blocks) <= 1:
        # One block: the whole page, exactly as without regions.
        found = _block_lines(page, cover, ink_a, comps, edge, edge_rows, options, (0, 0))
        if found is None:
            return Segmentation([], skew, "projection")
        out, separators, method = found
        return Segmentation(out, float(skew), method, separators)

    out, separators, regions, methods = [], [], [], []
    for block in blocks:
        x0, y0, x1, y1 = block.box
        mask = block.mask
        sub_ink = ink_a[y0:y1, x0:x1] & mask
        sub_comps = components(sub_ink)
        if sub_comps is None:
            continue
        # The page's text height: a block of a few words would estimate its own badly.
        sub_comps.h_ref = comps.h_ref
        sub_edge = edge[y0:y1, x0:x1]
        sub_rows = (edge_rows[0][x0:x1] - y0, edge_rows[1][x0:x1] - y0)
        found = _block_lines(
            page,
            cover[y0:y1, x0:x1] * mask,
            sub_ink,
            sub_comps,
            sub_edge,
            sub_rows,
            options,
            (x0, y0),
            mask,
        )
        if found is None or not found[0]:
            continue
        lines, seps, method = found
        first = len(out)
        out.extend(lines)
        separators.extend(seps)
        methods.append(method)
        regions.append(
            RegionResult(union_box([ln.bbox for ln in lines]), list(range(first, len(out))))
        )
    method = "seam" if "seam" in methods else "projection"
    return Segmentation(out, float(skew), method, separators, regions)


@dataclass
class _Page:
    """The deskewed full-resolution page and how to map it back to the input."""

    img_r: np.ndarray  # uint8 (RH, RW) cleaned, deskewed page
    bin_r: np.ndarray  # bool (RH, RW) its ink
    inv: np.ndarray  # (2, 3) rotated -> input (x, y)
    in_shape: tuple[int, int]  # input (H, W)
    f: float  # analysis scale (analysis px per full-resolution px)


def _block_lines(
    page: _Page,
    cover: np.ndarray,
    ink_a: np.ndarray,
    comps: Components,
    edge: np.ndarray,
    edge_rows: tuple[np.ndarray, np.ndarray],
    options: SegmentOptions,
    origin: tuple[int, int],
    mask: np.ndarray | None = None,
) -> tuple[list[LineImage], list[np.ndarray], str] | None:
    """Stages 1-4 on one block of the analysis map (the whole page, or a text block whose
    top-left corner is ``origin`` on the analysis map, ink outside ``mask`` removed).

    Returns:
        ``(lines, separators, method)`` in input pixels, or None when the block has no line.
    """
    ah, aw = ink_a.shape
    f = page.f
    if options.method == "projection":
        centres, smooth = profile_candidates(cover, comps.h_ref, options)
    else:
        centres, smooth = ridge_candidates(cover, comps.h_ref, options), None
    lines = validate_candidates(centres, comps, edge, options, edge_rows)
    kept = [ln.centre for ln in lines if ln.keep]
    if kept and len(kept) < len(centres):
        # Absorbed and dropped candidates no longer claim components: check the lines again
        # (a stray mark far from the lines is trimmed off its line's box when cutting).
        lines = validate_candidates(np.stack(kept), comps, edge, options, edge_rows)
    if options.method == "auto" and sum(ln.keep for ln in lines) == 2:
        # Line images must stay whole: a stray tall stroke can give a second ridge, but not a
        # second peak in the profile of the whole image.
        flat, smooth = profile_candidates(cover, comps.h_ref, options)
        single = validate_candidates(flat, comps, edge, options, edge_rows)
        if sum(ln.keep for ln in single) == 1:
            lines = [ln for ln in single if ln.keep]
    if not lines:
        return None

    method = options.method
    fences = order_fences(np.stack([ln.centre for ln in lines]), ah)
    cuts: list[np.ndarray] | None = None
    if method == "projection":
        cuts = [
            np.full(aw, float(valley(smooth, int(fences[i, 0]), int(fences[i + 1, 0]))))
            for i in range(len(lines) - 1)
        ]
    elif method == "auto":
        cuts = straight_cuts(ink_a, fences, options.auto_touch_px)
        method = "projection" if cuts is not None else "seam"
    if cuts is None:
        cuts = seams(ink_a, fences, comps.h_ref, options)

    # The block on the full-resolution rotated page: rows ry0:ry1, columns rx0:rx1.
    ox, oy = origin
    rh_all, rw_all = page.bin_r.shape
    if mask is None:
        rx0, ry0, rx1, ry1 = 0, 0, rw_all, rh_all
        img_r, bin_r = page.img_r, page.bin_r
    else:
        rx0, ry0 = int(np.floor(ox / f)), int(np.floor(oy / f))
        rx1 = min(rw_all, int(np.ceil((ox + aw) / f)))
        ry1 = min(rh_all, int(np.ceil((oy + ah) / f)))
        full = cv2.resize(
            cv2.dilate(mask.view(np.uint8), np.ones((3, 3), np.uint8)),
            (rx1 - rx0, ry1 - ry0),
            interpolation=cv2.INTER_NEAREST,
        ).astype(bool)
        bin_r = page.bin_r[ry0:ry1, rx0:rx1] & full
        img_r = page.img_r[ry0:ry1, rx0:rx1].copy()
        img_r[~full] = 255
    rh, rw = bin_r.shape
    # Separators in full-resolution rotated coordinates of the block: y per column, length rw.
    xa = (np.arange(rx0, rx1) + 0.5) * f - 0.5 - ox
    cuts_full = [(np.interp(xa, np.arange(aw), c) + oy + 0.5) / f - 0.5 - ry0 for c in cuts]
    # Block pixels -> input: shift to the page, then the inverse rotation.
    inv = page.inv.copy()
    inv[:, 2] += inv[:, 0] * rx0 + inv[:, 1] * ry0
    spacing = line_pitch(fences, lines) / f
    out: list[LineImage] = []
    for i, ln in enumerate(lines):
        if not ln.keep:
            continue
        top = cuts_full[i - 1] if i > 0 else np.full(rw, -1.0)
        bottom = cuts_full[i] if i < len(lines) - 1 else np.full(rw, float(rh))
        # Windows of the block (rows y0 onwards) each holding one line's ink: the line, or
        # the lines it turned out to hold, then their interlinear insertions.
        windows = [(img_r, bin_r, 0)]
        if options.merge_split:
            merged = split_merged(img_r, bin_r, top, bottom, spacing, options)
            if merged is not None and not _clipped_end(merged, inv, page.in_shape):
                windows = [(p.image, p.ink, p.y0) for p in merged]
        if options.insertions:
            split = []
            for image, ink, y0 in windows:
                parts = split_insertions(image, ink, top - y0, bottom - y0, options)
                if parts is None:
                    split.append((image, ink, y0))
                else:
                    split.extend((p.image, p.ink, y0 + p.y0) for p in parts)
            windows = split
        for image, ink, y0 in windows:
            inv_p = inv.copy()
            inv_p[:, 2] += inv_p[:, 1] * y0
            line = cut_line(
                image, ink, top - y0, bottom - y0, inv_p, page.in_shape, options.pad, spacing
            )
            if line is not None:
                out.append(line)
    separators = [to_input_polyline(c, inv, page.in_shape) for c in cuts_full]
    return out, separators, method


def _clipped_end(parts: list[LinePart], inv: np.ndarray, in_shape: tuple[int, int]) -> bool:
    """Whether the first of a split line's parts reaches the input's top edge or the last its
    bottom edge: the rest of a neighbouring line the border cut off (line images cut with a
    margin), which the candidate checks gave to this line on purpose (:mod:`.rules`)."""
    h = in_shape[0]
    for part, at_top in ((parts[0], True), (parts[-1], False)):
        ys, xs = np.nonzero(part.ink)
        if len(ys) == 0:
            continue
        pts = np.stack([xs, ys + part.y0, np.ones(len(xs))], axis=1) @ inv.T  # (N, 2) input
        if (pts[:, 1].min() <= 1.5) if at_top else (pts[:, 1].max() >= h - 2.5):
            return True
    return False


def _border_zone(
    m: np.ndarray, f: float, in_shape: tuple[int, int], map_shape: tuple[int, int]
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Pixels of the analysis map at or next to the edge of the input image (which is slanted
    after deskewing).

    Args:
        m: (2, 3) map from input to rotated (x, y); f: analysis scale; in_shape: input (H, W);
            map_shape: analysis map (h, w).

    Returns:
        ``(edge, (rows_top, rows_bot))``: bool (h, w) the border zone, and float64 (w,) per
        column the first and last row clear of it.
    """
    h, w = in_shape
    ah, aw = map_shape
    corners = np.array([[0, 0, 1], [w, 0, 1], [w, h, 1], [0, h, 1]], dtype=np.float64)
    quad = (corners @ m.T) * f  # (4, 3) @ (3, 2) -> (4, 2) corners on the analysis map
    inside_a = np.zeros((ah, aw), np.uint8)
    cv2.fillConvexPoly(inside_a, np.round(quad).astype(np.int32), 1)
    edge = cv2.dilate(1 - inside_a, np.ones((5, 5), np.uint8)) > 0
    edge[[0, -1], :] = True
    edge[:, [0, -1]] = True
    # Per column, the first and last row clear of the border zone: the input's top and bottom
    # edges (slanted after deskewing); the map's own limits in columns that are all border.
    clear = ~edge
    anyc = clear.any(axis=0)
    rows_top = np.where(anyc, np.argmax(clear, axis=0), 0).astype(np.float64)
    rows_bot = np.where(anyc, ah - 1 - np.argmax(clear[::-1], axis=0), ah - 1).astype(np.float64)
    return edge, (rows_top, rows_bot)
