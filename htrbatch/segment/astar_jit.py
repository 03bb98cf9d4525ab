"""The A* seam search of :mod:`htrbatch.segment.seams` compiled with numba (``@njit(cache=True)``).

The same search as the pure-Python loop (``seams._astar_python``), step for step: the same
moves tried in the same order, the same float64 sums in the same order, and a binary heap
ordered by the same ``(f, h, node)`` key as Python's ``heapq`` on those tuples. That order is
total, and entries with equal keys are equal, so any correct priority queue takes the same
entries off in the same order as ``heapq``, and the search returns the same path, cost and
expansion count. ``tests/test_segment.py`` checks that on random cost maps and on
page seams.

This module imports numba at its top: :mod:`~htrbatch.segment.seams` imports it only when a
seam is searched (importing numba costs a few tenths of a second, compiling the search ~1 s;
the compiled code is cached on disk, next to this file or in numba's user cache directory), so
that ``htrbatch --help`` and commands that never cut seams do not pay for it.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def _less(fa, ha, na, fb, hb, nb):
    if fa != fb:
        return fa < fb
    if ha != hb:
        return ha < hb
    return na < nb


@njit(cache=True)
def _push(hf, hh, hn, size, f, h, node):
    if size == hf.shape[0]:
        cap = 2 * size
        nf = np.empty(cap, np.float64)
        nh = np.empty(cap, np.float64)
        nn = np.empty(cap, np.int64)
        nf[:size] = hf
        nh[:size] = hh
        nn[:size] = hn
        hf, hh, hn = nf, nh, nn
    i = size
    while i > 0:
        p = (i - 1) >> 1
        if _less(f, h, node, hf[p], hh[p], hn[p]):
            hf[i], hh[i], hn[i] = hf[p], hh[p], hn[p]
            i = p
        else:
            break
    hf[i], hh[i], hn[i] = f, h, node
    return hf, hh, hn, size + 1


@njit(cache=True)
def _pop(hf, hh, hn, size):
    top_h, top_n = hh[0], hn[0]
    size -= 1
    f, h, node = hf[size], hh[size], hn[size]
    i = 0
    while True:
        c = 2 * i + 1
        if c >= size:
            break
        if c + 1 < size and _less(hf[c + 1], hh[c + 1], hn[c + 1], hf[c], hh[c], hn[c]):
            c += 1
        if _less(hf[c], hh[c], hn[c], f, h, node):
            hf[i], hh[i], hn[i] = hf[c], hh[c], hn[c]
            i = c
        else:
            break
    if size > 0:
        hf[i], hh[i], hn[i] = f, h, node
    return top_h, top_n, size


@njit(cache=True)
def search(c, heur, m, w, y_first, y_last, step):
    """A* on the flat (m * w,) cost grid; returns (g, parent, goal, expanded)."""
    size = m * w
    g = np.full(size, np.inf)
    parent = np.full(size, -1, np.int64)
    closed = np.zeros(size, np.uint8)
    cap = max(64, 4 * m)
    hf = np.empty(cap, np.float64)
    hh = np.empty(cap, np.float64)
    hn = np.empty(cap, np.int64)
    n_heap = 0
    h0 = heur[0]
    for y in range(y_first, y_last + 1):
        u = y * w
        g[u] = c[u]
        hf, hh, hn, n_heap = _push(hf, hh, hn, n_heap, c[u] + h0, h0, u)
    last = w - 1
    bottom = (m - 1) * w
    goal = -1
    expanded = 0
    while n_heap > 0:
        hu, u, n_heap = _pop(hf, hh, hn, n_heap)
        if closed[u]:
            continue
        closed[u] = 1
        expanded += 1
        x = u % w
        if x == last:
            goal = u
            break
        gu = g[u]
        hx = heur[x + 1]
        v = u + 1  # right
        nv = gu + c[v]
        if nv < g[v]:
            g[v] = nv
            parent[v] = u
            hf, hh, hn, n_heap = _push(hf, hh, hn, n_heap, nv + hx, hx, v)
        if u >= w:  # not the top row
            v = u - w + 1  # right-up
            nv = gu + c[v] + step
            if nv < g[v]:
                g[v] = nv
                parent[v] = u
                hf, hh, hn, n_heap = _push(hf, hh, hn, n_heap, nv + hx, hx, v)
            v = u - w  # up
            nv = gu + c[v] + step
            if nv < g[v]:
                g[v] = nv
                parent[v] = u
                hf, hh, hn, n_heap = _push(hf, hh, hn, n_heap, nv + hu, hu, v)
        if u < bottom:  # not the bottom row
            v = u + w + 1  # right-down
            nv = gu + c[v] + step
            if nv < g[v]:
                g[v] = nv
                parent[v] = u
                hf, hh, hn, n_heap = _push(hf, hh, hn, n_heap, nv + hx, hx, v)
            v = u + w  # down
            nv = gu + c[v] + step
            if nv < g[v]:
                g[v] = nv
                parent[v] = u
                hf, hh, hn, n_heap = _push(hf, hh, hn, n_heap, nv + hu, hu, v)
    return g, parent, goal, expanded
