"""Line segmentation benchmark: projection vs seam vs auto on pages with true line boxes.

Measures, per page set and method: pages whose line count is exact, box recall and precision
at IoU >= 0.5 (one-to-one matching), mean absolute line-count error and seconds per page; also
count accuracy per page style. Prints a table and writes JSON.

Page sets are folders of ``<page>.png|jpg`` + ``<page>.lines.json``
(``{"lines": [{"bbox": [x0, y0, x1, y1], ...}], "style": ...}``), as written by
``htrbatch data pages`` (``htrbatch/data/pages.py``) and ``benchmarks/synth_pages.py``. Without
``--pages`` the benchmark makes its own: IAM-OnDB forms rendered by ``htrbatch.data.pages``
(when ``../shared/data/iam-ondb`` exists) and synthetic pages and line images from
``synth_pages.py``.

    python benchmarks/segment_bench.py                          # render + synthesise, all methods
    python benchmarks/segment_bench.py --pages /tmp/rp_v --methods auto
    python benchmarks/segment_bench.py --ondb-split testset_v --ondb-limit 60 --synthetic 48
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synth_pages  # noqa: E402

from htrbatch.segment import SegmentOptions, segment_page  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in a (n, 4) against every box in b (m, 4) -> (n, m)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    # (n, 1) against (1, m) broadcasts to (n, m).
    ix = np.clip(
        np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None
    )
    iy = np.clip(
        np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None
    )
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def matches(truth: np.ndarray, pred: np.ndarray, thr: float = 0.5) -> int:
    """Number of one-to-one matches with IoU >= thr (greedy by IoU, best first)."""
    iou = iou_matrix(truth, pred)
    pairs = np.argwhere(iou >= thr)
    order = np.argsort(-iou[pairs[:, 0], pairs[:, 1]]) if len(pairs) else []
    used_t, used_p, n = set(), set(), 0
    for k in order:
        t, p = pairs[k]
        if t not in used_t and p not in used_p:
            used_t.add(t)
            used_p.add(p)
            n += 1
    return n


def load_set(folder: Path) -> list[tuple[str, Path, np.ndarray, str]]:
    """(name, image path, true boxes (n, 4), style) for every labelled page in a folder."""
    out = []
    for js in sorted(folder.glob("*.lines.json")):
        stem = js.name[: -len(".lines.json")]
        img = next((p for ext in ("png", "jpg") if (p := folder / f"{stem}.{ext}").exists()), None)
        if img is None:
            continue
        meta = json.loads(js.read_text(encoding="utf-8"))
        boxes = np.array([ln["bbox"] for ln in meta["lines"]], dtype=np.float64).reshape(-1, 4)
        out.append((stem, img, boxes, meta.get("style", "?")))
    return out


def evaluate(pages, method: str, extra: dict | None = None) -> dict:
    n_pages = exact = truth_total = pred_total = matched = 0
    abs_err = 0.0
    seconds = 0.0
    by_style: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misses = []
    for name, path, truth, style in pages:
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        t0 = time.perf_counter()
        seg = segment_page(gray, SegmentOptions(method=method, **(extra or {})))
        seconds += time.perf_counter() - t0
        pred = np.array([ln.bbox for ln in seg.lines], dtype=np.float64).reshape(-1, 4)
        ok = len(pred) == len(truth)
        n_pages += 1
        exact += ok
        abs_err += abs(len(pred) - len(truth))
        truth_total += len(truth)
        pred_total += len(pred)
        matched += matches(truth, pred)
        by_style[style][0] += ok
        by_style[style][1] += 1
        if not ok:
            misses.append(f"{name}: {len(pred)}/{len(truth)}")
    return {
        "pages": n_pages,
        "count_exact": exact / max(n_pages, 1),
        "recall_iou50": matched / max(truth_total, 1),
        "precision_iou50": matched / max(pred_total, 1),
        "mean_abs_count_error": abs_err / max(n_pages, 1),
        "sec_per_page": seconds / max(n_pages, 1),
        "count_exact_by_style": {s: v[0] / v[1] for s, v in sorted(by_style.items())},
        "wrong_count": misses,
    }


def make_sets(args, work: Path) -> dict[str, Path]:
    sets: dict[str, Path] = {}
    ondb = SHARED / "data" / "iam-ondb"
    if args.ondb_limit > 0 and ondb.exists():
        from htrbatch.data.pages import render_pages

        out = work / f"ondb-{args.ondb_split}"
        print(f"rendering {args.ondb_limit} IAM-OnDB {args.ondb_split} forms to {out} ...")
        render_pages(ondb, args.ondb_split, out, seed=args.seed, limit=args.ondb_limit, workers=2)
        sets[f"iam-ondb {args.ondb_split} (pages.py)"] = out
    if args.synthetic > 0:
        out = work / "synthetic"
        print(f"synthesising {args.synthetic} pages to {out} ...")
        styles = ["scan", "paragraph", "photo", "ondb", "ondb-photo", "ondb-paragraph"]
        synth_pages.generate(out, args.synthetic, args.seed, styles)
        sets["synthetic pages (synth_pages.py)"] = out
    if args.lines > 0:
        out = work / "lines"
        print(f"synthesising {args.lines} line images to {out} ...")
        synth_pages.generate(out, args.lines, args.seed + 1, ["line", "ondb-line"])
        sets["single-line images (synth_pages.py)"] = out
    return sets


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--pages", type=Path, nargs="*", default=[], help="labelled page folders")
    ap.add_argument("--methods", default="projection,seam,auto")
    ap.add_argument("--ondb-split", default="testset_v")
    ap.add_argument("--ondb-limit", type=int, default=60, help="forms to render (0: none)")
    ap.add_argument("--synthetic", type=int, default=48, help="synthetic pages (0: none)")
    ap.add_argument("--lines", type=int, default=60, help="synthetic line images (0: none)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--no-regions",
        action="store_true",
        help="SegmentOptions(regions=False, archival=False): the page as one block",
    )
    ap.add_argument("--work", type=Path, default=None, help="where generated pages go")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "segment.json")
    args = ap.parse_args()

    cv2.setNumThreads(1)  # comparable timings on a shared machine
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        sets = {str(p): p for p in args.pages} if args.pages else make_sets(args, work)
        results: dict[str, dict] = {}
        header = f"{'page set':40s} {'method':10s} {'pages':>5s} {'count':>7s} {'recall':>7s}"
        header += f" {'prec.':>7s} {'|err|':>6s} {'s/page':>7s}"
        print(header)
        for label, folder in sets.items():
            pages = load_set(folder)
            results[label] = {}
            for method in methods:
                extra = {"regions": False, "archival": False} if args.no_regions else {}
                r = evaluate(pages, method, extra)
                results[label][method] = r
                print(
                    f"{label[:40]:40s} {method:10s} {r['pages']:5d} {r['count_exact']:7.1%}"
                    f" {r['recall_iou50']:7.1%} {r['precision_iou50']:7.1%}"
                    f" {r['mean_abs_count_error']:6.2f} {r['sec_per_page']:7.2f}"
                )
    payload = {
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "command": " ".join(sys.argv),
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
