"""Stage 4b: a found line that holds two lines is split in two.

Two lines can end up between one pair of separators: a letterhead or a list written smaller and
closer than the page's text (whose text height and pitch the line finder uses), or two lines
whose ascenders and descenders interlock so no candidate of its own survives for one of them.
Before a line is cut (:mod:`~htrbatch.segment.cut`), its ink between the separators is projected
onto rows along a few slopes around the page's (lines drift from the page's average skew); the
slope whose profile has the deepest **valley between two peaks** wins. The line is split at that
valley when the valley is deep (at most ``merge_valley`` of the lower peak), each side carries at
least ``merge_min_mass`` of the ink, and the two peaks are at least ``merge_min_dist`` x the
larger side's core height apart (a line's ascender or descender zone next to its core is nearer
and never has a deep valley between). Connected components go to the side of their centroid; the
two sides must lie one above the other (their column spans overlap by ``merge_overlap`` of the
narrower), not side by side as the halves of one line projected along a wrong slope do.
Each side is examined again (a line can hold three).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d

from htrbatch.segment.insertions import LinePart, core_band, line_ink, line_parts
from htrbatch.segment.options import SegmentOptions

SLOPES = np.linspace(-0.04, 0.04, 9)
"""Slopes (rows per column) along which the line's ink is projected, around the page's skew."""


@dataclass
class Split:
    """The deepest two-peak valley of a line's ink profile."""

    ratio: float  # valley / lower peak
    slope: float  # rows per column
    row: float  # the valley's row at the line's middle column (window rows)
    mass: float  # ink share of the lighter side
    dist: float  # rows between the two peaks
    core: float  # the larger core height of the two sides (rows)
    xc: float  # the middle column, where the valley is at ``row``


def best_split(ink: np.ndarray, spacing: float) -> Split | None:
    """The deepest valley between two peaks of ``ink``'s row profile over :data:`SLOPES`.

    Args:
        ink: bool (h, w) the line's ink between its separators.
        spacing: the page's line pitch (rows), for the smoothing width.

    Returns:
        The best split, or None when the line has too little ink to tell.
    """
    # Every other column: the profiles are as good and the work is halved.
    ys, xs = np.nonzero(ink[:, ::2])
    xs = xs * 2
    if len(ys) < 25:
        return None
    h = ink.shape[0]
    xc = 0.5 * (xs.min() + xs.max())
    margin = int(np.ceil(0.04 * (xs.max() - xs.min()) / 2)) + 1
    sigma = max(1.0, spacing / 25)
    best: Split | None = None
    for k in SLOPES:
        r = np.round(ys - k * (xs - xc)).astype(np.int64) + margin
        prof = np.bincount(r, minlength=h + 2 * margin + 1).astype(np.float64)
        sm = gaussian_filter1d(prof, sigma, mode="constant")
        cum = np.cumsum(sm)
        total = cum[-1]
        lo = int(np.searchsorted(cum, 0.1 * total))
        hi = int(np.searchsorted(cum, 0.9 * total))
        if hi - lo < 3:
            continue
        left = np.maximum.accumulate(sm)
        right = np.maximum.accumulate(sm[::-1])[::-1]
        ratio = sm[lo:hi] / np.maximum(np.minimum(left[lo:hi], right[lo:hi]), 1e-9)
        i = int(np.argmin(ratio))
        if best is not None and ratio[i] >= best.ratio:
            continue
        s = lo + i
        pa, pb = int(np.argmax(sm[: s + 1])), s + int(np.argmax(sm[s:]))
        up, down = prof[: s + 1], prof[s + 1 :]
        core = max(_height(core_band(up)), _height(core_band(down))) if len(down) else h
        best = Split(
            ratio=float(ratio[i]),
            slope=float(k),
            row=float(s - margin),
            mass=float(min(cum[s], total - cum[s]) / total),
            dist=float(pb - pa),
            core=float(core),
            xc=float(xc),
        )
    return best


def _passes(s: Split, options: SegmentOptions) -> bool:
    """A valley deep enough between two peaks far enough apart, each side heavy enough."""
    return (
        s.ratio <= options.merge_valley
        and s.mass >= options.merge_min_mass
        and s.dist >= options.merge_min_dist * s.core
    )


def _height(band: tuple[int, int]) -> int:
    return band[1] - band[0]


def split_merged(
    img_r: np.ndarray,
    bin_r: np.ndarray,
    top: np.ndarray,
    bottom: np.ndarray,
    spacing: float,
    options: SegmentOptions,
) -> list[LinePart] | None:
    """The lines held between two separators, when there are several.

    Args:
        img_r: uint8 (RH, RW) cleaned, deskewed block; bin_r: bool (RH, RW) its ink.
        top, bottom: float (RW,) separator rows; the line holds rows top < y < bottom.
        spacing: the page's line pitch (full-resolution rows).
        options: the ``merge_*`` thresholds.

    Returns:
        The lines top to bottom (``side`` 0), or None when it is one line (cut as it is).
    """
    held = line_ink(bin_r, top, bottom)
    if held is None:
        return None
    ya, ink = held
    first = best_split(ink, spacing)
    if first is None or not _passes(first, options):
        return None  # most lines: no components needed
    n, labels, stats, cents = cv2.connectedComponentsWithStats(ink.view(np.uint8), connectivity=8)
    if n <= 2:
        return None
    left = stats[:, cv2.CC_STAT_LEFT]
    span = np.stack([left, left + stats[:, cv2.CC_STAT_WIDTH]], axis=1)  # (n, 2) columns
    groups = _split(ink, labels, cents, span, np.arange(1, n), spacing, options, 2, first)
    if len(groups) < 2:
        return None
    return line_parts(img_r, ya, ink, labels, [(0, idx) for idx in groups])


def _split(
    ink: np.ndarray,
    labels: np.ndarray,
    cents: np.ndarray,
    span: np.ndarray,
    idx: np.ndarray,
    spacing: float,
    options: SegmentOptions,
    depth: int,
    first: Split | None = None,
) -> list[np.ndarray]:
    """Component labels ``idx`` as one group, or split top to bottom (at most ``depth`` more
    times); ``first``: the split of all of ``ink``, when ``idx`` is all of it."""
    mine = np.zeros(len(cents), bool)
    mine[idx] = True
    own = ink & mine[labels]
    s = first if first is not None else best_split(own, spacing)
    if s is None or not _passes(s, options):
        return [idx]
    # Each component to the side of the valley its centroid lies on.
    upper = cents[idx, 1] - s.slope * (cents[idx, 0] - s.xc) <= s.row
    parts = [idx[upper], idx[~upper]]
    if not len(parts[0]) or not len(parts[1]):
        return [idx]
    # Two lines lie one above the other; the halves of one line projected along a slope that
    # is not its own lie side by side.
    (a0, a1), (b0, b1) = ((span[p, 0].min(), span[p, 1].max()) for p in parts)
    if min(a1, b1) - max(a0, b0) < options.merge_overlap * min(a1 - a0, b1 - b0):
        return [idx]
    if depth <= 0:
        return parts
    out: list[np.ndarray] = []
    for p in parts:
        out.extend(_split(ink, labels, cents, span, p, spacing, options, depth - 1))
    return out
