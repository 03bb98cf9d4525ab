"""`htrbatch transcribe`: page scans in, `.txt` / `.json` per page out."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from htrbatch.cli.app import app, err_console, fail
from htrbatch.cli.options import (
    AlphaOpt,
    BatchOpt,
    BeamOpt,
    BetaOpt,
    DecoderOpt,
    DeviceOpt,
    LmOpt,
    ModelOpt,
    SpellOpt,
    decode_options,
)
from htrbatch.errors import HtrError, InputError
from htrbatch.io import expand_inputs, read_pages, write_atomic
from htrbatch.pipeline import TranscribeOptions, Transcriber
from htrbatch.segment import SegmentOptions, draw_segmentation
from htrbatch.types import PageResult

FORMATS = ("txt", "json")
_SEG = SegmentOptions()


def _outputs(out: Path, stem: str, formats: list[str]) -> dict[str, Path]:
    return {fmt: out / f"{stem}.{fmt}" for fmt in formats}


def _write(result: PageResult, paths: dict[str, Path]) -> None:
    if "txt" in paths:
        write_atomic(paths["txt"], result.text + ("\n" if result.lines else ""))
    if "json" in paths:
        write_atomic(
            paths["json"], json.dumps(result.to_dict(), ensure_ascii=False, indent=1) + "\n"
        )


@app.command(
    epilog=(
        "Examples:\n\n"
        "  htrbatch transcribe scans/ --out results/\n\n"
        "  find . -name '*.tif' | htrbatch transcribe - --out out/ --jsonl > pages.jsonl\n\n"
        "  htrbatch transcribe line.png --segmenter none --decoder greedy --out out/"
    )
)
def transcribe(
    inputs: list[str] = typer.Argument(
        ..., help="Image files, folders (searched recursively) or - to read paths from stdin."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (created if missing)."),
    model: ModelOpt = TranscribeOptions.model,
    device: DeviceOpt = TranscribeOptions.device,
    batch_size: BatchOpt = TranscribeOptions.batch_size,
    segmenter: str = typer.Option(
        _SEG.method, help="Line splitter: auto|projection|seam|none (none = the image is one line)."
    ),
    decoder: DecoderOpt = decode_options().decoder,
    lm: LmOpt = decode_options().lm,
    beam_width: BeamOpt = decode_options().beam_width,
    alpha: AlphaOpt = decode_options().alpha,
    beta: BetaOpt = decode_options().beta,
    spell: SpellOpt = decode_options().spell,
    formats: str = typer.Option(
        "txt,json", "--format", help="Comma-separated output formats: txt,json."
    ),
    jsonl: bool = typer.Option(
        False, "--jsonl", help="Also stream one JSON page object per line to stdout."
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Redo pages whose outputs already exist."
    ),
    debug_dir: Path | None = typer.Option(
        None, "--debug-dir", help="Write a picture of each page with its lines drawn."
    ),
) -> None:
    """Transcribe handwritten page scans (PNG, JPEG, TIFF incl. multi-page) to text and JSON.

    Writes OUT/<stem>.txt (one recognised line per line) and OUT/<stem>.json (boxes, text,
    confidence). Bad inputs are reported on stderr and skipped; the exit code is 1 if any failed.
    """
    fmt_list = [f.strip() for f in formats.split(",") if f.strip()]
    bad = [f for f in fmt_list if f not in FORMATS]
    if bad or not fmt_list:
        fail(f"--format {formats!r}: expected a comma-separated subset of {','.join(FORMATS)}")
    try:
        options = TranscribeOptions(
            model=model,
            device=device,
            batch_size=batch_size,
            segment=SegmentOptions(method=segmenter),
            decode=decode_options(
                decoder=decoder, lm=lm, beam_width=beam_width, alpha=alpha, beta=beta, spell=spell
            ),
        )
        options.segment.validate()
        files, errors = expand_inputs(inputs, sys.stdin)
        transcriber = Transcriber(options)
    except HtrError as exc:
        fail(str(exc))
    for exc in errors:
        err_console.print(f"[red]error[/]: {exc}", highlight=False, markup=True)
    if not files and not errors:
        fail("no image files found in the given inputs")

    failed = len(errors)
    written = skipped = 0
    used_stems: dict[str, int] = {}
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task("transcribing", total=len(files))
        for path in files:
            progress.update(task, description=f"transcribing {path.name}")
            # Same stem from two folders: later ones get -2, -3 ... (stable across reruns).
            n = used_stems.get(path.stem, 0) + 1
            used_stems[path.stem] = n
            stem = path.stem if n == 1 else f"{path.stem}-{n}"
            single = _outputs(out, stem, fmt_list)
            if not overwrite and all(p.is_file() for p in single.values()):
                skipped += 1
                if jsonl and "json" in single:
                    sys.stdout.write(
                        json.dumps(
                            json.loads(single["json"].read_text("utf-8")), ensure_ascii=False
                        )
                        + "\n"
                    )
                progress.advance(task)
                continue
            try:
                pages = read_pages(path)
                segmented = [(p, transcriber.segment(p)) for p in pages]
                results = transcriber.transcribe_segmented(segmented)
                for (page, seg), result in zip(segmented, results):
                    paths = _outputs(out, stem + page.stem_suffix, fmt_list)
                    _write(result, paths)
                    if debug_dir is not None:
                        debug_dir.mkdir(parents=True, exist_ok=True)
                        cv2.imwrite(
                            str(debug_dir / f"{stem}{page.stem_suffix}.lines.png"),
                            draw_segmentation(page.image, seg),
                        )
                    if jsonl:
                        sys.stdout.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
                        sys.stdout.flush()
                    written += 1
            except InputError as exc:
                failed += 1
                err_console.print(f"[red]error[/]: {exc}", highlight=False)
            except Exception as exc:  # one bad page must not end a batch of thousands
                failed += 1
                err_console.print(
                    f"[red]error[/]: {path}: {exc.__class__.__name__}: {exc}", highlight=False
                )
            progress.advance(task)

    msg = f"{written} page(s) written to {out}"
    if skipped:
        msg += f", {skipped} file(s) already done (use --overwrite to redo)"
    if failed:
        msg += f", [red]{failed} input(s) failed[/]"
    err_console.print(msg, highlight=False)
    if failed:
        raise typer.Exit(1)
