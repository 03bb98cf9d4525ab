"""A* seam search: the C loop (htrbatch/segment/_astar.c) against the pure-Python one, on the
searches that real pages make (issue 26).

    python benchmarks/seam_speed.py work/pages24 --out benchmarks/results/seam-speed.json

Each page is segmented with ``--segmenter seam`` (seams between every pair of lines) while the
calls to ``astar_seam`` are recorded; then every recorded search runs with ``engine="python"``
and ``engine="c"`` (best of ``--rounds``, the compiled one warmed up first), and the two
results are compared (nodes, rows, cost, expansions must be equal). Also times ``segment_page``
with ``--segmenter auto`` per page with each engine (the default path).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import htrbatch.segment.seams as seams_mod
from htrbatch.io import read_pages
from htrbatch.segment import SegmentOptions, segment_page


def best(fn, rounds: int) -> float:
    t = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        t = min(t, time.perf_counter() - t0)
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pages", type=Path)
    ap.add_argument("--n", type=int, default=24)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--note", default="")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    files = sorted(p for p in args.pages.iterdir() if p.suffix in (".png", ".jpg"))[: args.n]
    grays = [read_pages(f)[0].image for f in files]

    orig = seams_mod.astar_seam
    calls = []

    def recording(cost, lo, hi, step_cost=0.5, engine="auto"):
        calls.append((np.array(cost), np.array(lo), np.array(hi), step_cost))
        return orig(cost, lo, hi, step_cost, engine)

    seams_mod.astar_seam = recording
    for g in grays:
        segment_page(g, SegmentOptions(method="seam"))
    seams_mod.astar_seam = orig
    orig(np.ones((3, 3)), np.zeros(3, int), np.full(3, 2), engine="c")  # load the extension

    t_py = t_nb = 0.0
    nodes = expanded = 0
    same = 0
    for cost, lo, hi, step in calls:
        a = orig(cost, lo, hi, step, engine="python")
        b = orig(cost, lo, hi, step, engine="c")
        ok = (a is None and b is None) or (
            a is not None
            and b is not None
            and np.array_equal(a.nodes, b.nodes)
            and np.array_equal(a.rows, b.rows)
            and a.cost == b.cost
            and a.expanded == b.expanded
        )
        same += ok
        if a is not None:
            expanded += a.expanded
        nodes += cost.size
        call = (cost, lo, hi, step)
        t_py += best(lambda c=call: orig(*c, engine="python"), args.rounds)
        t_nb += best(lambda c=call: orig(*c, engine="c"), args.rounds)
    print(f"{len(calls)} searches on {len(files)} pages: {same} identical")
    print(f"python {t_py:.3f} s, C {t_nb:.3f} s: {t_py / t_nb:.1f}x")

    per_page = {}
    for engine in ("python", "c"):

        def run(engine=engine):
            def patched(cost, lo, hi, step_cost=0.5, engine_=None):
                return orig(cost, lo, hi, step_cost, engine)

            seams_mod.astar_seam = patched
            for method in ("seam", "auto"):
                t = sum(
                    best(
                        lambda g=g, o=SegmentOptions(method=method): segment_page(g, o), args.rounds
                    )
                    for g in grays
                )
                per_page[f"{method}/{engine}"] = round(1000 * t / len(grays), 1)
            seams_mod.astar_seam = orig

        run()
    for k, v in per_page.items():
        print(f"segment_page --segmenter {k}: {v} ms/page")
    report = {
        "command": "python benchmarks/seam_speed.py "
        + " ".join(a for a in __import__("sys").argv[1:]),
        "note": args.note,
        "pages": len(files),
        "searches": len(calls),
        "identical": same,
        "nodes_in_bands": int(nodes),
        "nodes_expanded": int(expanded),
        "search_seconds": {"python": round(t_py, 4), "c": round(t_nb, 4)},
        "search_speedup": round(t_py / t_nb, 2),
        "segment_page_ms_per_page": per_page,
    }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
