"""Where the results of a batch go: one naming rule for every output (``transcribe``'s files,
``--debug-dir`` pictures, ``--jsonl`` resume, and any later backend).

Each input gets a *key*, a relative path without suffix; its outputs are ``<key><suffix>`` under
the output folder (``<key>.json``, ``<key>.txt``, ``<key>.lines.png``):

* A file found under an input folder ``D`` mirrors its path below ``D``: ``scans/a/p1.png``
  (input ``scans/``) -> ``a/p1``.
* A file named directly (an argument or a line of stdin) keeps its path relative to the current
  directory when it lies inside it (``archive/x/b.tif`` -> ``archive/x/b``), else its bare name.
* Page ``N`` of a file with several pages goes into a folder named after the file's key:
  ``book.tif`` -> ``book/book-p1``, ``book/book-p2``. A file with one page keeps ``book``.
* An output made per document rather than per page (``--format pdf``, the searchable PDF) is
  ``<key><suffix>`` whatever the page count: ``book.pdf`` beside the ``book/`` folder.
* Each format has its own suffix (:func:`htrbatch.formats.suffix`): ``.txt``, ``.json``,
  ``.alto.xml``, ``.page.xml``, ``.hocr``, ``.pdf``.

Two inputs that would still share an output (``a/p1.png`` and ``a/p1.jpg``; two input folders
that both hold ``p1.png``; ``book/book-p1.png`` beside ``book.tif``) are refused before any work
with :class:`~htrbatch.errors.OutputNameError`, so no result ever overwrites another. Keys are
compared case-insensitively (and Unicode-normalised), as macOS and Windows file systems do.
Every input may turn out to hold several pages (TIFF, but also animated PNG/GIF/WebP and
multi-picture JPEG files), so every input's page folder is reserved, whatever its suffix.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from PIL import Image

from htrbatch.errors import OutputNameError
from htrbatch.formats import pdf
from htrbatch.formats import per_document as _per_document
from htrbatch.formats import suffix as _suffix
from htrbatch.io import FoundFile
from htrbatch.types import page_suffix

_PAGE_NAME = re.compile(r"(?P<stem>.+)-p[1-9][0-9]*")


@dataclass(frozen=True)
class OutputName:
    """An input file and the key its outputs are named by (see the module docstring)."""

    source: Path
    key: PurePosixPath

    def page_key(self, page: int | None) -> PurePosixPath:
        """The key of one page: the file's key for a single page (``page`` None), else
        ``<key>/<name>-p<page>``."""
        if page is None:
            return self.key
        return self.key / f"{self.key.name}{page_suffix(page)}"

    def path(self, root: str | Path, page: int | None, suffix: str) -> Path:
        """The output of ``page`` under ``root`` ending in ``suffix`` (``.json``, ...)."""
        key = self.page_key(page)
        return Path(root).joinpath(*key.parts[:-1], key.name + suffix)

    def paths(self, root: str | Path, page: int | None, formats: Iterable[str]) -> dict[str, Path]:
        """``{format: path}`` of the per-page formats among ``formats`` for ``page``, e.g.
        ``{"json": root/a/p1.json, "alto": root/a/p1.alto.xml}``."""
        return {
            fmt: self.path(root, page, _suffix(fmt)) for fmt in formats if not _per_document(fmt)
        }

    def document_paths(self, root: str | Path, formats: Iterable[str]) -> dict[str, Path]:
        """``{format: path}`` of the per-document formats among ``formats``: ``<key>.pdf``."""
        return {fmt: self.path(root, None, _suffix(fmt)) for fmt in formats if _per_document(fmt)}

    def written(self, root: str | Path, page: int | None, formats: Iterable[str]) -> bool:
        """Whether every per-page output of ``page`` exists (writes are atomic, so each is
        whole)."""
        return all(p.is_file() for p in self.paths(root, page, formats).values())

    def finished_pages(self, root: str | Path, formats: Sequence[str]) -> list[int | None] | None:
        """The pages of a finished file (``[None]`` for one page, ``[1, ..., n]`` for several),
        or None while any page's outputs are missing.

        The page count is read from the file's header only when the file's page folder exists
        (a run wrote some of its pages), so resuming a batch of finished one-page files opens
        none of them. A per-document output (``pdf``) must exist too."""
        if not all(p.is_file() for p in self.document_paths(root, formats).values()):
            return None
        if not self.paths(root, None, formats):  # only per-document outputs: they are done
            n = page_count(self.source)
            return [None] if n is None or n < 2 else list(range(1, n + 1))
        if self.written(root, None, formats):
            return [None]
        if not self.path(root, 1, "").parent.is_dir():
            return None
        n = page_count(self.source)
        if n is None or n < 2:
            return None
        pages = list(range(1, n + 1))
        return pages if all(self.written(root, p, formats) for p in pages) else None


def page_count(path: str | Path) -> int | None:
    """Pages (frames) in an image file, from its header without decoding pixels, or in a PDF;
    None when the file cannot be opened."""
    if pdf.is_pdf(path):
        try:
            return pdf.page_count(path)
        except Exception:  # unreadable now: the run that reads it will report why
            return None
    try:
        with Image.open(path) as im:
            return int(getattr(im, "n_frames", 1))
    except Exception:  # unreadable now: the run that reads it will report why
        return None


def output_key(found: FoundFile, cwd: str | Path | None = None) -> PurePosixPath:
    """The key of one input (relative, no suffix), by the rule in the module docstring."""
    path = found.path
    rel: Path | None = None
    if found.root is not None:
        rel = path.relative_to(found.root)
    else:
        base = Path(os.getcwd() if cwd is None else cwd).absolute()
        full = base / path  # an absolute path stays as it is
        # normpath keeps "sub/../x.png" inside; resolve() catches a cwd reached through a link
        for here, there in (
            (Path(os.path.normpath(full)), Path(os.path.normpath(base))),
            (full.resolve(), base.resolve()),
        ):
            if here.is_relative_to(there) and here != there:
                rel = here.relative_to(there)
                break
        if rel is None:
            rel = Path(path.name)
    return PurePosixPath(*rel.parts[:-1], Path(rel.parts[-1]).stem)


def _fold(key: PurePosixPath) -> str:
    return unicodedata.normalize("NFC", str(key)).casefold()


def plan_outputs(found: Sequence[FoundFile], cwd: str | Path | None = None) -> list[OutputName]:
    """Each input's :class:`OutputName`, in input order.

    Raises :class:`~htrbatch.errors.OutputNameError` naming every pair of inputs that would
    share an output, before anything is read or written."""
    names = [OutputName(f.path, output_key(f, cwd)) for f in found]
    owner: dict[str, OutputName] = {}
    clashes: list[str] = []
    for name in names:
        other = owner.setdefault(_fold(name.key), name)
        if other is not name:
            clashes.append(
                f"{other.source} and {name.source} would both be written as {name.key}.*"
            )
    for name in names:
        m = _PAGE_NAME.fullmatch(name.key.name)
        parent = name.key.parent
        if (
            m is None
            or parent == PurePosixPath(".")
            or _fold(PurePosixPath(m["stem"])) != _fold(PurePosixPath(parent.name))
        ):
            continue
        other = owner.get(_fold(parent))
        if other is not None:
            clashes.append(
                f"{name.source} would be written as {name.key}.*, where a page of "
                f"{other.source} would go if it has several pages"
            )
    if clashes:
        raise OutputNameError(clashes)
    return names
