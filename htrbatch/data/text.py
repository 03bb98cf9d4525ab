"""Text lines for handwriting synthesis and language models, with held-out text filtered out.

The English text lines we synthesise from (``iam-lines-text.txt``, LOB-corpus lines as written in
IAM) copy the same LOB passages that the IAM-OnDB validation and test forms were written from:
about 20 % of the test 6-grams occur verbatim in that file. ``drop_held_out`` removes every line
that shares a ``LEAK_N``-token sequence with a held-out transcription, plus its neighbours above
and below (a passage broken across lines leaks through its ends too).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from htrbatch.data.iamondb import read_ascii_files, read_split_list
from htrbatch.errors import DatasetError
from htrbatch.lm import tokenize

HELD_OUT_SPLITS = ("testset_v", "testset_t")
LEAK_N = 5  # shared token n-gram length that marks a line as a copy of held-out text


@dataclass(frozen=True)
class FilteredText:
    """Lines kept by ``drop_held_out`` (non-empty, in input order) and what was dropped."""

    lines: list[str]
    total: int  # non-empty input lines
    dropped: int  # input lines dropped (empty neighbours of a leaking line included)


def read_text_lines(path: str | Path) -> list[str]:
    """Every line of a UTF-8 text file, stripped, empty lines kept (indices are line numbers)."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as f:
            return [line.strip() for line in f]
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read text lines ({exc})") from exc


def form_transcriptions(src: str | Path, splits: Iterable[str]) -> list[str]:
    """The ``CSR:`` lines of every IAM-OnDB form listed in ``splits``, forms in sorted id order.

    Reads only the transcriptions (``ascii-dev.tar.gz`` or ``ascii/``), not the strokes, and keeps
    lines that have no stroke file: all of a form's text counts as seen (or as held out).
    """
    src = Path(src)
    forms: set[str] = set()
    for split in splits:
        forms |= read_split_list(src, split)
    by_form: dict[str, list[str]] = {}
    for form, text in read_ascii_files(src, forms).items():
        # Only what follows the marker is the transcription; the OCR block above repeats the
        # typed prompt, not what the writer wrote.
        if "CSR:" in text:
            csr = text.split("CSR:", 1)[1].splitlines()
            by_form[form] = [s.strip() for s in csr if s.strip()]
    return [line for form in sorted(by_form) for line in by_form[form]]


def ngrams(tokens: Sequence[str], n: int) -> set[tuple[str, ...]]:
    """All contiguous token n-grams of ``tokens``."""
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def drop_held_out(lines: Sequence[str], held_out: Iterable[str], n: int = LEAK_N) -> FilteredText:
    """Drop lines sharing an ``n``-token sequence with ``held_out`` text, and their neighbours.

    Tokens are the LM's (``htrbatch.lm.tokenize``), so punctuation spacing does not matter.
    """
    if n < 1:
        raise DatasetError(f"held-out n-gram length must be >= 1, got {n}")
    leak: set[tuple[str, ...]] = set()
    for line in held_out:
        leak |= ngrams(tokenize(line), n)
    drop: set[int] = set()
    for i, line in enumerate(lines):
        if ngrams(tokenize(line), n) & leak:
            drop.update((i - 1, i, i + 1))
    return FilteredText(
        lines=[line for i, line in enumerate(lines) if i not in drop and line],
        total=sum(1 for line in lines if line),
        dropped=len(drop & set(range(len(lines)))),
    )


def load_text_lines(text_file: str | Path, iamondb: str | Path) -> FilteredText:
    """Lines of ``text_file`` without those near IAM-OnDB's held-out (testset_v/t) text."""
    return drop_held_out(read_text_lines(text_file), form_transcriptions(iamondb, HELD_OUT_SPLITS))
