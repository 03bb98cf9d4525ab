"""Tests for htrbatch.preprocess on synthetic pages drawn in the test."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from htrbatch.errors import InputError, OptionsError
from htrbatch.preprocess import (
    PreprocessOptions,
    clean_line,
    detect_rules,
    estimate_noise,
    preprocess_page,
    rotate_page,
)

FONT = cv2.FONT_HERSHEY_SCRIPT_SIMPLEX
TEXT = [
    "the quick brown fox jumps over",
    "a lazy dog while singing loudly",
    "handwriting on ruled paper is fine",
    "but shadows make it harder to read",
]


def text_mask(width: int = 900, pitch: int = 80, angle: float = 0.0) -> np.ndarray:
    """uint8 (H, W) ink coverage 0..255 of a few script lines, rotated by ``angle`` (CCW)."""
    height = pitch * (len(TEXT) + 2)
    ink = np.zeros((height, width), np.uint8)
    for i, text in enumerate(TEXT):
        cv2.putText(ink, text, (60, pitch * (i + 1) + 20), FONT, 1.3, 255, 2, cv2.LINE_AA)
    m = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    return cv2.warpAffine(ink, m, (width, height))


def compose(ink: np.ndarray, paper: float = 230.0, ink_level: float = 45.0) -> np.ndarray:
    a = ink.astype(np.float32) / 255.0
    return paper * (1 - a) + ink_level * a


def rule_layer(shape: tuple[int, int], pitch: int = 80) -> np.ndarray:
    """float32 (H, W) in [0, 1]: ruled lines with a vertical margin line."""
    r = np.zeros(shape, np.uint8)
    for y in range(pitch + 30, shape[0], pitch):
        cv2.line(r, (0, y), (shape[1], y), 255, 2, cv2.LINE_AA)
    cv2.line(r, (40, 0), (40, shape[0]), 255, 2, cv2.LINE_AA)
    return r.astype(np.float32) / 255.0


def u8(img: np.ndarray) -> np.ndarray:
    return np.clip(img, 0, 255).astype(np.uint8)


def test_flattening_makes_shaded_paper_white():
    ink = text_mask()
    h, w = ink.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    shade = 0.45 + 0.55 * xx / w  # paper from ~100 to ~230 across the page
    page = u8(compose(ink) * shade)
    pre = preprocess_page(page)
    paper = pre.image[ink == 0]
    assert np.percentile(paper, 5) > 225
    # Ink stays dark relative to the paper on both the dark and the bright side.
    left, right = pre.image[:, : w // 3], pre.image[:, 2 * w // 3 :]
    assert left[ink[:, : w // 3] > 200].mean() < 140
    assert right[ink[:, 2 * w // 3 :] > 200].mean() < 140
    # The analysis binarisation finds the writing and nothing in the shaded paper.
    assert pre.binary[ink == 0].mean() < 0.002
    assert pre.binary[ink > 200].mean() > 0.9


def test_a_line_image_is_flattened_but_its_long_strokes_and_edges_kept():
    """clean_line: the shading goes, but an underline across the crop (a "rule" to the page
    cleaning) and writing cut by the crop's edge stay."""
    ink = np.zeros((60, 700), np.uint8)
    cv2.putText(ink, "underlined words here", (-8, 38), FONT, 1.3, 255, 2, cv2.LINE_AA)
    cv2.line(ink, (0, 50), (699, 50), 255, 2)
    shade = np.linspace(0.5, 1.0, ink.shape[1], dtype=np.float32)[None, :]
    line = u8(compose(ink) * shade)
    clean = clean_line(line)
    assert clean.shape == line.shape and clean.dtype == np.uint8
    assert np.percentile(clean[ink == 0], 5) > 225  # paper white on the dark side too
    assert clean[50][ink[50] > 200].mean() < 140  # the underline is still there
    assert clean[:, :6][ink[:, :6] > 200].mean() < 140  # so is the cut letter at the edge
    page_clean = preprocess_page(line).image
    assert page_clean[50][ink[50] > 200].mean() > 200  # the page cleaning paints it out


def test_ruled_lines_are_removed_and_writing_kept():
    ink = text_mask()
    rules = rule_layer(ink.shape)
    page = u8(compose(ink) * (1 - 0.4 * rules))
    pre = preprocess_page(page)
    assert pre.rule_mask.any()
    # Rule pixels away from the writing are painted to paper and are not ink.
    near_text = cv2.dilate(ink, np.ones((9, 9), np.uint8)) > 0
    on_rules = (rules > 0.5) & ~near_text
    assert pre.binary[on_rules].mean() < 0.01
    assert np.median(pre.image[on_rules]) > 235
    # The writing survives, including strokes that cross rules.
    assert pre.binary[ink > 200].mean() > 0.85


def test_rules_only_page_binarises_empty():
    shape = (600, 800)
    page = u8(np.full(shape, 225.0) * (1 - 0.45 * rule_layer(shape)))
    pre = preprocess_page(page)
    assert pre.binary.mean() < 0.0005


def test_only_long_continuous_lines_count_as_rules():
    # One rule across the page; a line a fifth of the page long (too short); a dashed line
    # across the page whose dashes cover a third of it (too sparse, even after rejoining).
    page = np.full((600, 1000), 230, np.uint8)
    cv2.line(page, (50, 150), (950, 150), 120, 2)
    cv2.line(page, (300, 300), (500, 300), 120, 2)
    for x in range(50, 950, 120):
        cv2.line(page, (x, 450), (x + 40, 450), 120, 2)
    horizontal, vertical, thickness = detect_rules(page)
    rows = np.nonzero(horizontal.any(axis=1))[0]
    assert rows.min() >= 140 and rows.max() <= 160
    assert horizontal[150, 100:900].all()
    assert not vertical.any()
    assert 1.0 <= thickness <= 4.0
    # Without the long rule nothing on the page is one (the early exit for rule-free pages).
    page[140:161] = 230
    horizontal, vertical, thickness = detect_rules(page)
    assert not horizontal.any() and not vertical.any() and thickness == 0.0


