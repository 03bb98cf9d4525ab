"""Tests for htrbatch.segment on synthetic pages drawn in the test."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from htrbatch.errors import InputError, OptionsError
from htrbatch.segment import Segmentation, SegmentOptions, draw_segmentation, segment_page

TEXT = [
    "the quick brown fox jumps over",
    "a lazy dog while singing loudly",
    "handwriting on ruled paper is fine",
    "but shadows make it harder to read",
    "every line must come out once only",
    "in reading order with a tight box",
]
FONT = cv2.FONT_HERSHEY_SCRIPT_SIMPLEX


def make_page(
    lines: list[str],
    width: int = 1000,
    height: int | None = None,
    pitch: int = 75,
    scale: float = 1.3,
    angle: float = 0.0,
    rules: bool = False,
    shading: bool = False,
    noise: float = 0.0,
    touch: bool = False,
    seed: int = 0,
) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Draw lines of script text; return the uint8 (H, W) page and each line's true box.

    ``angle`` rotates the page counter-clockwise (lines rise to the right); ``touch`` joins each
    line to the next with a long descender stroke, as when writing lines touch.
    """
    rng = np.random.default_rng(seed)
    height = height or pitch * (len(lines) + 2)
    layers = []
    top = pitch
    for i, text in enumerate(lines):
        layer = np.zeros((height, width), np.uint8)
        base = top + i * pitch
        cv2.putText(layer, text, (60, base), FONT, scale, 255, 2, cv2.LINE_AA)
        if touch and i + 1 < len(lines):
            # A descender long enough to reach the next line's x-height zone.
            x = 260 + 190 * (i % 3)
            cv2.line(layer, (x, base), (x - 8, base + pitch - 12), 255, 2, cv2.LINE_AA)
        layers.append(layer)
    m = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    boxes = []
    ink = np.zeros((height, width), np.float32)
    for layer in layers:
        layer = cv2.warpAffine(layer, m, (width, height))
        ys, xs = np.nonzero(layer > 90)
        boxes.append((int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1))
        ink = np.maximum(ink, layer.astype(np.float32) / 255.0)
    paper = np.full((height, width), 232.0, np.float32)
    if rules:
        rule = np.zeros((height, width), np.uint8)
        for y in range(pitch + 12, height, pitch):
            cv2.line(rule, (0, y), (width, y), 255, 2, cv2.LINE_AA)
        cv2.line(rule, (40, 0), (40, height), 255, 2, cv2.LINE_AA)
        rule = cv2.warpAffine(rule, m, (width, height))
        paper *= 1.0 - 0.35 * rule.astype(np.float32) / 255.0
    img = paper * (1.0 - ink) + 45.0 * ink
    if shading:
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        img *= 0.55 + 0.45 * (xx / width) * (0.6 + 0.4 * yy / height)
    if noise:
        img += rng.normal(0, noise, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), boxes


def iou(a, b) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0


def assert_matches(seg: Segmentation, truth) -> None:
    """Same number of lines, in order, each overlapping its true line at IoU >= 0.5."""
    boxes = [line.bbox for line in seg.lines]
    assert len(boxes) == len(truth), (boxes, truth)
    for got, want in zip(boxes, truth):
        assert iou(got, want) >= 0.5, (got, want)


@pytest.mark.parametrize("method", ["projection", "seam", "auto"])
def test_clean_page_lines_boxes_and_order(method):
    gray, truth = make_page(TEXT)
    seg = segment_page(gray, SegmentOptions(method=method))
    assert_matches(seg, truth)
    tops = [line.bbox[1] for line in seg.lines]
    assert tops == sorted(tops)
    assert seg.method in ("projection", "seam")
    for line in seg.lines:
        assert line.image.dtype == np.uint8 and line.image.ndim == 2
        # Cleaned crop: paper background, dark ink.
        assert np.median(line.image) > 200 and line.image.min() < 120


def test_phone_photo_ruled_shaded_rotated_noisy():
    gray, truth = make_page(TEXT, rules=True, shading=True, noise=5.0, angle=3.0, seed=1)
    seg = segment_page(gray)
    # Rules must be neither lines of their own nor stretch the boxes; boxes are in input pixels.
    assert_matches(seg, truth)
    assert seg.skew_deg == pytest.approx(3.0, abs=0.5)


def test_boxes_map_back_through_deskew():
    gray, truth = make_page(TEXT[:4], angle=-4.0, pitch=90)
    seg = segment_page(gray)
    assert seg.skew_deg == pytest.approx(-4.0, abs=0.5)
    assert_matches(seg, truth)
    # Crops are deskewed: much wider than tall, unlike the tilted input boxes.
    for line in seg.lines:
        x0, y0, x1, y1 = line.bbox
        assert line.image.shape[0] < 0.85 * (y1 - y0)


