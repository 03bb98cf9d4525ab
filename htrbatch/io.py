"""Reading page images and writing results.

Every image becomes uint8 (H, W) grayscale: EXIF orientation applied, 16-bit scaled down,
alpha composited onto white paper, each page of a multi-page TIFF read separately; each page of a
PDF rendered (:mod:`htrbatch.formats.pdf`). Anything that
is not a usable image raises :class:`htrbatch.errors.InputError` naming the file and the reason.
"""

from __future__ import annotations

import errno
import functools
import os
import re
import socket
import stat
import sys
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np
from PIL import Image, UnidentifiedImageError

from htrbatch.errors import InputError
from htrbatch.formats import pdf
from htrbatch.types import PageImage

IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".gif", ".jp2"}
)
# what a folder is searched for: images and PDFs
INPUT_SUFFIXES = IMAGE_SUFFIXES | {".pdf"}
MIN_SIDE = 8  # smaller than this cannot hold a readable character
# Largest page (pixels, each page of a multi-page file on its own) that is decoded at all. A
# worker process peaks at about 12 bytes per page pixel while it reads, cleans and segments a page
# (page image included; benchmarks/page_memory_bench.py, docs/benchmarks.md "Peak memory per
# page size"), so a page at this limit takes ~1.8 GB per worker: the default 4 workers fit in a
# 16 GB machine beside the recogniser. 150 MP still admits A4 scanned at 1200 dpi (140 MP) and
# A3 at 600 dpi (70 MP); anything bigger is almost surely a mistake or a decompression bomb.
MAX_PIXELS = 150_000_000

# Pillow refuses huge images by default with a warning/error; we apply our own clearer limit.
Image.MAX_IMAGE_PIXELS = None

# EXIF orientation -> the transpose that shows the page upright (as ImageOps.exif_transpose).
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_CHUNK_PIXELS = 1 << 20  # pixels per step when scaling deep images (bounds the float copy)


