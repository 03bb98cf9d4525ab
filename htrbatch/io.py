"""Reading page images and writing results.

Every image becomes uint8 (H, W) grayscale: EXIF orientation applied, 16-bit scaled down,
alpha composited onto white paper, each page of a multi-page TIFF read separately; each page of a
PDF rendered (:mod:`htrbatch.formats.pdf`). Anything that
is not a usable image raises :class:`htrbatch.errors.InputError` naming the file and the reason.
"""

from __future__ import annotations

import functools
import os
import re
import socket
import sys
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from htrbatch.errors import InputError
from htrbatch.formats import pdf
from htrbatch.types import PageImage

IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".gif", ".jp2"}
)
# what a folder is searched for: images and PDFs
INPUT_SUFFIXES = IMAGE_SUFFIXES | {".pdf"}
MIN_SIDE = 8  # smaller than this cannot hold a readable character
MAX_PIXELS = 400_000_000  # ~20000 x 20000; bigger is almost surely a mistake and would exhaust RAM

# Pillow refuses huge images by default with a warning/error; we apply our own clearer limit.
Image.MAX_IMAGE_PIXELS = None


def _to_gray(frame: Image.Image) -> np.ndarray:
    """One PIL frame -> uint8 (H, W) grayscale on white."""
    if frame.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(frame, dtype=np.float64)
        hi = arr.max()
        # 16-bit scans use the full range; some only fill 12 bits: stretch by the real maximum.
        scale = 255.0 / (65535.0 if hi > 4095 else max(hi, 1.0))
        return np.clip(arr * scale, 0, 255).astype(np.uint8)
    if frame.mode in ("RGBA", "LA", "PA") or (frame.mode == "P" and "transparency" in frame.info):
        rgba = frame.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        frame = Image.alpha_composite(paper, rgba)
    return np.asarray(frame.convert("L"), dtype=np.uint8)


def iter_pages(path: str | Path, dpi: float = pdf.DEFAULT_DPI) -> Iterator[PageImage]:
    """The pages of one image file or PDF, one at a time: a PDF's pages are rendered as they are
    asked for (at ``dpi``, or a scanned page's own resolution: :mod:`htrbatch.formats.pdf`)."""
    path = Path(path)
    if path.is_file() and path.stat().st_size > 0 and pdf.is_pdf(path):
        yield from pdf.iter_pages(path, dpi)
    else:
        yield from read_pages(path)


