"""Write ``benchmarks/results/ablation-data.json`` from the training-data ablation's own outputs.

Reads, for each run ``K`` of ``benchmarks/ablation_data.sh`` (strokes, fonts, mixed), the training
log ``<work>/abl-K.log.jsonl`` (written by ``htrbatch train``: the best epoch's validation CER/WER)
and the evaluate report ``<work>/abl-K-alt.json`` (the same checkpoint on testset_t drawn by
``benchmarks/alt_render.py``, greedy), so no figure in the results file is typed by hand.

    python benchmarks/ablation_report.py work --out benchmarks/results/ablation-data.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

RUNS = {
    "strokes": "IAM-OnDB trainset seed 11",
    "fonts": "font lines seed 13",
    "mixed": "both",
}


def best_epoch(log: Path) -> dict[str, Any]:
    """The epoch record with the lowest validation CER in a ``htrbatch train`` log, plus the
    run's start record (training-set size, options)."""
    start: dict[str, Any] = {}
    epochs = []
    for line in log.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        if rec.get("event") == "start":
            start, epochs = rec, []  # a restarted log: keep the last run only
        elif rec.get("event") == "epoch":
            epochs.append(rec)
    if not epochs:
        raise SystemExit(f"{log}: no epoch records (training not finished?)")
    best = min(epochs, key=lambda r: r["val_cer"])
    return {"start": start, "best": best, "epochs": len(epochs)}


def run_report(work: Path, name: str) -> dict[str, Any]:
    log = work / f"abl-{name}.log.jsonl"
    alt = work / f"abl-{name}-alt.json"
    trained = best_epoch(log)
    report = json.loads(alt.read_text(encoding="utf-8"))
    start, best = trained["start"], trained["best"]
    return {
        "data": f"{RUNS[name]} ({start.get('train_lines', '?')} lines)",
        "val_cer": round(best["val_cer"], 4),
        "val_wer": round(best["val_wer"], 4),
        "best_epoch": best["epoch"],
        "epochs_run": trained["epochs"],
        "steps": best["step"],
        "lines_per_s": round(best["lines_per_s"], 1),
        "alt_test_t_cer": round(report["cer"], 4),
        "alt_test_t_wer": round(report["wer"], 4),
        "alt_test_t_lines": report["lines"],
        "sources": [str(log), str(alt)],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("work", type=Path, help="the work folder given to ablation_data.sh")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/ablation-data.json"))
    args = ap.parse_args()
    runs = {name: run_report(args.work, name) for name in RUNS}
    first = best_epoch(args.work / "abl-strokes.log.jsonl")["start"]
    payload = {
        "setup": (
            "benchmarks/ablation_data.sh: from scratch, default CRNNConfig, 5 epochs x 200 steps"
            " x 24 lines, lr 1e-3, 1 torch thread; val = testset_v seed 7 (400-line subset used"
            " in training); alt = testset_t drawn by benchmarks/alt_render.py, greedy decoding;"
            " written by benchmarks/ablation_report.py from the training logs and evaluate reports"
        ),
        "config": first.get("config"),
        "precision": first.get("precision"),
        "runs": runs,
    }
    args.out.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
