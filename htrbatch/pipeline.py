"""Pages in, text out: segment each page into lines, recognise them in width-sorted batches,
decode, and assemble a :class:`~htrbatch.types.PageResult` per page.

Usable from Python without the CLI::

    from htrbatch.pipeline import Transcriber, TranscribeOptions
    from htrbatch.io import read_pages
    t = Transcriber(TranscribeOptions())
    result = t.transcribe_page(read_pages("scan.png")[0])

For many files, :meth:`Transcriber.transcribe_files` streams: ``workers`` processes read,
preprocess, segment and normalise pages while this process runs the recogniser and the decoder;
at most ``workers * prefetch`` files are in flight and results come back in input order, so
memory does not grow with the number of files.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

import cv2
import numpy as np
import torch

from htrbatch.assets import SHIPPED_MODELS, model_file
from htrbatch.data.parallel import opencv_threads_paused
from htrbatch.decode import (
    DecodeOptions,
    DecodeResult,
    beam_search_of,
    build_decoder,
    decode_batch,
)
from htrbatch.errors import InputError, OptionsError
from htrbatch.formats import read_layout
from htrbatch.formats.pdf import DEFAULT_DPI
from htrbatch.io import iter_pages, write_atomic
from htrbatch.model import (
    LineMap,
    LoadedModel,
    collate,
    load_checkpoint,
    prepare_line,
    prepare_line_mapped,
)
from htrbatch.outputs import OutputName
from htrbatch.quantize import QUANTIZE, quantize_model
from htrbatch.runtime import (
    PRECISIONS,
    check_device,
    choose_precision,
    default_workers,
    die_with_parent,
    dtype_name,
    recognizer_threads,
    release_free_memory,
    resolve_device,
    set_threads,
    usable_cpus,
)
from htrbatch.segment import (
    Segmentation,
    SegmentOptions,
    draw_segmentation,
    layout_of,
    segment_layout,
    segment_page,
)
from htrbatch.types import (
    BBox,
    LineImage,
    LineResult,
    PageImage,
    PageResult,
    RegionResult,
    WordResult,
)

# Batch widths are rounded up to this (a few % more padding): a long run then sees a few dozen
# batch shapes instead of one per batch, which keeps the process's memory flat.
WIDTH_MULTIPLE = 32
DEFAULT_WORKERS = default_workers()


@dataclass(frozen=True)
class TranscribeOptions:
    model: str = "default"  # a shipped model's name (assets.SHIPPED_MODELS) or a checkpoint path
    device: str = "auto"  # auto | cpu | cuda
    batch_size: int = 32
    segment: SegmentOptions = field(default_factory=SegmentOptions)
    decode: DecodeOptions = field(default_factory=DecodeOptions)
    precision: str = "auto"  # auto | fp32 | bf16 | fp16, see runtime.choose_precision()
    threads: int = 0  # torch threads for the recogniser; 0 = cores left over by the workers
    workers: int = DEFAULT_WORKERS  # page reader/segmenter processes; 0 = in this process
    prefetch: int = 4  # files in flight per worker (bounds memory)
    dpi: int = DEFAULT_DPI  # PDF pages that are not one scanned image are rendered at this
    quantize: str = "none"  # none | int8 (CPU only; see htrbatch.quantize)

    def validate(self) -> None:
        check_device(self.device)
        if self.batch_size < 1:
            raise OptionsError(f"--batch-size {self.batch_size}: must be at least 1")
        if self.precision not in PRECISIONS:
            raise OptionsError(
                f"--precision {self.precision!r}: expected one of {', '.join(PRECISIONS)}"
            )
        if self.threads < 0:
            raise OptionsError(f"--threads {self.threads}: must be 0 (auto) or more")
        if self.workers < 0:
            raise OptionsError(f"--workers {self.workers}: must be 0 (in-process) or more")
        if self.prefetch < 1:
            raise OptionsError(f"prefetch {self.prefetch}: must be at least 1")
        if not 50 <= self.dpi <= 1200:
            raise OptionsError(f"--dpi {self.dpi}: must be between 50 and 1200")
        if self.quantize not in QUANTIZE:
            raise OptionsError(
                f"--quantize {self.quantize!r}: expected one of {', '.join(QUANTIZE)}"
            )
        if self.quantize != "none" and self.device == "cuda":
            raise OptionsError(
                f"--quantize {self.quantize} runs on the CPU only, not --device cuda"
            )


def model_path(model: str) -> Path:
    """The checkpoint ``--model`` names; a bare word that is neither a shipped model's name nor a
    file is refused naming the shipped models."""
    path = model_file(model)
    if not path.exists() and model not in SHIPPED_MODELS and not Path(model).suffix:
        raise OptionsError(
            f"--model {model}: neither a shipped model ({', '.join(SHIPPED_MODELS)}) "
            "nor a checkpoint file"
        )
    return path


class Recognizer:
    """The CRNN plus a decoder: grayscale line crops in, (text, confidence) out.

    ``threads`` > 0 sets torch's (process-wide) intra-op thread count; 0 leaves it alone.
    """

    def __init__(
        self,
        model: str = "default",
        device: str = "auto",
        batch_size: int = 32,
        decode: DecodeOptions = DecodeOptions(),
        *,
        precision: str = "auto",
        threads: int = 0,
        quantize: str = "none",
    ) -> None:
        self.device = resolve_device(device)
        self.batch_size = batch_size
        set_threads(threads)
        chosen = choose_precision(precision, self.device)
        self.autocast_dtype = chosen.dtype
        # why an explicit --precision runs as something else (the CLI prints it once), or None
        self.precision_note = chosen.note
        self.loaded: LoadedModel = load_checkpoint(model_path(model), self.device)
        if self.device.type == "cpu":
            # oneDNN's convolutions run faster on channels-last weights: 1.42x the recogniser
            # under bf16 autocast, 1.22x in fp32 (docs/benchmarks.md, Speed against Tesseract)
            self.loaded.model.to(memory_format=torch.channels_last)
        if quantize != "none":
            if self.device.type != "cpu":
                raise OptionsError(f"--quantize {quantize} runs on the CPU only, not on {device}")
            self.loaded.model = quantize_model(self.loaded.model, quantize)
        self.charset = self.loaded.charset
        self.decoder = build_decoder(decode, self.charset.labels, self.charset.blank, model=model)

    @property
    def height(self) -> int:
        return self.loaded.config.height

    @property
    def margin(self) -> int:
        """Zero columns after every line of a batch: a line's result does not depend on the
        other lines of its batch (see :func:`htrbatch.model.collate`)."""
        return self.loaded.config.right_reach

    @property
    def stride(self) -> int:
        """Input columns per output frame of the model."""
        return self.loaded.config.width_stride

    @property
    def precision(self) -> str:
        """What the model actually runs in: fp32, bf16 or fp16."""
        return dtype_name(self.autocast_dtype)

    def prepare(self, crop: np.ndarray) -> np.ndarray:
        """A grayscale crop as model input (see :func:`htrbatch.model.prepare_line`)."""
        return prepare_line(crop, self.height)

    def logprobs(self, crops: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Per crop, the model's log-probs (T_i, C) over its true length, in input order."""
        return self.logprobs_prepared([self.prepare(c) for c in crops])

    @torch.inference_mode()
    def logprobs_prepared(self, prepared: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Like :meth:`logprobs` for lines already through :meth:`prepare`."""
        out: list[np.ndarray] = [np.zeros((0, len(self.charset)), np.float32)] * len(prepared)
        # Width-sorted batches: neighbours have similar widths, so little padding is computed.
        order = np.argsort([p.shape[1] for p in prepared], kind="stable")
        dtype = self.autocast_dtype
        cuda = self.device.type == "cuda"
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            x, widths = collate(
                [prepared[i] for i in idx], multiple=WIDTH_MULTIPLE, margin=self.margin
            )
            if cuda:
                x = x.pin_memory()
            x = x.to(self.device, non_blocking=True)
            amp = (
                torch.autocast(self.device.type, dtype=dtype)
                if dtype is not None
                else contextlib.nullcontext()
            )
            with amp:
                lp, lengths = self.loaded.model(x, widths.to(self.device))
            lp = lp.float().cpu().numpy()  # (T, B, C)
            for b, i in enumerate(idx):
                out[i] = lp[: int(lengths[b]), b, :]
        return out

    def decode(self, logprobs: Sequence[np.ndarray]) -> list[DecodeResult]:
        return decode_batch(self.decoder, logprobs)

    def recognize(self, crops: Sequence[np.ndarray]) -> list[DecodeResult]:
        if not crops:
            return []
        return self.decode(self.logprobs(crops))


# --------------------------------------------------------------------------- streaming


def word_boxes(d: DecodeResult, box: BBox, lmap: LineMap, stride: int) -> list[WordResult]:
    """The words of one decoded line with boxes in input-image pixels.

    A word's frames ``[start, end)`` cover prepared columns ``start * stride`` to
    ``end * stride``, mapped back through the line's trim and scale (``lmap``) into the crop at
    ``box``; CTC emits a character on one or two frames, usually at its left part, so the right
    edge is carried half-way to the next word's first frame (to the line's inked end for the
    last word: the recogniser read all of it). y is the line's box."""
    x0, y0, x1, y1 = box
    out = []
    words = d.words
    for k, w in enumerate(words):
        a = x0 + lmap.crop_x(w.start * stride)
        if k + 1 < len(words):
            b = x0 + lmap.crop_x(max(w.end, (w.end + words[k + 1].start) / 2) * stride)
        else:
            b = x0 + max(lmap.crop_x(w.end * stride), lmap.x1)
        a = int(np.clip(np.floor(a), x0, x1 - 1))
        b = int(np.clip(np.ceil(b), a + 1, x1))
        out.append(WordResult(w.text, (a, y0, b, y1), w.confidence))
    return out