def test_without_rule_removal_rules_stay():
    ink = text_mask()
    rules = rule_layer(ink.shape)
    page = u8(compose(ink) * (1 - 0.4 * rules))
    pre = preprocess_page(page, PreprocessOptions(remove_rules=False))
    assert not pre.rule_mask.any()
    assert pre.binary[(rules > 0.5) & (ink == 0)].mean() > 0.5


@pytest.mark.parametrize("angle", [3.0, -2.0, 6.5])
def test_deskew_angle_sign_and_magnitude(angle):
    page = u8(compose(text_mask(angle=angle)))
    pre = preprocess_page(page)
    assert pre.skew_deg == pytest.approx(angle, abs=0.3)
    # Rotating by -skew makes the lines horizontal: the row profile becomes peakier.
    flat, _ = rotate_page(pre.binary, -pre.skew_deg, fill=0)
    tilted, _ = rotate_page(pre.binary, 0.0, fill=0)

    def peakiness(b):
        p = b.sum(axis=1).astype(float)
        return float((p**2).sum() / max(p.sum(), 1) ** 2)

    assert peakiness(flat) > 1.3 * peakiness(tilted)


def test_deskew_off_reports_zero():
    page = u8(compose(text_mask(angle=3.0)))
    assert preprocess_page(page, PreprocessOptions(deskew=False)).skew_deg == 0.0


def test_noisy_blank_page_is_empty_after_denoising():
    rng = np.random.default_rng(0)
    page = u8(225 + rng.normal(0, 12, (500, 700)))
    assert estimate_noise(page) == pytest.approx(12, rel=0.35)
    pre = preprocess_page(page)
    assert pre.noise_sigma > 5
    assert pre.binary.mean() < 0.0005


@pytest.mark.parametrize("shape", [(1, 1), (2, 2), (5, 5), (3, 120)])
def test_tiny_images(shape):
    for value in (0, 128, 255):
        pre = preprocess_page(np.full(shape, value, np.uint8))
        assert pre.image.shape == shape and pre.binary.shape == shape
        assert pre.binary.dtype == bool and pre.image.dtype == np.uint8


def test_rotate_page_keeps_everything_and_maps_points():
    img = np.full((100, 300), 255, np.uint8)
    img[40:60, 10:20] = 0
    rot, m = rotate_page(img, 30.0)
    assert rot.shape[0] > 100 and rot.shape[1] > 260
    # The dark square's centre lands where the matrix says.
    cx, cy = m @ np.array([14.5, 49.5, 1.0])
    ys, xs = np.nonzero(rot < 128)
    assert abs(xs.mean() - cx) < 1.5 and abs(ys.mean() - cy) < 1.5


def test_bad_options_and_inputs():
    with pytest.raises(OptionsError):
        preprocess_page(np.zeros((10, 10), np.uint8), PreprocessOptions(binarize="magic"))
    with pytest.raises(OptionsError):
        preprocess_page(np.zeros((10, 10), np.uint8), PreprocessOptions(max_skew_deg=-1))
    with pytest.raises(InputError):
        preprocess_page(np.zeros((10, 10, 2), np.uint8))
    with pytest.raises(InputError):
        preprocess_page(np.zeros((10, 10), np.uint16))


def test_noise_estimate_equals_filtering_the_whole_page():
    """estimate_noise filters only the pixels it samples; the figure is the one a float32
    response of the whole page gives (the responses are exact integers either way)."""
    rng = np.random.default_rng(5)
    # small images (every pixel: the median read off a histogram, odd and even counts) and a
    # page (sampled)
    for shape in ((3, 3), (4, 7), (40, 57), (101, 838), (1203, 1790)):
        page = u8(compose(cv2.resize(text_mask(), shape[::-1])) + rng.normal(0, 9, shape))
        kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
        resp = cv2.filter2D(page.astype(np.float32), -1, kernel, borderType=cv2.BORDER_REFLECT)
        step = max(1, int(np.sqrt(page.size / 250_000)))
        reference = float(1.4826 * np.median(np.abs(resp[1:-1:step, 1:-1:step])) / 6.0)
        assert estimate_noise(page) == reference


def test_memory_saving_chunks_do_not_change_the_page(monkeypatch):
    """Rule levelling, rule painting and component look-ups work a chunk at a time on big
    pages; tiny chunks give the very same result as one chunk."""
    import htrbatch.preprocess as pre

    ink = text_mask()
    page = u8(compose(ink) * (1 - 0.4 * rule_layer(ink.shape)))
    whole = preprocess_page(page)
    assert whole.rule_mask.sum() > 1000  # the painting really ran, over many chunks below
    monkeypatch.setattr(pre, "_PAINT_CHUNK", 97)
    monkeypatch.setattr(pre, "_LOOKUP_CHUNK", 20)
    monkeypatch.setattr(pre, "_RULE_CHUNK", 5000)
    labels = np.random.default_rng(0).integers(0, 50, (301, 7), dtype=np.int32)
    table = np.random.default_rng(1).random(50) > 0.5
    assert np.array_equal(pre._lookup(table, labels), table[labels])
    chunked = preprocess_page(page)
    for name in ("image", "binary", "rule_mask"):
        assert np.array_equal(getattr(whole, name), getattr(chunked, name)), name
