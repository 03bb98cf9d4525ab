"""The server's transcription engine, without any web code: page work in a pool, lines from
concurrent requests recognised together.

* :class:`PagePool` reads, preprocesses, segments and normalises uploaded files with
  :func:`htrbatch.pipeline.prepare_file` in worker processes (``workers`` > 0; a thread with 0),
  so the event loop never blocks on an image.
* :class:`LineBatcher` owns the recogniser in one thread. Requests hand it their prepared lines;
  it waits a short window after the first arrives, takes every request queued by then (up to
  ``max_lines`` lines) and runs them as one width-sorted batch run, then decodes them. Under load
  the recogniser is busy while new requests queue, so batches fill without any waiting.
* :class:`Engine` ties both together: uploaded files in, :class:`~htrbatch.types.PageResult`
  out, exactly as ``transcribe`` builds them (the same lines, boxes, text and confidences).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from htrbatch.data.parallel import opencv_threads_paused
from htrbatch.decode import DecodeResult
from htrbatch.errors import InputError
from htrbatch.formats import pdf
from htrbatch.io import read_pages
from htrbatch.pipeline import FileJob, PreparedFile, Transcriber, page_result, prepare_file
from htrbatch.segment import SegmentOptions
from htrbatch.types import PageResult

if TYPE_CHECKING:
    from htrbatch.pipeline import Recognizer

# Leading bytes of the formats the server takes; anything else is refused before decoding.
SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"II+\x00", "TIFF"),  # BigTIFF
    (b"MM\x00+", "TIFF"),
    (b"%PDF-", "PDF"),
)
PREVIEW_SIDE = 1600  # longest side of the page pictures the web page shows


def sniff(head: bytes) -> str | None:
    """The format named by a file's first bytes (``"PNG"``, ``"JPEG"``, ``"TIFF"``, ``"PDF"``),
    or None for anything else, whatever the file's name or declared content type."""
    for magic, name in SIGNATURES:
        if head.startswith(magic):
            return name
    return None


def check_header(path: Path, max_pixels: int, max_pages: int) -> None:
    """Refuse a file whose header promises more than ``max_pixels`` pixels over all its pages,
    or more than ``max_pages`` pages, before any pixel is decoded (decompression bombs).

    A PDF is judged by its page count alone: its pages are rendered one at a time, each within
    :data:`htrbatch.io.MAX_PIXELS` (:mod:`htrbatch.formats.pdf`)."""
    if pdf.is_pdf(path):
        n = pdf.page_count(path)  # InputError for encrypted or damaged files
        if n > max_pages:
            raise InputError(path, f"{n} pages, over the limit of {max_pages}")
        return
    try:
        with Image.open(path) as im:
            if im.format not in {"PNG", "JPEG", "TIFF", "MPO"}:
                raise InputError(path, f"{im.format} images are not accepted")
            total = 0
            n = int(getattr(im, "n_frames", 1))
            if n > max_pages:
                raise InputError(path, f"{n} pages, over the limit of {max_pages}")
            for i in range(n):
                im.seek(i)  # header of frame i only
                w, h = im.size
                total += w * h
                if total > max_pixels:
                    raise InputError(
                        path, f"over the limit of {max_pixels:,} pixels (page {i + 1} is {w}x{h})"
                    )
    except InputError:
        raise
    except UnidentifiedImageError:
        raise InputError(path, "not an image file (unknown or corrupt format)") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise InputError(path, f"cannot decode image ({exc})") from None


def preview_jpeg(image: np.ndarray, side: int = PREVIEW_SIDE) -> str:
    """A grayscale page as a ``data:image/jpeg`` URL, its longest side at most ``side`` pixels."""
    h, w = image.shape[:2]
    scale = min(1.0, side / max(h, w))
    if scale < 1.0:
        size = (round(w * scale), round(h * scale))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        return ""
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


@dataclass
class Prepared:
    """One upload after page work: the prepared file and, when asked, a picture of each page."""

    file: PreparedFile
    previews: list[str] = field(default_factory=list)


def prepare_upload(
    path: Path,
    segment: SegmentOptions,
    height: int,
    max_pixels: int,
    max_pages: int,
    previews: bool,
) -> Prepared:
    """Page work for one uploaded file (runs in a worker): header limits, then
    :func:`~htrbatch.pipeline.prepare_file`, then page pictures if ``previews``."""
    job = FileJob(path)
    try:
        check_header(path, max_pixels, max_pages)
    except InputError as exc:
        return Prepared(PreparedFile(job, [], str(exc)))
    prepared = Prepared(prepare_file(job, segment, height))
    if previews and prepared.file.error is None:
        with contextlib.suppress(InputError):
            prepared.previews = [preview_jpeg(p.image) for p in read_pages(path)]
    return prepared


def _init_worker() -> None:
    cv2.setNumThreads(1)  # one process per worker is the parallelism
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server stops the pool itself


