"""Layout files other tools exchange: PAGE XML and ALTO, read into one neutral model.

One module per format (``pagexml``, ``alto``); :mod:`htrbatch.formats.layout` holds the model
(:class:`Layout`, :class:`LayoutRegion`, :class:`LayoutLine`) and cutting a line out of its page
image along its polygon. :func:`read_layout` reads either format, deciding by the root element;
:func:`find_layout` finds the file that describes an image, as Transkribus and eScriptorium export
them (same stem beside the image, or in a ``page/`` or ``alto/`` subfolder).

No torch here: these modules sit beside :mod:`htrbatch.io` in the layers.
"""

from __future__ import annotations

from pathlib import Path

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


__all__ = [
    "Layout",
    "LayoutLine",
    "LayoutRegion",
    "cut_line",
    "find_layout",
    "read_layout",
]
