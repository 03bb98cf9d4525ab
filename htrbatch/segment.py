"""Page -> text lines.

The page is cleaned and its skew estimated (:mod:`htrbatch.preprocess`), rotated so the lines are
horizontal on average, and analysed on a downscaled ink-coverage map:

1. Line candidates, each a centre curve y(x):
   - ``projection``: peaks of the smoothed horizontal ink profile of the whole page (flat curves).
   - ``seam`` and ``auto``: ridges of a local profile (the ink map blurred along the lines, i.e.
     a projection profile over a sliding window a few letters wide), linked across word gaps into
     curves. They follow lines whose slope drifts from the page's average, as handwriting on
     whiteboards and unruled paper does.
2. Candidates are checked against connected components, each owned by the nearest curve: a
   candidate that owns no component of text height (i-dots, descender remnants, specks), sits
   too close to a much heavier neighbour (its ascender/descender zone), or is a neighbouring line
   cut off by the image border, is not a line; its ink goes to its neighbour or is dropped.
3. Separation between neighbouring lines:
   - ``projection``: a straight cut at the profile valley.
   - ``seam``: an A* search (as in A* path planning for line segmentation, Surinta et al.,
     2014) for the cheapest left-to-right path through a cost map, inside the band between the
     two lines' curves: node costs on ink, inverse distance to ink (distance transform) and
     vertical deviation from the band's middle (the start row when lines are flat); moves
     right, right-up, right-down, and up/down within a column to go round a stroke; the
     heuristic, the sum of the cheapest node cost of each remaining column, is admissible and
     consistent, so each search returns a cheapest path on its grid. Where text is tall on
     the analysis map (the usual case) the search first runs on a grid shrunk by q (q x q
     block means) so that text is ~12 nodes tall, then again at full analysis resolution in a
     corridor of +-q rows round that seam: cheapest inside the corridor, not necessarily on
     the whole band, for a fraction of the work. Lines whose strokes touch are split along a
     curved path that crosses as little ink as it can.
   - ``auto``: straight cuts where every gap has an ink-free row, seams otherwise (touching,
     slanted or wavy lines).
   - ``none``: the whole image is one line.
4. Each line is cut out between its separators (pixels outside them painted to paper), trimmed to
   its ink, padded, and its box mapped back to the input through the inverse rotation.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d

from htrbatch.errors import OptionsError
from htrbatch.preprocess import (
    PreprocessOptions,
    _check_gray,
    clean_line,
    preprocess_page,
    rotate_page,
)
from htrbatch.types import BBox, LineImage

METHODS = ("auto", "projection", "seam", "none")


@dataclass(frozen=True)
class SegmentOptions:
    """How a page is split into lines. Lengths relative to the typical text height are in units
    of the page's area-weighted median component height (``h``)."""

    method: str = "auto"
    """One of auto | projection | seam | none."""
    preprocess: PreprocessOptions = field(default_factory=PreprocessOptions)
    analysis_side: int = 1200
    """Longest side (px) of the downscaled map used for line finding and seams."""
    pad: int = 4
    """Paper-coloured margin (px) around each line crop."""
    min_text_height: float = 0.4
    """A candidate is a text line when it owns a component at least this tall (x h)."""
    min_valley_depth: float = 0.15
    """projection: two profile peaks are separate lines only if the valley between them is at
    least this much (relative) lower than the smaller peak."""
    min_line_mass: float = 0.04
    """A line holds at least this fraction of the median line's ink (a one-word last line does)."""
    max_straddle: float = 0.4
    """Two neighbouring candidates are one line when components crossing both carry more than
    this fraction of their ink."""
    companion_mass: float = 0.35
    """A candidate closer than about half the line pitch to a neighbour with 1/this times its ink
    is that neighbour's ascender/descender zone, not a line."""
    ridge_window: float = 2.5
    """seam/auto: width (x h, and at least 1/16 of the page width) of the box filter, applied
    twice, that blurs the ink along lines."""
    ridge_join_gap: float = 8.0
    """seam/auto: ridge pieces this far apart (x h) at about the same height join into one line."""
    seam_ink_cost: float = 40.0
    """Cost of a seam step on ink (analysis pixels); detours shorter than ~this are preferred."""
    seam_dist_cost: float = 4.0
    """Cost 4/(1 + distance to ink): keeps seams in the middle of gaps."""
    seam_dev_cost: float = 1.0
    """Vertical-deviation cost: this much next to a line's curve, falling linearly to 0 midway
    between the two curves (the start row when lines are flat): keeps seams near the middle of
    the gap."""
    seam_step_cost: float = 0.5
    """Extra cost of each diagonal or vertical move."""
    seam_text_height: float = 12.0
    """The A* search runs on the ink map shrunk by an integer factor until text is about this
    many nodes tall (never enlarged)."""
    auto_touch_px: int = 2
    """auto uses seams when no straight cut between two lines crosses at most this many ink
    pixels (analysis px)."""

    def validate(self) -> None:
        """Raise :class:`OptionsError` for values that cannot work."""
        if self.method not in METHODS:
            raise OptionsError(
                f"segment method must be one of {', '.join(METHODS)}, got {self.method!r}"
            )
        if self.analysis_side < 64:
            raise OptionsError(f"analysis_side must be >= 64, got {self.analysis_side}")
        if self.pad < 0:
            raise OptionsError(f"pad must be >= 0, got {self.pad}")
        if self.ridge_window <= 0 or self.ridge_join_gap < 0:
            raise OptionsError("ridge_window must be > 0 and ridge_join_gap >= 0")
        self.preprocess.validate()


@dataclass
class Segmentation:
    """Lines found on a page, top to bottom."""

    lines: list[LineImage]
    """Crops (cleaned, deskewed, uint8 (h, w)) with boxes in input pixels."""
    skew_deg: float
    """Skew removed before segmenting (> 0: lines rose to the right)."""
    method: str
    """The method actually used (auto resolves to projection or seam)."""
    separators: list[np.ndarray] = field(default_factory=list)
    """Cuts between lines, each an int32 (N, 2) polyline of (x, y) in input pixels."""


