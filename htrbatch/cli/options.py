"""Options shared by several commands, declared once; defaults come from the option dataclasses."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from htrbatch.decode import DecodeOptions
from htrbatch.pipeline import PRECISIONS, TranscribeOptions
from htrbatch.segment import SegmentOptions

ModelOpt = Annotated[
    str,
    typer.Option(
        "--model",
        help="Checkpoint path, or a shipped model: 'default' (general) or 'hooker' (19th-century "
        "English cursive, fine-tuned on Joseph Hooker's letters; see README).",
    ),
]
DeviceOpt = Annotated[
    str, typer.Option("--device", help="auto|cpu|cuda (auto uses CUDA when present).")
]
BatchOpt = Annotated[int, typer.Option("--batch-size", min=1, help="Lines per recogniser batch.")]
WorkersOpt = Annotated[
    int,
    typer.Option(
        "--workers",
        min=0,
        help="Processes that read and segment pages while the model runs (0 = in-process; "
        "the default is one per core, at most 4 (0 on one core)).",
    ),
]
PrecisionOpt = Annotated[
    str,
    typer.Option(
        "--precision",
        help=f"{'|'.join(PRECISIONS)}. auto: fp16 on CUDA, bf16 on CPUs with bf16 "
        "instructions (AVX-512 bf16 or AMX), else fp32.",
    ),
]
ThreadsOpt = Annotated[
    int,
    typer.Option(
        "--threads",
        min=0,
        help="Torch threads for the recogniser (0 = the cores the workers leave free; "
        "every core with --segmenter none).",
    ),
]
QuantizeOpt = Annotated[
    str,
    typer.Option(
        "--quantize",
        help="none|int8. int8: dynamic int8 quantisation of the recogniser's LSTM and linear "
        "layers (CPU only; can change the text, see docs/benchmarks.md).",
    ),
]
LineTypeOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--line-type",
        metavar="TYPE",
        help="Keep only the PAGE XML/ALTO lines of this type (repeatable), e.g. Handwritten "
        "(ALTO TAGREFS labels, PAGE custom structure/type); with transcribe, --segmenter xml.",
    ),
]
DecoderOpt = Annotated[str, typer.Option("--decoder", help="greedy|beam.")]
LmOpt = Annotated[
    str,
    typer.Option("--lm", help="Language model for beam: default|none|PATH (ARPA or KenLM binary)."),
]
BeamOpt = Annotated[int, typer.Option("--beam-width", min=1, help="Beam width for --decoder beam.")]
AlphaOpt = Annotated[float, typer.Option("--alpha", help="Language model weight.")]
BetaOpt = Annotated[float, typer.Option("--beta", help="Word insertion bonus.")]
SpellOpt = Annotated[
    bool, typer.Option("--spell/--no-spell", help="Spell-correct words the LM does not know.")
]

PunctuationOpt = Annotated[
    str,
    typer.Option(
        "--punctuation",
        help="Output spacing of punctuation: attach (written English: 'Mr. Foot, he'), split "
        "(IAM lines.txt tokens: 'Mr. Foot , he') or as-decoded.",
    ),
]
EvalPunctuationOpt = Annotated[
    str,
    typer.Option(
        "--punctuation",
        help="Spacing of punctuation in the scored predictions: auto (the references' "
        "convention, detected once for the whole set), attach ('Mr. Foot, he'), split "
        "('Mr. Foot , he') or as-decoded.",
    ),
]


def decode_options(**overrides: Any) -> DecodeOptions:
    """DecodeOptions with CLI overrides; with none, the library defaults (used for CLI defaults)."""
    return DecodeOptions(**overrides)


def transcribe_options(
    *,
    segmenter: str,
    line_types: tuple[str, ...] = (),
    decode: dict[str, Any],
    **pipeline: Any,
) -> TranscribeOptions:
    """The :class:`TranscribeOptions` of a command's model, pipeline and decoding options: the
    one place ``transcribe``, ``evaluate`` and ``serve`` turn their flags into options.
    ``decode`` holds the decoding flags (:func:`decode_options`), ``pipeline`` the remaining
    fields (model, device, batch_size, precision, threads, workers, dpi)."""
    return TranscribeOptions(
        segment=SegmentOptions(method=segmenter, line_types=line_types),
        decode=decode_options(**decode),
        **pipeline,
    )
