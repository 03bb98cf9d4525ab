"""Stage 3, curved: A* seams between neighbouring lines (``seam``, and ``auto`` where lines touch).

An A* search (as in A* path planning for line segmentation, Surinta et al., 2014) for the
cheapest left-to-right path through a cost map, inside the band between the two lines' curves:
node costs on ink, inverse distance to ink (distance transform) and vertical deviation from the
band's middle (the start row when lines are flat); moves right, right-up, right-down, and
up/down within a column to go round a stroke; the heuristic, the sum of the cheapest node cost
of each remaining column, is admissible and consistent, so each search returns a cheapest path
on its grid. Where text is tall on the analysis map (the usual case) the search first runs on a
grid shrunk by q (q x q block means) so that text is ~12 nodes tall, then again at full analysis
resolution in a corridor of +-q rows round that seam: cheapest inside the corridor, not
necessarily on the whole band, for a fraction of the work. Lines whose strokes touch are split
along a curved path that crosses as little ink as it can.
"""

from __future__ import annotations

import heapq
import warnings
from dataclasses import dataclass

import cv2
import numpy as np

from htrbatch.segment.options import SegmentOptions

ENGINES = ("auto", "c", "python")
"""Implementations of :func:`astar_seam`'s search loop (same results)."""


def seams(
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
    cost: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    step_cost: float = 0.5,
    engine: str = "auto",
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
        engine: ``c`` (the search in C, ``htrbatch/segment/_astar.c``, built at install),
            ``python`` (the same search in pure Python, ~20-50x slower) or ``auto`` (C when the
            extension was built). Both return the same path, cost and expansion count.

    Returns:
        :class:`SeamPath`, or None when no path exists (an empty or disconnected band).
    """
    if engine not in ENGINES:
        raise ValueError(f"astar_seam: unknown engine {engine!r} (one of {', '.join(ENGINES)})")
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
    heur = seam_heuristic(band, lo - r0, hi - r0)
    search = _compiled_search() if engine in ("auto", "c") else None
    if engine == "c" and search is None:
        raise ImportError(
            "astar_seam(engine='c'): the extension htrbatch.segment._astar was not built "
            "(reinstall htrbatch with a C compiler: pip install .)"
        )
    y_first, y_last = int(lo[0] - r0), int(hi[0] - r0)
    if search is not None:
        g = np.empty(m * w, np.float64)
        parent = np.empty(m * w, np.int64)
        goal, expanded = search(
            np.ascontiguousarray(band.ravel()),
            np.ascontiguousarray(heur, dtype=np.float64),
            g,
            parent,
            m,
            w,
            y_first,
            y_last,
            float(step_cost),
        )
    else:
        g, parent, goal, expanded = _search_python(
            band.ravel().tolist(), heur.tolist(), m, w, y_first, y_last, float(step_cost)
        )
    if goal < 0:
        return None
    path = []
    u = int(goal)
    while u >= 0:
        path.append(u)
        u = int(parent[u])
    flat = np.array(path[::-1], dtype=np.int64)
    ys, xs = flat // w + r0, flat % w
    top = np.full(w, np.inf)
    low = np.full(w, -np.inf)
    np.minimum.at(top, xs, ys)
    np.maximum.at(low, xs, ys)
    return SeamPath(np.stack([xs, ys], axis=1), (top + low) / 2.0, float(g[goal]), expanded)


_COMPILED = None  # the C search once looked up; False when the extension is missing


def _compiled_search():
    """The C search of ``htrbatch.segment._astar`` (built at install), or None when the
    extension is missing (an install without a C compiler: the pure-Python loop is used, with
    one warning)."""
    global _COMPILED
    if _COMPILED is None:
        try:
            from htrbatch.segment._astar import search
        except ImportError:
            search = False
            warnings.warn(
                "htrbatch.segment._astar (the A* seam search in C) is not built: seams are "
                "searched in pure Python, ~20-50x slower. Reinstall with a C compiler "
                "(pip install .) to build it.",
                RuntimeWarning,
                stacklevel=3,
            )
        _COMPILED = search
    return _COMPILED or None


def _search_python(
    c: list[float], heur: list[float], m: int, w: int, y_first: int, y_last: int, step: float
) -> tuple[list[float], list[int], int, int]:
    """The A* loop in pure Python (the reference the compiled search must equal).

    Returns:
        (g, parent, goal, expanded): cost to reach each flat node ``y * w + x``, its parent
        (-1 for none), the goal node (-1 when none was reached), nodes expanded.
    """
    # Plain lists and flat indices y * w + x: much faster than numpy scalars in the loop.
    size = m * w
    inf = float("inf")
    g = [inf] * size
    parent = [-1] * size
    closed = bytearray(size)
    h0 = heur[0]
    heap = []
    for y in range(y_first, y_last + 1):
        u = y * w
        g[u] = c[u]
        # (f, h, node): among equal f, the node further right (smaller h) first.
        heap.append((c[u] + h0, h0, u))
    heapq.heapify(heap)
    last, bottom = w - 1, (m - 1) * w
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
    return g, parent, goal, expanded