def test_single_line_image_is_one_line():
    gray, truth = make_page(TEXT[:1], width=900, pitch=60)
    ys, xs = np.nonzero(gray < 150)
    # A pre-cut line: the text with a few pixels of paper.
    y0, y1, x0, x1 = ys.min() - 6, ys.max() + 7, xs.min() - 6, xs.max() + 7
    crop = gray[y0:y1, x0:x1]
    seg = segment_page(crop)
    assert len(seg.lines) == 1
    bx0, by0, bx1, by1 = seg.lines[0].bbox
    assert iou(seg.lines[0].bbox, (6, 6, crop.shape[1] - 7, crop.shape[0] - 7)) > 0.8
    assert (bx0, by0) >= (0, 0) and bx1 <= crop.shape[1] and by1 <= crop.shape[0]


def test_touching_lines_are_split_by_seams():
    gray, truth = make_page(TEXT[:5], touch=True, pitch=70)
    auto = segment_page(gray)
    assert auto.method == "seam"
    assert_matches(auto, truth)
    seam = segment_page(gray, SegmentOptions(method="seam"))
    assert_matches(seam, truth)
    for line in seam.lines:
        assert line.image.shape[0] < 1.6 * 70
    # The seam goes round the end of a joining stroke where the gap is free (first two lines),
    # so the stroke stays whole with the upper line; a straight cut chops it at the valley.
    straight = segment_page(gray, SegmentOptions(method="projection"))
    for i in (0, 1):
        stroke_end = 70 + i * 70 + 58
        assert seam.lines[i].bbox[3] >= stroke_end - 3
        assert straight.lines[i].bbox[3] < stroke_end - 15


def slanted_page(pitch: int = 62, tilt: float = 4.0):
    """Lines each turned the other way (+tilt, -tilt, ...), as whiteboard writing drifts."""
    width, height = 1000, pitch * (len(TEXT) + 2)
    ink = np.zeros((height, width), np.float32)
    boxes = []
    for i, text in enumerate(TEXT):
        layer = np.zeros((height, width), np.uint8)
        base = pitch * (i + 1) + 20
        cv2.putText(layer, text, (60, base), FONT, 1.3, 255, 2, cv2.LINE_AA)
        turn = cv2.getRotationMatrix2D((330, base - 12), tilt if i % 2 == 0 else -tilt, 1.0)
        layer = cv2.warpAffine(layer, turn, (width, height))
        ys, xs = np.nonzero(layer > 90)
        boxes.append((int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1))
        ink = np.maximum(ink, layer.astype(np.float32) / 255.0)
    return np.clip(232.0 * (1 - ink) + 45.0 * ink, 0, 255).astype(np.uint8), boxes


def test_lines_with_their_own_slopes_follow_curves():
    gray, truth = slanted_page()
    for method in ("seam", "auto"):
        seg = segment_page(gray, SegmentOptions(method=method))
        assert seg.method == "seam"
        assert_matches(seg, truth)
    # A single page-wide profile cannot separate lines that cross each other's rows.
    flat = segment_page(gray, SegmentOptions(method="projection"))
    assert len(flat.lines) != len(truth)


def test_blank_and_noisy_blank_pages_have_no_lines():
    blank = np.full((600, 800), 228, np.uint8)
    assert segment_page(blank).lines == []
    rng = np.random.default_rng(3)
    noisy = np.clip(228 + rng.normal(0, 8, blank.shape), 0, 255).astype(np.uint8)
    assert segment_page(noisy).lines == []
    shaded, _ = make_page([], shading=True, noise=4.0, height=700)
    assert segment_page(shaded).lines == []


@pytest.mark.parametrize("shape", [(1, 1), (5, 5), (3, 200), (200, 2)])
def test_tiny_images_do_not_fail(shape):
    for value in (0, 255):
        seg = segment_page(np.full(shape, value, np.uint8))
        assert len(seg.lines) <= 1
        for line in seg.lines:
            assert line.bbox == (0, 0, shape[1], shape[0])


def test_method_none_is_whole_image():
    gray, _ = make_page(TEXT[:3])
    seg = segment_page(gray, SegmentOptions(method="none"))
    assert seg.method == "none"
    assert [line.bbox for line in seg.lines] == [(0, 0, gray.shape[1], gray.shape[0])]


def test_bad_options_and_inputs_raise_project_errors():
    with pytest.raises(OptionsError):
        segment_page(np.full((50, 50), 255, np.uint8), SegmentOptions(method="magic"))
    with pytest.raises(InputError):
        segment_page(np.zeros((50, 50), np.float32))
    with pytest.raises(InputError):
        segment_page(np.zeros((0, 10), np.uint8))


def test_draw_segmentation_marks_boxes():
    gray, _ = make_page(TEXT[:3], touch=True)
    seg = segment_page(gray)
    pic = draw_segmentation(gray, seg)
    assert pic.shape == (*gray.shape, 3) and pic.dtype == np.uint8
    # Coloured pixels appear only where something was drawn.
    coloured = (pic.max(axis=2).astype(int) - pic.min(axis=2)) > 60
    x0, y0, x1, y1 = seg.lines[0].bbox
    assert coloured[y0, x0:x1].mean() > 0.9
    assert len(seg.separators) == len(seg.lines) - 1
