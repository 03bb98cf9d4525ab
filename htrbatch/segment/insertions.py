"""Stage 5: interlinear insertions split off a cut line.

A few words written small between two lines are absorbed by the line below or above as if they
were its ascenders or descenders. After a line is cut (:mod:`~htrbatch.segment.cut`), its ink
between its separators is examined: its **core band** (the x-height zone: the rows around the
peak of its row ink profile that hold at least ``CORE_LEVEL`` of the peak) gives the core height
``hc``; connected components that do not reach into the core band and whose groups (horizontal
gaps under ``insert_join`` x ``hc``) sit more than ``insert_dist`` x ``hc`` above or below it, are
word-sized (``insert_min_height`` x ``hc`` tall, ``insert_min_width`` x ``hc`` wide, at least
``insert_min_mass`` of the line's ink) and narrower than ``insert_max_frac`` of the line's width,
become lines of their own, with the small marks (dots, bars) inside their box. The line keeps
the rest of its ink.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from htrbatch.segment.options import SegmentOptions

CORE_LEVEL = 0.4
"""The core band holds the rows with at least this fraction of the profile's peak (smoothed)."""


@dataclass
class LinePart:
    """One piece of a split line on a window of the rotated page (rows ``y0:y0 + h``)."""

    side: int  # -1: insertion above the line, 0: the line itself, +1: insertion below
    y0: int  # first row of the window on the block
    image: np.ndarray  # uint8 (h, RW): the window, other pieces' ink painted to paper
    ink: np.ndarray  # bool (h, RW): this piece's ink only