def _add_lines(
    res: PageResult,
    boxes: Sequence[BBox],
    decoded: Iterator[DecodeResult],
    maps: Sequence[LineMap] = (),
    stride: int = 1,
    shapes: Sequence[LineShape] = (),
) -> None:
    """Append one line result per box to ``res``, taking the next ``len(boxes)`` decodings;
    with ``maps`` (one per box) each line gets its word boxes, with ``shapes`` its polygon,
    baseline and id."""
    for i, box in enumerate(boxes):
        d = next(decoded)
        words = word_boxes(d, box, maps[i], stride) if i < len(maps) else []
        shape = shapes[i] if i < len(shapes) else LineShape()
        res.lines.append(
            LineResult(
                bbox=box,
                text=d.text,
                confidence=d.confidence,
                words=words,
                polygon=shape.polygon,
                baseline=shape.baseline,
                id=shape.id,
            )
        )


def page_result(
    page: PreparedPage, decoded: Iterator[DecodeResult], stride: int, source: str | None = None
) -> PageResult:
    """The result of a prepared page, its lines taking the next ``len(page.boxes)`` decodings
    (with word boxes); ``source`` overrides the page's own (e.g. an upload's client name). The
    one place a :class:`PageResult` is assembled from prepared lines (CLI, evaluate, serve)."""
    res = PageResult(
        source=page.source if source is None else source,
        width=page.width,
        height=page.height,
        page=page.page,
        skew_deg=page.skew_deg,
        regions=page.regions,
    )
    _add_lines(res, page.boxes, decoded, page.maps, stride, page.shapes)
    return res