def _to_gray(frame: Image.Image) -> np.ndarray:
    """One PIL frame -> uint8 (H, W) grayscale on white.

    Memory: besides the decoded frame, only the uint8 result (and one 8-bit copy for colour
    frames) is ever whole; deep images are scaled a chunk of rows at a time.
    """
    if frame.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(frame)
        hi = float(arr.max())
        # 16-bit scans use the full range; some only fill 12 bits: stretch by the real maximum.
        scale = 255.0 / (65535.0 if hi > 4095 else max(hi, 1.0))
        out = np.empty(arr.shape, np.uint8)
        step = max(1, _CHUNK_PIXELS // max(1, arr.shape[1]))
        for y in range(0, arr.shape[0], step):
            chunk = arr[y : y + step].astype(np.float64)
            out[y : y + step] = np.clip(chunk * scale, 0, 255).astype(np.uint8)
        return out
    if frame.mode in ("RGBA", "LA", "PA") or (frame.mode == "P" and "transparency" in frame.info):
        rgba = frame.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        frame = Image.alpha_composite(paper, rgba)
        del rgba, paper
    return np.asarray(frame if frame.mode == "L" else frame.convert("L"), dtype=np.uint8)


def _check_size(path: Path, size: tuple[int, int], frame: int, n_frames: int) -> None:
    """Refuse a frame by its declared size, before anything is decoded."""
    w, h = size
    what = f"page {frame + 1} of {n_frames} is" if n_frames > 1 else "image is"
    if w * h > MAX_PIXELS:
        raise InputError(path, f"{what} {w}x{h} pixels, over the limit of {MAX_PIXELS:,} pixels")
    if min(w, h) < MIN_SIDE:
        raise InputError(path, f"{what} {w}x{h} pixels, too small to hold text")


def _read_frame(im: Image.Image, i: int, path: Path, n_frames: int) -> PageImage:
    """Decode frame ``i`` of an open image (EXIF orientation applied to the first frame)."""
    im.seek(i)
    orientation = im.getexif().get(0x0112) if i == 0 else None
    gray = _to_gray(im)
    if orientation in _ORIENTATION:
        # A pixelwise conversion and a transpose commute: turning the 8-bit result gives what
        # ImageOps.exif_transpose on the decoded frame gives, for a third of the memory on colour.
        gray = np.asarray(Image.fromarray(gray).transpose(_ORIENTATION[orientation]), np.uint8)
    if min(gray.shape) < MIN_SIDE:
        h, w = gray.shape
        raise InputError(path, f"image is {w}x{h} pixels, too small to hold text")
    return PageImage(gray, str(path), i + 1 if n_frames > 1 else None)


def iter_pages(path: str | Path, dpi: float = pdf.DEFAULT_DPI) -> Iterator[PageImage]:
    """The pages of one image file or PDF as grayscale arrays, decoded one at a time (one page
    for most formats, N for a multi-page TIFF; a PDF's pages rendered as they are asked for, at
    ``dpi`` or a scanned page's own resolution: :mod:`htrbatch.formats.pdf`).

    Every page's declared size is checked against :data:`MAX_PIXELS` (and :data:`MIN_SIDE`)
    before the first one is decoded, so a file with one oversized page is refused whole without
    spending memory or time on it. Only the page being decoded and the one the caller holds are
    in memory: drop each page before asking for the next.
    """
    path = Path(path)
    if (why := not_a_file(path)) is not None:
        raise InputError(path, why)
    try:
        if path.stat().st_size == 0:
            raise InputError(path, "file is empty")
        with open(path, "rb"):  # unreadable (permissions): said as such, not as a bad image
            pass
    except PermissionError:
        raise InputError(path, "cannot read file (permission denied)") from None
    except OSError as exc:
        raise InputError(path, f"cannot read file ({exc.strerror or exc})") from None
    if pdf.is_pdf(path):
        yield from pdf.iter_pages(path, dpi)
        return
    try:
        with Image.open(path) as im:
            n_frames = getattr(im, "n_frames", 1)
            for i in range(n_frames):
                im.seek(i)  # reads the frame's header only
                _check_size(path, im.size, i, n_frames)
            for i in range(n_frames):
                yield _read_frame(im, i, path, n_frames)
    except InputError:
        raise
    except UnidentifiedImageError:
        raise InputError(path, "not an image file (unknown or corrupt format)") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise InputError(path, f"cannot decode image ({exc})") from None
    except Exception as exc:  # any other decoder failure (struct.error, IndexError, ...)
        raise InputError(path, f"cannot decode image ({exc.__class__.__name__}: {exc})") from None


def read_pages(path: str | Path, dpi: float = pdf.DEFAULT_DPI) -> list[PageImage]:
    """All pages of one image file or PDF as grayscale arrays (see :func:`iter_pages`, which
    holds only one page in memory at a time)."""
    return list(iter_pages(path, dpi))


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
                for f in _walk_inputs(p, errors):
                    add(f, p)
            elif (why := not_a_file(p)) is None:
                add(p, None)
            else:
                errors.append(InputError(p, why))
    return files, errors


def not_a_file(path: Path) -> str | None:
    """Why ``path`` is not a regular file that can be opened (None when it is one): missing, a
    broken or looping symbolic link, a directory, a FIFO, socket or device (a FIFO would block
    a reader forever)."""
    try:
        st = os.stat(path)
    except OSError as exc:
        if os.path.islink(path):
            if exc.errno == errno.ELOOP:
                return "symbolic link loops back on itself"
            return f"broken symbolic link (its target {os.readlink(path)!r} does not exist)"
        if exc.errno == errno.ENOENT:
            return "no such file or directory"
        return f"cannot read file ({exc.strerror or exc})"
    if stat.S_ISREG(st.st_mode):
        return None
    if stat.S_ISDIR(st.st_mode):
        return "is a directory, not a file"
    kind = (
        "a FIFO (named pipe)"
        if stat.S_ISFIFO(st.st_mode)
        else "a socket"
        if stat.S_ISSOCK(st.st_mode)
        else "a device"
    )
    return f"is {kind}, not a regular file"


def _walk_inputs(root: Path, errors: list[InputError]) -> Iterator[Path]:
    """The image and PDF files below ``root``, sorted, following symbolic links to folders
    (each real folder once, so a link loop ends). Entries with an input suffix that are not
    readable regular files (a broken or looping link, a folder named ``x.png``, a FIFO) are
    reported in ``errors`` instead of being skipped without a word."""
    seen: set[str] = set()
    found: list[Path] = []
    for folder, dirs, names in os.walk(root, followlinks=True, onerror=None):
        real = os.path.realpath(folder)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs.sort()
        for name in sorted(names) + [d for d in dirs if _is_input_name(d)]:
            if not _is_input_name(name):
                continue
            f = Path(folder, name)
            why = not_a_file(f)
            if why is None:
                found.append(f)
            else:
                errors.append(InputError(f, why))
    yield from sorted(found)


def _is_input_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in INPUT_SUFFIXES


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
