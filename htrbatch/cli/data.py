"""`htrbatch data ...`: make training and test data (owned by the data work)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from htrbatch.cli.app import err_console, error_line
from htrbatch.data.iamondb import SPLITS
from htrbatch.data.layout_lines import export_layout_lines
from htrbatch.data.pages import DEFAULTS as PAGE_DEFAULTS
from htrbatch.data.pages import IMAGE_FORMATS, render_pages
from htrbatch.data.render_dataset import DEFAULTS, render_split
from htrbatch.data.synth import DEFAULTS as SYNTH_DEFAULTS
from htrbatch.data.synth import synth_dataset
from htrbatch.errors import HtrError

app = typer.Typer(
    help="Make line and page datasets from IAM-OnDB strokes and fonts.", no_args_is_help=True
)

T = TypeVar("T")

_Source = Annotated[
    Path,
    typer.Argument(
        help="IAM-OnDB folder: the *-dev.tar.gz files (or lineStrokes/, ascii/) and splits."
    ),
]
_Split = Annotated[str, typer.Option("--split", help=f"Split to render: {', '.join(SPLITS)}.")]


def _check_split(split: str) -> None:
    if split not in SPLITS:
        err_console.print(f"error: --split must be one of {', '.join(SPLITS)}, got {split!r}")
        raise typer.Exit(2)


def _with_progress(label: str, task: str, work: Callable[[Callable[[int, int], None]], T]) -> T:
    """``work(report)`` under a progress bar on stderr (``report(done, total)`` moves it); an
    HtrError becomes a one-line error and exit code 1."""
    progress = Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    )
    with progress:
        task_id = progress.add_task(task, total=None)

        def report(done: int, total: int) -> None:
            progress.update(task_id, completed=done, total=total)

        try:
            return work(report)
        except HtrError as exc:
            progress.stop()
            err_console.print(f"error: {exc}", highlight=False)
            raise typer.Exit(1) from None


@app.command(
    "iamondb",
    epilog=(
        "Examples:\n\n"
        "  htrbatch data iamondb iam-ondb/ --split trainset --out data/train\n\n"
        "  htrbatch data iamondb iam-ondb/ --split testset_v --variants 1 --seed 3 --workers 4"
    ),
)
def iamondb(
    src: _Source,
    split: _Split,
    out: Path = typer.Option(None, "--out", help="Output folder (default: ./iamondb-SPLIT)."),
    variants: int = typer.Option(DEFAULTS.variants, "--variants", help="Renderings per line."),
    seed: int = typer.Option(DEFAULTS.seed, "--seed", help="Base random seed."),
    workers: int = typer.Option(DEFAULTS.workers, "--workers", help="Worker processes."),
) -> None:
    """Render IAM-OnDB pen strokes into offline line images (<id>-v<k>.png + .gt.txt)."""
    _check_split(split)
    out_dir = out if out is not None else Path(f"iamondb-{split}")
    counts = _with_progress(
        "rendering {task.description}",
        split,
        lambda report: render_split(src, split, out_dir, variants, seed, workers, report),
    )
    err_console.print(
        f"{split}: wrote {counts.written} images to {out_dir} ({counts.skipped} lines skipped)",
        highlight=False,
    )


@app.command(
    "synth",
    epilog=(
        "Examples:\n\n"
        "  htrbatch data synth --fonts fonts/ --text iam-lines-text.txt --count 8000 --out synth/"
        "\n\n"
        "  htrbatch data synth --fonts fonts/ --text lines.txt --iamondb iam-ondb/ --out synth/"
    ),
)
def synth(
    fonts: Path = typer.Option(..., "--fonts", help="Folder of handwriting .ttf/.otf fonts."),
    text: Path = typer.Option(..., "--text", help="Text lines to write (one line per line)."),
    count: int = typer.Option(SYNTH_DEFAULTS.count, "--count", help="Lines to synthesise."),
    out: Path = typer.Option(..., "--out", help="Output folder (<id>.png + <id>.gt.txt)."),
    seed: int = typer.Option(SYNTH_DEFAULTS.seed, "--seed", help="Base random seed."),
    workers: int = typer.Option(SYNTH_DEFAULTS.workers, "--workers", help="Worker processes."),
    iamondb: Path = typer.Option(
        None,
        "--iamondb",
        help="IAM-OnDB folder: its trainset text is added and text near its testset_v/testset_t "
        "forms is dropped (default: iam-ondb/ beside the text file's folder).",
    ),
) -> None:
    """Synthesise handwriting lines from fonts (synth-NNNNNN.png + .gt.txt)."""
    src = iamondb if iamondb is not None else text.parent.parent / "iam-ondb"
    if not src.is_dir():
        err_console.print(
            f"error: IAM-OnDB folder {src} not found (needed to keep held-out text out): "
            "pass --iamondb DIR",
            highlight=False,
        )
        raise typer.Exit(2)
    counts = _with_progress(
        "synthesising",
        "lines",
        lambda report: synth_dataset(fonts, text, count, out, seed, workers, report, iamondb=src),
    )
    err_console.print(
        f"wrote {counts.written} lines to {out} ({counts.skipped} skipped)", highlight=False
    )


@app.command(
    "pages",
    epilog=(
        "Examples:\n\n"
        "  htrbatch data pages iam-ondb/ --split testset_t --out pages_t/ --seed 5\n\n"
        "  htrbatch data pages iam-ondb/ --split trainset --out pages/ --limit 50 "
        "--styles photo,notebook --format jpg"
    ),
)
def pages(
    src: _Source,
    split: _Split,
    out: Path = typer.Option(..., "--out", help="Output folder."),
    seed: int = typer.Option(PAGE_DEFAULTS.seed, "--seed", help="Base random seed."),
    limit: int = typer.Option(None, "--limit", help="Render only the first N forms (by id)."),
    workers: int = typer.Option(PAGE_DEFAULTS.workers, "--workers", help="Worker processes."),
    styles: str = typer.Option(
        ",".join(PAGE_DEFAULTS.styles),
        "--styles",
        help="Page styles to draw from, comma-separated.",
    ),
    image_format: str = typer.Option(
        PAGE_DEFAULTS.image_format, "--format", help=f"Image format: {', '.join(IMAGE_FORMATS)}."
    ),
) -> None:
    """Render whole IAM-OnDB forms as pages (<form>.png, .gt.txt, .lines.json with line boxes)."""
    _check_split(split)
    style_list = [s.strip() for s in styles.split(",") if s.strip()]
    counts = _with_progress(
        "rendering {task.description}",
        split,
        lambda report: render_pages(
            src, split, out, seed, limit, workers, report, style_list, image_format
        ),
    )
    err_console.print(
        f"{split}: wrote {counts.written} pages ({counts.lines} lines) to {out} "
        f"({counts.skipped} forms skipped)",
        highlight=False,
    )


@app.command(
    "layout-lines",
    epilog=(
        "Examples:\n\n"
        "  htrbatch data layout-lines transkribus-export/ --out lines/\n\n"
        "  htrbatch data layout-lines escriptorium/ --line-type Handwritten --out lines/"
    ),
)
def layout_lines(
    src: Path = typer.Argument(
        ..., help="Folder of page images with PAGE XML or ALTO files (beside them or in page/)."
    ),
    out: Path = typer.Option(..., "--out", help="Output folder (<page>/<line>.png + .gt.txt)."),
    line_type: list[str] = typer.Option(
        [], "--line-type", help="Keep only lines of this type (repeatable), e.g. Handwritten."
    ),
    pad: int = typer.Option(4, "--pad", min=0, help="Pixels kept around each line polygon."),
) -> None:
    """Cut the transcribed lines of a PAGE XML / ALTO collection into a line dataset."""
    if not src.exists():
        err_console.print(f"error: {src}: no such file or folder", highlight=False)
        raise typer.Exit(2)
    scan = _with_progress(
        "cutting lines",
        "pages",
        lambda report: export_layout_lines(
            src, out, line_types=tuple(line_type), pad=pad, progress=report
        ),
    )
    for exc in scan.errors:
        error_line(str(exc))
    err_console.print(
        f"wrote {len(scan.samples)} lines to {out} ({scan.skipped_empty} without text, "
        f"{scan.skipped_type} of other types skipped, {len(scan.errors)} problems)",
        highlight=False,
    )
    if scan.errors:
        raise typer.Exit(1)
