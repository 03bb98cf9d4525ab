"""Fuzzing (hypothesis): random bytes, random arrays of any shape and dtype through the image
reader, the cleaning and the segmentation. Only htrbatch's own errors (HtrError) may come out:
no other exception, no crash, no hang (each example has a time limit)."""

from __future__ import annotations

import contextlib
import io
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from htrbatch.errors import HtrError
from htrbatch.io import iter_pages
from htrbatch.preprocess import clean_line, preprocess_page
from htrbatch.segment import SegmentOptions, segment_page

SETTINGS = settings(
    # a longer campaign: HTRBATCH_FUZZ_EXAMPLES=2000 pytest tests/test_fuzz.py
    max_examples=int(os.environ.get("HTRBATCH_FUZZ_EXAMPLES", "40")),
    deadline=5000,  # ms per example; the alarm below catches a real hang
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize="HTRBATCH_FUZZ_EXAMPLES" not in os.environ,  # reproducible by default
)
LIMIT_S = 20


@contextlib.contextmanager
def time_limit(seconds: int = LIMIT_S) -> Iterator[None]:
    """Fail (TimeoutError) instead of hanging: SIGALRM after ``seconds``."""

    def alarm(signum, frame):  # noqa: ARG001
        raise TimeoutError(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def only_our_errors(fn, *args) -> object:
    """``fn(*args)``; an HtrError is an accepted answer (None), anything else fails the test."""
    with time_limit():
        try:
            return fn(*args)
        except HtrError:
            return None


DTYPES = st.sampled_from(
    [np.uint8, np.int8, np.uint16, np.int32, np.float32, np.float64, np.bool_, np.complex64]
)
SHAPES = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=40)


def arrays(shape=SHAPES, dtype=DTYPES):
    return hnp.arrays(dtype, shape, elements=None, fill=st.nothing()) | hnp.arrays(np.uint8, shape)


# Gray images that are valid for the page stages: (H, W) uint8 of any size, a few shapes
PAGES = hnp.arrays(
    np.uint8,
    st.tuples(st.integers(1, 160), st.integers(1, 160)),
    elements=st.integers(0, 255),
) | st.builds(  # structured: paper with strokes of random ink, more like a page
    lambda h, w, seed: _scribble(h, w, seed),
    st.integers(1, 200),
    st.integers(1, 300),
    st.integers(0, 2**16),
)


def _scribble(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.full((h, w), int(rng.integers(120, 256)), np.uint8)
    for _ in range(int(rng.integers(0, 12))):
        y, x = int(rng.integers(0, h)), int(rng.integers(0, w))
        img[y : y + int(rng.integers(1, 6)), x : x + int(rng.integers(1, 60))] = rng.integers(
            0, 120
        )
    return img


@SETTINGS
@given(a=arrays())
@example(a=np.zeros((0, 0, 3), np.uint8))  # found by a longer run: cv2.error escaped
@example(a=np.zeros((5, 5, 3), np.float64))
def test_cleaning_and_segmentation_take_any_array(a: np.ndarray) -> None:
    """Any shape and dtype: a result or an HtrError naming what is wrong."""
    only_our_errors(preprocess_page, a)
    only_our_errors(clean_line, a)
    only_our_errors(segment_page, a)


@SETTINGS
@given(page=PAGES, method=st.sampled_from(["auto", "projection", "seam", "none"]))
def test_segmentation_of_any_gray_page(page: np.ndarray, method: str) -> None:
    """Every valid gray image (1x1 upwards, flat, noise, scribbles) gives lines inside the page."""
    seg = only_our_errors(segment_page, page, SegmentOptions(method=method))
    assert seg is not None  # a valid image is never refused
    h, w = page.shape
    for line in seg.lines:
        x0, y0, x1, y1 = line.bbox
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h, (line.bbox, page.shape)
        assert line.image.dtype == np.uint8 and line.image.ndim == 2


@SETTINGS
@given(page=PAGES)
def test_cleaning_of_any_gray_page(page: np.ndarray) -> None:
    pre = only_our_errors(preprocess_page, page)
    assert pre is not None
    assert pre.image.shape == page.shape and pre.image.dtype == np.uint8
    line = only_our_errors(clean_line, page)
    assert line.shape == page.shape and line.dtype == np.uint8


def _encode(img: np.ndarray, fmt: str, mode: str) -> bytes:
    im = Image.fromarray(img)
    if mode == "I;16":
        im = Image.fromarray(img.astype(np.uint16) * 257)
    elif mode != "L":
        im = im.convert(mode)
    buf = io.BytesIO()
    im.save(buf, fmt)
    return buf.getvalue()


FORMATS = st.sampled_from(
    [
        ("PNG", "L"),
        ("PNG", "I;16"),
        ("PNG", "RGBA"),
        ("PNG", "P"),
        ("JPEG", "L"),
        ("JPEG", "CMYK"),
        ("TIFF", "L"),
        ("TIFF", "I;16"),
        ("BMP", "RGB"),
        ("GIF", "P"),
        ("WEBP", "RGB"),
    ]
)


@SETTINGS
@given(
    page=PAGES,
    fmt=FORMATS,
    cut=st.one_of(st.none(), st.floats(0.0, 1.0)),
    flips=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)), max_size=8),
)
def test_reader_takes_any_bytes(
    tmp_path_factory: pytest.TempPathFactory, page: np.ndarray, fmt: tuple[str, str], cut, flips
) -> None:
    """An image file, truncated and with bytes flipped at random: pages or an InputError."""
    data = bytearray(_encode(page, *fmt))
    for where, value in flips:
        data[int(where * (len(data) - 1))] = value
    if cut is not None:
        data = data[: int(cut * len(data))]
    p = Path(tmp_path_factory.mktemp("fuzz")) / f"x.{fmt[0].lower()}"
    p.write_bytes(bytes(data))
    pages = only_our_errors(lambda: list(iter_pages(p)))
    for pg in pages or []:
        assert pg.image.dtype == np.uint8 and pg.image.ndim == 2 and min(pg.image.shape) >= 8


@SETTINGS
@given(data=st.binary(max_size=2048), suffix=st.sampled_from([".png", ".jpg", ".tif", ".pdf"]))
def test_reader_takes_random_bytes(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, suffix: str
) -> None:
    p = Path(tmp_path_factory.mktemp("fuzz")) / f"x{suffix}"
    p.write_bytes(data)
    only_our_errors(lambda: list(iter_pages(p)))
