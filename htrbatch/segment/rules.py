"""Stage 2: which line candidates are text lines.

Candidates are checked against the connected components of the analysis map, each owned by
the nearest curve: a candidate that owns no component of text height (i-dots, descender
remnants, specks), sits too close to a much heavier neighbour (its ascender/descender zone), is
crossed by the same letters as its neighbour (one line, two curves), or is a neighbouring line
cut off by the image border, is not a line; its ink goes to its neighbour or is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from htrbatch.segment.candidates import Components
from htrbatch.segment.options import SegmentOptions


@dataclass
class Line:
    """A line candidate after checking: its centre curve (w,) and whether it is output."""

    centre: np.ndarray
    keep: bool


def validate_candidates(
    centres: np.ndarray,
    comps: Components,
    edge: np.ndarray,
    options: SegmentOptions,
    edge_rows: tuple[np.ndarray, np.ndarray],
) -> list[Line]:
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

    lines: list[Line] = []
    real_idx = np.nonzero(real)[0]
    for i in range(nb):
        if real[i]:
            lines.append(Line(centres[i], True))
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
        lines.append(Line(centres[i], False))
    return lines


def _demote_straddled(
    real: np.ndarray,
    centres: np.ndarray,
    comps: Components,
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
