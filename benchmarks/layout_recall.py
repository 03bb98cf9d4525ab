"""Line finding on real archival pages: found line boxes against a PAGE XML / ALTO ground truth.

For every page image with a layout file beside it (``<stem>.xml``), the page goes through
:func:`htrbatch.segment.segment_page` and its line boxes are matched one-to-one to the layout's
line boxes (the boxes of the TextLine polygons) at IoU >= 0.5. Reported per set and variant:
line recall and precision, recall of handwritten lines only (ALTO line types, when the set has
types), pages whose line count is exact, pages whose JSON has ``regions``, seconds per page,
and why the missed lines were missed (:func:`classify_misses`).

Variants: ``baseline`` (``SegmentOptions(regions=False, archival=False)``: the page as one
block, as before regions), ``new`` (the defaults: archival cleaning + text blocks + merged lines
split), ``insertions`` (the defaults + interlinear insertions) and ``merge-off`` (the defaults
without splitting merged lines, :mod:`htrbatch.segment.merged`).

    python benchmarks/layout_recall.py                        # hooker + stanford-dev, both variants
    python benchmarks/layout_recall.py --every 10 --variants new      # a 1-in-10 subset
    python benchmarks/layout_recall.py --draw /tmp/misses --every 20  # pictures of the misses
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from segment_bench import iou_matrix  # noqa: E402

from htrbatch.errors import InputError  # noqa: E402
from htrbatch.formats import read_layout  # noqa: E402
from htrbatch.formats.layout import layout_scale  # noqa: E402
from htrbatch.segment import SegmentOptions, segment_page  # noqa: E402
from htrbatch.segment.layout import check_layout_fits  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SETS = {
    "hooker": SHARED / "data" / "hooker" / "pages",
    "stanford-dev": SHARED / "data" / "stanford-dev",
}
VARIANTS = {
    "baseline": {"regions": False, "archival": False},
    "new": {},
    "insertions": {"insertions": True},
    "merge-off": {"merge_split": False},
}


def match_pairs(truth: np.ndarray, pred: np.ndarray, thr: float = 0.5) -> list[tuple[int, int]]:
    """One-to-one (truth, pred) index pairs with IoU >= thr, greedy by IoU, best first."""
    iou = iou_matrix(truth, pred)
    pairs = np.argwhere(iou >= thr)
    order = np.argsort(-iou[pairs[:, 0], pairs[:, 1]]) if len(pairs) else []
    used_t: set[int] = set()
    used_p: set[int] = set()
    out = []
    for k in order:
        t, p = (int(v) for v in pairs[k])
        if t not in used_t and p not in used_p:
            used_t.add(t)
            used_p.add(p)
            out.append((t, p))
    return out


def imagesize(path: Path) -> tuple[int, int]:
    """(width, height) of an image without decoding it all."""
    from PIL import Image

    with Image.open(path) as im:
        return im.size


def load_pages(folder: Path) -> list[tuple[str, Path, np.ndarray, list[bool]]]:
    """(name, image, true boxes (n, 4) in image pixels, handwritten flag per line) per page."""
    out = []
    for img in sorted(folder.glob("*.jpg")):
        xml = img.with_suffix(".xml")
        if not xml.exists():
            continue
        layout = read_layout(xml)
        w, h = imagesize(img)
        try:
            sx, sy = layout_scale(layout, w, h, img.name)
            gray = cv2.imread(str(img), cv2.IMREAD_GRAYSCALE)
            check_layout_fits(gray, layout, (sx, sy), img.name)
        except InputError as err:  # a layout made for another image: not ground truth for this
            print(f"skipped: {err}", file=sys.stderr)
            continue
        boxes, hand = [], []
        for ln in layout.lines:
            box = ln.box()
            if box is None:
                continue
            boxes.append((box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy))
            hand.append(ln.type is None or ln.has_type("Handwritten"))
        out.append((img.name, img, np.array(boxes, np.float64).reshape(-1, 4), hand))
    return out


def classify_misses(truth: np.ndarray, pred: np.ndarray, hit: set[int]) -> Counter:
    """Why each true line without a match was missed: ``merged`` (the found box that covers most
    of it also covers more than half of another true line; ``merged-small`` when the missed line
    is under 0.3 x the page's median line area, mostly interlinear insertions and short words),
    ``cut`` (several found boxes cover parts of it, none 70 %), ``box-off`` (the best box has
    IoU 0.3-0.5), ``partial``, or ``none`` (no found box covers 20 % of it)."""
    why: Counter = Counter()
    if len(truth) == 0:
        return why
    area_t = (truth[:, 2] - truth[:, 0]) * (truth[:, 3] - truth[:, 1])
    median = float(np.median(area_t))
    iou = iou_matrix(truth, pred)
    for t in range(len(truth)):
        if t in hit:
            continue
        if len(pred) == 0:
            why["none"] += 1
            continue
        b = truth[t]
        ix = np.clip(np.minimum(b[2], pred[:, 2]) - np.maximum(b[0], pred[:, 0]), 0, None)
        iy = np.clip(np.minimum(b[3], pred[:, 3]) - np.maximum(b[1], pred[:, 1]), 0, None)
        cover = ix * iy / max(area_t[t], 1.0)  # share of the true box under each found box
        if cover.max() < 0.2:
            why["none"] += 1
            continue
        p = int(np.argmax(cover))
        q = pred[p]
        ix = np.clip(np.minimum(q[2], truth[:, 2]) - np.maximum(q[0], truth[:, 0]), 0, None)
        iy = np.clip(np.minimum(q[3], truth[:, 3]) - np.maximum(q[1], truth[:, 1]), 0, None)
        if ((ix * iy / np.maximum(area_t, 1.0)) > 0.5).sum() >= 2:
            why["merged-small" if area_t[t] < 0.3 * median else "merged"] += 1
        elif (cover > 0.2).sum() >= 2 and cover.max() < 0.7:
            why["cut"] += 1
        elif iou[t, p] >= 0.3:
            why["box-off"] += 1
        else:
            why["partial"] += 1
    return why


def draw_page(gray, truth, pred, pairs, seg, path: Path) -> None:
    """Truth boxes missed in red, matched in green; found boxes in blue; regions in orange."""
    out = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    hit = {t for t, _ in pairs}
    for i, b in enumerate(truth.astype(int)):
        colour = (0, 170, 0) if i in hit else (0, 0, 255)
        cv2.rectangle(out, (b[0], b[1]), (b[2], b[3]), colour, 3)
    for b in pred.astype(int):
        cv2.rectangle(out, (b[0] + 4, b[1] + 4), (b[2] - 4, b[3] - 4), (255, 80, 0), 2)
    for r in seg.regions or []:
        x0, y0, x1, y1 = r.bbox
        cv2.rectangle(out, (x0 - 8, y0 - 8), (x1 + 8, y1 + 8), (0, 140, 255), 2)
    f = min(1.0, 1000 / max(out.shape[:2]))
    cv2.imwrite(str(path), cv2.resize(out, None, fx=f, fy=f, interpolation=cv2.INTER_AREA))


def evaluate(pages, options: SegmentOptions, draw: Path | None) -> dict:
    n = exact = t_all = p_all = m_all = t_hand = m_hand = with_regions = 0
    seconds = 0.0
    per_page = {}
    why: Counter = Counter()
    for name, path, truth, hand in pages:
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        t0 = time.perf_counter()
        seg = segment_page(gray, options)
        seconds += time.perf_counter() - t0
        pred = np.array([ln.bbox for ln in seg.lines], np.float64).reshape(-1, 4)
        pairs = match_pairs(truth, pred)
        n += 1
        exact += len(pred) == len(truth)
        with_regions += seg.regions is not None
        t_all += len(truth)
        p_all += len(pred)
        m_all += len(pairs)
        t_hand += sum(hand)
        m_hand += sum(hand[t] for t, _ in pairs)
        per_page[name] = [len(pairs), len(truth), len(pred)]
        why += classify_misses(truth, pred, {t for t, _ in pairs})
        if draw is not None:
            draw.mkdir(parents=True, exist_ok=True)
            draw_page(gray, truth, pred, pairs, seg, draw / (Path(name).stem + ".png"))
    return {
        "pages": n,
        "lines": t_all,
        "recall_iou50": m_all / max(t_all, 1),
        "precision_iou50": m_all / max(p_all, 1),
        "handwritten_lines": t_hand,
        "handwritten_recall_iou50": m_hand / max(t_hand, 1),
        "count_exact": exact / max(n, 1),
        "pages_with_regions": with_regions / max(n, 1),
        "sec_per_page": seconds / max(n, 1),
        "missed_why": {k: v / max(t_all, 1) for k, v in why.most_common()},
        "per_page_matched_truth_found": per_page,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sets", default=",".join(SETS), help="of: " + ", ".join(SETS))
    ap.add_argument("--variants", default=",".join(VARIANTS), help="of: " + ", ".join(VARIANTS))
    ap.add_argument("--every", type=int, default=1, help="every k-th page only (a subset)")
    ap.add_argument("--draw", type=Path, default=None, help="pictures of each page's matches")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "layout.json")
    args = ap.parse_args()

    cv2.setNumThreads(1)  # comparable timings on a shared machine
    results: dict[str, dict] = {}
    print(
        f"{'set':14s} {'variant':9s} {'pages':>5s} {'lines':>5s} {'recall':>7s} {'prec.':>7s}"
        f" {'hand.':>7s} {'exact':>7s} {'regions':>7s} {'s/page':>7s}"
    )
    for set_name in [s.strip() for s in args.sets.split(",") if s.strip()]:
        pages = load_pages(SETS[set_name])[:: args.every]
        results[set_name] = {}
        for variant in [v.strip() for v in args.variants.split(",") if v.strip()]:
            options = SegmentOptions(**VARIANTS[variant])
            draw = args.draw / set_name / variant if args.draw else None
            r = evaluate(pages, options, draw)
            results[set_name][variant] = r
            print(
                f"{set_name:14s} {variant:9s} {r['pages']:5d} {r['lines']:5d}"
                f" {r['recall_iou50']:7.1%} {r['precision_iou50']:7.1%}"
                f" {r['handwritten_recall_iou50']:7.1%} {r['count_exact']:7.1%}"
                f" {r['pages_with_regions']:7.0%} {r['sec_per_page']:7.2f}",
                flush=True,
            )
            print(
                "  missed lines, why (share of all lines): "
                + ", ".join(f"{k} {v:.1%}" for k, v in r["missed_why"].items()),
                flush=True,
            )
    payload = {
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "command": " ".join(sys.argv),
        "every": args.every,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
