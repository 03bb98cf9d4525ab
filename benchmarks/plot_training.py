"""Plot validation CER/WER and training loss from `htrbatch train` logs (<out>.log.jsonl).

One log:   python benchmarks/plot_training.py runs/crnn.log.jsonl docs/img/training-curves.png
Stages:    python benchmarks/plot_training.py v3.log.jsonl v4.log.jsonl v5.log.jsonl out.png
Several logs are drawn one after the other on a shared epoch axis (each stage continued the
previous one's weights with `--init`), with a dotted line where a stage begins.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def epochs(log: str) -> list[dict]:
    """The epoch records of one log, the last record per epoch (a resumed run may repeat one)."""
    rows = [json.loads(x) for x in Path(log).read_text().splitlines() if x.strip()]
    by_epoch = {r["epoch"]: r for r in rows if r.get("event") == "epoch"}
    return [by_epoch[e] for e in sorted(by_epoch)]


def main(logs: list[str], out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
    offset = 0
    best: tuple[float, str, int] | None = None
    for i, log in enumerate(logs):
        ep = epochs(log)
        if not ep:
            raise SystemExit(f"{log}: no epoch records")
        xs = [offset + r["epoch"] for r in ep]
        name = Path(log).name.removesuffix(".log.jsonl").removeprefix("train-")
        ax[0].plot(
            xs, [100 * r["val_cer"] for r in ep], color="C0", label="val CER" if i == 0 else None
        )
        ax[0].plot(
            xs, [100 * r["val_wer"] for r in ep], color="C1", label="val WER" if i == 0 else None
        )
        ax[1].plot(xs, [r["loss"] for r in ep], color="C2")
        if len(logs) > 1:
            for a in ax:
                a.axvline(offset + 0.5, color="gray", linestyle=":", linewidth=1)
            ax[0].annotate(name, (offset + 0.7, 95), fontsize=8, color="gray")
        for r in ep:
            if best is None or r["val_cer"] < best[0]:
                best = (r["val_cer"], name, r["epoch"])
        offset = xs[-1]
    ax[0].set_xlabel("epoch" if len(logs) == 1 else "epoch (stages one after the other)")
    ax[0].set_ylabel("%")
    ax[0].set_ylim(0, 100)
    ax[0].grid(alpha=0.3)
    ax[0].legend(loc="upper right" if len(logs) == 1 else "center right")
    ax[1].set_xlabel(ax[0].get_xlabel())
    ax[1].set_ylabel("train CTC loss")
    ax[1].grid(alpha=0.3)
    fig.tight_layout()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    assert best is not None
    print(f"epochs {offset}, best val CER {100 * best[0]:.2f}% ({best[1]} epoch {best[2]})")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    main(sys.argv[1:-1], sys.argv[-1])
