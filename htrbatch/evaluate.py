"""Evaluate transcription on a labelled dataset: corpus CER/WER and a per-item report.

The images go through the same pipeline as ``htrbatch transcribe``
(:meth:`~htrbatch.pipeline.Transcriber.transcribe_files`), so the figures are those of its text.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from htrbatch.data.datasets import Sample, scan_dataset
from htrbatch.decode import PUNCTUATION_FIXES, PUNCTUATION_STYLES
from htrbatch.errors import InputError, OptionsError
from htrbatch.formats import read_layout
from htrbatch.metrics import corpus_rates, line_cer, normalize_text
from htrbatch.pipeline import FileJob, FileResult, Transcriber


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
_PROGRESS_EVERY = 16  # items between progress callbacks


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


def _prediction(result: FileResult) -> str:
    """A file's recognised text as one line: its pages' lines joined by spaces."""
    return " ".join(line.text for page in result.pages for line in page.lines)


def _file_predictions(
    results: Generator[FileResult, None, None], errors: list[InputError]
) -> Generator[str, None, None]:
    """Line datasets: each image's prediction (a failed one empty, its error reported)."""
    try:
        for result in results:
            if result.error is not None:
                errors.append(_input_error(result))
            yield _prediction(result)
    finally:
        results.close()


def _input_error(result: FileResult) -> InputError:
    path = str(result.job.path)
    reason = result.error or ""
    prefix = f"{path}: "
    return InputError(path, reason[len(prefix) :] if reason.startswith(prefix) else reason)


def _line_predictions(
    samples: list[Sample], transcriber: Transcriber, errors: list[InputError]
) -> Generator[str, None, None]:
    """xml collections: each sample's prediction, in sample order. Each page image goes through
    :meth:`Transcriber.transcribe_files` once (its lines cut along the layout's polygons by
    ``--segmenter xml``) and each recognised line is matched to its sample by the layout's line
    id. A labelled line that gave no line image (no polygon, polygon outside the page, page
    unreadable) is reported with its file and id and predicted empty."""
    by_page: dict[Path, list[Sample]] = defaultdict(list)
    for s in samples:
        by_page[s.image].append(s)
    results = transcriber.transcribe_files(
        FileJob(page, layout=group[0].layout) for page, group in by_page.items()
    )
    try:
        for page_samples, result in zip(by_page.values(), results, strict=True):
            if result.error is not None:
                errors.append(_input_error(result))
            found: dict[str | None, list[str]] = defaultdict(list)
            for pr in result.pages:
                for line in pr.lines:
                    found[line.id].append(line.text)
            layout = None
            for s in page_samples:
                texts = found.get(s.line)
                if texts:
                    yield texts.pop(0)
                    continue
                if result.error is None:
                    assert s.layout is not None
                    layout = layout or read_layout(s.layout)
                    line = next((ln for ln in layout.lines if ln.id == s.line), None)
                    has_polygon = line is not None and line.polygon is not None
                    why = "polygon lies outside the page" if has_polygon else "no polygon"
                    errors.append(InputError(s.layout, f"line {s.line}: {why}"))
                yield ""
    finally:
        results.close()  # stops the worker processes if scoring was interrupted


def evaluate_dataset(
    dataset: str | Path,
    transcriber: Transcriber,
    progress: Callable[[int, int], None] | None = None,
    scoring: ScoringOptions | None = None,
) -> EvalReport:
    """Transcribe every labelled image of ``dataset`` (IAM layout, ``.gt.txt`` sidecars, or
    page images with PAGE XML/ALTO) the way ``htrbatch transcribe`` does, and score the text
    against the references.

    Each image goes through :meth:`Transcriber.transcribe_files` (its worker processes, its
    reading, cleaning, segmentation and recognition), so the figures are those of the text
    ``transcribe`` writes with the same options. With ``--segmenter none``
    (``transcriber.options.segment.method``) each image is one line; otherwise each image is a
    page, split into lines, and the lines' text joined by spaces is compared with the whole
    ``.gt.txt`` (line breaks count as spaces), which measures segmentation and recognition
    together.

    A collection of page images with PAGE XML or ALTO files is read with ``--segmenter xml``
    (required): every TextLine with text (of the ``line_types`` of the segment options, if
    given) is an item, its prediction the text of the line cut along its polygon.

    An image that is missing (a labelled line without its file) or cannot be read, a layout
    file that cannot be read, a labelled line without a line image, is reported in ``errors``
    and (where it is a labelled line) scored as an empty prediction, so a broken or absent file
    can only make the figures worse, never better. ``scoring`` (default
    :class:`ScoringOptions`) says how the predictions' punctuation is spaced before scoring.
    """
    t0 = time.perf_counter()
    scoring = scoring or ScoringOptions()
    scoring.validate()
    segment = transcriber.options.segment
    scan = scan_dataset(dataset, keep_missing=True, line_types=segment.line_types)
    if (scan.layout == "xml") != (segment.method == "xml"):
        raise OptionsError(
            f"{dataset}: a collection of page images with PAGE XML/ALTO files is read with "
            f"--segmenter xml, a line dataset without it ({scan.layout} layout, "
            f"--segmenter {segment.method})"
        )
    samples = scan.samples
    ref_style = reference_punctuation_style(s.text for s in samples)
    style = ref_style if scoring.punctuation == "auto" else scoring.punctuation
    respace = PUNCTUATION_FIXES.get(style)  # None: as decoded (as-decoded, or auto undecided)
    items: list[EvalItem] = []
    errors: list[InputError] = list(scan.errors)
    if scan.layout == "xml":
        predictions: Generator[str, None, None] = _line_predictions(samples, transcriber, errors)
    else:
        results = transcriber.transcribe_files(FileJob(s.image) for s in samples)
        predictions = _file_predictions(results, errors)
    try:
        for n, (s, pred) in enumerate(zip(samples, predictions, strict=True), 1):
            pred = respace(pred) if respace else pred
            ref = normalize_text(s.text)
            items.append(EvalItem(s.id, ref, normalize_text(pred), line_cer(ref, pred)))
            if progress and (n % _PROGRESS_EVERY == 0 or n == len(samples)):
                progress(n, len(samples))
    finally:
        predictions.close()  # stops the worker processes if scoring was interrupted
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