def segment_page(gray: np.ndarray, options: SegmentOptions | None = None) -> Segmentation:
    """Split a page image into text lines.

    Args:
        gray: uint8 (H, W) grayscale, dark ink on light paper, any size (also a single line or an
            empty page). A (H, W, 3) BGR array is converted.
        options: see :class:`SegmentOptions`.

    Returns:
        :class:`Segmentation` with lines sorted top to bottom; no lines on a blank page.
    """
    options = options or SegmentOptions()
    options.validate()
    gray = _check_gray(gray)
    h, w = gray.shape
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
    img_r, m = rotate_page(pre.image, -skew, fill=255)
    bin_r, _ = rotate_page(pre.binary, -skew, fill=0)
    rh, rw = bin_r.shape
    # Downscale factor for analysis; identical in x and y so distances keep their meaning.
    f = min(1.0, options.analysis_side / max(rh, rw))
    ah, aw = max(1, round(rh * f)), max(1, round(rw * f))
    # uint8 0/255 resizes much faster than float; coverage back in [0, 1].
    cover = cv2.resize(bin_r.view(np.uint8) * np.uint8(255), (aw, ah), interpolation=cv2.INTER_AREA)
    cover = cover.astype(np.float32) / 255.0
    ink_a = cover > 0.15

    # Pixels at or next to the edge of the input image (which is slanted after deskewing).
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
    edge_rows = (rows_top, rows_bot)

    comps = _components(ink_a)
    if comps is None:
        return Segmentation([], skew, "projection")
    if options.method == "projection":
        centres, smooth = _profile_candidates(cover, comps.h_ref, options)
    else:
        centres, smooth = _ridge_candidates(cover, comps.h_ref, options), None
    lines = _validate(centres, comps, edge, options, edge_rows)
    kept = [ln.centre for ln in lines if ln.keep]
    if kept and len(kept) < len(centres):
        # Absorbed and dropped candidates no longer claim components: check the lines again
        # (a stray mark far from the lines is trimmed off its line's box when cutting).
        lines = _validate(np.stack(kept), comps, edge, options, edge_rows)
    if options.method == "auto" and sum(ln.keep for ln in lines) == 2:
        # Line images must stay whole: a stray tall stroke can give a second ridge, but not a
        # second peak in the profile of the whole image.
        flat, smooth = _profile_candidates(cover, comps.h_ref, options)
        single = _validate(flat, comps, edge, options, edge_rows)
        if sum(ln.keep for ln in single) == 1:
            lines = [ln for ln in single if ln.keep]
    if not lines:
        return Segmentation([], skew, "projection")

    method = options.method
    fences = _order_fences(np.stack([ln.centre for ln in lines]), ah)
    cuts: list[np.ndarray] | None = None
    if method == "projection":
        cuts = [
            np.full(aw, float(_valley(smooth, int(fences[i, 0]), int(fences[i + 1, 0]))))
            for i in range(len(lines) - 1)
        ]
    elif method == "auto":
        cuts = _straight_cuts(ink_a, fences, options.auto_touch_px)
        method = "projection" if cuts is not None else "seam"
    if cuts is None:
        cuts = _seams(ink_a, fences, comps.h_ref, options)

    # Separators in full-resolution rotated coordinates: y per column, length rw.
    xa = (np.arange(rw) + 0.5) * f - 0.5
    cuts_full = [(np.interp(xa, np.arange(aw), c) + 0.5) / f - 0.5 for c in cuts]
    inv = cv2.invertAffineTransform(m)
    spacing = _pitch(fences, lines) / f
    out: list[LineImage] = []
    for i, ln in enumerate(lines):
        if not ln.keep:
            continue
        top = cuts_full[i - 1] if i > 0 else np.full(rw, -1.0)
        bottom = cuts_full[i] if i < len(lines) - 1 else np.full(rw, float(rh))
        line = _cut_line(img_r, bin_r, top, bottom, inv, (h, w), options.pad, spacing)
        if line is not None:
            out.append(line)
    separators = [_to_input_polyline(c, inv, (h, w)) for c in cuts_full]
    return Segmentation(out, float(skew), method, separators)


@dataclass
class _Components:
    """Connected ink components of the analysis map (arrays indexed by component, label - 1)."""

    labels: np.ndarray  # int32 (h, w), 0 = background
    area: np.ndarray
    height: np.ndarray
    width: np.ndarray
    top: np.ndarray
    cx: np.ndarray
    cy: np.ndarray
    h_ref: float  # typical text height: area-weighted median component height


def _components(ink: np.ndarray) -> _Components | None:
    n, labels, stats, cents = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    if n <= 1:
        return None
    area = stats[1:, cv2.CC_STAT_AREA].astype(np.float64)
    height = stats[1:, cv2.CC_STAT_HEIGHT].astype(np.float64)
    # Area-weighted median, so i-dots and specks do not pull the text height down.
    order = np.argsort(height)
    cum = np.cumsum(area[order])
    h_ref = max(2.0, float(height[order][np.searchsorted(cum, cum[-1] / 2)]))
    return _Components(
        labels=labels,
        area=area,
        height=height,
        width=stats[1:, cv2.CC_STAT_WIDTH].astype(np.float64),
        top=stats[1:, cv2.CC_STAT_TOP].astype(np.float64),
        cx=cents[1:, 0],
        cy=cents[1:, 1],
        h_ref=h_ref,
    )


def _profile_candidates(
    cover: np.ndarray, h_ref: float, options: SegmentOptions
) -> tuple[np.ndarray, np.ndarray]:
    """Peaks of the page's horizontal ink profile as flat centre curves.

    Args:
        cover: float32 (h, w) ink coverage in [0, 1].

    Returns:
        ``(centres, smooth)``: float64 (k, w) curves (one constant row each, top to bottom) and
        the smoothed profile (h,), whose valleys are the straight cuts.
    """
    ah, aw = cover.shape
    profile = cover.sum(axis=1).astype(np.float64)
    # Light smoothing at the scale of the text, not of the line pitch: pitch estimates fail on
    # short or irregular paragraphs, while spurious peaks are removed later (valley depth, then
    # component ownership).
    smooth = gaussian_filter1d(profile, max(1.0, 0.2 * h_ref), mode="constant")
    peaks = find_peaks(smooth, distance=max(1.0, 0.5 * h_ref))
    if len(peaks) == 0:
        peaks = np.array([int(np.argmax(smooth))])
    peaks = _separate_peaks(smooth, peaks, options.min_valley_depth)
    # (k, 1) rows broadcast to (k, w) flat curves.
    return np.repeat(peaks[:, None].astype(np.float64), aw, axis=1), smooth