class PagePool:
    """Page work in ``workers`` processes (forked once, at :meth:`start`), or one thread."""

    def __init__(self, segment: SegmentOptions, height: int, workers: int) -> None:
        self.segment = segment
        self.height = height
        self.workers = workers
        self.executor: Executor | None = None

    def _new(self) -> Executor:
        if self.workers <= 0:
            return ThreadPoolExecutor(1, thread_name_prefix="htr-pages")
        ctx = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
        executor = ProcessPoolExecutor(self.workers, ctx, initializer=_init_worker)
        with opencv_threads_paused():  # fork every worker now, not under load
            for f in [executor.submit(os.getpid) for _ in range(self.workers)]:
                f.result()
        return executor

    def start(self) -> None:
        if self.executor is None:
            self.executor = self._new()

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None

    async def prepare(
        self, path: Path, max_pixels: int, max_pages: int, previews: bool = False
    ) -> Prepared:
        self.start()
        assert self.executor is not None
        args = (path, self.segment, self.height, max_pixels, max_pages, previews)
        try:
            return await asyncio.wrap_future(self.executor.submit(prepare_upload, *args))
        except BrokenProcessPool:
            # A worker died (out of memory, a crash in native code): restart the pool for the
            # requests to come; this file fails.
            old, self.executor = self.executor, None
            old.shutdown(wait=False, cancel_futures=True)
            self.start()
            return Prepared(PreparedFile(FileJob(path), [], f"{path}: a worker process died"))


@dataclass
class _LineJob:
    lines: Sequence[np.ndarray]
    future: Future


@dataclass
class BatchStats:
    batches: int = 0  # recogniser runs
    jobs: int = 0  # requests' line groups recognised
    lines: int = 0
    seconds: float = 0.0  # recognising + decoding


class LineBatcher:
    """The recogniser in one thread; line groups from concurrent requests share its batches.

    After the first waiting group it waits up to ``window_s`` for more, then recognises all the
    groups it has (at most ``max_lines`` lines, whole groups) together."""

    def __init__(self, recognizer: Recognizer, window_s: float, max_lines: int) -> None:
        self.recognizer = recognizer
        self.window_s = window_s
        self.max_lines = max_lines
        self.stats = BatchStats()
        self._queue: queue.Queue[_LineJob | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="htr-recogniser", daemon=True)
            self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def submit(self, lines: Sequence[np.ndarray]) -> Future:
        """A future of one :class:`~htrbatch.decode.DecodeResult` per line, in order."""
        fut: Future = Future()
        self._queue.put(_LineJob(lines, fut))
        return fut

    def _gather(self, first: _LineJob) -> tuple[list[_LineJob], bool]:
        jobs, n = [first], len(first.lines)
        deadline = time.monotonic() + self.window_s
        while n < self.max_lines:
            try:
                job = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if job is None:
                return jobs, True
            jobs.append(job)
            n += len(job.lines)
        return jobs, False

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                break
            jobs, stop = self._gather(first)
            jobs = [j for j in jobs if j.future.set_running_or_notify_cancel()]
            lines = [ln for j in jobs for ln in j.lines]
            t0 = time.perf_counter()
            try:
                decoded = self.recognizer.decode(self.recognizer.logprobs_prepared(lines))
            except Exception as exc:  # every waiting request learns why; the thread goes on
                for j in jobs:
                    j.future.set_exception(exc)
                continue
            stats = self.stats
            stats.batches += 1
            stats.jobs += len(jobs)
            stats.lines += len(lines)
            stats.seconds += time.perf_counter() - t0
            start = 0
            for j in jobs:
                j.future.set_result(decoded[start : start + len(j.lines)])
                start += len(j.lines)


@dataclass(frozen=True)
class Upload:
    """An uploaded file: the name the client gave (shown, never used as a path) and where the
    server stored it."""

    name: str
    path: Path


@dataclass
class Transcribed:
    """One upload's pages, and their pictures when asked."""

    upload: Upload
    pages: list[PageResult]
    previews: list[str]


class Engine:
    """A loaded :class:`~htrbatch.pipeline.Transcriber` serving many requests at once."""

    def __init__(
        self,
        transcriber: Transcriber,
        *,
        batch_window_s: float = 0.02,
        max_pixels: int = 100_000_000,
        max_pages: int = 50,
    ) -> None:
        self.transcriber = transcriber
        options = transcriber.options
        recognizer = transcriber.recognizer
        self.pool = PagePool(options.segment, recognizer.height, options.workers)
        self.batcher = LineBatcher(recognizer, batch_window_s, 4 * options.batch_size)
        self.max_pixels = max_pixels
        self.max_pages = max_pages
        self.pages_done = 0

    def start(self) -> None:
        self.pool.start()  # fork the workers before the recogniser thread exists
        self.batcher.start()

    def close(self) -> None:
        self.batcher.close()
        self.pool.close()

    async def transcribe(
        self, uploads: Sequence[Upload], previews: bool = False
    ) -> list[Transcribed]:
        """Every page of every upload; raises :class:`InputError` naming the first upload (by
        its client name) that is not a usable image."""
        prepared = await asyncio.gather(
            *(self.pool.prepare(u.path, self.max_pixels, self.max_pages, previews) for u in uploads)
        )
        for u, p in zip(uploads, prepared):
            if p.file.error is not None:
                reason = p.file.error.removeprefix(f"{u.path}: ").replace(str(u.path), u.name)
                raise InputError(u.name, reason)
        lines = [ln for p in prepared for page in p.file.pages for ln in page.lines]
        decoded: list[DecodeResult] = []
        if lines:
            decoded = await asyncio.wrap_future(self.batcher.submit(lines))
        it = iter(decoded)
        out = []
        for u, p in zip(uploads, prepared):
            results = []
            for page in p.file.pages:
                results.append(page_result(page, it, self.batcher.recognizer.stride, source=u.name))
            self.pages_done += len(results)
            out.append(Transcribed(u, results, p.previews))
        return out
