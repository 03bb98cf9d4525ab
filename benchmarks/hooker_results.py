"""Collect the Hooker model's figures (benchmarks/hooker_model.sh) into one results file and
plot the fine-tuning curve (greedy CER on the same 150 validation-letter lines against training
pages: the shipped model zero-shot, the 10- and 20-page runs of finetune_defaults.py, all
training pages).

    python benchmarks/hooker_results.py work/hooker-model --split work/hooker \\
        --out benchmarks/results/hooker-model.json --plot docs/img/hooker-curve.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from htrbatch.data.datasets import load_dataset
from htrbatch.model import load_checkpoint
from htrbatch.train import evaluate_cer, prepare_samples

RESULTS = Path(__file__).resolve().parent / "results"


def val150_cer(model: Path, split: Path) -> float:
    """Greedy CER on the validation lines finetune_defaults.py uses (--val-limit 150)."""
    val = load_dataset(split / "val")
    val = val[:: max(1, len(val) // 150)][:150]
    loaded = load_checkpoint(model)
    images, _, texts = prepare_samples(val, loaded.config.height, loaded.charset)
    cer, _ = evaluate_cer(loaded.model, images, texts, loaded.charset)
    return round(100 * cer, 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("work", type=Path, help="benchmarks/hooker_model.sh's work folder")
    ap.add_argument("--split", type=Path, default=Path("work/hooker"))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--plot", type=Path)
    args = ap.parse_args()

    def cer(name: str) -> float:
        return round(100 * json.loads((args.work / name).read_text())["cer"], 2)

    events = [json.loads(x) for x in (args.work / "hooker.log.jsonl").read_text().splitlines()]
    epochs = [e for e in events if e.get("event") == "epoch"]
    best = min(epochs, key=lambda e: e["val_cer"])
    runs = {}
    for pages in (10, 20):
        doc = json.loads((RESULTS / f"finetune-defaults-{pages}p.json").read_text())
        # today's FINETUNING schedule: lr 1e-3 after 50 warm-up steps
        fin = [r for r in doc["runs"] if r["lr"] == 1e-3 and r["warmup_steps"] == 50][0]
        runs[pages] = {"lines": doc["train_lines"], "val150_greedy_cer": fin["best_cer"]}
        zero = doc["zero_shot_greedy_cer"]
    # further points from benchmarks/hooker_curve.sh (same validation lines, same schedule)
    curve_test = {}
    for f in sorted(RESULTS.glob("hooker-curve-*p-train.json")):
        doc = json.loads(f.read_text())
        pages = int(f.name.split("-")[2].removesuffix("p"))
        runs[pages] = {"lines": doc["train_lines"], "val150_greedy_cer": doc["runs"][0]["best_cer"]}
        work = Path("work") / f"curve-{pages}p"
        if (work / "test-beam.json").is_file():
            curve_test[str(pages)] = {
                dec: round(100 * json.loads((work / f"test-{dec}.json").read_text())["cer"], 2)
                for dec in ("greedy", "beam")
            }
    runs = dict(sorted(runs.items()))
    full = val150_cer(args.work / "hooker-crnn.pt", args.split)
    splits = json.loads((args.split / "split.json").read_text())["splits"]
    report = {
        "command": "bash benchmarks/hooker_model.sh; python benchmarks/hooker_results.py ...",
        "split": splits,
        "training": {
            "epochs_run": len(epochs),
            "best_epoch": best["epoch"],
            "val_greedy_cer_649_lines": round(100 * best["val_cer"], 2),
            # a resumed run's clock restarts: add up the segments
            "minutes": round(
                sum(
                    e["elapsed_s"]
                    for i, e in enumerate(epochs)
                    if i + 1 == len(epochs) or epochs[i + 1]["elapsed_s"] < e["elapsed_s"]
                )
                / 60,
                1,
            ),
            "val_cer_per_epoch": [round(100 * e["val_cer"], 2) for e in epochs],
            "conditions": "1 torch thread on 2 CPU cores shared with other jobs",
        },
        "test_556_lines_11_letters": {
            "zero_shot_default_model_beam_lm": cer("test-crops-zero-shot.json"),
            "hooker_greedy_crops": cer("test-crops-greedy.json"),
            "hooker_greedy_pages_xml": cer("test-pages-greedy.json"),
            "hooker_beam_hooker_lm_crops": cer("test-crops-beam.json"),
            "hooker_beam_hooker_lm_pages_xml": cer("test-pages-beam.json"),
        },
        "curve_test_556_lines_default_lm": curve_test,
        "curve_val150_greedy": {
            "0": zero,
            **{str(p): r["val150_greedy_cer"] for p, r in runs.items()},
            str(splits["train"]["pages"]): full,
        },
    }
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=1))
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        xs = [int(k) for k in report["curve_val150_greedy"]]
        ys = list(report["curve_val150_greedy"].values())
        fig, ax = plt.subplots(figsize=(5.5, 3.4), dpi=120)
        ax.plot([max(x, 1) for x in xs], ys, "o-")
        for x, y in zip(xs, ys):
            ax.annotate(f"{y:.1f} %", (max(x, 1), y), textcoords="offset points", xytext=(4, 6))
        ax.set_xscale("log")
        ax.set_xticks(
            [max(x, 1) for x in xs], ["0 (zero-shot)", *map(str, xs[1:-1]), f"{xs[-1]} (all)"]
        )
        ax.set_xlabel("training pages of Hooker's letters")
        ax.set_ylabel("greedy CER, held-out letters")
        ax.set_ylim(0, 65)
        ax.set_title("Fine-tuning the shipped model on one collection")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(args.plot)


if __name__ == "__main__":
    main()
