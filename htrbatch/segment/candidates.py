"""Stage 1: line candidates, each a centre curve y(x) on the analysis map.

- ``projection``: peaks of the smoothed horizontal ink profile of the whole page (flat curves),
  :func:`profile_candidates`.
- ``seam`` and ``auto``: ridges of a local profile (the ink map blurred along the lines, i.e. a
  projection profile over a sliding window a few letters wide), linked across word gaps into
  curves, :func:`ridge_candidates`. They follow lines whose slope drifts from the page's average,
  as handwriting on whiteboards and unruled paper does.

Neighbouring peaks or ridges that no real valley separates (a line's ascender or descender zone
next to its core) are merged here already; the checks against connected components
(:func:`components`) are the next stage, :mod:`htrbatch.segment.rules`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d

from htrbatch.segment.options import SegmentOptions


@dataclass
class Components:
    """Connected ink components of the analysis map (arrays indexed by component, label - 1)."""

    labels: np.ndarray  # int32 (h, w), 0 = background
    area: np.ndarray
    height: np.ndarray
    width: np.ndarray
    top: np.ndarray
    cx: np.ndarray
    cy: np.ndarray
    h_ref: float  # typical text height: area-weighted median component height


def components(ink: np.ndarray) -> Components | None:
    """Connected components (8-connected) of a bool (h, w) ink map and the typical text height;
    None when there is no ink."""
    n, labels, stats, cents = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    if n <= 1:
        return None
    area = stats[1:, cv2.CC_STAT_AREA].astype(np.float64)
    height = stats[1:, cv2.CC_STAT_HEIGHT].astype(np.float64)
    # Area-weighted median, so i-dots and specks do not pull the text height down.
    order = np.argsort(height)
    cum = np.cumsum(area[order])
    h_ref = max(2.0, float(height[order][np.searchsorted(cum, cum[-1] / 2)]))
    return Components(
        labels=labels,
        area=area,
        height=height,
        width=stats[1:, cv2.CC_STAT_WIDTH].astype(np.float64),
        top=stats[1:, cv2.CC_STAT_TOP].astype(np.float64),
        cx=cents[1:, 0],
        cy=cents[1:, 1],
        h_ref=h_ref,
    )


def profile_candidates(
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


def ridge_candidates(cover: np.ndarray, h_ref: float, options: SegmentOptions) -> np.ndarray:
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