def read_pages(path: str | Path, dpi: float = pdf.DEFAULT_DPI) -> list[PageImage]:
    """All pages of one image file as grayscale arrays (one for most formats, N for TIFF, one
    per page for a PDF rendered at ``dpi``; :func:`iter_pages` holds one page at a time)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file")
    if path.stat().st_size == 0:
        raise InputError(path, "file is empty")
    if pdf.is_pdf(path):
        return list(pdf.iter_pages(path, dpi))
    try:
        with Image.open(path) as im:
            n_frames = getattr(im, "n_frames", 1)
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise InputError(path, f"image is {w}x{h}, over the limit of {MAX_PIXELS:,} pixels")
            pages = []
            for i in range(n_frames):
                im.seek(i)
                frame = ImageOps.exif_transpose(im) if i == 0 else im.copy()
                gray = _to_gray(frame)
                if min(gray.shape) < MIN_SIDE:
                    raise InputError(
                        path,
                        f"image is {gray.shape[1]}x{gray.shape[0]} pixels, too small to hold text",
                    )
                pages.append(PageImage(gray, str(path), i + 1 if n_frames > 1 else None))
            return pages
    except InputError:
        raise
    except UnidentifiedImageError:
        raise InputError(path, "not an image file (unknown or corrupt format)") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise InputError(path, f"cannot decode image ({exc})") from None


@dataclass(frozen=True)
class FoundFile:
    """An input file and the folder it was found under (None when it was named directly).

    Output names mirror the tree below ``root`` (see :mod:`htrbatch.outputs`)."""

    path: Path
    root: Path | None = None


def expand_inputs(
    inputs: Iterable[str], stdin: TextIO | None = None
) -> tuple[list[FoundFile], list[InputError]]:
    """Turn command-line inputs into image and PDF files.

    A directory is searched recursively for image and PDF files (sorted); ``-`` reads more paths
    from ``stdin``, one per line. Missing paths come back as errors rather than stopping the batch.
    Files named explicitly are kept whatever their suffix (reading will judge them). A file
    reached twice is kept once, where it was first reached.
    """
    files: list[FoundFile] = []
    errors: list[InputError] = []
    seen: set[Path] = set()

    def add(p: Path, root: Path | None) -> None:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            files.append(FoundFile(p, root))

    def expand(raw: str) -> Iterator[str]:
        if raw == "-":
            for line in stdin or sys.stdin:
                if line.strip():
                    yield line.strip()
        else:
            yield raw

    for raw in inputs:
        for item in expand(raw):
            p = Path(item)
            if p.is_dir():
                for f in sorted(p.rglob("*")):
                    if f.is_file() and f.suffix.lower() in INPUT_SUFFIXES:
                        add(f, p)
            elif p.is_file():
                add(p, None)
            else:
                errors.append(InputError(p, "no such file or directory"))
    return files, errors


# Temporary files of write_atomic: ".<name>.htrtmp-<pid>-<machine>-<random>.tmp". <machine> tells
# whether <pid> can be checked from here; <random> is mkstemp's 8 characters.
_TEMP_RE = re.compile(
    r"\.(?P<name>.+)\.htrtmp-(?P<pid>\d+)-(?P<machine>[0-9a-f]{8})-[a-z0-9_]{8}\.tmp"
)
_cleared_folders: set[str] = set()


@functools.cache
def machine_tag() -> str:
    """8 hex digits naming this host and PID namespace: process ids of temporary files with this
    tag are ids of this machine's processes, so whether they still run can be checked."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")  # containers on one host: different ids
    except OSError:
        namespace = ""
    ident = f"{socket.gethostname()}\0{namespace}".encode()
    return f"{zlib.crc32(ident):08x}"


def _pid_running(pid: int) -> bool:
    if os.name != "posix":
        return True  # no safe probe (os.kill would terminate it on Windows): assume alive
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: it exists, run by another user
        return True
    return True


def dead_temporary(name: str) -> bool:
    """Whether ``name`` is a temporary file of :func:`write_atomic` whose writer has provably
    ended: written on this machine by a process that no longer runs. Another machine's, a live
    process's (this one's included) and anything else's are not."""
    m = _TEMP_RE.fullmatch(name)
    if m is None or m["machine"] != machine_tag():
        return False
    pid = int(m["pid"])
    return pid != os.getpid() and not _pid_running(pid)


def clear_dead_temporaries(folder: str | Path) -> list[Path]:
    """Remove the temporary files a killed writer left in ``folder`` (see
    :func:`dead_temporary`); those of runs still writing there are kept. Returns what it
    removed."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if entry.name.endswith(".tmp") and dead_temporary(entry.name):
            path = Path(entry.path)
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write via a temporary file in the same folder and rename, so no reader (or a kill -9)
    ever sees a half-written file.

    A run killed with -9 between writing and renaming leaves its hidden temporary file behind.
    The first write of a process into a folder clears such leftovers there (one listing per
    folder, not per file), but only those of writers that have ended on this machine: two runs
    sharing an output folder never delete each other's files in progress."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    folder = os.path.abspath(path.parent)
    if folder not in _cleared_folders:
        _cleared_folders.add(folder)
        clear_dead_temporaries(folder)
    mode = "wb" if isinstance(data, bytes) else "w"
    prefix = f".{path.name}.htrtmp-{os.getpid()}-{machine_tag()}-"
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({} if mode == "wb" else {"encoding": "utf-8"})) as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
