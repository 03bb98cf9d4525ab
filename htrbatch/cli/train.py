"""`htrbatch train`: train the CRNN recogniser on line datasets."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import typer

from htrbatch.cli.app import app, err_console, fail, note
from htrbatch.cli.options import LineTypeOpt
from htrbatch.errors import HtrError
from htrbatch.model import ARCHITECTURES
from htrbatch.runtime import TRAIN_PRECISIONS
from htrbatch.train import FINETUNING, TrainOptions, resume_options, train

_D = TrainOptions()
_F = FINETUNING


def _schedule_help(what: str, name: str) -> str:
    default, finetuning = getattr(_D, name), getattr(_F, name)
    init = f"; {finetuning} with --init" if finetuning != default else " (also with --init)"
    return f"{what} Default {default}{init}; a resumed run keeps its own."


@app.command(
    name="train",
    epilog=(
        "Examples:\n\n"
        "  htrbatch train --train data/train --val data/val --out runs/crnn.pt\n\n"
        "  htrbatch train --train data/train --val data/val --out runs/crnn.pt --resume\n\n"
        "Fine-tune the shipped model on your own lines (new characters become new outputs):\n\n"
        "  htrbatch train --init default --train lines/train --val lines/val --out runs/x.pt"
    ),
)
def train_command(
    train_sets: list[Path] = typer.Option(
        [],
        "--train",
        help="Training dataset (repeat for several): a line dataset, or page images with PAGE "
        "XML/ALTO files (lines cut from the pages in memory).",
    ),
    val: Path = typer.Option(
        ..., "--val", help="Validation dataset (early stopping, best checkpoint)."
    ),
    out: Path = typer.Option(
        ..., "--out", help="Best checkpoint path; <out>.last.pt holds the resumable state."
    ),
    epochs: int = typer.Option(
        None,
        min=1,
        show_default=False,
        help=_schedule_help("Epochs (the learning rate's cosine schedule spans them).", "epochs"),
    ),
    batch_size: int = typer.Option(_D.batch_size, "--batch-size", min=1),
    lr: float = typer.Option(
        None, "--lr", min=0.0, show_default=False, help=_schedule_help("Peak learning rate.", "lr")
    ),
    warmup_steps: int = typer.Option(
        None,
        "--warmup-steps",
        min=0,
        show_default=False,
        help=_schedule_help("Steps of linear learning-rate warm-up.", "warmup_steps"),
    ),
    patience: int = typer.Option(
        None,
        min=1,
        show_default=False,
        help=_schedule_help(
            "Stop after this many epochs without a better validation CER.", "patience"
        ),
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Continue from <out>.last.pt (weights, optimizer, epoch)."
    ),
    init: str = typer.Option(
        _D.init,
        "--init",
        help="Fine-tune: start from this checkpoint's weights ('default' = the shipped model, "
        "'hooker' = the shipped Hooker model), "
        "with the fine-tuning learning rate, warm-up and patience unless given.",
    ),
    extend_charset: bool = typer.Option(
        _D.extend_charset,
        "--extend-charset/--no-extend-charset",
        help="With --init: add the training lines' characters the checkpoint lacks as new "
        "outputs (otherwise they are left out of the labels).",
    ),
    augment: bool = typer.Option(_D.augment, "--augment/--no-augment", help="Online augmentation."),
    max_steps_per_epoch: int = typer.Option(
        _D.max_steps_per_epoch, min=0, help="Cap on batches per epoch (0 = all)."
    ),
    val_limit: int = typer.Option(
        _D.val_limit, min=0, help="Validate on at most this many lines (0 = all)."
    ),
    max_minutes: float = typer.Option(
        _D.max_minutes, min=0.0, help="Stop after the epoch that passes this time (0 = none)."
    ),
    arch: str = typer.Option(
        None,
        "--arch",
        help=f"Architecture of a new model: {', '.join(ARCHITECTURES)} (default: small).",
        show_default=False,
    ),
    precision: str = typer.Option(
        _D.precision,
        "--precision",
        help=f"{' | '.join(TRAIN_PRECISIONS)}; auto = bf16 autocast where the CPU has bf16.",
    ),
    threads: int = typer.Option(_D.threads, min=0, help="Torch CPU threads (0 = default)."),
    seed: int = typer.Option(_D.seed),
    rescan: bool = typer.Option(
        _D.rescan, "--rescan", help="Pick up new training files every epoch."
    ),
    strokes: Path = typer.Option(
        None,
        "--strokes",
        help="IAM-OnDB folder: also train on its lines, rendered afresh every epoch.",
        show_default=False,
    ),
    strokes_split: str = typer.Option(
        _D.strokes_split, "--strokes-split", help="Split of --strokes to train on."
    ),
    line_type: LineTypeOpt = None,
    render_workers: int = typer.Option(
        _D.render_workers,
        "--render-workers",
        min=0,
        help="Processes drawing --strokes lines ahead of training (0 = in this process).",
    ),
) -> None:
    """Train the recogniser with CTC; keeps the checkpoint with the best validation CER."""
    if not train_sets and strokes is None:
        fail("nothing to train on: give --train DATASET and/or --strokes IAM-ONDB-FOLDER")
    for ds in [*train_sets, val]:
        if not ds.exists():
            fail(f"{ds}: no such dataset folder")
    if strokes is not None and not strokes.is_dir():
        fail(f"--strokes {strokes}: no such folder")
    if not extend_charset and not init:
        fail(
            "--no-extend-charset needs --init: a new model has the default charset, a resumed "
            "run keeps its own"
        )
    if arch is not None:
        if arch not in ARCHITECTURES:
            fail(f"--arch {arch!r}: expected one of {', '.join(ARCHITECTURES)}")
        if init or resume:
            fail(
                f"--arch and {'--init' if init else '--resume'} conflict: the architecture "
                "comes from the checkpoint"
            )
    # lr, warm-up, patience and epochs: as given, else the fine-tuning ones with --init, those
    # of the resumed run with --resume, the defaults otherwise.
    base = _F if init else _D
    given = {"lr": lr, "warmup_steps": warmup_steps, "patience": patience, "epochs": epochs}
    options = replace(
        base,
        **{k: v for k, v in given.items() if v is not None},
        batch_size=batch_size,
        augment=augment,
        seed=seed,
        threads=threads,
        max_steps_per_epoch=max_steps_per_epoch,
        val_limit=val_limit,
        max_minutes=max_minutes,
        init=init,
        extend_charset=extend_charset,
        rescan=rescan,
        precision=precision,
        strokes=str(strokes) if strokes is not None else "",
        strokes_split=strokes_split,
        render_workers=render_workers,
        line_types=tuple(line_type or ()),
        config=ARCHITECTURES[arch] if arch else _D.config,
    )

    def log(record: dict[str, Any]) -> None:
        if record["event"] == "progress":
            err_console.print(
                f"  epoch {record['epoch']:3d}  batch {record['batch']}/{record['batches']}"
                f"  loss {record['loss']:.3f}  {record['lines_per_s']:.1f} lines/s",
                highlight=False,
            )
        elif record["event"] == "charset":
            _print_charset(record)
        elif record["event"] == "epoch":
            err_console.print(
                f"epoch {record['epoch']:3d}  loss {record['loss']:.3f}"
                f"  val CER {100 * record['val_cer']:.2f}%"
                f"  WER {100 * record['val_wer']:.2f}%  {record['lines_per_s']:.0f} lines/s"
                + ("  [green]best[/]" if record.get("best") else ""),
                highlight=False,
            )
        elif record["event"] == "note":
            note(record["message"])
        elif record["event"] == "warning":
            err_console.print(f"[yellow]warning[/]: {record['message']}", highlight=False)
        elif record["event"] in ("start", "loading", "rescan", "early_stop", "time_limit"):
            err_console.print(
                f"{record['event']}: "
                + ", ".join(
                    f"{k}={v}"
                    for k, v in record.items()
                    if k
                    in (
                        "train_lines",
                        "stroke_lines",
                        "val_lines",
                        "new_lines",
                        "params",
                        "epoch",
                        "best_epoch",
                    )
                ),
                highlight=False,
            )

    try:
        if resume:
            options = replace(
                resume_options(out, options), **{k: v for k, v in given.items() if v is not None}
            )
        result = train(train_sets, val, out, options, resume=resume, log=log)
    except HtrError as exc:
        fail(str(exc))
    err_console.print(
        f"best val CER {100 * result.best_cer:.2f}% at epoch {result.best_epoch}; saved {out}"
    )


def _print_charset(record: dict[str, Any]) -> None:
    """The fine-tune's new outputs, and the characters the model still cannot write."""
    added = record["added"]
    if added:
        err_console.print(
            f"charset: added {len(added)} character{'s' * (len(added) != 1)}: "
            f"{' '.join(added)} ({record['labels']} outputs with the blank)",
            highlight=False,
        )
    for split in ("train", "val"):
        chars = record[f"outside_{split}"]
        if not chars:
            continue
        listed = ", ".join(f"{c!r} x{n}" for c, n in chars.items())
        consequence = (
            "left out of their labels"
            if split == "train"
            else "the model cannot write them (they count as errors)"
        )
        err_console.print(
            f"[yellow]warning[/]: {record[f'outside_{split}_lines']} {split} lines have "
            f"characters outside the charset, {consequence}: {listed}",
            highlight=False,
        )
