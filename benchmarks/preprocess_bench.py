"""Page preprocessing speed: ``preprocess_page`` and its rule detection, seconds per page.

Times, on a folder of page images, the whole of ``htrbatch.preprocess.preprocess_page`` and
``detect_rules`` alone (on the flattened page, at skew 0: the rule search itself), best of
``--rounds`` passes per page, and digests the outputs so that two builds can be checked to give
the same pages bit for bit. Run it on an idle machine; to compare with an older build, run the
same command with that build's package first on ``PYTHONPATH``:

    python benchmarks/preprocess_bench.py work/pages_v \
        --out benchmarks/results/preprocess-pages_v.json
    git worktree add /tmp/htr-old 94ab50d
    PYTHONPATH=/tmp/htr-old python benchmarks/preprocess_bench.py work/pages_v --out /tmp/old.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import time
from pathlib import Path

import cv2
import numpy as np

import htrbatch.preprocess as pre
from htrbatch.io import IMAGE_SUFFIXES


def best_time(fn, rounds: int) -> tuple[float, object]:
    """Fastest of ``rounds`` calls of ``fn()`` (seconds) and its last result."""
    best, out = float("inf"), None
    for _ in range(rounds):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pages", type=Path, help="folder of page images")
    ap.add_argument("--limit", type=int, default=0, help="first N pages only (0: all)")
    ap.add_argument("--rounds", type=int, default=2, help="passes per page; the fastest counts")
    ap.add_argument("--out", type=Path, help="JSON report")
    args = ap.parse_args()
    files = sorted(p for p in args.pages.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if args.limit:
        files = files[: args.limit]
    if not files:
        raise SystemExit(f"no page images in {args.pages}")
    options = pre.PreprocessOptions()
    digest = hashlib.sha256()
    t_pre = t_rules = 0.0
    ruled = 0
    for path in files:
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if gray is None:
            raise SystemExit(f"cannot read {path}")
        dt, out = best_time(lambda g=gray: pre.preprocess_page(g, options), args.rounds)
        t_pre += dt
        for name in ("image", "binary", "rule_mask"):
            digest.update(np.ascontiguousarray(getattr(out, name)).tobytes())
        digest.update(repr((out.skew_deg, out.noise_sigma)).encode())
        ruled += bool(out.rule_mask.any())
        flat = pre.flatten_illumination(gray, options.background_frac)
        dt, _ = best_time(
            lambda f=flat: pre.detect_rules(
                f, 0.0, options.rule_min_frac, options.rule_max_thickness_frac
            ),
            args.rounds,
        )
        t_rules += dt
    n = len(files)
    report = {
        "pages": n,
        "pages_with_rules_removed": ruled,
        "preprocess_s_per_page": t_pre / n,
        "detect_rules_s_per_page": t_rules / n,
        "rounds": args.rounds,
        "output_sha256": digest.hexdigest(),
        "package": str(Path(pre.__file__).resolve().parent),
        "machine": platform.processor() or platform.machine(),
        "cv2_threads": cv2.getNumThreads(),
    }
    print(
        f"{n} pages ({ruled} with rules removed): preprocess_page "
        f"{1000 * report['preprocess_s_per_page']:.1f} ms/page, detect_rules "
        f"{1000 * report['detect_rules_s_per_page']:.1f} ms/page; outputs sha256 "
        f"{report['output_sha256'][:16]}"
    )
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
