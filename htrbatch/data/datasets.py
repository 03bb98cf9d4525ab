"""Labelled line datasets on disk.

Two layouts are recognised automatically:
- IAM: ``lines.txt`` (IAM's ascii/lines.txt format) beside ``lines/<a01>/<a01-000u>/<id>.png``;
  ``|`` in the transcription means a space, and XML character entities (``&quot;``, as in text
  copied from IAM's XML files) are decoded.
- sidecars: a folder (searched recursively) of images, each with ``<name>.gt.txt`` beside it.

A labelled line whose image is missing (an IAM row without its file, a ``.gt.txt`` without its
image) is left out, or, with ``keep_missing`` (what ``evaluate`` uses, so that it counts as an
error), kept with the ``.png`` path where its image should be.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from htrbatch.errors import DatasetError
from htrbatch.metrics import normalize_text

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
# the five XML entities; "&amp;" last, so "&amp;quot;" stays "&quot;"
_XML_ENTITIES = (("&quot;", '"'), ("&apos;", "'"), ("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))


@dataclass(frozen=True)
class Sample:
    """One labelled line: an id unique in its dataset, the image file, the transcription."""

    id: str
    image: Path
    text: str


def _find_lines_txt(root: Path) -> Path | None:
    for cand in (root / "lines.txt", root / "ascii" / "lines.txt"):
        if cand.is_file():
            return cand
    return None


def detect_layout(root: Path) -> str:
    """``"iam"`` or ``"sidecar"``; raises DatasetError if ``root`` is neither."""
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset folder not found")
    if _find_lines_txt(root) is not None:
        return "iam"
    if next(root.rglob("*.gt.txt"), None) is not None:
        return "sidecar"
    raise DatasetError(
        f"{root}: unknown dataset layout: expected lines.txt with lines/ (IAM) "
        "or images with <name>.gt.txt sidecars"
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


def load_dataset(root: str | Path, keep_missing: bool = False) -> list[Sample]:
    """All labelled lines under ``root``, in a stable order. Raises DatasetError when empty.

    ``keep_missing``: also the lines whose image file is missing, each with the path where its
    image should be (so a caller can report it); by default they are left out."""
    root = Path(root)
    layout = detect_layout(root)
    load = _load_iam if layout == "iam" else _load_sidecar
    samples = load(root, keep_missing)
    if not samples:
        raise DatasetError(f"{root}: no labelled line images found ({layout} layout)")
    return samples
