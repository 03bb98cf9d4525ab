"""Stage 4: line images cut out between their separators.

Each line is cut out between its separators (pixels outside them painted to paper), trimmed to
its ink (stray marks far above, below or beside the line left out), padded, and its box mapped
back to the input through the inverse rotation; separators are mapped back as polylines.
"""

from __future__ import annotations

import numpy as np

from htrbatch.segment.rules import Line
from htrbatch.types import LineImage


def line_pitch(fences: np.ndarray, lines: list[Line]) -> float:
    """Typical distance between kept lines (analysis px), for telling stray marks from words."""
    keep = np.array([ln.keep for ln in lines])
    rows = np.median(fences[keep], axis=1)
    if len(rows) >= 2:
        return float(np.median(np.diff(rows)))
    return 40.0


def cut_line(
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
    polygon = _outline(cx + x0, first + ya, last + ya, top, bottom, pad, spacing, inv, in_shape)
    return LineImage(crop, (bx0, by0, bx1, by1), polygon=polygon)


def _outline(
    xs: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    top: np.ndarray,
    bottom: np.ndarray,
    pad: int,
    spacing: float,
    inv: np.ndarray,
    in_shape: tuple[int, int],
) -> np.ndarray:
    """A line's outline: its ink's top and bottom per stretch of columns (about half a line
    pitch wide), padded, kept between its separators, in input pixels.

    Args:
        xs: ascending columns (rotated page) that hold the line's ink; first, last: the top- and
            bottom-most ink row in each.
        top, bottom: (RW,) the separators.

    Returns:
        float64 (N, 2) polygon (x, y): the upper edge left to right, then the lower edge back.
    """
    step = max(4, int(spacing / 2))
    lo, hi = int(xs[0]), int(xs[-1]) + 1
    bins = (xs - lo) // step  # window index of each ink column
    n = int(bins[-1]) + 1
    up = np.full(n, np.inf)
    down = np.full(n, -np.inf)
    np.minimum.at(up, bins, first)
    np.maximum.at(down, bins, last)
    has = np.isfinite(up)
    idx = np.arange(n)
    up = np.interp(idx, idx[has], up[has])
    down = np.interp(idx, idx[has], down[has])
    # Window edges: each window's top/bottom holds from its first to its last column.
    ex0 = np.clip(lo + idx * step, lo, hi - 1)
    ex1 = np.clip(lo + (idx + 1) * step - 1, lo, hi - 1)
    xe = np.stack([ex0, ex1], axis=1).ravel().astype(np.float64)
    ye_up = np.repeat(up - pad, 2)
    ye_down = np.repeat(down + pad, 2)
    xi = xe.astype(int)
    ye_up = np.maximum(ye_up, top[xi] + 1)
    ye_down = np.minimum(ye_down, bottom[xi] - 1)
    xe[0] -= pad
    xe[-1] += pad
    px = np.concatenate([xe, xe[::-1]])
    py = np.concatenate([ye_up, ye_down[::-1]])
    pts = np.stack([px, py, np.ones_like(px)], axis=1)  # (N, 3) homogeneous
    mapped = pts @ inv.T  # (N, 3) @ (3, 2) -> (N, 2) input (x, y)
    h, w = in_shape
    mapped[:, 0] = np.clip(mapped[:, 0], 0, w - 1)
    mapped[:, 1] = np.clip(mapped[:, 1], 0, h - 1)
    return mapped


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


def to_input_polyline(cut: np.ndarray, inv: np.ndarray, in_shape: tuple[int, int]) -> np.ndarray:
    """Separator rows (RW,) in the rotated frame -> int32 (N, 2) (x, y) polyline in input pixels."""
    rw = len(cut)
    step = max(1, rw // 400)
    xs = np.arange(0, rw, step, dtype=np.float64)
    pts = np.stack([xs, cut[::step], np.ones_like(xs)], axis=1)  # (N, 3) homogeneous
    mapped = pts @ inv.T  # (N, 3) @ (3, 2) -> (N, 2)
    h, w = in_shape
    inside = (mapped[:, 0] >= -1) & (mapped[:, 0] <= w) & (mapped[:, 1] >= -1) & (mapped[:, 1] <= h)
    return np.round(mapped[inside]).astype(np.int32)