def _measured_skew(seg: Segmentation) -> float | None:
    """The skew the segmenter measured, or None when it did not look (``--segmenter none``,
    ``xml``)."""
    return None if seg.method in ("none", "xml") else float(seg.skew_deg)


@dataclass(frozen=True)
class LineShape:
    """What a segmentation knows of a line besides its box: its outline, baseline (input
    pixels) and layout id; None where it does not know."""

    polygon: np.ndarray | None = None
    baseline: np.ndarray | None = None
    id: str | None = None

    @classmethod
    def of(cls, line: LineImage) -> LineShape:
        return cls(line.polygon, line.baseline, line.id)


def page_segmenter(
    path: str | Path, options: SegmentOptions, layout_file: Path | None = None
) -> Callable[[PageImage], Segmentation]:
    """How the pages of the file at ``path`` are split into lines: :func:`segment_page`, or for
    ``--segmenter xml`` :func:`segment_layout` with ``layout_file``, by default the layout file
    found beside the image (read here, once per file: InputError naming the image when there
    is none)."""
    if options.method != "xml":
        return lambda page: segment_page(page.image, options)
    layout = layout_of(path) if layout_file is None else read_layout(layout_file)
    name = Path(path).name

    def from_layout(page: PageImage) -> Segmentation:
        if page.page not in (None, 1):
            raise InputError(
                str(path),
                f"--segmenter xml: {layout.path.name} describes one page, but this file has "
                f"page {page.page}",
            )
        return segment_layout(page.image, layout, options, name)

    return from_layout


