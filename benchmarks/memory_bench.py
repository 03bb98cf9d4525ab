"""Peak memory of `htrbatch transcribe` on 100 vs 1,000 pages: does it stay flat?

Builds small synthetic pages (three rendered line images stacked on paper, each page different)
from a folder of line images such as `htrbatch data iamondb ... --out work/bench_lines`, then runs
`htrbatch transcribe` on the first 100 and on all 1,000 (new output folder each time) under
`/usr/bin/time -v`, and samples the resident memory of the whole process tree (the CLI and its
worker processes, summed) every 0.1 s from /proc.

    python benchmarks/memory_bench.py work/bench_lines --pages-dir work/bench_pages \\
        --counts 100,1000 --decoder greedy --out benchmarks/results/memory.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
HTRBATCH = Path(sys.executable).with_name("htrbatch")


def make_pages(lines_dir: Path, out: Path, n: int, per_page: int = 3, width: int = 1000) -> None:
    """``n`` pages, page i made of line images per_page*i ... (cycling), paper-coloured margins."""
    lines = sorted(lines_dir.rglob("*.png"))
    if not lines:
        raise SystemExit(f"{lines_dir}: no line images")
    out.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        path = out / f"page{i:05d}.png"
        if path.is_file():
            continue
        crops = []
        for k in range(per_page):
            img = cv2.imread(str(lines[(per_page * i + k) % len(lines)]), cv2.IMREAD_GRAYSCALE)
            if img.shape[1] > width - 40:
                s = (width - 40) / img.shape[1]
                img = cv2.resize(img, (width - 40, max(8, round(img.shape[0] * s))))
            crops.append(img)
        paper = int(np.median(np.concatenate([c.ravel() for c in crops])))
        h = 40 + sum(c.shape[0] + 30 for c in crops)
        page = np.full((h, width), paper, np.uint8)
        y = 30
        for c in crops:
            page[y : y + c.shape[0], 20 : 20 + c.shape[1]] = c
            y += c.shape[0] + 30
        cv2.imwrite(str(path), page)


def _tree_rss_kb(pid: int) -> int:
    """Resident memory of ``pid`` and all its descendants, in kB (0 once it has gone)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            m = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
            total += int(m.group(1)) if m else 0
            for task in Path(f"/proc/{p}/task").iterdir():
                kids = (task / "children").read_text().split()
                todo += [int(k) for k in kids]
        except (OSError, ValueError):
            continue
    return total


def run_transcribe(pages: Path, out: Path, extra: list[str], marks: tuple[int, ...] = ()) -> dict:
    if out.exists():
        shutil.rmtree(out)
    cmd = ["/usr/bin/time", "-v", str(HTRBATCH), "transcribe", str(pages), "--out", str(out)]
    cmd += extra
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak, samples, peak_by_pages = 0, [], {}
    last_log = done = 0
    while proc.poll() is None:
        rss = _tree_rss_kb(proc.pid)
        peak = max(peak, rss)
        now = time.perf_counter() - t0
        samples.append((round(now, 2), rss))
        if len(samples) % 10 == 0:  # pages finished so far (both outputs are written per page)
            done = len(list(out.glob("*.json"))) if out.is_dir() else 0
            for mark in marks:
                if done < mark:
                    peak_by_pages[mark] = round(peak / 1024, 1)
        if now - last_log > 30:
            last_log = now
            print(f"  t={now:.0f}s pages={done} rss={rss / 1024:.0f}MB peak={peak / 1024:.0f}MB",
                  flush=True)  # fmt: skip
        time.sleep(0.1)
    wall = time.perf_counter() - t0
    err = proc.stderr.read()
    if proc.returncode != 0:
        raise SystemExit(f"transcribe failed ({proc.returncode}):\n{err[-2000:]}")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    written = len(list(out.glob("*.json")))
    return {
        "pages": written,
        "wall_s": round(wall, 1),
        "pages_per_s": round(written / wall, 2),
        "tree_peak_rss_mb": round(peak / 1024, 1),
        # tree peak while fewer than N pages were finished, for each N in --marks
        "tree_peak_rss_mb_before_pages": peak_by_pages,
        "max_single_process_rss_mb": round(int(m.group(1)) / 1024, 1) if m else None,
        # RSS over time, thinned to ~60 points, to see growth
        "rss_mb_over_time": [
            (t, round(r / 1024, 1)) for t, r in samples[:: max(1, len(samples) // 60)]
        ],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("lines", type=Path, help="folder of line images (used to build pages)")
    ap.add_argument("--pages-dir", type=Path, required=True)
    ap.add_argument("--counts", default="100,1000")
    ap.add_argument("--decoder", default="beam", choices=["greedy", "beam"])
    ap.add_argument(
        "--workers", type=int, default=None, help="transcribe --workers (default: its own)"
    )
    ap.add_argument("--marks", default="", help="also record the peak before N pages were done")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks/results/memory.json")
    args = ap.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    make_pages(args.lines, args.pages_dir / "all", max(counts))
    extra = ["--decoder", args.decoder]
    if args.workers is not None:
        extra += ["--workers", str(args.workers)]
    runs = {}
    for n in counts:
        subset = args.pages_dir / f"first{n}"
        if not subset.is_dir():
            subset.mkdir(parents=True)
            for p in sorted((args.pages_dir / "all").glob("*.png"))[:n]:
                os.symlink(p.resolve(), subset / p.name)
        marks = tuple(int(m) for m in args.marks.split(",") if m)
        runs[n] = run_transcribe(subset, args.pages_dir / f"out{n}", extra, marks)
        print(n, {k: v for k, v in runs[n].items() if k != "rss_mb_over_time"}, flush=True)
    lo, hi = runs[min(counts)], runs[max(counts)]
    single = (hi["max_single_process_rss_mb"], lo["max_single_process_rss_mb"])
    if len(counts) == 1:  # one run: compare with its own peak before the first mark
        first = min(hi["tree_peak_rss_mb_before_pages"], default=None)
        lo = {"tree_peak_rss_mb": hi["tree_peak_rss_mb_before_pages"].get(first)}
        single = (None, None)
    report = {
        "command": f"htrbatch transcribe PAGES --out OUT {' '.join(extra)}",
        "cpus": os.cpu_count(),
        "runs": {str(k): v for k, v in runs.items()},
        "tree_peak_ratio": round(hi["tree_peak_rss_mb"] / lo["tree_peak_rss_mb"], 3)
        if lo["tree_peak_rss_mb"]
        else None,
        "single_process_peak_ratio": round(single[0] / single[1], 3) if single[1] else None,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "runs"}))


if __name__ == "__main__":
    main()
