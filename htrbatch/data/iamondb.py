"""Read the IAM On-Line Handwriting Database (pen strokes + transcriptions) into memory.

The source is either the distribution folder (``lineStrokes-dev.tar.gz`` and ``ascii-dev.tar.gz``)
or an extracted folder holding ``lineStrokes/`` and ``ascii/``; split lists (``trainset.txt``,
``testset_v.txt``, ``testset_t.txt``) sit in the same folder. Each tarball is read once.
"""

from __future__ import annotations

import re
import tarfile
import xml.etree.ElementTree as ET
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from htrbatch.errors import DatasetError

SPLITS = ("trainset", "testset_v", "testset_t")

_STROKES_TAR = "lineStrokes-dev.tar.gz"
_ASCII_TAR = "ascii-dev.tar.gz"
_SPACES = re.compile(r"\s+")


@dataclass
class OnlineLine:
    """One handwritten text line: transcription and pen strokes.

    ``strokes`` holds one float32 array of shape (N, 3) per pen-down stroke, columns x, y, t
    (sensor units, y grows downwards; t in seconds since the line's first point).
    """

    id: str  # e.g. "a01-000u-01"
    form: str  # e.g. "a01-000u"
    text: str
    strokes: list[np.ndarray] = field(repr=False)


@dataclass
class IamOnDB:
    """Lines read from IAM-OnDB; ``skipped`` counts stroke files without a usable transcription."""

    lines: list[OnlineLine]
    skipped: int = 0


def clean_text(text: str) -> str:
    """Strip and collapse runs of whitespace to single spaces."""
    return _SPACES.sub(" ", text).strip()


def form_of(line_id: str) -> str:
    """``a01-020x-03`` -> ``a01-020x``."""
    return line_id.rsplit("-", 1)[0]


def read_split_list(src: Path, split: str) -> set[str]:
    """Form ids listed in ``<src>/<split>.txt``."""
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}: expected one of {', '.join(SPLITS)}")
    path = Path(src) / f"{split}.txt"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read split list ({exc.strerror or exc})") from exc
    return {s.strip() for s in text.splitlines() if s.strip()}