@dataclass(frozen=True)
class FileJob:
    """One input file for :meth:`Transcriber.transcribe_files`.

    ``debug``: if set, a folder where a picture of each page with its lines is written, named by
    ``name`` (default: the file's stem) as every output is (:mod:`htrbatch.outputs`):
    ``<debug>/<key>.lines.png``, pages of a multi-page file ``<debug>/<key>/<name>-p<N>.lines.png``.
    ``layout``: with ``--segmenter xml``, the PAGE XML/ALTO file of the page when the caller
    knows it (a collection pairs a layout with the image it names); else it is looked for
    beside the image.
    """

    path: Path
    debug: Path | None = None
    name: OutputName | None = None
    layout: Path | None = None  # --segmenter xml: the page's layout file, when the caller knows

    def debug_path(self, page: int | None) -> Path | None:
        """Where the picture of ``page`` goes, or None without ``debug``."""
        if self.debug is None:
            return None
        name = self.name or OutputName(self.path, PurePosixPath(self.path.stem))
        return name.path(self.debug, page, ".lines.png")


@dataclass
class PreparedPage:
    """A page after reading, preprocessing, segmentation and line normalisation."""

    source: str
    page: int | None
    width: int
    height: int
    boxes: list[BBox]
    lines: list[np.ndarray]  # prepared model input, float32 (H, W_i)
    skew_deg: float | None = None
    maps: list[LineMap] = field(default_factory=list)  # per line, for word boxes
    shapes: list[LineShape] = field(default_factory=list)  # per line, when known
    regions: list[RegionResult] | None = None  # text blocks in reading order, when known


@dataclass
class PreparedFile:
    job: FileJob
    pages: list[PreparedPage]
    error: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)  # read, segment, prepare


@dataclass
class FileResult:
    """What became of one :class:`FileJob`: its pages' results, or why it failed."""

    job: FileJob
    pages: list[PageResult]
    error: str | None = None  # "<path>: <reason>" when the file could not be done

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class StageTimes:
    """Seconds spent per stage, summed over files (worker stages run in parallel with the rest)."""

    read: float = 0.0
    segment: float = 0.0  # preprocessing + line splitting
    prepare: float = 0.0  # line normalisation for the model
    recognise: float = 0.0
    decode: float = 0.0
    files: int = 0
    pages: int = 0
    lines: int = 0
    failed: int = 0

    def add(self, seconds: dict[str, float]) -> None:
        for k, v in seconds.items():
            setattr(self, k, getattr(self, k) + v)


