"""`htrbatch transcribe`: page scans and PDFs in; text, JSON, ALTO, PAGE XML, hOCR per page and a
searchable PDF per document out."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from htrbatch.backends import BACKENDS, BackendOptions, open_backend
from htrbatch.cli.app import app, err_console, error_line, fail, note
from htrbatch.cli.options import (
    AlphaOpt,
    BatchOpt,
    BeamOpt,
    BetaOpt,
    DecoderOpt,
    DeviceOpt,
    LineTypeOpt,
    LmOpt,
    ModelOpt,
    PunctuationOpt,
    QuantizeOpt,
    SpellOpt,
    decode_options,
    transcribe_options,
)
from htrbatch.errors import HtrError, OptionsError
from htrbatch.formats import FORMATS, Serializer, serializers
from htrbatch.io import expand_inputs, write_atomic
from htrbatch.outputs import plan_outputs
from htrbatch.pipeline import FileJob, TranscribeOptions
from htrbatch.runtime import PRECISIONS
from htrbatch.segment import SegmentOptions
from htrbatch.types import PageResult

_SEG = SegmentOptions()


def _write(result: PageResult, paths: dict[str, Path], page_formats: list[Serializer]) -> None:
    for ser in page_formats:
        write_atomic(paths[ser.name], ser.serialize(result))


def _echo(doc: dict) -> None:
    sys.stdout.write(json.dumps(doc, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _echo_saved(paths: dict[str, Path]) -> None:
    """--jsonl for a page done by an earlier run: its saved JSON (none without --format json)."""
    if "json" in paths:
        _echo(json.loads(paths["json"].read_text("utf-8")))


@app.command(
    epilog=(
        "Examples:\n\n"
        "  htrbatch transcribe scans/ --out results/\n\n"
        "  find . -name '*.tif' | htrbatch transcribe - --out out/ --jsonl > pages.jsonl\n\n"
        "  htrbatch transcribe line.png --segmenter none --decoder greedy --out out/\n\n"
        "  htrbatch transcribe book.pdf --format txt,alto,pdf --out out/\n\n"
        "  htrbatch transcribe export/ --segmenter xml --line-type Handwritten --out out/"
    )
)
def transcribe(
    inputs: list[str] = typer.Argument(
        ...,
        help="Image or PDF files, folders (searched recursively) or - to read paths from stdin.",
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (created if missing)."),
    model: ModelOpt = TranscribeOptions.model,
    device: DeviceOpt = TranscribeOptions.device,
    batch_size: BatchOpt = TranscribeOptions.batch_size,
    segmenter: str = typer.Option(
        _SEG.method,
        help="Line splitter: auto|projection|seam|none|xml (none = the image is one line; xml = "
        "the lines of the PAGE XML or ALTO file beside each image, or in page/ or alto/).",
    ),
    line_type: LineTypeOpt = None,
    decoder: DecoderOpt = decode_options().decoder,
    lm: LmOpt = decode_options().lm,
    beam_width: BeamOpt = decode_options().beam_width,
    alpha: AlphaOpt = decode_options().alpha,
    beta: BetaOpt = decode_options().beta,
    spell: SpellOpt = decode_options().spell,
    punctuation: PunctuationOpt = decode_options().punctuation,
    formats: str = typer.Option(
        "txt,json",
        "--format",
        help=f"Comma-separated output formats: {','.join(FORMATS)} (alto: ALTO 4.4, page: PAGE "
        "XML 2019, pdf: one searchable PDF per input document).",
    ),
    dpi: int = typer.Option(
        TranscribeOptions.dpi,
        "--dpi",
        help="Resolution PDF pages are rendered at, except pages that are one scanned image, "
        "which are read at the image's own resolution.",
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
    workers: int | None = typer.Option(
        None,
        "--workers",
        min=0,
        show_default=False,
        help="Processes that read and segment pages while the model runs (0 = in-process; "
        f"the default is one per core, at most 4 (0 on one core): here "
        f"{TranscribeOptions.workers}). Local backend only.",
    ),
    precision: str = typer.Option(
        TranscribeOptions.precision,
        "--precision",
        help=f"{'|'.join(PRECISIONS)}. auto: fp16 on CUDA, bf16 on CPUs with bf16 "
        "instructions (AVX-512 bf16 or AMX), else fp32.",
    ),
    threads: int = typer.Option(
        TranscribeOptions.threads,
        "--threads",
        min=0,
        help="Torch threads for the recogniser (0 = the cores the workers leave free, every "
        "core with --segmenter none; with --backend ray: per actor, 0 = 1, and the CPUs each "
        "actor holds).",
    ),
    backend: str = typer.Option(
        BackendOptions.name,
        "--backend",
        help=f"{'|'.join(BACKENDS)}. ray: page tasks and recogniser actors on a Ray cluster "
        "(pip install 'htrbatch\\[ray]'; inputs readable at the same path on every node, "
        "outputs written here).",
    ),
    ray_address: str | None = typer.Option(
        None,
        "--ray-address",
        help="With --backend ray: auto (the cluster running on this machine), HOST:PORT (a "
        "cluster's head) or ray://HOST:10001; default: RAY_ADDRESS, else a Ray started here.",
    ),
    ray_actors: int = typer.Option(
        BackendOptions.actors,
        "--ray-actors",
        min=0,
        help="With --backend ray: recogniser actors (0 = one per GPU of the cluster, else 1).",
    ),
    quantize: QuantizeOpt = TranscribeOptions.quantize,
) -> None:
    """Transcribe handwritten page scans (PNG, JPEG, TIFF incl. multi-page, PDF) to text, JSON,
    ALTO, PAGE XML, hOCR and searchable PDF.

    Writes OUT/<name>.txt (one recognised line per line), OUT/<name>.json (boxes, text,
    confidence, words), OUT/<name>.alto.xml, .page.xml, .hocr, mirroring each input folder's tree;
    pages of a multi-page file (TIFF, PDF) go to OUT/<name>/<name>-p<N>.*, and the searchable
    PDF of the whole file to OUT/<name>.pdf. Inputs that would share an output are refused before
    any work. Bad inputs are reported on stderr and skipped; the exit code is 1 if any failed.
    """
    fmt_list = list(dict.fromkeys(f.strip() for f in formats.split(",") if f.strip()))
    try:
        chosen = serializers(fmt_list)
    except HtrError as exc:
        fail(str(exc))
    page_formats = [s for s in chosen if not s.per_document]
    doc_formats = [s for s in chosen if s.per_document]
    try:
        run_on = BackendOptions(backend, ray_address, ray_actors)
        run_on.validate()
        if backend == "ray" and workers is not None:
            raise OptionsError(
                f"--workers {workers} with --backend ray: pages are read by Ray tasks, one CPU "
                "each; leave --workers out"
            )
        options = transcribe_options(
            model=model,
            device=device,
            batch_size=batch_size,
            segmenter=segmenter,
            line_types=tuple(line_type or ()),
            decode=dict(
                decoder=decoder,
                lm=lm,
                beam_width=beam_width,
                alpha=alpha,
                beta=beta,
                spell=spell,
                punctuation=punctuation,
            ),
            precision=precision,
            threads=threads,
            quantize=quantize,
            dpi=dpi,
            **({} if workers is None else {"workers": workers}),
        )
        options.segment.validate()
        files, errors = expand_inputs(inputs, sys.stdin)
        names = plan_outputs(files)  # refuses inputs that would share an output, before work
        runner = open_backend(options, run_on)
        note(runner.precision_note)
    except HtrError as exc:
        fail(str(exc))
    for exc in errors:
        error_line(str(exc))
    if not files and not errors:
        fail("no image or PDF files found in the given inputs")

    failed = len(errors)
    written = kept = 0
    # Each file's finished pages (None: not finished), decided in input order before any work.
    entries = [(n, None if overwrite else n.finished_pages(out, fmt_list)) for n in names]
    jobs = [FileJob(n.source, debug_dir, n) for n, done in entries if done is None]
    # Results arrive in job order while worker processes prepare the files further ahead.
    results = runner.transcribe_files(jobs)
    with (
        runner,
        Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err_console,
            transient=True,
        ) as progress,
    ):
        task = progress.add_task("transcribing", total=len(files))
        for name, done in entries:
            if done is not None:
                kept += len(done)
                if jsonl:
                    for page in done:
                        _echo_saved(name.paths(out, page, fmt_list))
                progress.advance(task)
                continue
            progress.update(task, description=f"transcribing {name.source.name}")
            outcome = next(results)
            if outcome.error is not None:
                failed += 1
                error_line(outcome.error)
            try:
                for result in outcome.pages:
                    paths = name.paths(out, result.page, fmt_list)
                    if not overwrite and page_formats and name.written(out, result.page, fmt_list):
                        # a page of a multi-page file that a stopped run finished: kept
                        kept += 1
                        if jsonl:
                            _echo_saved(paths)
                        continue
                    _write(result, paths, page_formats)
                    if jsonl:
                        _echo(result.to_dict())
                    written += 1
                if outcome.pages:
                    # one file per document (the searchable PDF), from all its pages
                    doc_paths = name.document_paths(out, fmt_list)
                    for ser in doc_formats:
                        data = ser.serialize_document(name.source, outcome.pages)
                        write_atomic(doc_paths[ser.name], data)
            except OSError as exc:  # e.g. disk full: this file failed, the batch goes on
                failed += 1
                error_line(f"{name.source}: cannot write output: {exc}")
            except HtrError as exc:  # e.g. a PDF PDFium renders but pikepdf cannot rewrite
                failed += 1
                error_line(str(exc))
            progress.advance(task)
        results.close()

    msg = f"{written} page(s) written to {out}"
    if kept:
        msg += f", {kept} page(s) already done (use --overwrite to redo)"
    if failed:
        msg += f", [red]{failed} input(s) failed[/]"
    err_console.print(msg, highlight=False, soft_wrap=True)
    if failed:
        raise typer.Exit(1)