def parse_csr(text: str) -> list[str]:
    """Transcription lines after ``CSR:`` in an ascii form file, cleaned, blank lines dropped."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip() == "CSR:":
            return [c for c in (clean_text(s) for s in lines[i + 1 :]) if c]
    return []


_POINT_RE = re.compile(rb'<Point\s+x="([-\d.]+)"\s+y="([-\d.]+)"\s+time="([-\d.]+)"\s*/>')


def parse_strokes(data: bytes, where: str) -> list[np.ndarray]:
    """Strokes of one ``lineStrokes`` XML file: list of float32 (N, 3) arrays of x, y, t."""
    # A regex over the fixed attribute order is several times faster than ElementTree on 8k
    # files; a file it does not fully account for goes through the XML parser.
    strokes = []
    for chunk in data.split(b"<Stroke ")[1:]:
        pts = _POINT_RE.findall(chunk)
        if len(pts) != chunk.count(b"<Point"):
            return _parse_strokes_xml(data, where)
        if pts:
            xyt = [(float(x), float(y), float(t)) for x, y, t in pts]
            strokes.append(np.array(xyt, dtype=np.float64))
    if strokes or b"<Point" not in data:
        return _relative_time(strokes)
    return _parse_strokes_xml(data, where)


def _relative_time(strokes: list[np.ndarray]) -> list[np.ndarray]:
    # Raw times are absolute (~1e7 s in some sessions): float32 would round them to whole
    # seconds, so times count from the line's first point.
    if not strokes:
        return []
    t0 = min(float(s[:, 2].min()) for s in strokes)
    out = []
    for s in strokes:
        s = s.copy()
        s[:, 2] -= t0
        out.append(s.astype(np.float32))
    return out


def _parse_strokes_xml(data: bytes, where: str) -> list[np.ndarray]:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise DatasetError(f"{where}: bad stroke XML ({exc})") from exc
    strokes = []
    for stroke in root.iter("Stroke"):
        pts = [(p.get("x"), p.get("y"), p.get("time")) for p in stroke.iter("Point")]
        if not pts:
            continue
        try:
            arr = np.array(pts, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise DatasetError(f"{where}: bad point coordinates ({exc})") from exc
        strokes.append(arr)
    return _relative_time(strokes)


def _iter_tar(path: Path, suffix: str, want: Callable[[str], bool]) -> Iterator[tuple[str, bytes]]:
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                if member.isfile() and member.name.endswith(suffix) and want(member.name):
                    f = tar.extractfile(member)
                    if f is not None:
                        yield member.name, f.read()
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise DatasetError(f"{path}: cannot read tarball ({exc})") from exc


def _iter_folder(
    path: Path, suffix: str, want: Callable[[str], bool]
) -> Iterator[tuple[str, bytes]]:
    for file in sorted(path.rglob(f"*{suffix}")):
        if not want(file.name):
            continue
        try:
            yield str(file), file.read_bytes()
        except OSError as exc:
            raise DatasetError(f"{file}: cannot read ({exc.strerror or exc})") from exc


def _source(
    src: Path, tar_name: str, folder_name: str, suffix: str, want: Callable[[str], bool]
) -> Iterator[tuple[str, bytes]]:
    tar_path, folder = src / tar_name, src / folder_name
    if tar_path.is_file():
        return _iter_tar(tar_path, suffix, want)
    if folder.is_dir():
        return _iter_folder(folder, suffix, want)
    raise DatasetError(
        f"{src}: neither {tar_name} nor {folder_name}/ found (not an IAM-OnDB source)"
    )


def read_ascii_files(src: str | Path, forms: Collection[str] | None = None) -> dict[str, str]:
    """The ascii transcription file (decoded as latin-1) of each form in ``forms`` (None: all)
    at ``src``, by form id; forms without a file are missing. Reads ``ascii-dev.tar.gz`` or
    ``ascii/`` only, not the strokes."""

    def want(name: str) -> bool:
        return forms is None or PurePosixPath(name).stem in forms

    return {
        PurePosixPath(name).stem: data.decode("latin-1")
        for name, data in _source(Path(src), _ASCII_TAR, "ascii", ".txt", want)
    }


def read_iamondb(src: Path, split: str | None = None) -> IamOnDB:
    """Read lines (strokes + cleaned transcription) of ``split`` (None: all) from ``src``.

    Lines come out sorted by id. Stroke files whose form has no ascii file or no CSR line at
    their position are skipped and counted.
    """
    src = Path(src)
    if not src.is_dir():
        raise DatasetError(f"{src}: IAM-OnDB source folder not found")
    forms = read_split_list(src, split) if split is not None else None

    def want_line(name: str) -> bool:
        return forms is None or form_of(PurePosixPath(name).stem) in forms

    transcripts = {form: parse_csr(text) for form, text in read_ascii_files(src, forms).items()}

    lines: list[OnlineLine] = []
    skipped = 0
    for name, data in _source(src, _STROKES_TAR, "lineStrokes", ".xml", want_line):
        line_id = PurePosixPath(name).stem
        form = form_of(line_id)
        try:
            index = int(line_id.rsplit("-", 1)[1]) - 1
        except (IndexError, ValueError):
            skipped += 1
            continue
        csr = transcripts.get(form, [])
        if not 0 <= index < len(csr):
            skipped += 1
            continue
        strokes = parse_strokes(data, name)
        if not strokes:
            skipped += 1
            continue
        lines.append(OnlineLine(id=line_id, form=form, text=csr[index], strokes=strokes))
    if not lines and skipped == 0:
        what = f"split {split}" if split else "any split"
        raise DatasetError(f"{src}: no IAM-OnDB lines found for {what}")
    lines.sort(key=lambda line: line.id)
    return IamOnDB(lines=lines, skipped=skipped)
