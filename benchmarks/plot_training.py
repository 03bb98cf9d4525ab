"""Plot validation CER/WER and training loss from a `htrbatch train` log (<out>.log.jsonl).

python benchmarks/plot_training.py runs/crnn.log.jsonl docs/img/training-curves.png
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(log: str, out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(x) for x in Path(log).read_text().splitlines()]
    ep = [r for r in rows if r.get("event") == "epoch"]
    # A resumed run repeats no epochs, but keep the last record per epoch to be safe.
    by_epoch = {r["epoch"]: r for r in ep}
    xs = sorted(by_epoch)
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
    ax[0].plot(xs, [100 * by_epoch[x]["val_cer"] for x in xs], label="val CER")
    ax[0].plot(xs, [100 * by_epoch[x]["val_wer"] for x in xs], label="val WER")
    ax[0].set_xlabel("epoch")
    ax[0].set_ylabel("%")
    ax[0].set_ylim(0, 100)
    ax[0].grid(alpha=0.3)
    ax[0].legend()
    ax[1].plot(xs, [by_epoch[x]["loss"] for x in xs], color="C2")
    ax[1].set_xlabel("epoch")
    ax[1].set_ylabel("train CTC loss")
    ax[1].grid(alpha=0.3)
    fig.tight_layout()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    best = min(ep, key=lambda r: r["val_cer"])
    print(f"epochs {len(xs)}, best val CER {100 * best['val_cer']:.2f}% at epoch {best['epoch']}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
