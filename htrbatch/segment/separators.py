"""Stage 3, straight: fences and straight cuts between neighbouring lines.

The kept candidates' curves become fences, strictly increasing down every column; between two
fences:

- ``projection``: a straight cut at the profile valley (:func:`valley`).
- ``auto``: straight cuts where every gap has an (almost) ink-free row (:func:`straight_cuts`),
  A* seams (:mod:`htrbatch.segment.seams`) otherwise (touching, slanted or wavy lines).
"""

from __future__ import annotations

import numpy as np


def valley(smooth: np.ndarray, a: int, b: int) -> int:
    """Row of the deepest point between rows a and b: the middle of the minimum plateau, so a cut
    through a blank gap lands in its middle."""
    if b <= a:
        return a
    seg = smooth[a : b + 1]
    lo = seg.min()
    rows = np.nonzero(seg <= lo + 1e-6 * max(1.0, smooth.max()))[0]
    return int(a + (rows[0] + rows[-1]) // 2)


def order_fences(centres: np.ndarray, height: int) -> np.ndarray:
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


def straight_cuts(ink: np.ndarray, fences: np.ndarray, max_ink: int) -> list[np.ndarray] | None:
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
