"""Page -> text lines.

The page is cleaned and its skew estimated (:mod:`htrbatch.preprocess`), rotated so the lines are
horizontal, and analysed on a downscaled ink-coverage map:

1. Line finding (all methods): peaks of the smoothed horizontal ink profile are line candidates,
   split at profile valleys. Candidates are checked against connected components: a band that owns
   no component of text height (i-dots, descender remnants, specks, page edges) is merged into the
   neighbour it belongs to, or dropped when it is isolated.
2. Separation between neighbouring lines:
   - ``projection``: a straight cut at the valley row.
   - ``seam``: the cheapest left-to-right path through a cost map (ink, closeness to ink, distance
     from the valley row) between the two lines' profile peaks, as in A* path planning for line
     segmentation (Surinta et al., 2014). We solve the same shortest-path problem exactly with
     dynamic programming over columns: paths are monotone in x (a separator never needs to go
     back left) and may move any number of rows inside a column, which a cumulative-minimum sweep
     gives in O(rows) per column. For such paths DP visits every node once, so it is exact like A*
     with an admissible heuristic, needs no priority queue, and vectorises over all gaps of a page
     at once (each gap is fenced by the neighbouring lines' peak rows).
   - ``auto``: seams when a straight cut would cross ink (touching or wavy lines), else projection.
   - ``none``: the whole image is one line.
3. Each line is cut out between its separators (pixels outside them painted to paper), trimmed to
   its ink, padded, and its box mapped back to the input through the inverse rotation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks

from htrbatch.errors import OptionsError
from htrbatch.preprocess import PreprocessOptions, _check_gray, preprocess_page, rotate_page
from htrbatch.types import BBox, LineImage

METHODS = ("auto", "projection", "seam", "none")
_BIG = 1e7  # cost of a fence row: larger than any real path through a page


@dataclass(frozen=True)
class SegmentOptions:
    """How a page is split into lines."""

    method: str = "auto"
    """One of auto | projection | seam | none."""
    preprocess: PreprocessOptions = field(default_factory=PreprocessOptions)
    analysis_side: int = 1200
    """Longest side (px) of the downscaled map used for line finding and seams."""
    pad: int = 4
    """Paper-coloured margin (px) around each line crop."""
    min_text_height: float = 0.4
    """A band is a text line when it owns a component at least this tall, relative to the page's
    typical component height (area-weighted median)."""
    min_valley_depth: float = 0.15
    """Two profile peaks are separate lines only if the valley between them is at least this much
    (relative) lower than the smaller peak."""
    min_line_mass: float = 0.04
    """A line holds at least this fraction of the median line's ink (a one-word last line does)."""
    companion_mass: float = 0.35
    """A band closer than half the line pitch to a neighbour with 1/this times its ink is that
    neighbour's ascender/descender zone, not a line."""
    seam_ink_cost: float = 40.0
    """Cost of a seam step on ink (analysis pixels); detours shorter than ~this are preferred."""
    seam_dist_cost: float = 4.0
    """Cost 4/(1 + distance to ink): keeps seams in the middle of gaps."""
    seam_dev_cost: float = 1.0
    """Cost per step at the fence, falling linearly to 0 at the valley row: keeps seams near it."""
    seam_step_cost: float = 0.5
    """Extra cost of each vertical move."""
    auto_touch_px: int = 2
    """auto uses seams when a straight cut crosses more than this many ink pixels (analysis px)."""

    def validate(self) -> None:
        """Raise :class:`OptionsError` for values that cannot work."""
        if self.method not in METHODS:
            raise OptionsError(f"segment method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.analysis_side < 64:
            raise OptionsError(f"analysis_side must be >= 64, got {self.analysis_side}")
        if self.pad < 0:
            raise OptionsError(f"pad must be >= 0, got {self.pad}")
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
    pre = preprocess_page(gray, options.preprocess)
    if options.method == "none":
        return Segmentation([LineImage(pre.image.copy(), (0, 0, w, h))], 0.0, "none")
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
    cover = cv2.resize(bin_r.astype(np.float32), (aw, ah), interpolation=cv2.INTER_AREA)
    ink_a = cover > 0.15

    # Pixels at or next to the edge of the input image (which is slanted after deskewing).
    inside, _ = rotate_page(np.ones((h, w), dtype=bool), -skew, fill=0)
    inside_a = cv2.resize(inside.astype(np.float32), (aw, ah), interpolation=cv2.INTER_AREA) > 0.99
    edge = cv2.dilate((~inside_a).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    edge[[0, -1], :] = True
    edge[:, [0, -1]] = True
    bands = _find_bands(cover, ink_a, edge, options)
    if not bands:
        return Segmentation([], skew, "projection")

    method = options.method
    straight = [_straight_cut(bands[i], bands[i + 1], aw) for i in range(len(bands) - 1)]
    if method == "auto":
        crossings = [int(ink_a[c.astype(int), np.arange(aw)].sum()) for c in straight]
        touching = any(n > options.auto_touch_px for n in crossings)
        method = "seam" if touching else "projection"
    if method == "seam" and len(bands) > 1:
        cuts = _seams(ink_a, bands, options)
    else:
        cuts = straight

    # Separators in full-resolution rotated coordinates: y per column, length rw.
    xs_full = np.arange(rw)
    xa = (xs_full + 0.5) * f - 0.5
    cuts_full = [
        (np.interp(xa, np.arange(aw), c) + 0.5) / f - 0.5 if aw > 1 else np.full(rw, (c[0] + 0.5) / f)
        for c in cuts
    ]
    inv = cv2.invertAffineTransform(m)
    lines: list[LineImage] = []
    for i, band in enumerate(bands):
        if not band.keep:
            continue
        top = cuts_full[i - 1] if i > 0 else np.full(rw, -1.0)
        bottom = cuts_full[i] if i < len(bands) - 1 else np.full(rw, float(rh))
        line = _cut_line(img_r, bin_r, top, bottom, inv, (h, w), options.pad, band.spacing / f)
        if line is not None:
            lines.append(line)
    separators = [_to_input_polyline(c, inv, (h, w)) for c in cuts_full]
    return Segmentation(lines, float(skew), method, separators)


@dataclass
class _Band:
    """A horizontal band of the analysis map holding one line candidate (rows top..bottom-1)."""

    top: int
    bottom: int
    peak: int
    keep: bool
    spacing: float


def _find_bands(
    cover: np.ndarray, ink: np.ndarray, edge: np.ndarray, options: SegmentOptions
) -> list[_Band]:
    """Line candidates on the analysis map.

    Args:
        cover: float32 (h, w) ink coverage in [0, 1].
        ink: bool (h, w), ``cover`` thresholded.
        edge: bool (h, w), the input image's border zone (to recognise cut-off neighbours).

    Returns:
        Bands covering the map top to bottom; ``keep`` is False for bands that hold no text line
        (isolated noise). Merged bands are already joined.
    """
    ah, aw = ink.shape
    n, labels, stats, cents = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    if n <= 1:
        return []
    areas = stats[1:, cv2.CC_STAT_AREA].astype(np.float64)
    heights = stats[1:, cv2.CC_STAT_HEIGHT].astype(np.float64)
    tops = stats[1:, cv2.CC_STAT_TOP]
    cy = cents[1:, 1]
    # Typical text height: area-weighted median, so i-dots and specks do not pull it down.
    order = np.argsort(heights)
    cum = np.cumsum(areas[order])
    h_ref = float(heights[order][np.searchsorted(cum, cum[-1] / 2)])
    h_ref = max(h_ref, 2.0)

    profile = cover.sum(axis=1).astype(np.float64)
    # Light smoothing at the scale of the text, not of the line pitch: pitch estimates fail on
    # short or irregular paragraphs, while spurious peaks are removed below (valley depth, then
    # component ownership).
    smooth = gaussian_filter1d(profile, max(1.0, 0.2 * h_ref), mode="constant")
    peaks, _ = find_peaks(smooth, distance=max(1.0, 0.5 * h_ref))
    if len(peaks) == 0:
        peaks = np.array([int(np.argmax(smooth))])
    # Keep peaks separated from their neighbours by a real valley.
    peaks = _separate_peaks(smooth, peaks, options.min_valley_depth)
    valleys = [_valley(smooth, peaks[i], peaks[i + 1]) for i in range(len(peaks) - 1)]
    edges = [0, *valleys, ah]

    # Each component belongs to the band holding its centroid.
    band_of = np.searchsorted(np.asarray(valleys), cy, side="right")
    nb = len(peaks)
    widths = stats[1:, cv2.CC_STAT_WIDTH].astype(np.float64)
    # Text-like: tall enough, not a thin vertical dash (margin-rule remnants, scratches), and
    # with a letter's worth of ink (noise blobs are tall only by chance and hold little).
    tall = heights >= options.min_text_height * h_ref
    if not tall.any():
        return []
    text_like = tall & (widths >= 0.25 * heights) & (areas >= 0.25 * np.median(areas[tall]))
    has_text = np.zeros(nb, dtype=bool)
    has_text[band_of[text_like]] = True
    own_mass = np.zeros(nb)
    np.add.at(own_mass, band_of, areas)
    if not has_text.any():
        return []
    # Scattered specks can include one text-sized blob; a line has some real amount of ink.
    real = has_text & (own_mass >= options.min_line_mass * np.median(own_mass[has_text]))
    # Where each band's ink sits (mass-weighted centre row), to attach weak bands to a neighbour.
    centre = np.zeros(nb)
    np.add.at(centre, band_of, areas * cy)
    centre = np.where(own_mass > 0, centre / np.maximum(own_mass, 1e-9), peaks)
    ink_top = np.full(nb, np.inf)
    ink_bot = np.full(nb, -np.inf)
    np.minimum.at(ink_top, band_of, tops)
    np.maximum.at(ink_bot, band_of, tops + heights)
    _demote_companions(real, peaks, own_mass, ink_bot - ink_top, options.companion_mass)
    # Components cut by the image border.
    touching = np.zeros(n, dtype=bool)
    touching[np.unique(labels[edge])] = True
    touch_mass = np.zeros(nb)
    np.add.at(touch_mass, band_of, areas * touching[1:])
    fragment = _cut_off_neighbours(real, peaks, own_mass, touch_mass, ink_top, ink_bot)
    real &= ~fragment
    if not real.any():
        return []

    # Group bands: every real band starts a group; weak ones join the nearest real band when close.
    group = np.full(nb, -1)
    real_idx = np.nonzero(real)[0]
    for i in range(nb):
        if real[i]:
            group[i] = i
            continue
        if fragment[i]:
            continue
        d = np.abs(peaks[real_idx] - centre[i])
        j = int(real_idx[np.argmin(d)])
        # Attach only to an adjacent real band (no real band in between) that is near enough.
        between = (real | fragment)[min(i, j) + 1 : max(i, j)].any()
        near = abs(peaks[j] - centre[i]) <= 2.0 * h_ref
        if own_mass[i] > 0 and not between and near:
            group[i] = j
    kept_peaks = np.unique(group[group >= 0])
    spacing = float(np.median(np.diff(peaks[kept_peaks]))) if len(kept_peaks) > 1 else 1.6 * h_ref
    bands: list[_Band] = []
    i = 0
    while i < nb:
        j = i
        while j + 1 < nb and group[j + 1] == group[i] and group[i] >= 0:
            j += 1
        g = group[i]
        bands.append(
            _Band(
                top=edges[i],
                bottom=edges[j + 1],
                peak=int(peaks[g]) if g >= 0 else int(peaks[i]),
                keep=g >= 0,
                spacing=spacing,
            )
        )
        i = j + 1
    # Neighbouring dropped bands need no cut between them.
    merged: list[_Band] = []
    for b in bands:
        if merged and not b.keep and not merged[-1].keep:
            merged[-1].bottom = b.bottom
        else:
            merged.append(b)
    return merged


def _demote_companions(
    real: np.ndarray, peaks: np.ndarray, mass: np.ndarray, extent: np.ndarray, max_mass: float
) -> None:
    """Un-mark (in place) light bands that sit too close to a heavy neighbour to be a line.

    Tall capitals, quotes and loops can form a profile peak of their own just above or below
    their line's core. Such a band is much lighter than its neighbour and nearer to it than about
    half the line pitch (the median distance between line peaks; with fewer than three lines,
    the heavy band's own ink height stands in for it).

    Args:
        real: bool (n,) band is a text line; updated.
        peaks: (n,) peak rows; mass: (n,) own ink; extent: (n,) own ink height per band.
    """
    changed = True
    while changed:
        changed = False
        idx = np.nonzero(real)[0]
        if len(idx) < 2:
            return
        pitch = float(np.median(np.diff(peaks[idx]))) if len(idx) >= 3 else None
        for a, b in zip(idx[:-1], idx[1:]):
            light, heavy = (a, b) if mass[a] < mass[b] else (b, a)
            near = 0.55 * (pitch if pitch is not None else extent[heavy])
            if peaks[b] - peaks[a] < near and mass[light] < max_mass * mass[heavy]:
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
) -> np.ndarray:
    """Top/bottom bands that are parts of lines cut off by the image border.

    Line images (and pages cropped from forms) often include the descenders of the line above or
    the ascenders of the line below. Such a band lies against the border: most of its ink is in
    components the border cuts, and its densest row is at the border side rather than a good way
    inside like a whole line's core.

    Args:
        real: bool (n,) bands that are lines so far.
        peaks, mass, touch_mass, ink_top, ink_bot: (n,) per band: peak row, own ink, own ink in
            border-cut components, own ink rows.

    Returns:
        bool (n,) bands to drop.
    """
    out = np.zeros(len(real), dtype=bool)
    idx = np.nonzero(real)[0]
    if len(idx) < 2:
        return out
    extent = float(np.max((ink_bot - ink_top)[idx]))
    first, last = idx[0], idx[-1]
    if touch_mass[first] >= 0.5 * mass[first] and peaks[first] - ink_top[first] < 0.25 * extent:
        out[first] = True
    if touch_mass[last] >= 0.5 * mass[last] and ink_bot[last] - peaks[last] < 0.25 * extent:
        out[last] = True
    return out


def _line_spacing(profile: np.ndarray, h_ref: float) -> float:
    """Line pitch (rows) from the profile's autocorrelation; ``1.6 * h_ref`` without repetition."""
    p = gaussian_filter1d(profile, max(1.0, h_ref / 6)) - profile.mean()
    n = len(p)
    lo, hi = int(max(2, 0.6 * h_ref)), int(min(n // 2, 6 * h_ref))
    if hi <= lo + 2 or not np.any(p):
        return 1.6 * h_ref
    # Full autocorrelation via FFT; index k is lag k.
    spec = np.fft.rfft(p, 2 * n)
    ac = np.fft.irfft(spec * np.conj(spec))[:n]
    ac = ac / max(ac[0], 1e-9)
    seg = ac[lo:hi]
    pk, _ = find_peaks(seg)
    if len(pk) == 0:
        return 1.6 * h_ref
    best = pk[np.argmax(seg[pk])]
    if seg[best] < 0.2:
        return 1.6 * h_ref
    # The first clear peak is the pitch: alternating long and short lines can make twice the
    # pitch correlate better than the pitch itself.
    strong = pk[seg[pk] >= 0.5 * seg[best]]
    return float(lo + strong[0])


def _separate_peaks(smooth: np.ndarray, peaks: np.ndarray, depth: float) -> np.ndarray:
    """Merge neighbouring peaks whose valley is shallower than ``depth`` x the smaller peak,
    keeping the higher one (ascender/descender shoulders are not lines)."""
    peaks = list(int(p) for p in peaks)
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
    seg = smooth[a : b + 1]
    lo = seg.min()
    rows = np.nonzero(seg <= lo + 1e-6 * max(1.0, smooth.max()))[0]
    return int(a + (rows[0] + rows[-1]) // 2)


def _straight_cut(upper: _Band, lower: _Band, width: int) -> np.ndarray:
    """Straight separator at the boundary row between two bands, float64 (width,)."""
    return np.full(width, float(upper.bottom))


def _seams(ink: np.ndarray, bands: list[_Band], options: SegmentOptions) -> list[np.ndarray]:
    """Cheapest x-monotone separators between consecutive bands on the analysis map.

    Args:
        ink: bool (h, w) analysis ink map.
        bands: consecutive bands; the separator between bands i and i+1 stays strictly between
            their peak rows and starts/ends anywhere in that corridor.

    Returns:
        One float64 (w,) array of separator rows per pair of neighbouring bands.
    """
    ah, aw = ink.shape
    fence_rows = np.array([b.peak for b in bands])
    y0, y1 = int(fence_rows[0]), int(fence_rows[-1]) + 1
    sub = ink[y0:y1]
    n = y1 - y0
    dist = cv2.distanceTransform((~sub).astype(np.uint8), cv2.DIST_L2, 3)
    # Deviation cost per row: 1 at the fences, 0 at each valley (the straight-cut row).
    dev = np.zeros(n)
    for i in range(len(bands) - 1):
        a, b = bands[i].peak - y0, bands[i + 1].peak - y0
        v = bands[i].bottom - y0
        v = min(max(v, a + 1), b - 1) if b - a >= 2 else a
        rows = np.arange(a, b + 1)
        span = np.where(rows < v, max(v - a, 1), max(b - v, 1))
        dev[a : b + 1] = np.abs(rows - v) / span
    cost = (
        1.0
        + options.seam_ink_cost * sub
        + options.seam_dist_cost / (1.0 + dist)
        + options.seam_dev_cost * dev[:, None]  # (n, 1) broadcasts over columns
    )
    cost[fence_rows - y0, :] = _BIG
    cost = cost.astype(np.float64)

    step = options.seam_step_cost
    rows = np.arange(n)
    pred_dy = np.zeros((aw, n), dtype=np.int8)  # diagonal move into column x: row offset in x-1
    src = np.zeros((aw, n), dtype=np.int32)  # row where the path entered column x
    d = cost[:, 0].copy()
    src[0] = rows
    for x in range(aw):
        c = cost[:, x]
        if x > 0:
            up = np.empty(n)
            down = np.empty(n)
            up[1:], up[0] = d[:-1] + step, np.inf  # from row y-1 in the previous column
            down[:-1], down[-1] = d[1:] + step, np.inf  # from row y+1
            e = d.copy()
            dy = np.zeros(n, dtype=np.int8)
            better = up < e
            e[better], dy[better] = up[better], -1
            better = down < e
            e[better], dy[better] = down[better], 1
            pred_dy[x] = dy
            e += c
        else:
            e = c.copy()
        # Vertical runs inside column x: best entry row k <= y (downward) or k >= y (upward).
        s = np.cumsum(c + step)
        vals = e - s
        run = np.minimum.accumulate(vals)
        k_down = np.maximum.accumulate(np.where(vals <= run, rows, 0))
        f_down = run + s
        s_up = np.cumsum((c + step)[::-1])  # reversed: index j is row n-1-j
        vals_u = e[::-1] - s_up
        run_u = np.minimum.accumulate(vals_u)
        k_up = n - 1 - np.maximum.accumulate(np.where(vals_u <= run_u, rows, 0))
        f_up = (run_u + s_up)[::-1]
        k_up = k_up[::-1]
        use_up = f_up < f_down
        d = np.where(use_up, f_up, f_down)
        src[x] = np.where(use_up, k_up, k_down)

    cuts = []
    for i in range(len(bands) - 1):
        a, b = bands[i].peak - y0, bands[i + 1].peak - y0
        if b - a < 2:
            cuts.append(np.full(aw, float(bands[i].bottom)))
            continue
        y = a + 1 + int(np.argmin(d[a + 1 : b]))
        path = np.empty(aw)
        for x in range(aw - 1, -1, -1):
            k = int(src[x, y])
            # The path covers rows k..y in this column; they are (nearly) ink-free, so any of
            # them separates the lines here.
            path[x] = (k + y) / 2.0
            y = k + int(pred_dy[x, k]) if x > 0 else k
        cuts.append(path + y0)
    return cuts


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
    """Column range of a line's ink, ignoring small stray marks far left or right of the words.

    Args:
        col: (RW,) ink count per column inside the line region.
        cols: indices of the non-zero columns, ascending.
    """
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
        cv2.putText(out, str(i + 1), org, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thick, cv2.LINE_AA)
    return out


def line_boxes(seg: Segmentation) -> list[BBox]:
    """The boxes of a segmentation's lines, top to bottom."""
    return [line.bbox for line in seg.lines]
