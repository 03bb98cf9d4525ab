"""`htrbatch evaluate`: CER/WER of the recogniser on a labelled line dataset."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from htrbatch.cli.app import app, err_console, error_line, fail, note
from htrbatch.cli.options import (
    AlphaOpt,
    BatchOpt,
    BeamOpt,
    BetaOpt,
    DecoderOpt,
    DeviceOpt,
    EvalPunctuationOpt,
    LineTypeOpt,
    LmOpt,
    ModelOpt,
    PrecisionOpt,
    QuantizeOpt,
    SpellOpt,
    ThreadsOpt,
    WorkersOpt,
    decode_options,
    transcribe_options,
)
from htrbatch.data.datasets import detect_layout
from htrbatch.errors import HtrError
from htrbatch.evaluate import ScoringOptions, evaluate_dataset
from htrbatch.io import write_atomic
from htrbatch.pipeline import TranscribeOptions, Transcriber


@app.command(
    epilog=(
        "Examples:\n\n"
        "  htrbatch evaluate data/val --cer --wer\n\n"
        "  htrbatch evaluate iam/ --decoder greedy --json report.json\n\n"
        "  htrbatch evaluate escriptorium-export/ --line-type Handwritten"
    )
)
def evaluate(
    dataset: Path = typer.Argument(
        ...,
        help="IAM layout (lines.txt + lines/), images with .gt.txt sidecars, or page images "
        "with PAGE XML/ALTO files (beside them or in page/ or alto/).",
    ),
    cer: bool = typer.Option(True, "--cer/--no-cer", help="Report the character error rate."),
    wer: bool = typer.Option(False, "--wer", help="Also report the word error rate."),
    json_out: Path | None = typer.Option(
        None, "--json", help="Write the full per-line report as JSON (- for stdout)."
    ),
    model: ModelOpt = TranscribeOptions.model,
    device: DeviceOpt = TranscribeOptions.device,
    batch_size: BatchOpt = TranscribeOptions.batch_size,
    decoder: DecoderOpt = decode_options().decoder,
    lm: LmOpt = decode_options().lm,
    beam_width: BeamOpt = decode_options().beam_width,
    alpha: AlphaOpt = decode_options().alpha,
    beta: BetaOpt = decode_options().beta,
    spell: SpellOpt = decode_options().spell,
    punctuation: EvalPunctuationOpt = ScoringOptions.punctuation,
    segmenter: str | None = typer.Option(
        None,
        help="none: each image is one line; auto|projection|seam: images are pages; xml: the "
        "lines of each page's PAGE XML/ALTO file. Default: xml for a collection of page images "
        "with PAGE XML/ALTO files, none for line datasets.",
        show_default=False,
    ),
    line_type: LineTypeOpt = None,
    workers: WorkersOpt = TranscribeOptions.workers,
    precision: PrecisionOpt = TranscribeOptions.precision,
    threads: ThreadsOpt = TranscribeOptions.threads,
    quantize: QuantizeOpt = TranscribeOptions.quantize,
) -> None:
    """Corpus CER (total edits / total reference characters) and WER on a labelled line set.

    The images go through the same pipeline as `transcribe` with the same options (reading,
    cleaning, segmentation, recognition, decoding), so the figures are those of its text. A
    missing or unreadable image is reported and scored as an empty prediction (exit code 1).

    A collection of page images with PAGE XML or ALTO files (as Transkribus and eScriptorium
    export them) is read with --segmenter xml: every TextLine with text (of the --line-type
    types, if given) is an item, read from the line cut along its polygon.
    """
    if not dataset.exists():
        fail(f"{dataset}: no such dataset folder")
    try:
        if segmenter is None:
            segmenter = "xml" if detect_layout(dataset) == "xml" else "none"
        ScoringOptions(punctuation=punctuation).validate()  # names auto among the choices
        # auto: decode as transcribe would, then re-space to the references' convention;
        # an explicit style is the decoder's, scored as it comes out
        auto = punctuation == "auto"
        scoring = ScoringOptions(punctuation="auto" if auto else "as-decoded")
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
                punctuation=decode_options().punctuation if auto else punctuation,
            ),
            precision=precision,
            threads=threads,
            workers=workers,
            quantize=quantize,
        )
        options.segment.validate()
        transcriber = Transcriber(options)
        note(transcriber.recognizer.precision_note)
        with Progress(
            TextColumn("evaluating"),
            BarColumn(),
            MofNCompleteColumn(),
            console=err_console,
            transient=True,
        ) as progress:
            task = progress.add_task("eval", total=None)
            report = evaluate_dataset(
                dataset,
                transcriber,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
                scoring=scoring,
            )
    except HtrError as exc:
        fail(str(exc))

    for exc in report.errors:
        error_line(str(exc))
    style, decoded = report.reference_punctuation, options.decode.punctuation
    how = {"split": "stand apart ('tomorrow . Mr.')", "attach": "are attached ('tomorrow.')"}
    if report.scored_punctuation is not None and report.scored_punctuation != decoded:
        err_console.print(
            f"[yellow]note[/]: most sentence marks in the references {how[style]}, so the "
            f"predictions were scored in that style (--punctuation auto); --punctuation "
            f"{decoded} scores them as transcribe writes them.",
            highlight=False,
        )
    elif style is not None and punctuation not in ("auto", style, "as-decoded"):
        err_console.print(
            f"[yellow]note[/]: most sentence marks in the references {how[style]}, unlike the "
            f"predictions (--punctuation {decoded}), so each such mark counts as an error; "
            f"--punctuation {style} or auto scores in the references' convention.",
            highlight=False,
        )
    table = Table(title=f"{dataset}", title_justify="left")
    for col in (
        ["items", "chars"]
        + (["CER"] if cer else [])
        + (["WER"] if wer else [])
        + ["seconds", "items/s"]
    ):
        table.add_column(col, justify="right")
    row = [str(report.lines), str(report.chars)]
    row += [f"{100 * report.cer:.2f}%"] if cer else []
    row += [f"{100 * report.wer:.2f}%"] if wer else []
    row += [f"{report.seconds:.1f}", f"{report.lines / max(report.seconds, 1e-9):.1f}"]
    table.add_row(*row)
    payload = json.dumps(report.to_dict(), ensure_ascii=False, indent=1) + "\n"
    if json_out is not None and str(json_out) == "-":
        err_console.print(table)
        typer.echo(payload, nl=False)
    else:
        from rich.console import Console

        Console().print(table)
        if json_out is not None:
            write_atomic(json_out, payload)
    if report.errors:
        raise typer.Exit(1)
