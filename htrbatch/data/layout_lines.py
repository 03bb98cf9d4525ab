"""Labelled lines from collections exported as page images + PAGE XML or ALTO.

Transkribus and eScriptorium export a folder of page images with one layout file per page (same
stem beside the image, or in a ``page/`` or ``alto/`` subfolder). Every TextLine with text is a
sample; its image is cut from the page along the line polygon and masked outside it
(:func:`htrbatch.formats.cut_line`). Bad XML, a missing image, empty text or a polygon outside the
page are reported with the file and line id and skipped, and so is a page whose layout does not
fit its image (:func:`htrbatch.segment.layout.check_layout_fits`); the rest goes on.

:func:`export_layout_lines` writes such lines as a ``.gt.txt`` sidecar dataset, which ``train``
and ``evaluate`` read like any other line set.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from htrbatch.errors import InputError
from htrbatch.formats import LayoutLine, cut_line, find_layout, read_layout
from htrbatch.formats.layout import layout_scale
from htrbatch.io import IMAGE_SUFFIXES, read_pages, write_atomic
from htrbatch.metrics import normalize_text
from htrbatch.segment.layout import check_layout_fits

# CATMuS conventions (eScriptorium ground truth): "^" marks a superscript (28^th = 28th).
_CATMUS_MARKS = re.compile(r"\^")


def clean_transcription(text: str) -> str:
    """A layout file's line text as a training/evaluation reference: CATMuS superscript marks
    dropped, whitespace normalised."""
    return normalize_text(_CATMUS_MARKS.sub("", text))


@dataclass(frozen=True)
class LayoutPage:
    """A page image and the layout file that describes it."""

    image: Path
    layout: Path


@dataclass
class LayoutLineSample:
    """One labelled line cut from a page."""

    id: str  # "<page stem>/<line id>", unique in the collection
    page: LayoutPage
    line: LayoutLine
    text: str
    image: np.ndarray  # uint8 (h, w) crop, masked outside the polygon


@dataclass
class LayoutScan:
    """What reading a collection gave: samples in page and reading order, and the problems."""

    samples: list[LayoutLineSample] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    skipped_empty: int = 0
    skipped_type: int = 0


def find_layout_pages(
    root: str | Path, keep_missing: bool = False
) -> tuple[list[LayoutPage], list[InputError]]:
    """Every image under ``root`` (recursive, sorted) that has a layout file, plus an error for
    each layout file whose image cannot be found; with ``keep_missing`` such a layout comes
    back as a page with the path its image should have (beside the layout) instead, so that a
    caller counts its lines (``evaluate`` scores them as unread)."""
    root = Path(root)
    if root.is_file():
        files = [root]
    else:
        files = sorted(p for p in root.rglob("*") if p.is_file())
    pages: list[LayoutPage] = []
    errors: list[InputError] = []
    used: set[Path] = set()
    for f in files:
        if f.suffix.lower() in IMAGE_SUFFIXES:
            layout = find_layout(f)
            if layout is not None:
                pages.append(LayoutPage(f, layout))
                used.add(layout.resolve())
    for f in files:
        if f.suffix.lower() == ".xml" and f.resolve() not in used:
            try:
                lay = read_layout(f)
            except InputError:
                continue  # not a layout file (or broken: reported when its image is found)
            image = lay.image_path()
            if image is None and keep_missing and lay.image_name:
                name = Path(lay.image_name.replace("\\", "/")).name
                pages.append(LayoutPage(f.parent / name, f))
            elif image is None:
                errors.append(
                    InputError(f, f"image {lay.image_name or '(not named)'} not found beside it")
                )
            elif image.resolve() not in {p.image.resolve() for p in pages}:
                pages.append(LayoutPage(image, f))
    return pages, errors


def iter_layout_lines(
    pages: Iterable[LayoutPage],
    *,
    line_types: tuple[str, ...] = (),
    pad: int = 4,
    fix_text: Callable[[str], str] = clean_transcription,
    scan: LayoutScan | None = None,
    ids: Collection[str] | None = None,
) -> Iterator[LayoutLineSample]:
    """The labelled lines of ``pages``, one page image in memory at a time.

    ``line_types``: keep only lines of these types (:meth:`LayoutLine.has_type`); empty = all.
    ``ids``: keep only the lines with these ids (None = all).
    Problems go to ``scan.errors`` (and counts of skipped lines to ``scan``) when given."""
    scan = scan if scan is not None else LayoutScan()
    for page in pages:
        try:
            layout = read_layout(page.layout)
            gray = read_pages(page.image)[0].image
        except InputError as exc:
            scan.errors.append(exc)
            continue
        h, w = gray.shape
        try:
            sx, sy = layout_scale(layout, w, h, page.image.name)
            check_layout_fits(gray, layout, (sx, sy), page.image.name)
        except InputError as exc:  # the layout does not match the image: skip the page
            scan.errors.append(exc)
            continue
        for line in layout.lines:
            if ids is not None and line.id not in ids:
                continue
            text = fix_text(line.text)
            if not text:
                scan.skipped_empty += 1
                continue
            if line_types and not any(line.has_type(t) for t in line_types):
                scan.skipped_type += 1
                continue
            if line.polygon is None:
                scan.errors.append(InputError(page.layout, f"line {line.id}: no polygon"))
                continue
            crop = cut_line(gray, line.polygon * (sx, sy), pad=pad)
            if crop is None:
                scan.errors.append(
                    InputError(page.layout, f"line {line.id}: polygon lies outside the page")
                )
                continue
            yield LayoutLineSample(f"{page.image.stem}/{line.id}", page, line, text, crop)


def export_layout_lines(
    root: str | Path,
    out: str | Path,
    *,
    line_types: tuple[str, ...] = (),
    pad: int = 4,
    progress: Callable[[int, int], None] | None = None,
) -> LayoutScan:
    """Cut every labelled line of the collection under ``root`` into ``out`` as
    ``<page stem>/<line id>.png`` with a ``.gt.txt`` sidecar; returns what was read (samples
    without their images, to keep memory flat) and the problems found."""
    out = Path(out)
    pages, errors = find_layout_pages(root)
    scan = LayoutScan(errors=list(errors))
    done_pages: set[Path] = set()
    for sample in iter_layout_lines(pages, line_types=line_types, pad=pad, scan=scan):
        safe_id = re.sub(r"[^\w.-]", "_", sample.line.id) or "line"
        base = out / re.sub(r"[^\w.() -]", "_", sample.page.image.stem) / safe_id
        ok, png = cv2.imencode(".png", sample.image)
        if not ok:
            scan.errors.append(
                InputError(sample.page.layout, f"line {sample.line.id}: cannot encode")
            )
            continue
        write_atomic(base.with_suffix(".png"), png.tobytes())
        write_atomic(base.with_name(base.name + ".gt.txt"), sample.text + "\n")
        sample.image = np.zeros((0, 0), np.uint8)
        scan.samples.append(sample)
        if progress is not None and sample.page.image not in done_pages:
            done_pages.add(sample.page.image)
            progress(len(done_pages), len(pages))
    return scan
