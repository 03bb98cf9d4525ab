"""Evaluate the recogniser on a labelled line dataset: corpus CER/WER and a per-line report."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from htrbatch.data.datasets import load_dataset
from htrbatch.decode import PUNCTUATION_FIXES, PUNCTUATION_STYLES
from htrbatch.errors import InputError, OptionsError
from htrbatch.io import read_pages
from htrbatch.metrics import corpus_rates, line_cer, normalize_text
from htrbatch.pipeline import Recognizer
from htrbatch.segment import SegmentOptions, segment_page


@dataclass
class EvalItem:
    id: str
    reference: str
    prediction: str
    cer: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "reference": self.reference,
            "prediction": self.prediction,
            "cer": round(self.cer, 4),
        }


@dataclass
class EvalReport:
    cer: float
    wer: float
    lines: int
    chars: int
    seconds: float
    items: list[EvalItem] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    # how the references space their sentence marks (None: too few marks to tell), and the
    # style the predictions were re-spaced to before scoring (None: scored as decoded)
    reference_punctuation: str | None = None
    scored_punctuation: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "cer": self.cer,
            "wer": self.wer,
            "lines": self.lines,
            "chars": self.chars,
            "seconds": round(self.seconds, 3),
            "reference_punctuation": self.reference_punctuation,
            "scored_punctuation": self.scored_punctuation,
            "items": [i.to_dict() for i in self.items],
            "errors": [str(e) for e in self.errors],
        }


_MARK = re.compile(r"(?<=\S)( ?)[.,;:?!](?= |$)")


def reference_punctuation_style(references: Iterable[str], min_marks: int = 20) -> str | None:
    """How a labelled set spaces its sentence marks: ``"split"`` when most ``.,;:?!`` that end
    a word stand apart (``tomorrow . Mr.``, IAM ``lines.txt`` tokens joined by spaces),
    ``"attach"`` when most do not, None with fewer than ``min_marks`` marks to go by. What
    ``ScoringOptions(punctuation="auto")`` scores in, and what the CLI warns about when an
    explicit ``--punctuation`` follows the other convention."""
    spaced = attached = 0
    for ref in references:
        for m in _MARK.finditer(ref):
            if m.group(1):
                spaced += 1
            else:
                attached += 1
    if spaced + attached < min_marks:
        return None
    return "split" if spaced > attached else "attach"


EVAL_PUNCTUATION = ("auto", *PUNCTUATION_STYLES)


@dataclass(frozen=True)
class ScoringOptions:
    """How predictions are compared with references.

    ``punctuation``: ``auto`` (the default) re-spaces the predictions' sentence marks to the
    references' convention when the references show one (:func:`reference_punctuation_style`,
    decided from the references alone, once for the whole set); ``attach`` or ``split``
    re-space them to that style; ``as-decoded`` scores the text as the decoder gave it.
    Spacing before a mark is a transcription convention, not something read from the ink:
    IAM ``lines.txt`` writes ``tomorrow . Mr.``, IAM-OnDB ``tomorrow. Mr.``.
    """

    punctuation: str = "auto"

    def validate(self) -> None:
        if self.punctuation not in EVAL_PUNCTUATION:
            raise OptionsError(
                f"--punctuation {self.punctuation}: must be one of {', '.join(EVAL_PUNCTUATION)}"
            )


def evaluate_dataset(
    dataset: str | Path,
    recognizer: Recognizer,
    chunk: int = 256,
    progress: Callable[[int, int], None] | None = None,
    segment: SegmentOptions | None = None,
    scoring: ScoringOptions | None = None,
) -> EvalReport:
    """Recognise every labelled line of ``dataset`` (IAM layout or ``.gt.txt`` sidecars).

    With ``segment`` (a method other than ``none``) each image is a page: it is split into lines,
    and the lines' text joined is compared with the whole ``.gt.txt`` (line breaks count as
    spaces), which measures segmentation and recognition together.

    An unreadable image is reported in ``errors`` and scored as an empty prediction, so a broken
    file can only make the figures worse, never better. ``scoring`` (default
    :class:`ScoringOptions`) says how the predictions' punctuation is spaced before scoring.
    """
    t0 = time.perf_counter()
    scoring = scoring or ScoringOptions()
    scoring.validate()
    samples = load_dataset(dataset)
    ref_style = reference_punctuation_style(s.text for s in samples)
    style = ref_style if scoring.punctuation == "auto" else scoring.punctuation
    respace = PUNCTUATION_FIXES.get(style)  # None: as decoded (as-decoded, or auto undecided)
    items: list[EvalItem] = []
    errors: list[InputError] = []
    for start in range(0, len(samples), chunk):
        part = samples[start : start + chunk]
        crops: list = []
        n_lines: list[int] = []  # crops per sample; 0 = unreadable
        for s in part:
            try:
                image = read_pages(s.image)[0].image
            except InputError as exc:
                errors.append(exc)
                n_lines.append(0)
                continue
            if segment is None or segment.method == "none":
                lines = [image]
            else:
                lines = [ln.image for ln in segment_page(image, segment).lines]
            crops += lines
            n_lines.append(len(lines))
        decoded = iter(recognizer.recognize(crops))
        for s, n in zip(part, n_lines):
            pred = " ".join(next(decoded).text for _ in range(n))
            pred = respace(pred) if respace else pred
            ref = normalize_text(s.text)
            items.append(EvalItem(s.id, ref, normalize_text(pred), line_cer(ref, pred)))
        if progress:
            progress(min(start + chunk, len(samples)), len(samples))
    rates = corpus_rates((i.reference, i.prediction) for i in items)
    return EvalReport(
        cer=rates.cer,
        wer=rates.wer,
        lines=rates.lines,
        chars=rates.chars,
        seconds=time.perf_counter() - t0,
        items=items,
        errors=errors,
        reference_punctuation=ref_style,
        scored_punctuation=style if respace else None,
    )