def _ridge_candidates(cover: np.ndarray, h_ref: float, options: SegmentOptions) -> np.ndarray:
    """Centre curves of text lines from ridges of a local horizontal profile.

    Blurring the ink map along x (two box filters, a few letters wide) is a projection profile
    over a sliding window: each column's local maxima along y are line centres there. Ridge
    pixels are linked into pieces (connected components), and pieces into lines: a piece that
    overlaps a line at about the same height, or continues it across a gap at about the height
    where the line ends, joins it.

    Args:
        cover: float32 (h, w) ink coverage in [0, 1].

    Returns:
        float64 (k, w) curves, top to bottom; inside a line's own span linear between ridge
        points, outside it constant.
    """
    ah, aw = cover.shape
    # Wide enough to bridge word gaps (a fraction of the page width), narrow enough that a line
    # drifting a few degrees off the page's average stays sharp.
    bw = max(3, int(round(max(options.ridge_window * h_ref, aw / 16))))
    local = cv2.blur(cover, (bw, 1), borderType=cv2.BORDER_CONSTANT)
    local = cv2.blur(local, (bw, 1), borderType=cv2.BORDER_CONSTANT)
    local = gaussian_filter1d(local, max(1.0, 0.2 * h_ref), axis=0, mode="constant")
    strong = float(np.percentile(local[local > 0], 99.5)) if (local > 0).any() else 0.0
    if strong <= 0:
        return np.zeros((0, aw))

    def ridges(win: int) -> np.ndarray:
        # A ridge pixel is the maximum of its column within win/2 either side: this suppresses
        # the small bumps of ascender and descender zones next to a line's core.
        top = cv2.dilate(local, np.ones((win | 1, 1), np.uint8))
        r = ((local >= top) & (local > 0.08 * strong)).astype(np.uint8)
        r[[0, -1], :] = 0
        return r

    ridge = ridges(max(3, int(round(0.9 * h_ref))))
    # Line pitch: the typical distance between successive ridges down a column. Where lines are
    # far apart compared with the letters (thin print-like writing), suppress within half of it.
    ys, xs = np.nonzero(ridge.T)  # transposed: sorted by column, then row
    diffs = np.diff(xs)[np.diff(ys) == 0]
    pitch = float(np.median(diffs)) if len(diffs) else 2.0 * h_ref
    pitch = max(pitch, h_ref)
    if 0.5 * pitch > 0.9 * h_ref:
        ridge = ridges(int(round(0.5 * pitch)))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ridge, connectivity=8)
    if n <= 1:
        return np.zeros((0, aw))
    ys, xs = np.nonzero(labels)
    lab = labels[ys, xs] - 1
    weight = local[ys, xs]
    strength = np.bincount(lab, weights=weight, minlength=n - 1)
    mean_strength = strength / np.maximum(stats[1:, cv2.CC_STAT_AREA], 1)
    # Weak ridges (specks, leftovers of rules, stray marks) are no line centres; a short line is
    # as dense locally as a long one, so this does not lose one-word lines.
    good = (stats[1:, cv2.CC_STAT_WIDTH] >= max(2.0, 0.5 * h_ref)) & (mean_strength >= 0.2 * strong)
    if not good.any():
        return np.zeros((0, aw))
    index = np.full(n - 1, -1)
    index[good] = np.arange(int(good.sum()))
    sel = index[lab] >= 0
    # Mean ridge row per (piece, column), weighted by strength; flat index piece * aw + x.
    key = index[lab[sel]].astype(np.int64) * aw + xs[sel]
    size = int(good.sum()) * aw
    wsum = np.bincount(key, weights=weight[sel], minlength=size)
    ysum = np.bincount(key, weights=weight[sel] * ys[sel], minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        rows = (ysum / wsum).reshape(-1, aw)  # (pieces, columns), NaN off the piece
    pieces = np.argsort(-strength[good])  # strongest first
    lines: list[np.ndarray] = []  # (aw,) rows, NaN where the line has no ridge yet
    near = max(0.45 * h_ref, 0.3 * pitch)
    join = options.ridge_join_gap * h_ref
    for i in pieces:
        piece = rows[i]
        cols = np.nonzero(~np.isnan(piece))[0]
        best, best_d = -1, np.inf
        for j, line in enumerate(lines):
            both = ~np.isnan(line[cols])
            if both.sum() >= max(2, 0.2 * len(cols)):
                d = float(np.median(np.abs(line[cols][both] - piece[cols][both])))
            else:
                have = np.nonzero(~np.isnan(line))[0]
                # Facing ends: the line's end nearest to the piece and the piece's end there.
                if have[-1] < cols[0]:
                    gap, d = cols[0] - have[-1], abs(line[have[-1]] - piece[cols[0]])
                elif have[0] > cols[-1]:
                    gap, d = have[0] - cols[-1], abs(line[have[0]] - piece[cols[-1]])
                else:
                    gap, d = 0, np.inf
                if gap > join:
                    d = np.inf
            if d < best_d:
                best, best_d = j, d
        if best >= 0 and best_d <= near:
            line = lines[best]
            fill = np.isnan(line)
            line[fill] = piece[fill]
        else:
            lines.append(piece.copy())
    curves = []
    for line in lines:
        have = np.nonzero(~np.isnan(line))[0]
        # Linear between ridge points, constant beyond the line's ends.
        curves.append(np.interp(np.arange(aw), have, line[have]))
    if not curves:
        return np.zeros((0, aw))
    curves_arr = np.stack(curves)
    spans = [np.nonzero(~np.isnan(line))[0] for line in lines]
    order = np.argsort([np.median(line[s]) for line, s in zip(lines, spans)])
    curves_arr = curves_arr[order]
    spans = [spans[i] for i in order]
    return _merge_shoulders(curves_arr, spans, local, options.min_valley_depth)


def _merge_shoulders(
    curves: np.ndarray, spans: list[np.ndarray], local: np.ndarray, depth: float
) -> np.ndarray:
    """Drop the weaker of two neighbouring curves that no real valley separates.

    Where two curves run side by side, the blurred ink between them should dip well below the
    weaker one if they are two lines; a line's ascender or descender zone next to its core does
    not dip. Measured per column over the columns both curves span, median taken.

    Args:
        curves: float64 (k, w) top to bottom; spans: per curve, the columns it really covers.
        local: float32 (h, w) the blurred ink map.

    Returns:
        The remaining curves, (k', w).
    """
    keep = list(range(len(curves)))
    h = local.shape[0]
    changed = True
    while changed and len(keep) > 1:
        changed = False
        for a, b in zip(keep[:-1], keep[1:]):
            cols = np.intersect1d(spans[a], spans[b])
            if len(cols) < 3:
                continue
            ya = np.clip(np.round(curves[a, cols]).astype(int), 0, h - 1)
            yb = np.clip(np.round(curves[b, cols]).astype(int), 0, h - 1)
            va, vb = local[ya, cols], local[yb, cols]
            lo, hi = np.minimum(ya, yb), np.maximum(ya, yb)
            # Minimum of each column between the two curves, over at most a few hundred rows.
            span = int((hi - lo).max()) + 1
            rows = lo[None, :] + np.arange(span)[:, None]  # (span, n) row per column
            inside = rows <= hi[None, :]
            vals = np.where(inside, local[np.clip(rows, 0, h - 1), cols[None, :]], np.inf)
            valley = vals.min(axis=0)
            ratio = np.median(valley / np.maximum(np.minimum(va, vb), 1e-9))
            if ratio > 1.0 - depth:
                weaker = a if np.median(va) < np.median(vb) else b
                keep.remove(weaker)
                changed = True
                break
    return curves[keep]


@dataclass
class _Line:
    """A line candidate after checking: its centre curve (w,) and whether it is output."""

    centre: np.ndarray
    keep: bool


def _validate(
    centres: np.ndarray,
    comps: _Components,
    edge: np.ndarray,
    options: SegmentOptions,
    edge_rows: tuple[np.ndarray, np.ndarray],
) -> list[_Line]:
    """Decide which candidates are text lines.

    Every component belongs to the candidate whose curve is nearest to its centroid. Real lines
    own text-like components and a fair share of ink; light candidates hugging a heavy neighbour
    (ascender/descender zones) and neighbours cut off by the image border are not lines; other
    non-lines next to a line (i-dots, descender remnants) are absorbed into it (their curve is
    removed, so their ink falls between that line's separators), and isolated ones (specks,
    noise) are dropped (their curve stays as a fence, their region is discarded).

    Args:
        centres: float64 (k, w) candidate curves, top to bottom.
        comps: the analysis map's components.
        edge: bool (h, w) the input image's border zone.

    Returns:
        Remaining curves top to bottom; ``keep`` False for dropped regions.
    """
    nb = len(centres)
    if nb == 0:
        return []
    h_ref = comps.h_ref
    xi = np.clip(np.round(comps.cx).astype(int), 0, centres.shape[1] - 1)
    # (k, n) distance of each component's centroid to each curve at the centroid's column.
    band_of = np.argmin(np.abs(centres[:, xi] - comps.cy[None, :]), axis=0)
    tall = comps.height >= options.min_text_height * h_ref
    if not tall.any():
        return []
    # Text-like: tall enough, not a thin vertical dash (margin-rule remnants, scratches), and
    # with a letter's worth of ink (noise blobs are tall only by chance and hold little).
    text_like = (
        tall
        & (comps.width >= 0.25 * comps.height)
        & (comps.area >= 0.25 * np.median(comps.area[tall]))
    )
    has_text = np.zeros(nb, dtype=bool)
    has_text[band_of[text_like]] = True
    mass = np.bincount(band_of, weights=comps.area, minlength=nb)
    if not has_text.any():
        return []
    # Scattered specks can include one text-sized blob; a line has some real amount of ink.
    real = has_text & (mass >= options.min_line_mass * np.median(mass[has_text]))
    if not real.any():
        return []
    # Where each candidate's ink sits: mass-weighted centre, and its own ink rows.
    safe = np.maximum(mass, 1e-9)
    centre_y = np.bincount(band_of, weights=comps.area * comps.cy, minlength=nb) / safe
    centre_x = np.bincount(band_of, weights=comps.area * comps.cx, minlength=nb) / safe
    cxi = np.clip(np.round(centre_x).astype(int), 0, centres.shape[1] - 1)
    peak = centres[np.arange(nb), cxi]  # curve row under the candidate's ink
    ink_top = np.full(nb, np.inf)
    ink_bot = np.full(nb, -np.inf)
    np.minimum.at(ink_top, band_of, comps.top)
    np.maximum.at(ink_bot, band_of, comps.top + comps.height)
    gaps = _curve_gaps(centres)
    _demote_companions(real, gaps, mass, ink_bot - ink_top, options.companion_mass)
    _demote_straddled(real, centres, comps, band_of, xi, mass, options.max_straddle)
    touching = np.zeros(len(comps.area) + 1, dtype=bool)
    touching[np.unique(comps.labels[edge])] = True
    touch_mass = np.bincount(band_of, weights=comps.area * touching[1:], minlength=nb)
    # Room between each candidate's curve and the crop's top / bottom border, ink-weighted median
    # over its components (columns of their centroids).
    own_row = centres[band_of, xi]
    room_top = _weighted_median(own_row - edge_rows[0][xi], band_of, comps.area, nb)
    room_bot = _weighted_median(edge_rows[1][xi] - own_row, band_of, comps.area, nb)
    fragment = _cut_off_neighbours(
        real, peak, mass, touch_mass, ink_top, ink_bot, room_top, room_bot
    )
    real &= ~fragment
    if not real.any():
        return []

    lines: list[_Line] = []
    real_idx = np.nonzero(real)[0]
    for i in range(nb):
        if real[i]:
            lines.append(_Line(centres[i], True))
            continue
        if mass[i] > 0 and not fragment[i]:
            # Absorbed by an adjacent real line (none in between) near its ink, else dropped.
            d = np.abs(centres[real_idx, cxi[i]] - centre_y[i])
            j = int(real_idx[np.argmin(d)])
            between = (real | fragment)[min(i, j) + 1 : max(i, j)].any()
            if not between and d.min() <= 2.0 * h_ref:
                continue
        if mass[i] == 0:
            continue  # an empty candidate separates nothing
        if lines and not lines[-1].keep:
            continue  # neighbouring dropped regions need no cut between them
        lines.append(_Line(centres[i], False))
    return lines


def _demote_straddled(
    real: np.ndarray,
    centres: np.ndarray,
    comps: _Components,
    band_of: np.ndarray,
    xi: np.ndarray,
    mass: np.ndarray,
    max_straddle: float,
) -> None:
    """Un-mark (in place) the lighter of two neighbouring candidates that are one line.

    Two curves inside one line (its core and its capitals, or halves of a line that changes
    slope) are both crossed by most of that line's letters; two real lines are crossed only
    where their strokes touch. A component crosses both curves when it reaches from above the
    upper one to below the lower one at its centroid's column.

    Args:
        real: bool (k,) updated.
        centres: (k, w) curves; band_of: (n,) owner of each component; xi: (n,) centroid
            columns; mass: (k,) own ink.
    """
    bottom = comps.top + comps.height - 1
    changed = True
    while changed:
        changed = False
        idx = np.nonzero(real)[0]
        for a, b in zip(idx[:-1], idx[1:]):
            mine = (band_of == a) | (band_of == b)
            cross = mine & (comps.top <= centres[a, xi]) & (bottom >= centres[b, xi])
            frac = comps.area[cross].sum() / max(mass[a] + mass[b], 1e-9)
            if frac > max_straddle:
                real[a if mass[a] < mass[b] else b] = False
                changed = True
                break


def _curve_gaps(centres: np.ndarray) -> np.ndarray:
    """Median vertical distance between consecutive curves, (k - 1,)."""
    if len(centres) < 2:
        return np.zeros(0)
    return np.median(np.abs(np.diff(centres, axis=0)), axis=1)


def _demote_companions(
    real: np.ndarray, gaps: np.ndarray, mass: np.ndarray, extent: np.ndarray, max_mass: float
) -> None:
    """Un-mark (in place) light candidates that sit too close to a heavy neighbour to be a line.

    Tall capitals, quotes and loops can form a profile peak of their own just above or below
    their line's core. Such a candidate is much lighter than its neighbour and nearer to it than
    about half the line pitch (the median distance between lines; with fewer than three lines,
    0.7 of the heavy line's own ink height stands in for it: two real lines sit at least a pitch
    apart, and a pitch is at least ~0.8 of a line's full height even where ascenders and
    descenders interlock).

    Args:
        real: bool (k,) candidate is a text line; updated.
        gaps: (k - 1,) distance between consecutive curves; mass: (k,) own ink; extent: (k,)
            own ink height per candidate.
    """
    changed = True
    while changed:
        changed = False
        idx = np.nonzero(real)[0]
        if len(idx) < 2:
            return
        # Distance between consecutive real lines: sum of the gaps between their curves. The
        # upper quartile is the pitch even while some lines are still split in two.
        dist = np.array([gaps[a:b].sum() for a, b in zip(idx[:-1], idx[1:])])
        pitch = float(np.percentile(dist, 75)) if len(idx) >= 3 else None
        for (a, b), d in zip(zip(idx[:-1], idx[1:]), dist):
            light, heavy = (a, b) if mass[a] < mass[b] else (b, a)
            near = 0.55 * pitch if pitch is not None else 0.7 * extent[heavy]
            # Much closer than a pitch, two curves are one line whatever their ink (a line
            # whose halves gave two ridges).
            same = pitch is not None and d < 0.3 * pitch
            if same or (d < near and mass[light] < max_mass * mass[heavy]):
                real[light] = False
                changed = True
                break


def _cut_off_neighbours(
    real: np.ndarray,
    peaks: np.ndarray,
    mass: np.ndarray,
    touch_mass: np.ndarray,
    ink_top: np.ndarray,
    ink_bot: np.ndarray,
    room_top: np.ndarray,
    room_bot: np.ndarray,
) -> np.ndarray:
    """Top/bottom candidates that are parts of lines cut off by the image border.

    Line images (and pages cropped from forms) often include the descenders of the line above or
    the ascenders of the line below. Such a candidate lies against the border: most of its ink is
    in components the border cuts, it is light, and its centre is at the border side rather than
    a good way inside like a whole line's core.

    Line images cut with a generous margin (or out of a slanted page) can hold more of the
    neighbours than that, heavy as a line: next to a whole line clear of the border, a lighter
    edge candidate with some ink in border-cut components and its core nearer the border than
    0.75 x that line's half height (a whole line against the border has about 1 x), or one with
    hardly any ink within 1.5 x, is the rest of a neighbour as well.

    Args:
        real: bool (k,) candidates that are lines so far.
        peaks, mass, touch_mass, ink_top, ink_bot: (k,) per candidate: centre row, own ink, own
            ink in border-cut components, own ink rows.
        room_top, room_bot: (k,) per candidate: distance from its curve up to the input's top
            edge and down to its bottom edge (median over its ink).

    Returns:
        bool (k,) candidates to drop.
    """
    out = np.zeros(len(real), dtype=bool)
    idx = np.nonzero(real)[0]
    if len(idx) < 2:
        return out
    extent = float(np.max((ink_bot - ink_top)[idx]))
    heavy = float(np.max(mass[idx]))
    first, last = idx[0], idx[-1]
    for i, inward in ((first, peaks[first] - ink_top[first]), (last, ink_bot[last] - peaks[last])):
        cut = touch_mass[i] >= 0.5 * mass[i]
        # Less than half a line shows: light, and its centre hugs the border.
        if cut and mass[i] < 0.6 * heavy and inward < 0.4 * extent:
            out[i] = True
    # Generous line images: the heaviest line clear of the border is whole; an edge candidate
    # with less room to the border than a whole line needs, cut by it or tiny, is a neighbour
    # (peeled off from the top and the bottom, as a crop can hold two such pieces on a side).
    clear = idx[touch_mass[idx] < 0.05 * mass[idx]]
    if len(clear) == 0:
        return out
    main = clear[np.argmax(mass[clear])]
    half = 0.5 * float(ink_bot[main] - ink_top[main])
    for side in (idx[idx < main], idx[idx > main][::-1]):
        room = room_top if len(side) and side[0] < main else room_bot
        for i in side:
            # A whole line against the border has about half its height of room there; a
            # speck of a neighbour may have a little more.
            tiny = mass[i] < 0.1 * mass[main]
            cut = touch_mass[i] >= 0.05 * mass[i]
            if mass[i] >= mass[main] or room[i] >= (1.5 if tiny else 0.75) * half:
                break
            if not (tiny or cut):
                break
            out[i] = True
    return out


def _weighted_median(
    values: np.ndarray, group: np.ndarray, weight: np.ndarray, n: int
) -> np.ndarray:
    """Weighted median of ``values`` per group (n,), inf for empty groups."""
    out = np.full(n, np.inf)
    order = np.lexsort((values, group))
    g, v, wt = group[order], values[order], weight[order]
    starts = np.searchsorted(g, np.arange(n), side="left")
    ends = np.searchsorted(g, np.arange(n), side="right")
    for i in range(n):
        if ends[i] > starts[i]:
            cw = np.cumsum(wt[starts[i] : ends[i]])
            out[i] = v[starts[i] + int(np.searchsorted(cw, cw[-1] / 2))]
    return out


def find_peaks(x: np.ndarray, distance: float) -> np.ndarray:
    """Indices of the local maxima of a 1-D signal ``x``, at least ``distance`` apart.

    Equals ``scipy.signal.find_peaks(x, distance=distance)[0]`` (a flat top counts once, at its
    middle, rounded down; closer peaks go to the higher one): written here because importing
    scipy.signal costs ~1 s on every htrbatch start, more than segmenting a page.
    """
    n = len(x)
    found: list[int] = []
    i = 1
    while i < n - 1:
        if x[i - 1] < x[i]:
            ahead = i + 1
            while ahead < n - 1 and x[ahead] == x[i]:
                ahead += 1
            if x[ahead] < x[i]:
                found.append((i + ahead - 1) // 2)
                i = ahead
        i += 1
    peaks = np.array(found, dtype=np.intp)
    if len(peaks) < 2 or distance <= 1:
        return peaks
    gap = np.ceil(distance)
    keep = np.ones(len(peaks), dtype=bool)
    # Highest first (scipy's own argsort, so ties resolve the same way); each kept peak
    # removes its lower neighbours closer than ``distance``.
    for j in np.argsort(x[peaks])[::-1]:
        if not keep[j]:
            continue
        k = j - 1
        while k >= 0 and peaks[j] - peaks[k] < gap:
            keep[k] = False
            k -= 1
        k = j + 1
        while k < len(peaks) and peaks[k] - peaks[j] < gap:
            keep[k] = False
            k += 1
    return peaks[keep]


def _separate_peaks(smooth: np.ndarray, peaks: np.ndarray, depth: float) -> np.ndarray:
    """Merge neighbouring peaks whose valley is shallower than ``depth`` x the smaller peak,
    keeping the higher one (ascender/descender shoulders are not lines)."""
    peaks = [int(p) for p in peaks]
    changed = True
    while changed and len(peaks) > 1:
        changed = False
        for i in range(len(peaks) - 1):
            a, b = peaks[i], peaks[i + 1]
            v = smooth[a : b + 1].min()
            if v > (1.0 - depth) * min(smooth[a], smooth[b]):
                peaks.pop(i + 1 if smooth[a] >= smooth[b] else i)
                changed = True
                break
    return np.asarray(peaks, dtype=int)


def _valley(smooth: np.ndarray, a: int, b: int) -> int:
    """Row of the deepest point between rows a and b: the middle of the minimum plateau, so a cut
    through a blank gap lands in its middle."""
    if b <= a:
        return a
    seg = smooth[a : b + 1]
    lo = seg.min()
    rows = np.nonzero(seg <= lo + 1e-6 * max(1.0, smooth.max()))[0]
    return int(a + (rows[0] + rows[-1]) // 2)


def _order_fences(centres: np.ndarray, height: int) -> np.ndarray:
    """Curves made strictly increasing top to bottom in every column (extrapolated ends of
    neighbouring lines may cross), clipped to the map.

    Args:
        centres: float64 (k, w), roughly top to bottom.

    Returns:
        int64 (k, w) fence rows.
    """
    f = np.clip(np.round(centres), 0, height - 1).astype(np.int64)
    for i in range(1, len(f)):
        f[i] = np.maximum(f[i], f[i - 1] + 2)
    return np.minimum(f, height - 1)


def _pitch(fences: np.ndarray, lines: list[_Line]) -> float:
    """Typical distance between kept lines (analysis px), for telling stray marks from words."""
    keep = np.array([ln.keep for ln in lines])
    rows = np.median(fences[keep], axis=1)
    if len(rows) >= 2:
        return float(np.median(np.diff(rows)))
    return 40.0


def _straight_cuts(ink: np.ndarray, fences: np.ndarray, max_ink: int) -> list[np.ndarray] | None:
    """A straight cut between each pair of neighbouring lines, or None if some pair has none.

    A straight cut must lie below the upper curve and above the lower one in every column and
    cross at most ``max_ink`` ink pixels; among such rows the least inked, nearest to the middle
    of the free range, is taken.

    Args:
        ink: bool (h, w) analysis ink.
        fences: int64 (k, w) ordered curves.

    Returns:
        One float64 (w,) constant row per gap, or None.
    """
    row_ink = ink.sum(axis=1)
    cuts = []
    for i in range(len(fences) - 1):
        lo, hi = int(fences[i].max()) + 1, int(fences[i + 1].min())
        if hi <= lo:
            return None
        counts = row_ink[lo:hi]
        if counts.min() > max_ink:
            return None
        free = np.nonzero(counts == counts.min())[0]
        cuts.append(np.full(fences.shape[1], float(lo + (free[0] + free[-1]) // 2)))
    return cuts


def _seams(
    ink: np.ndarray, fences: np.ndarray, h_ref: float, options: SegmentOptions
) -> list[np.ndarray]:
    """A* seams between consecutive lines on the analysis map.

    Each gap gets its own search inside the band strictly between its two lines' curves (rows
    ``a(x) < y < b(x)``), on node costs ``1 + ink_cost * ink + dist_cost / (1 + distance to ink)
    + dev_cost * deviation`` where the deviation is 0 on the band's middle curve (the start row
    when the lines are flat) and 1 next to either line. Where the text is tall on the analysis
    map the search runs on a grid shrunk by an integer factor ``q`` (q x q blocks, each with its
    pixels' mean cost) so that text is about ``seam_text_height`` nodes tall (q^2 times fewer
    nodes), then again at full resolution in a corridor of +-q rows round the coarse seam, so
    that it can thread gaps narrower than a block.

    Args:
        ink: bool (h, w) analysis ink map.
        fences: int64 (k, w) line curves, strictly increasing down each column (at least two
            rows apart).
        h_ref: typical text height on the analysis map (px).

    Returns:
        One float64 (w,) array of separator rows per pair of neighbouring lines, strictly
        between the two curves.
    """
    k, w = fences.shape
    if k < 2:
        return []
    y0, y1 = int(fences[0].min()), int(fences[-1].max()) + 1
    sub = ink[y0:y1]
    dist = cv2.distanceTransform((~sub).astype(np.uint8), cv2.DIST_L2, 3)
    base = 1.0 + options.seam_ink_cost * sub + options.seam_dist_cost / (1.0 + dist)
    q = max(1, int(h_ref // options.seam_text_height))
    cols = np.arange(w)
    cuts = []
    for i in range(k - 1):
        a, b = fences[i] - y0, fences[i + 1] - y0
        r0, r1 = int(a.min()) + 1, int(b.max())
        mid = (a + b) / 2.0
        half = np.maximum((b - a) / 2.0, 1.0)
        rows = np.arange(r0, r1)[:, None]  # (m, 1) rows against (w,) curves -> (m, w)
        dev = np.minimum(np.abs(rows - mid[None, :]) / half[None, :], 1.0)
        cost = base[r0:r1] + options.seam_dev_cost * dev
        path = None
        for qq in (q, 1) if q > 1 else (1,):
            path = _band_seam(cost, a - r0, b - r0, qq, options.seam_step_cost)
            if path is not None:
                break
        if path is None:  # the band is cut off somewhere (cannot happen with ordered fences)
            cuts.append((fences[i] + fences[i + 1]) / 2.0)
            continue
        fine = path.rows
        if qq > 1:
            # Coarse node (X, Y) is the centre of fine block columns X*q.., rows Y*q..; then
            # A* again at full resolution in a corridor of +-q rows round the coarse seam, to
            # thread gaps narrower than a block.
            centre = np.arange(len(path.rows)) * qq + (qq - 1) / 2.0
            fine = np.interp(cols, centre, path.rows * qq + (qq - 1) / 2.0)
            lo = np.maximum(a - r0 + 1, np.floor(fine - qq)).astype(np.int64)
            hi = np.minimum(b - r0 - 1, np.ceil(fine + qq)).astype(np.int64)
            refined = astar_seam(cost, lo, hi, options.seam_step_cost)
            if refined is not None:
                fine = refined.rows
        cuts.append(np.clip(fine, a - r0 + 1, b - r0 - 1) + (r0 + y0))
    return cuts


def _band_seam(
    cost: np.ndarray, a: np.ndarray, b: np.ndarray, q: int, step_cost: float
) -> SeamPath | None:
    """:func:`astar_seam` between two curves, on the cost map shrunk by ``q`` (q x q block means).

    Args:
        cost: float (m, w) node costs; a, b: int (w,) the curves (rows), the band is a < y < b.

    Returns:
        The path in grid units of the shrunk map (rows and columns / q), or None.
    """
    if q == 1:
        return astar_seam(cost, a + 1, b - 1, step_cost)
    m, w = cost.shape
    mq, wq = -(-m // q), -(-w // q)
    # Pad to whole blocks by repeating the last row/column, then average each q x q block.
    grid = np.pad(cost, ((0, mq * q - m), (0, wq * q - w)), mode="edge")
    grid = grid.reshape(mq, q, wq, q).mean(axis=(1, 3))
    a_blk = np.pad(a, (0, wq * q - w), mode="edge").reshape(wq, q).max(axis=1)
    b_blk = np.pad(b, (0, wq * q - w), mode="edge").reshape(wq, q).min(axis=1)
    # A block row is in the band when its centre row Y*q + (q-1)/2 is strictly between the
    # curves over all of the block's columns.
    lo = np.floor((a_blk - (q - 1) / 2.0) / q).astype(np.int64) + 1
    hi = np.ceil((b_blk - (q - 1) / 2.0) / q).astype(np.int64) - 1
    if (hi < lo).any() or (lo >= mq).any() or (hi < 0).any():
        return None
    return astar_seam(grid, lo, hi, step_cost)


@dataclass
class SeamPath:
    """Result of :func:`astar_seam`."""

    nodes: np.ndarray
    """int64 (N, 2) ``(x, y)`` grid nodes of the path, left to right."""
    rows: np.ndarray
    """float64 (w,) separator row per column: the middle of the rows the path covers there."""
    cost: float
    """Total cost: every node's cost (the start node's included) plus ``step_cost`` per
    diagonal or vertical move."""
    expanded: int
    """Nodes the search expanded (taken off the priority queue)."""


def seam_heuristic(cost: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """A* heuristic per column: the sum, over the columns still to the right, of the cheapest
    node cost in each column's band.

    Every path to the right edge enters each remaining column at least once, and each entry
    costs at least that column's minimum, so this never overestimates (admissible). It is also
    consistent: a move right lowers it by exactly the next column's minimum, at most the cost of
    the node entered, and a vertical move leaves it unchanged. It is at least as tight as
    "remaining columns x the cheapest node".

    Args:
        cost: float (n, w) node costs; lo, hi: int (w,) the band, first and last row, inclusive.

    Returns:
        float64 (w,) estimate of the cost to go from any node of column x; 0 at the last column.
    """
    rows = np.arange(cost.shape[0])[:, None]  # (n, 1) against (w,) band limits -> (n, w)
    inside = (rows >= lo[None, :]) & (rows <= hi[None, :])
    colmin = np.where(inside, cost, np.inf).min(axis=0)
    # h[x] = colmin[x + 1] + ... + colmin[w - 1]
    return np.concatenate([np.cumsum(colmin[::-1])[::-1][1:], [0.0]])


def astar_seam(
    cost: np.ndarray, lo: np.ndarray, hi: np.ndarray, step_cost: float = 0.5
) -> SeamPath | None:
    """Cheapest path from the left edge to the right edge of a band by A* search.

    The nodes are the grid cells ``(x, y)`` with ``lo[x] <= y <= hi[x]``. From a node the path
    moves right, right-up or right-down into the next column, or up or down inside its column
    (around a stroke that blocks the way right); entering a node costs its ``cost``, and
    diagonal and vertical moves ``step_cost`` more. The path starts at any node of the first
    column and ends at the first node of the last column taken off the priority queue; with the
    consistent heuristic of :func:`seam_heuristic` that path is a cheapest one.

    Args:
        cost: float (n, w) node costs, all > 0.
        lo, hi: int (w,) first and last row of the band in each column (inclusive).
        step_cost: extra cost of a diagonal or vertical move, >= 0.

    Returns:
        :class:`SeamPath`, or None when no path exists (an empty or disconnected band).
    """
    cost = np.asarray(cost, dtype=np.float64)
    n, w = cost.shape
    lo = np.clip(np.asarray(lo, dtype=np.int64), 0, n - 1)
    hi = np.clip(np.asarray(hi, dtype=np.int64), 0, n - 1)
    if w == 0 or (hi < lo).any():
        return None
    # Only the rows the band can reach; nodes outside it cost inf, so they are never entered.
    r0, r1 = int(lo.min()), int(hi.max()) + 1
    m = r1 - r0
    rows = np.arange(r0, r1)[:, None]  # (m, 1) against (w,) band limits -> (m, w)
    inside = (rows >= lo[None, :]) & (rows <= hi[None, :])
    band = np.where(inside, cost[r0:r1], np.inf)
    heur = seam_heuristic(band, lo - r0, hi - r0).tolist()
    # Plain lists and flat indices y * w + x: much faster than numpy scalars in the loop.
    c = band.ravel().tolist()
    size = m * w
    inf = float("inf")
    g = [inf] * size
    parent = [-1] * size
    closed = bytearray(size)
    h0 = heur[0]
    heap = []
    for y in range(int(lo[0] - r0), int(hi[0] - r0) + 1):
        u = y * w
        g[u] = c[u]
        # (f, h, node): among equal f, the node further right (smaller h) first.
        heap.append((c[u] + h0, h0, u))
    heapq.heapify(heap)
    last, bottom = w - 1, (m - 1) * w
    step = float(step_cost)
    goal, expanded = -1, 0
    while heap:
        _, hu, u = heapq.heappop(heap)
        if closed[u]:
            continue
        closed[u] = 1
        expanded += 1
        x = u % w
        if x == last:
            goal = u
            break
        gu = g[u]
        hn = heur[x + 1]
        v = u + 1  # right
        nv = gu + c[v]
        if nv < g[v]:
            g[v], parent[v] = nv, u
            heapq.heappush(heap, (nv + hn, hn, v))
        if u >= w:  # not the top row
            v = u - w + 1  # right-up
            nv = gu + c[v] + step
            if nv < g[v]:
                g[v], parent[v] = nv, u
                heapq.heappush(heap, (nv + hn, hn, v))
            v = u - w  # up
            nv = gu + c[v] + step
            if nv < g[v]:
                g[v], parent[v] = nv, u
                heapq.heappush(heap, (nv + hu, hu, v))
        if u < bottom:  # not the bottom row
            v = u + w + 1  # right-down
            nv = gu + c[v] + step
            if nv < g[v]:
                g[v], parent[v] = nv, u
                heapq.heappush(heap, (nv + hn, hn, v))
            v = u + w  # down
            nv = gu + c[v] + step
            if nv < g[v]:
                g[v], parent[v] = nv, u
                heapq.heappush(heap, (nv + hu, hu, v))
    if goal < 0:
        return None
    path = []
    u = goal
    while u >= 0:
        path.append(u)
        u = parent[u]
    flat = np.array(path[::-1], dtype=np.int64)
    ys, xs = flat // w + r0, flat % w
    top = np.full(w, np.inf)
    low = np.full(w, -np.inf)
    np.minimum.at(top, xs, ys)
    np.maximum.at(low, xs, ys)
    return SeamPath(np.stack([xs, ys], axis=1), (top + low) / 2.0, float(g[goal]), expanded)


def _cut_line(
    img_r: np.ndarray,
    bin_r: np.ndarray,
    top: np.ndarray,
    bottom: np.ndarray,
    inv: np.ndarray,
    in_shape: tuple[int, int],
    pad: int,
    spacing: float,
) -> LineImage | None:
    """Crop one line between two separators of the rotated page.

    Args:
        img_r: uint8 (RH, RW) cleaned, deskewed page.
        bin_r: bool (RH, RW) its ink.
        top, bottom: float (RW,) separator rows; the line holds rows top < y < bottom.
        inv: (2, 3) map from rotated to input (x, y).
        in_shape: input (H, W) to clip the box to.
        spacing: line pitch in full-resolution rows, to tell stray marks from the line's words.

    Returns:
        The line, or None when there is no ink between the separators.
    """
    rh, rw = bin_r.shape
    ya = int(max(0, np.floor(top.min())))
    yb = int(min(rh, np.ceil(bottom.max()) + 1))
    if yb <= ya:
        return None
    rows = np.arange(ya, yb)[:, None]  # (n, 1) against (RW,) separators -> (n, RW) region mask
    region = (rows > top[None, :]) & (rows < bottom[None, :])
    ink = bin_r[ya:yb] & region
    # Stray marks far above or below the line (the first and last lines' regions reach the page
    # edges) must not stretch its box: keep the row clusters that carry the line.
    row = ink.sum(axis=1)
    r0, r1 = _trim_columns(row, np.nonzero(row)[0], spacing / 5)
    ink[:r0] = False
    ink[r1:] = False
    col = ink.sum(axis=0)
    cols = np.nonzero(col)[0]
    if len(cols) == 0:
        return None
    x0, x1 = _trim_columns(col, cols, spacing)
    rows_ink = np.nonzero(ink[:, x0:x1].any(axis=1))[0]
    y0, y1 = ya + int(rows_ink[0]), ya + int(rows_ink[-1]) + 1

    # Crop with paper padding; pixels outside the separators become paper as well.
    cy0, cy1, cx0, cx1 = y0 - pad, y1 + pad, x0 - pad, x1 + pad
    crop = np.full((cy1 - cy0, cx1 - cx0), 255, dtype=np.uint8)
    sy0, sy1, sx0, sx1 = max(0, cy0), min(rh, cy1), max(0, cx0), min(rw, cx1)
    part = img_r[sy0:sy1, sx0:sx1].copy()
    prow = np.arange(sy0, sy1)[:, None]  # (n, 1) -> broadcast against (m,) separator slices
    inside = (prow > top[None, sx0:sx1]) & (prow < bottom[None, sx0:sx1])
    part[~inside] = 255
    crop[sy0 - cy0 : sy1 - cy0, sx0 - cx0 : sx1 - cx0] = part

    # Box in input pixels from the line's extreme ink points (top- and bottom-most per column).
    sub = ink[:, x0:x1]
    has = sub.any(axis=0)
    cx = np.nonzero(has)[0]
    first = np.argmax(sub[:, cx], axis=0)
    last = sub.shape[0] - 1 - np.argmax(sub[::-1, cx], axis=0)
    px = np.concatenate([cx, cx]).astype(np.float64) + x0
    py = np.concatenate([first, last]).astype(np.float64) + ya
    pts = np.stack([px, py, np.ones_like(px)], axis=1)  # (N, 3) homogeneous
    mapped = pts @ inv.T  # (N, 3) @ (3, 2) -> (N, 2) input (x, y)
    h, w = in_shape
    # Mapped points are pixel centres; the pixel holding centre c is round(c).
    bx0 = int(np.clip(np.round(mapped[:, 0].min()), 0, w - 1))
    by0 = int(np.clip(np.round(mapped[:, 1].min()), 0, h - 1))
    bx1 = int(np.clip(np.round(mapped[:, 0].max()) + 1, bx0 + 1, w))
    by1 = int(np.clip(np.round(mapped[:, 1].max()) + 1, by0 + 1, h))
    return LineImage(crop, (bx0, by0, bx1, by1))


def _trim_columns(col: np.ndarray, cols: np.ndarray, spacing: float) -> tuple[int, int]:
    """Index range of a line's ink, ignoring small stray marks far to either side of it.

    Args:
        col: (n,) ink count per column (or per row) inside the line region.
        cols: indices of its non-zero entries, ascending.
        spacing: gaps wider than 2.5 x this separate clusters.
    """
    if len(cols) == 0:
        return 0, 0
    gaps = np.diff(cols)
    breaks = np.nonzero(gaps > 2.5 * spacing)[0]
    # Clusters of columns separated by wide blank gaps; (start, end) index pairs into cols.
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(cols) - 1]])
    mass = np.array([col[cols[s] : cols[e] + 1].sum() for s, e in zip(starts, ends)])
    total = mass.sum()
    keep = np.nonzero(mass >= 0.02 * total)[0]
    if len(keep) == 0:
        keep = np.array([int(np.argmax(mass))])
    return int(cols[starts[keep[0]]]), int(cols[ends[keep[-1]]]) + 1


def _to_input_polyline(cut: np.ndarray, inv: np.ndarray, in_shape: tuple[int, int]) -> np.ndarray:
    """Separator rows (RW,) in the rotated frame -> int32 (N, 2) (x, y) polyline in input pixels."""
    rw = len(cut)
    step = max(1, rw // 400)
    xs = np.arange(0, rw, step, dtype=np.float64)
    pts = np.stack([xs, cut[::step], np.ones_like(xs)], axis=1)  # (N, 3) homogeneous
    mapped = pts @ inv.T  # (N, 3) @ (3, 2) -> (N, 2)
    h, w = in_shape
    inside = (mapped[:, 0] >= -1) & (mapped[:, 0] <= w) & (mapped[:, 1] >= -1) & (mapped[:, 1] <= h)
    return np.round(mapped[inside]).astype(np.int32)


def draw_segmentation(gray: np.ndarray, seg: Segmentation) -> np.ndarray:
    """Picture of a segmentation for debugging.

    Args:
        gray: the uint8 (H, W) page given to :func:`segment_page`.
        seg: its result.

    Returns:
        uint8 (H, W, 3) BGR image: separators in orange, line boxes in alternating colours with
        their 1-based reading-order number.
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
    for i, line in enumerate(seg.lines):
        x0, y0, x1, y1 = line.bbox
        colour = colours[i % len(colours)]
        cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), colour, thick)
        org = (x0 + 2, max(y0 + int(18 * scale), int(18 * scale)))
        font = cv2.FONT_HERSHEY_SIMPLEX
        cv2.putText(out, str(i + 1), org, font, scale, colour, thick, cv2.LINE_AA)
    return out


def line_boxes(seg: Segmentation) -> list[BBox]:
    """The boxes of a segmentation's lines, top to bottom."""
    return [line.bbox for line in seg.lines]
