"""Peak memory of one page through the worker stages, against the page's size in megapixels.

A source page (default ``samples/a04-047-notebook.jpg``, a ruled notebook
photo: rule removal is the most memory-hungry path) is resized to each size (the same page
scanned at a higher resolution) and written as a PNG. For each size and stage a fresh Python
process is started, so no stage inherits another's heap; it reads ``/proc/self/status``:

* ``preprocess``: the page is read into memory, the peak counter is reset (``clear_refs`` 5),
  :func:`htrbatch.preprocess.preprocess_page` runs; extra = peak RSS - RSS before (the input page
  itself not counted), also per input pixel.
* ``segment``: the same for :func:`htrbatch.segment.segment_page` (preprocessing included).
* ``prepare_file``: what a worker process does with one file
  (:func:`htrbatch.pipeline.prepare_file`: read, preprocess, segment, normalise the lines); peak
  RSS of the whole process (imports included) and its growth over the RSS after imports.

Run it for another build by putting that build's package first on ``PYTHONPATH``::

    nice python benchmarks/page_memory_bench.py --sizes 4,12,24,48,96 \\
        --out benchmarks/results/page-memory.json
    git archive c9f99d2 htrbatch | tar -x -C /tmp/old
    PYTHONPATH=/tmp/old nice python benchmarks/page_memory_bench.py --sizes 4,12,24,48,96 \\
        --out benchmarks/results/page-memory-before.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAGES = ("preprocess", "segment", "prepare_file")


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> None:
    """Make VmHWM (peak resident size) start again from the current RSS (Linux >= 4.0)."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def child(path: Path, stage: str, height: int) -> dict:
    """One measurement in this (fresh) process."""
    import cv2

    from htrbatch.io import read_pages
    from htrbatch.pipeline import FileJob, prepare_file
    from htrbatch.preprocess import preprocess_page
    from htrbatch.segment import SegmentOptions, segment_page

    cv2.setNumThreads(1)  # as in the pipeline's workers
    out: dict = {"stage": stage}
    if stage == "prepare_file":
        _reset_peak()
        before = _status_kb("VmRSS")
        t = time.perf_counter()
        res = prepare_file(FileJob(path), SegmentOptions(), height)
        out["seconds"] = round(time.perf_counter() - t, 2)
        if res.error:
            raise SystemExit(res.error)
        out["lines"] = sum(len(p.boxes) for p in res.pages)
        pixels = sum(p.width * p.height for p in res.pages)
    else:
        page = read_pages(path)[0].image
        pixels = page.size
        _reset_peak()
        before = _status_kb("VmRSS")
        t = time.perf_counter()
        if stage == "preprocess":
            res = preprocess_page(page)
        else:
            res = segment_page(page)
            out["lines"] = len(res.lines)
        out["seconds"] = round(time.perf_counter() - t, 2)
    peak = _status_kb("VmHWM")
    out.update(
        rss_before_mb=round(before / 1024, 1),
        peak_rss_mb=round(peak / 1024, 1),
        extra_mb=round((peak - before) / 1024, 1),
        extra_bytes_per_px=round((peak - before) * 1024 / pixels, 1),
        pixels=pixels,
    )
    return out


def make_page(source: Path, mp: float, folder: Path) -> Path:
    import cv2

    path = folder / f"page-{mp:g}mp.png"
    if path.is_file():
        return path
    src = cv2.imread(str(source), cv2.IMREAD_GRAYSCALE)
    if src is None:
        raise SystemExit(f"cannot read {source}")
    s = (mp * 1e6 / src.size) ** 0.5
    page = cv2.resize(src, None, fx=s, fy=s, interpolation=cv2.INTER_LINEAR)
    cv2.imwrite(str(path), page, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="4,12,24,48,96", help="megapixels, comma-separated")
    ap.add_argument("--stages", default=",".join(STAGES))
    ap.add_argument("--source", type=Path, default=REPO / "samples/a04-047-notebook.jpg")
    ap.add_argument("--height", type=int, default=32, help="line height for prepare_file")
    ap.add_argument("--pages-dir", type=Path, help="keep the resized pages here (default: temp)")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--child", nargs=2, metavar=("PAGE", "STAGE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(Path(args.child[0]), args.child[1], args.height)))
        return
    import htrbatch

    sizes = [float(s) for s in args.sizes.split(",")]
    stages = args.stages.split(",")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.pages_dir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for mp in sizes:
            page = make_page(args.source, mp, folder)
            for stage in stages:
                cmd = [sys.executable, __file__, "--child", str(page), stage]
                cmd += ["--height", str(args.height)]
                res = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
                if res.returncode != 0:
                    row = {"stage": stage, "error": res.stderr.strip()[-500:]}
                else:
                    row = json.loads(res.stdout.strip().splitlines()[-1])
                row["megapixels"] = mp
                rows.append(row)
                print(json.dumps(row), flush=True)
    report = {
        "package": str(Path(htrbatch.__file__).resolve().parent),
        "source": str(args.source),
        "machine": platform.processor() or platform.machine(),
        "rows": rows,
    }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