def prepare_file(
    job: FileJob, segment: SegmentOptions, height: int, dpi: int = DEFAULT_DPI
) -> PreparedFile:
    """Read, preprocess, segment and normalise every page of one file (runs in the workers);
    PDF pages are rendered one at a time at ``dpi`` (see :mod:`htrbatch.formats.pdf`).

    Pages are read one at a time and each page image is dropped once its lines are prepared, so
    only one full-resolution page is in memory however many pages the file has.
    Never raises for a bad file: the reason comes back in ``error``."""
    times = {"read": 0.0, "segment": 0.0, "prepare": 0.0}
    try:
        segment_one = page_segmenter(job.path, segment, job.layout)
        pages = iter_pages(job.path, dpi)
        out = []
        while True:
            t0 = time.perf_counter()
            page = next(pages, None)
            t1 = time.perf_counter()
            times["read"] += t1 - t0
            if page is None:
                break
            seg = segment_one(page)
            t2 = time.perf_counter()
            times["segment"] += t2 - t1
            h, w = page.image.shape
            prepared = [prepare_line_mapped(ln.image, height) for ln in seg.lines]
            out.append(
                PreparedPage(
                    source=page.source,
                    page=page.page,
                    width=w,
                    height=h,
                    boxes=[ln.bbox for ln in seg.lines],
                    lines=[p[0] for p in prepared],
                    skew_deg=_measured_skew(seg),
                    maps=[p[1] for p in prepared],
                    shapes=[LineShape.of(ln) for ln in seg.lines],
                    regions=seg.regions,
                )
            )
            times["prepare"] += time.perf_counter() - t2
            if (debug := job.debug_path(page.page)) is not None:
                ok, png = cv2.imencode(".png", draw_segmentation(page.image, seg))
                if ok:
                    write_atomic(debug, png.tobytes())
            del page, seg  # before the next page is read
        return PreparedFile(job, out, None, times)
    except InputError as exc:
        return PreparedFile(job, [], str(exc), times)
    except Exception as exc:  # one bad page must not end a batch of thousands
        return PreparedFile(job, [], f"{job.path}: {exc.__class__.__name__}: {exc}", times)


class _PrepareCall:
    """``prepare_file`` with its fixed arguments, picklable for worker processes."""

    def __init__(self, segment: SegmentOptions, height: int, dpi: int = DEFAULT_DPI) -> None:
        self.segment = segment
        self.height = height
        self.dpi = dpi

    def __call__(self, job: FileJob) -> PreparedFile:
        return prepare_file(job, self.segment, self.height, self.dpi)


def _init_worker(parent: int) -> None:
    # A run killed with -9 must not leave its workers behind.
    die_with_parent(parent)
    # One process per worker is the parallelism; OpenCV's own threads would oversubscribe.
    cv2.setNumThreads(1)
    # Ctrl-C goes to the whole process group: let the parent stop the run and clean up.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _mp_context() -> multiprocessing.context.BaseContext:
    # fork: workers start in milliseconds and import nothing again (spawn would re-import torch
    # and the CLI in each). They never touch torch, only numpy / OpenCV / Pillow.
    if sys.platform == "linux":
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


