"""Documents other tools exchange, read and written in one place: one module per format.

Reading: PAGE XML and ALTO into one neutral model (:mod:`htrbatch.formats.layout`:
:class:`Layout`, :class:`LayoutRegion`, :class:`LayoutLine`, and cutting a line out of its page
image along its polygon). :func:`read_layout` reads either format, deciding by the root element;
:func:`find_layout` finds the file that describes an image, as Transkribus and eScriptorium export
them (same stem beside the image, or in a ``page/`` or ``alto/`` subfolder). PDFs are read as
page images by :mod:`htrbatch.formats.pdf` (which :func:`htrbatch.io.read_pages` dispatches to).

Writing: :data:`SERIALIZERS`, the output formats ``--format`` names, each a small class with a
``name``, a file ``suffix`` and either ``serialize(page) -> str | bytes`` (one file per page:
``txt``, ``json`` in :mod:`~htrbatch.formats.plain`, ``alto``, ``page``, ``hocr``) or, with
``per_document`` true, ``serialize_document(source, pages) -> bytes`` (one file per input
document: ``pdf``, a searchable PDF).

No torch here: these modules sit beside :mod:`htrbatch.io` in the layers.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from htrbatch.formats.layout import (
    Layout,
    LayoutLine,
    LayoutRegion,
    cut_line,
    parse_xml,
)

LAYOUT_SUBFOLDERS = ("", "page", "alto")
LAYOUT_SUFFIXES = (".xml", ".page.xml", ".alto.xml")


def read_layout(path: str | Path) -> Layout:
    """A PAGE XML (2013 or 2019 schema) or ALTO (v2-v4) file as a :class:`Layout`.

    Raises :class:`htrbatch.errors.InputError` naming the file for unreadable XML or a root
    element of neither format.
    """
    from htrbatch.formats import alto, pagexml

    path = Path(path)
    root = parse_xml(path)
    name = root.tag.rsplit("}", 1)[-1]
    if name == "PcGts":
        return pagexml.read(path, root)
    if name == "alto":
        return alto.read(path, root)
    from htrbatch.errors import InputError

    raise InputError(path, f"root element <{name}> is neither PAGE XML <PcGts> nor ALTO <alto>")


def find_layout(image: str | Path) -> Path | None:
    """The layout file of ``image``: ``<stem>.xml`` (or ``.page.xml``/``.alto.xml``) beside it or
    in a ``page/`` or ``alto/`` subfolder of its folder; None when there is none."""
    image = Path(image)
    for sub in LAYOUT_SUBFOLDERS:
        folder = image.parent / sub if sub else image.parent
        for suffix in LAYOUT_SUFFIXES:
            cand = folder / f"{image.stem}{suffix}"
            if cand.is_file():
                return cand
    return None


class Serializer(Protocol):
    """An output format: its ``--format`` name, its file suffix, and whether it writes one file
    per input document (``serialize_document``) or one per page (``serialize``)."""

    name: str
    suffix: str
    per_document: bool


def _serializers() -> dict[str, Serializer]:
    from htrbatch.formats.alto import AltoSerializer
    from htrbatch.formats.hocr import HocrSerializer
    from htrbatch.formats.pagexml import PageXmlSerializer
    from htrbatch.formats.pdf import PdfSerializer
    from htrbatch.formats.plain import JsonSerializer, TextSerializer

    found = [
        TextSerializer(),
        JsonSerializer(),
        AltoSerializer(),
        PageXmlSerializer(),
        HocrSerializer(),
        PdfSerializer(),
    ]
    return {s.name: s for s in found}


SERIALIZERS: dict[str, Serializer] = _serializers()
FORMATS = tuple(SERIALIZERS)


def serializers(names: Sequence[str]) -> list[Serializer]:
    """The serializers of ``names`` (``--format``'s list), in that order; OptionsError naming
    any unknown one."""
    from htrbatch.errors import OptionsError

    bad = [n for n in names if n not in SERIALIZERS]
    if bad or not names:
        raise OptionsError(
            f"--format {','.join(names)!r}: expected a comma-separated subset of "
            f"{','.join(FORMATS)}"
        )
    return [SERIALIZERS[n] for n in names]


def suffix(name: str) -> str:
    """The file suffix of output format ``name`` (``.alto.xml``); ``.<name>`` for others."""
    s = SERIALIZERS.get(name)
    return s.suffix if s is not None else f".{name}"


def per_document(name: str) -> bool:
    """Whether output format ``name`` writes one file per input document (``pdf``)."""
    s = SERIALIZERS.get(name)
    return bool(s is not None and s.per_document)


__all__ = [
    "FORMATS",
    "SERIALIZERS",
    "Serializer",
    "Layout",
    "LayoutLine",
    "LayoutRegion",
    "cut_line",
    "find_layout",
    "per_document",
    "read_layout",
    "serializers",
    "suffix",
]
