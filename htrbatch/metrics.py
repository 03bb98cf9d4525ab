"""Character and word error rates, the standard corpus way.

Text is normalised first (Unicode NFC, runs of whitespace collapsed to one space, ends stripped);
the corpus CER is the total edit distance over the total reference length, not a mean of per-line
rates, so long lines weigh more, as in the IAM literature.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

_SPACES = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text)).strip()


def char_errors(reference: str, prediction: str) -> tuple[int, int]:
    """(edit distance, reference length) on characters after normalisation."""
    ref, hyp = normalize_text(reference), normalize_text(prediction)
    return Levenshtein.distance(ref, hyp), len(ref)


def word_errors(reference: str, prediction: str) -> tuple[int, int]:
    """(edit distance, reference length) on whitespace-separated words after normalisation."""
    ref, hyp = normalize_text(reference).split(), normalize_text(prediction).split()
    return Levenshtein.distance(ref, hyp), len(ref)


def line_cer(reference: str, prediction: str) -> float:
    """One line's CER; an empty reference gives 0 for an empty prediction, else 1 per char."""
    dist, n = char_errors(reference, prediction)
    return dist / n if n else float(dist > 0)


@dataclass(frozen=True)
class ErrorRates:
    cer: float
    wer: float
    chars: int
    words: int
    lines: int


def corpus_rates(pairs: Iterable[tuple[str, str]]) -> ErrorRates:
    """Corpus CER and WER over (reference, prediction) pairs."""
    ce = cn = we = wn = lines = 0
    for ref, hyp in pairs:
        d, n = char_errors(ref, hyp)
        ce, cn = ce + d, cn + n
        d, n = word_errors(ref, hyp)
        we, wn = we + d, wn + n
        lines += 1
    return ErrorRates(
        cer=ce / cn if cn else 0.0, wer=we / wn if wn else 0.0, chars=cn, words=wn, lines=lines
    )