class _WorkerPool:
    """A process pool fed through a bounded window, results in submission order."""

    def __init__(self, fn: _PrepareCall, workers: int) -> None:
        self.fn = fn
        self.workers = workers
        self.executor = self._start()

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self.workers, _mp_context(), initializer=_init_worker, initargs=(os.getpid(),)
        )

    def submit(self, job: FileJob) -> Future:
        # Workers are forked at the first submit (and after a restart).
        with opencv_threads_paused():
            return self.executor.submit(self.fn, job)

    def restart(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.executor = self._start()

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


def _died(job: FileJob) -> PreparedFile:
    return PreparedFile(job, [], f"{job.path}: a worker process died while reading it")


def prepared_stream(
    jobs: Iterable[FileJob], fn: _PrepareCall, workers: int, window: int
) -> Iterator[PreparedFile]:
    """``fn(job)`` for each job, in job order; in ``workers`` processes with at most ``window``
    jobs submitted and not yet consumed, or in this process when ``workers`` is 0."""
    if workers <= 0:
        yield from map(fn, jobs)
        return
    pool = _WorkerPool(fn, workers)
    todo = iter(jobs)
    pending: deque[tuple[FileJob, Future]] = deque()

    def fill() -> None:
        while len(pending) < window:
            job = next(todo, None)
            if job is None:
                return
            pending.append((job, pool.submit(job)))

    try:
        fill()
        while pending:
            job, fut = pending.popleft()
            try:
                res = fut.result()
            except BrokenProcessPool:
                # A worker died (killed, out of memory, crash in native code) and every job in
                # flight is lost. Redo them one at a time, so only a file that kills a worker
                # again is reported as failed.
                retry = [job] + [j for j, _ in pending]
                pending.clear()
                pool.restart()
                for rjob in retry:
                    try:
                        res = pool.submit(rjob).result()
                    except BrokenProcessPool:
                        pool.restart()
                        res = _died(rjob)
                    yield res
                fill()
                continue
            fill()  # keep the workers busy while the caller uses this result
            yield res
    finally:
        pool.close()


def decode_workers(options: TranscribeOptions) -> int:
    """Beam-search processes for the pipeline: ``options.decode.workers`` if set; else (auto)
    none when ``options.workers`` is 0 (everything in this process), one process beside the
    recogniser when the decoder is beam and there are two or more cores. Measured on 600 lines
    (docs/benchmarks.md, "Speed against Tesseract"): in a thread of the recogniser's process the
    decoder's Python and the recogniser take turns on one interpreter lock."""
    if options.decode.workers is not None:
        return options.decode.workers
    if options.workers == 0:
        return 0
    return 1 if options.decode.decoder == "beam" and usable_cpus() >= 2 else 0


class Transcriber:
    """Segmentation + recognition for whole pages."""

    def __init__(self, options: TranscribeOptions = TranscribeOptions()) -> None:
        options.validate()
        self.options = options
        # the workers have their cores and the recogniser the rest (at least one), unless the
        # workers only clean line images
        threads = recognizer_threads(
            options.threads, options.workers, line_images=options.segment.method == "none"
        )
        self.recognizer = Recognizer(
            options.model,
            options.device,
            options.batch_size,
            replace(options.decode, workers=decode_workers(options)),
            precision=options.precision,
            threads=threads,
            quantize=options.quantize,
        )
        beam = beam_search_of(self.recognizer.decoder)
        if beam is not None:
            # forked now, from the thread that builds the pipeline (one that lives as long as
            # it), so that the decoding processes die with it however it ends
            beam.start(die_with_parent, (os.getpid(),))
        self.stats = StageTimes()

    def segment(self, page: PageImage) -> Segmentation:
        """The lines of ``page`` (with ``--segmenter xml``, those of the layout file beside
        ``page.source``)."""
        return page_segmenter(page.source, self.options.segment)(page)

    def transcribe_segmented(
        self, pages: Sequence[tuple[PageImage, Segmentation]]
    ) -> list[PageResult]:
        """Recognise the lines of several segmented pages in shared batches."""
        lines: list[LineImage] = [ln for _, seg in pages for ln in seg.lines]
        rec = self.recognizer
        prepared = [prepare_line_mapped(ln.image, rec.height) for ln in lines]
        logprobs = rec.logprobs_prepared([p[0] for p in prepared]) if prepared else []
        decoded = iter(rec.decode(logprobs))
        maps = iter([p[1] for p in prepared])
        results = []
        for page, seg in pages:
            h, w = page.image.shape
            res = PageResult(
                source=page.source,
                width=w,
                height=h,
                page=page.page,
                skew_deg=_measured_skew(seg),
                regions=seg.regions,
            )
            boxes = [ln.bbox for ln in seg.lines]
            shapes = [LineShape.of(ln) for ln in seg.lines]
            _add_lines(res, boxes, decoded, [next(maps) for _ in boxes], rec.stride, shapes)
            results.append(res)
        return results

    def transcribe_page(self, page: PageImage) -> PageResult:
        return self.transcribe_segmented([(page, self.segment(page))])[0]

    def transcribe_files(
        self, jobs: Iterable[FileJob], workers: int | None = None
    ) -> Iterator[FileResult]:
        """Transcribe many files, streaming: one :class:`FileResult` per job, in job order.

        Pages are read, preprocessed, segmented and normalised in ``workers`` processes
        (default ``options.workers``; 0 = in this process) while this process recognises and
        decodes. At most ``workers * options.prefetch`` files are in flight, and lines are
        recognised in groups of about ``4 * batch_size`` lines (whole files), so memory stays
        flat however many files there are. A file that cannot be read or processed comes back
        with ``error`` set; the others are unaffected. Stage times accumulate in ``self.stats``.
        """
        workers = self.options.workers if workers is None else workers
        fn = _PrepareCall(self.options.segment, self.recognizer.height, self.options.dpi)
        window = max(2, workers * self.options.prefetch)
        group_lines = self.group_lines
        group: list[PreparedFile] = []
        n_lines = 0
        # Decoding of one group (Python, in a thread) overlaps the recognition of the next
        # (torch, which releases the GIL in its kernels): results still come in job order.
        with ThreadPoolExecutor(1, thread_name_prefix="htrbatch-decode") as decoding:
            pending: tuple[list[PreparedFile], Future] | None = None
            for prepared in prepared_stream(jobs, fn, workers, window):
                self.stats.add(prepared.seconds)
                group.append(prepared)
                n_lines += sum(len(p.lines) for p in prepared.pages)
                if n_lines >= group_lines:
                    started = (group, self._recognise(group, decoding))
                    if pending is not None:
                        yield from self._finish(*pending)
                        release_free_memory()
                    pending = started
                    group, n_lines = [], 0
            if group:
                started = (group, self._recognise(group, decoding))
                if pending is not None:
                    yield from self._finish(*pending)
                pending = started
            if pending is not None:
                yield from self._finish(*pending)

    @property
    def group_lines(self) -> int:
        """How many lines :meth:`transcribe_files` recognises together (whole files: a group
        closes at the first file that brings it to this many). Another backend that groups its
        prepared files the same way gets the same batches, hence the same results."""
        return 4 * self.options.batch_size

    def recognise_prepared(self, group: Sequence[PreparedFile]) -> list[FileResult]:
        """Recognise and decode a group of prepared files in shared batches: one
        :class:`FileResult` per file, in order (a file prepared with an error comes back
        failed). What :meth:`transcribe_files` does with each group, for callers that prepare
        pages elsewhere (the Ray backend's page tasks)."""
        with ThreadPoolExecutor(1, thread_name_prefix="htrbatch-decode") as decoding:
            group = list(group)
            return list(self._finish(group, self._recognise(group, decoding)))

    def _recognise(self, group: list[PreparedFile], decoding: ThreadPoolExecutor) -> Future:
        """Recognise a group's lines here and start decoding them in ``decoding``: a future of
        (decoded lines, error message or None)."""
        lines = [ln for f in group for p in f.pages for ln in p.lines]
        try:
            t0 = time.perf_counter()
            logprobs = self.recognizer.logprobs_prepared(lines) if lines else []
            self.stats.recognise += time.perf_counter() - t0
        except Exception as exc:  # report every file of the group, keep the batch going
            done: Future = Future()
            done.set_result(([], f"recognition failed: {exc.__class__.__name__}: {exc}"))
            return done

        def decode() -> tuple[list[DecodeResult], str | None]:
            try:
                t1 = time.perf_counter()
                decoded = self.recognizer.decode(logprobs)
                self.stats.decode += time.perf_counter() - t1
                return decoded, None
            except Exception as exc:
                return [], f"recognition failed: {exc.__class__.__name__}: {exc}"

        return decoding.submit(decode)

    def _finish(self, group: list[PreparedFile], decoding: Future) -> Iterator[FileResult]:
        stats = self.stats
        decoded, error = decoding.result()
        # After a recognition error ``decoded`` is empty and every file with lines fails, so the
        # files that take results consume them in order.
        results_left = iter(decoded)
        for f in group:
            stats.files += 1
            if f.error is not None or (error is not None and any(p.lines for p in f.pages)):
                stats.failed += 1
                yield FileResult(f.job, [], f.error or f"{f.job.path}: {error}")
                continue
            results = []
            for p in f.pages:
                results.append(page_result(p, results_left, self.recognizer.stride))
                stats.pages += 1
                stats.lines += len(p.boxes)
            yield FileResult(f.job, results)