def core_band(row: np.ndarray) -> tuple[int, int]:
    """Rows ``[c0, c1)`` of a line's core (x-height) band from its row ink profile."""
    k = max(1, len(row) // 60) * 2 + 1
    smooth = np.convolve(row.astype(np.float64), np.ones(k) / k, mode="same")
    peak = int(np.argmax(smooth))
    level = CORE_LEVEL * smooth[peak]
    c0 = peak
    while c0 > 0 and smooth[c0 - 1] >= level:
        c0 -= 1
    c1 = peak + 1
    while c1 < len(smooth) and smooth[c1] >= level:
        c1 += 1
    return c0, c1


def line_ink(
    bin_r: np.ndarray, top: np.ndarray, bottom: np.ndarray
) -> tuple[int, np.ndarray] | None:
    """``(ya, ink)``: the window's first row on the block and the ink held between the
    separators (bool, rows ``ya:yb``, top < y < bottom); None for a window under 8 rows."""
    rh = bin_r.shape[0]
    ya = int(max(0, np.floor(top.min())))
    yb = int(min(rh, np.ceil(bottom.max()) + 1))
    if yb - ya < 8:
        return None
    rows = np.arange(ya, yb)[:, None]
    return ya, bin_r[ya:yb] & (rows > top[None, :]) & (rows < bottom[None, :])


def line_parts(
    img_r: np.ndarray,
    ya: int,
    ink: np.ndarray,
    labels: np.ndarray,
    pieces: list[tuple[int, np.ndarray]],
) -> list[LinePart]:
    """One :class:`LinePart` per ``(side, component labels)`` piece of the window ``ink`` (rows
    ``ya`` onwards of ``img_r``, components ``labels``): its own ink, and the window with the
    other pieces' ink (dilated by one pixel) painted to paper."""
    window = img_r[ya : ya + ink.shape[0]]
    n = int(labels.max()) + 1
    out = []
    for side, idx in pieces:
        mine = np.zeros(n, bool)
        mine[idx] = True
        own = mine[labels]
        other = ink & ~own
        image = window.copy()
        image[cv2.dilate(other.view(np.uint8), np.ones((3, 3), np.uint8)) > 0] = 255
        out.append(LinePart(side, ya, image, own))
    return out


def split_insertions(
    img_r: np.ndarray,
    bin_r: np.ndarray,
    top: np.ndarray,
    bottom: np.ndarray,
    options: SegmentOptions,
) -> list[LinePart] | None:
    """The line between two separators and the insertions written above or below it.

    Args:
        img_r: uint8 (RH, RW) cleaned, deskewed block; bin_r: bool (RH, RW) its ink.
        top, bottom: float (RW,) separator rows; the line holds rows top < y < bottom.
        options: the ``insert_*`` thresholds.

    Returns:
        The pieces top to bottom (insertions above, the line, insertions below), or None when
        nothing is split off (the line is cut as it is).
    """
    held = line_ink(bin_r, top, bottom)
    if held is None:
        return None
    ya, ink = held
    row = ink.sum(axis=1)
    if row.max() == 0:
        return None
    c0, c1 = core_band(row)
    hc = float(c1 - c0)
    if hc < 3:
        return None
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink.view(np.uint8), connectivity=8)
    if n <= 2:
        return None
    x = stats[1:, cv2.CC_STAT_LEFT]
    y = stats[1:, cv2.CC_STAT_TOP]
    w = stats[1:, cv2.CC_STAT_WIDTH]
    h = stats[1:, cv2.CC_STAT_HEIGHT]
    area = stats[1:, cv2.CC_STAT_AREA]
    cols = np.nonzero(ink.any(axis=0))[0]
    line_w = float(cols[-1] - cols[0] + 1)
    # Components touching the core band are the line's; the others lie wholly above or below.
    above = y + h <= c0
    below = y >= c1
    tall = h >= 0.5 * hc  # not dots, bars, commas: seeds of a group
    groups: list[tuple[int, np.ndarray]] = []
    for side, free in ((-1, above), (1, below)):
        seeds = np.nonzero(free & tall)[0]
        if len(seeds) == 0:
            continue
        order = seeds[np.argsort(x[seeds])]
        run = [order[0]]
        right = x[order[0]] + w[order[0]]
        for i in order[1:]:
            if x[i] - right < options.insert_join * hc:
                run.append(i)
                right = max(right, x[i] + w[i])
            else:
                groups.append((side, np.array(run)))
                run, right = [i], x[i] + w[i]
        groups.append((side, np.array(run)))

    parts: list[tuple[int, np.ndarray]] = []
    taken = np.zeros(n - 1, bool)
    for side, members in groups:
        gx0 = int(x[members].min())
        gx1 = int((x[members] + w[members]).max())
        gy0 = int(y[members].min())
        gy1 = int((y[members] + h[members]).max())
        centre = 0.5 * (gy0 + gy1)
        dist = c0 - centre if side < 0 else centre - c1
        if dist <= options.insert_dist * hc:
            continue
        if gy1 - gy0 < options.insert_min_height * hc or gx1 - gx0 < options.insert_min_width * hc:
            continue
        if gx1 - gx0 >= options.insert_max_frac * line_w:
            continue
        if area[members].sum() < options.insert_min_mass * area.sum():
            continue
        # Small marks (i-dots, bars, commas) inside the group's box, or beyond it on the side
        # away from the line, belong to its words (the line's own i-dots lie between the two).
        free = above if side < 0 else below
        reach_up = 0.5 * hc if side < 0 else 0.0
        reach_down = 0.0 if side < 0 else 0.5 * hc
        inside = (
            free
            & ~taken
            & (x >= gx0 - 0.3 * hc)
            & (x + w <= gx1 + 0.3 * hc)
            & (y >= gy0 - reach_up)
            & (y + h <= gy1 + reach_down)
        )
        inside[members] = True
        taken |= inside
        parts.append((side, np.nonzero(inside)[0] + 1))
    if not parts:
        return None

    keep = np.ones(n, bool)
    keep[0] = False
    for _, idx in parts:
        keep[idx] = False
    pieces = [p for p in parts if p[0] < 0]
    pieces.append((0, np.nonzero(keep)[0]))
    pieces.extend(p for p in parts if p[0] > 0)
    pieces.sort(key=lambda p: (p[0], _top_of(stats, p[1])) if p[0] else (0, 0))
    return line_parts(img_r, ya, ink, labels, pieces)


def _top_of(stats: np.ndarray, idx: np.ndarray) -> int:
    return int(stats[idx, cv2.CC_STAT_TOP].min())
