"""`htrbatch data ...`: make training and test data (owned by the data work)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from htrbatch.cli.app import err_console
from htrbatch.data.iamondb import SPLITS
from htrbatch.data.render_dataset import DEFAULTS, render_split
from htrbatch.errors import HtrError

app = typer.Typer(
    help="Make line and page datasets from IAM-OnDB strokes and fonts.", no_args_is_help=True
)


@app.command("iamondb")
def iamondb(
    src: Path = typer.Argument(
        ..., help="IAM-OnDB folder: the *-dev.tar.gz files (or lineStrokes/, ascii/) and splits."
    ),
    split: str = typer.Option(..., "--split", help=f"Split to render: {', '.join(SPLITS)}."),
    out: Path = typer.Option(None, "--out", help="Output folder (default: ./iamondb-SPLIT)."),
    variants: int = typer.Option(DEFAULTS.variants, "--variants", help="Renderings per line."),
    seed: int = typer.Option(DEFAULTS.seed, "--seed", help="Base random seed."),
    workers: int = typer.Option(DEFAULTS.workers, "--workers", help="Worker processes."),
) -> None:
    """Render IAM-OnDB pen strokes into offline line images (<id>-v<k>.png + .gt.txt)."""
    if split not in SPLITS:
        err_console.print(f"error: --split must be one of {', '.join(SPLITS)}, got {split!r}")
        raise typer.Exit(2)
    out_dir = out if out is not None else Path(f"iamondb-{split}")
    progress = Progress(
        TextColumn("rendering {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    )
    with progress:
        task = progress.add_task(split, total=None)

        def report(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            counts = render_split(src, split, out_dir, variants, seed, workers, report)
        except HtrError as exc:
            progress.stop()
            err_console.print(f"error: {exc}", highlight=False)
            raise typer.Exit(1) from None
    err_console.print(
        f"{split}: wrote {counts.written} images to {out_dir} ({counts.skipped} lines skipped)",
        highlight=False,
    )
