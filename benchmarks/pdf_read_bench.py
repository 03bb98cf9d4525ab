"""Reading a long PDF streams: resident memory while ``htrbatch.formats.pdf.iter_pages`` renders
an N-page PDF of scanned pages (the samples, repeated) one page at a time.

    nice python benchmarks/pdf_read_bench.py --pages 500 --json benchmarks/results/pdf-read.json

Reports the process's resident size (VmRSS) after 1, 10, 50, 100, ... pages and the rendering
rate; flat memory means the last figure is about the early ones.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=500)
    ap.add_argument("--work", type=Path, default=ROOT / "work" / "pdf-read-bench")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    from PIL import Image

    from htrbatch.formats.pdf import iter_pages

    args.work.mkdir(parents=True, exist_ok=True)
    src = args.work / f"long-{args.pages}.pdf"
    if not src.is_file():
        names = ["a04-047-notebook.jpg", "d05-335z-scan.jpg", "m04-392z-gray.jpg"]
        ims = [Image.open(ROOT / "samples" / n).convert("L") for n in names]
        seq = [ims[i % 3] for i in range(args.pages)]
        seq[0].save(src, save_all=True, append_images=seq[1:], resolution=300)
    marks = {1, 10, 50} | set(range(100, args.pages + 1, 100)) | {args.pages}
    rows = []
    start_rss = rss_mb()
    t0 = time.perf_counter()
    for n, page in enumerate(iter_pages(src), 1):
        if n in marks:
            rows.append({"pages": n, "rss_mb": round(rss_mb(), 1), "shape": list(page.image.shape)})
        del page
    seconds = time.perf_counter() - t0
    report = {
        "pdf_mb": round(src.stat().st_size / 2**20, 1),
        "rss_before_mb": round(start_rss, 1),
        "pages_per_s": round(args.pages / seconds, 1),
        "after": rows,
    }
    print(json.dumps(report, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
