"""Fine-tuning schedule check: the shipped model fine-tuned on a few pages of a collection with
peak learning rates 3e-4, 5e-4 and 1e-3 after a 50-step warm-up (1e-3 is htrbatch.train's
FINETUNING since these runs), and with the from-scratch schedule (1e-3 after 300 steps); greedy
validation CER per epoch.

Usage (a line dataset split by letter, e.g. from benchmarks/hooker_split.py):

    nice python benchmarks/finetune_defaults.py work/hooker --pages 10 --epochs 6 \\
        --val-limit 150 --out benchmarks/results/finetune-defaults.json

Training pages are spread over the training split (every k-th page folder); validation lines
come from the held-out letters of ``<split>/val``. One seed per setting: differences of a point
or two on 150 lines are within noise.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from htrbatch.data.datasets import load_dataset
from htrbatch.model import load_checkpoint
from htrbatch.train import FINETUNING, evaluate_cer, init_path, prepare_samples, train

SETTINGS = {
    "lr 1e-3 warm-up 50 (FINETUNING)": {},
    "lr 1e-3 warm-up 300 (from-scratch schedule)": {"warmup_steps": 300},
    "lr 5e-4 warm-up 50": {"lr": 5e-4},
    "lr 3e-4 warm-up 50": {"lr": 3e-4},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("split", type=Path, help="folder with train/ and val/ line datasets")
    ap.add_argument("--pages", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--val-limit", type=int, default=150)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--work", type=Path, default=Path("work/finetune-defaults"))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument(
        "--settings", default=",".join(SETTINGS), help="comma-separated names of SETTINGS to run"
    )
    args = ap.parse_args()

    pages = sorted(p for p in (args.split / "train").iterdir() if p.is_dir())
    chosen = pages[:: max(1, len(pages) // args.pages)][: args.pages]
    subset = args.work / "train"
    subset.mkdir(parents=True, exist_ok=True)
    for page in chosen:  # file links: dataset scanning does not follow linked folders
        (subset / page.name).mkdir(exist_ok=True)
        for f in page.iterdir():
            link = subset / page.name / f.name
            if not link.exists():
                link.symlink_to(f.resolve())
    n_train = len(load_dataset(subset))

    # zero-shot: the shipped model on the same validation lines, as train validates
    val = load_dataset(args.split / "val")
    val = val[:: max(1, len(val) // args.val_limit)][: args.val_limit]
    shipped = load_checkpoint(init_path("default"))
    images, _, texts = prepare_samples(val, shipped.config.height, shipped.charset)
    zero_shot, _ = evaluate_cer(shipped.model, images, texts, shipped.charset)
    print(f"zero-shot greedy CER {100 * zero_shot:.2f}% on {len(texts)} val lines", flush=True)

    results = []
    for name in args.settings.split(","):
        changes = SETTINGS[name]
        options = replace(
            FINETUNING,
            epochs=args.epochs,
            patience=args.epochs,
            val_limit=args.val_limit,
            threads=args.threads,
            **changes,
        )
        out = args.work / f"run{len(results)}.pt"
        for stale in args.work.glob(f"{out.stem}*"):
            stale.unlink()
        t0 = time.time()
        result = train([subset], args.split / "val", out, options)
        cers = [round(100 * r["val_cer"], 2) for r in result.history]
        print(f"{name}: val CER per epoch {cers}", flush=True)
        results.append(
            {
                "setting": name,
                "lr": options.lr,
                "warmup_steps": options.warmup_steps,
                "val_cer_per_epoch": cers,
                "best_cer": round(100 * result.best_cer, 2),
                "best_epoch": result.best_epoch,
                "minutes": round((time.time() - t0) / 60, 1),
            }
        )
    report = {
        "command": "python benchmarks/finetune_defaults.py "
        f"{args.split} --pages {args.pages} --epochs {args.epochs} "
        f"--val-limit {args.val_limit} --threads {args.threads} --settings '{args.settings}'",
        "train_pages": [p.name for p in chosen],
        "train_lines": n_train,
        "val_lines": len(texts),
        "zero_shot_greedy_cer": round(100 * zero_shot, 2),
        "runs": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
