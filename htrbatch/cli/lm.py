"""`htrbatch lm ...`: build word n-gram language models (owned by the decoding work)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from htrbatch.cli.app import err_console
from htrbatch.errors import HtrError, OptionsError
from htrbatch.lm import MAX_ORDER, build_lm

app = typer.Typer(help="Build word n-gram language models for beam decoding.", no_args_is_help=True)


@app.command(
    "build",
    epilog=(
        "Examples:\n\n"
        "  htrbatch lm build iam-lines-text.txt --out lm/iam-4gram.arpa.gz\n\n"
        "  htrbatch lm build a.txt b.txt.gz -o lm/words.bin --order 5 --prune 0,0,1 --backend lmplz"
    ),
)
def build(
    texts: Annotated[
        list[Path], typer.Argument(help="Plain UTF-8 text files (.gz too), one line per line.")
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Model file: .arpa, .arpa.gz or .bin (KenLM).")
    ],
    order: Annotated[int, typer.Option("--order", help=f"n-gram order, 1 to {MAX_ORDER}.")] = 4,
    prune: Annotated[
        str,
        typer.Option("--prune", help="lmplz-style count thresholds per order, e.g. 0,0,1."),
    ] = "",
    backend: Annotated[
        str, typer.Option("--backend", help="auto (lmplz when on PATH) | lmplz | python.")
    ] = "auto",
) -> None:
    """Build a word LM (and its unigram list beside it) from text, tokenised like IAM."""
    try:
        thresholds = _parse_prune(prune)
        with err_console.status(f"building {order}-gram language model {out} ..."):
            result = build_lm(texts, out, order, prune=thresholds, backend=backend)
    except HtrError as exc:
        err_console.print(f"error: {exc}", highlight=False, markup=False)
        raise typer.Exit(2 if isinstance(exc, OptionsError) else 1) from None
    counts = ", ".join(f"{n}-grams {c}" for n, c in enumerate(result.ngram_counts, start=1))
    err_console.print(
        f"wrote {result.path} ({result.backend}; {result.sentences} lines, {result.tokens} tokens; "
        f"{counts}) and {result.unigrams_path}",
        highlight=False,
        markup=False,
    )


def _parse_prune(text: str) -> tuple[int, ...]:
    if not text.strip():
        return ()
    try:
        return tuple(int(t) for t in text.replace(",", " ").split())
    except ValueError:
        raise OptionsError(f"--prune {text!r}: expected whole numbers such as 0,0,1") from None
