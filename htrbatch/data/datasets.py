"""Labelled line datasets on disk.

Three layouts are recognised automatically:
- IAM: ``lines.txt`` (IAM's ascii/lines.txt format) beside ``lines/<a01>/<a01-000u>/<id>.png``;
  ``|`` in the transcription means a space, and XML character entities (``&quot;``, as in text
  copied from IAM's XML files) are decoded.
- sidecars: a folder (searched recursively) of images, each with ``<name>.gt.txt`` beside it.
- xml: a collection of page images, each with a PAGE XML or ALTO file (same stem beside it, or
  in a ``page/`` or ``alto/`` subfolder, as Transkribus and eScriptorium export them). Every
  TextLine with text is a sample (its reference cleaned by
  :func:`~htrbatch.data.layout_lines.clean_transcription`); its ``image`` is the page and
  ``line`` its id in the layout file ``layout``. Line types can be filtered (``line_types``).

A labelled line whose image is missing (an IAM row without its file, a ``.gt.txt`` without its
image) is left out, or, with ``keep_missing`` (what ``evaluate`` uses, so that it counts as an
error), kept with the ``.png`` path where its image should be.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from htrbatch.data.layout_lines import clean_transcription, find_layout_pages
from htrbatch.errors import DatasetError, InputError
from htrbatch.formats import read_layout
from htrbatch.metrics import normalize_text

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
# the five XML entities; "&amp;" last, so "&amp;quot;" stays "&quot;"
_XML_ENTITIES = (("&quot;", '"'), ("&apos;", "'"), ("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))


@dataclass(frozen=True)
class Sample:
    """One labelled line: an id unique in its dataset, the image file, the transcription.

    In an xml collection ``image`` is the page image, ``line`` the line's id in the layout
    file ``layout`` (the line image is cut from the page along its polygon); elsewhere both are
    None and ``image`` is the line image."""

    id: str
    image: Path
    text: str
    line: str | None = None
    layout: Path | None = None


@dataclass
class DatasetScan:
    """A dataset's samples, its layout (``iam``, ``sidecar``, ``xml``) and the problems found
    reading it (xml: layout files that cannot be read, or whose image is missing; lines without
    a polygon), with counts of the lines left out for lacking text or the wanted type."""

    samples: list[Sample]
    layout: str
    errors: list[InputError] = field(default_factory=list)
    skipped_empty: int = 0
    skipped_type: int = 0


def _find_lines_txt(root: Path) -> Path | None:
    for cand in (root / "lines.txt", root / "ascii" / "lines.txt"):
        if cand.is_file():
            return cand
    return None


def detect_layout(root: Path) -> str:
    """``"iam"``, ``"sidecar"`` or ``"xml"`` (page images with PAGE XML or ALTO files); raises
    DatasetError if ``root`` is none of them."""
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset folder not found")
    if _find_lines_txt(root) is not None:
        return "iam"
    if next(root.rglob("*.gt.txt"), None) is not None:
        return "sidecar"
    if next(root.rglob("*.xml"), None) is not None:
        return "xml"
    raise DatasetError(
        f"{root}: unknown dataset layout: expected lines.txt with lines/ (IAM), images with "
        "<name>.gt.txt sidecars, or page images with PAGE XML or ALTO files"
    )


def _load_iam(root: Path, keep_missing: bool) -> list[Sample]:
    lines_txt = _find_lines_txt(root)
    assert lines_txt is not None
    img_root = root / "lines"
    samples = []
    for n, raw in enumerate(
        lines_txt.read_text(encoding="utf-8", errors="replace").splitlines(), 1
    ):
        if not raw.strip() or raw.startswith("#"):
            continue
        parts = raw.split(" ")
        # id, segmentation status, gray level, #components, x, y, w, h, then the transcription
        if len(parts) < 9:
            raise DatasetError(f"{lines_txt}:{n}: expected at least 9 fields, got {len(parts)}")
        line_id = parts[0]
        # after those 8 fields the transcription, | for spaces (rejoined if it held a space)
        text = " ".join(parts[8:])
        pieces = line_id.split("-")
        if len(pieces) < 3:
            raise DatasetError(f"{lines_txt}:{n}: bad line id {line_id!r}")
        folder = img_root / pieces[0] / f"{pieces[0]}-{pieces[1]}"
        image = next(
            (
                folder / f"{line_id}{s}"
                for s in IMAGE_SUFFIXES
                if (folder / f"{line_id}{s}").is_file()
            ),
            None,
        )
        if image is None:
            if not keep_missing:
                continue
            image = folder / f"{line_id}.png"
        for entity, char in _XML_ENTITIES:
            text = text.replace(entity, char)
        samples.append(Sample(line_id, image, normalize_text(text.replace("|", " "))))
    return samples


def _load_sidecar(root: Path, keep_missing: bool) -> list[Sample]:
    samples = []
    for gt in sorted(root.rglob("*.gt.txt")):
        stem = gt.name[: -len(".gt.txt")]
        image = next(
            (gt.with_name(stem + s) for s in IMAGE_SUFFIXES if gt.with_name(stem + s).is_file()),
            None,
        )
        if image is None:
            if not keep_missing:
                continue
            image = gt.with_name(stem + ".png")
        text = normalize_text(gt.read_text(encoding="utf-8", errors="replace"))
        samples.append(Sample(str(image.relative_to(root).with_suffix("")), image, text))
    return samples


def _load_xml(root: Path, keep_missing: bool, line_types: tuple[str, ...]) -> DatasetScan:
    pages, errors = find_layout_pages(root, keep_missing=keep_missing)
    scan = DatasetScan([], "xml", list(errors))
    for page in pages:
        try:
            layout = read_layout(page.layout)
        except InputError as exc:
            scan.errors.append(exc)
            continue
        for ln in layout.lines:
            text = clean_transcription(ln.text)
            if not text:
                scan.skipped_empty += 1
                continue
            if line_types and not any(ln.has_type(t) for t in line_types):
                scan.skipped_type += 1
                continue
            if (ln.polygon is None or len(ln.polygon) == 0) and not keep_missing:
                # (kept, the caller reports it when no line image comes of it)
                scan.errors.append(InputError(page.layout, f"line {ln.id}: no polygon"))
                continue
            sample_id = f"{page.image.stem}/{ln.id}"
            scan.samples.append(Sample(sample_id, page.image, text, ln.id, page.layout))
    return scan


def scan_dataset(
    root: str | Path, keep_missing: bool = False, line_types: tuple[str, ...] = ()
) -> DatasetScan:
    """All labelled lines under ``root`` in a stable order (page and reading order for xml),
    and the problems met. Raises DatasetError when there are none.

    ``keep_missing``: also the lines whose image is missing (each with the path where its image
    should be) and, in xml collections, labelled lines without a polygon (so that a caller
    counts them); by default they are left out. ``line_types``: in xml collections, keep only
    lines of these types (:meth:`htrbatch.formats.LayoutLine.has_type`); line datasets have
    no types and ignore it."""
    root = Path(root)
    layout = detect_layout(root)
    if layout == "xml":
        scan = _load_xml(root, keep_missing, tuple(line_types))
    else:
        load = _load_iam if layout == "iam" else _load_sidecar
        scan = DatasetScan(load(root, keep_missing), layout)
    if not scan.samples:
        why = "; ".join(str(e) for e in scan.errors[:3])
        raise DatasetError(
            f"{root}: no labelled line images found ({layout} layout)" + (f": {why}" if why else "")
        )
    return scan


def load_dataset(
    root: str | Path, keep_missing: bool = False, line_types: tuple[str, ...] = ()
) -> list[Sample]:
    """The samples of :func:`scan_dataset` (the problems it met are dropped: callers that report
    them use :func:`scan_dataset`)."""
    return scan_dataset(root, keep_missing, line_types).samples
