"""Tests for text blocks, reading order and archival cleaning (htrbatch.segment.regions) on
pages drawn in the test."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from htrbatch.errors import OptionsError
from htrbatch.segment import SegmentOptions, draw_segmentation, segment_page
from htrbatch.segment.regions import clean_archival, reading_order

FONT = cv2.FONT_HERSHEY_SCRIPT_SIMPLEX
WORDS = ["gardens at kew", "letters in ink", "seeds arrived", "plants and trees", "the herbarium"]


def draw(texts: list[tuple[str, int, int]], size: tuple[int, int] = (1100, 1000)) -> np.ndarray:
    """A uint8 page (H, W) = ``size`` with each (text, x, baseline y) written in script."""
    h, w = size
    ink = np.zeros((h, w), np.uint8)
    for text, x, y in texts:
        cv2.putText(ink, text, (x, y), FONT, 1.2, 255, 2, cv2.LINE_AA)
    page = 232.0 * (1.0 - ink / 255.0) + 45.0 * ink / 255.0
    return np.clip(page, 0, 255).astype(np.uint8)


def two_columns() -> tuple[np.ndarray, list[tuple[str, int, int]]]:
    left = [(WORDS[i % 5][:10], 40, 200 + 70 * i) for i in range(5)]
    # The right column's lines sit between the left column's: one page-wide line finder would
    # cut through them.
    right = [(WORDS[(i + 2) % 5][:10], 560, 235 + 70 * i) for i in range(5)]
    return draw(left + right), left + right


def line_text_side(bbox, split: int = 500) -> str:
    x0, _, x1, _ = bbox
    if x1 <= split + 20:
        return "left"
    if x0 >= split - 20:
        return "right"
    return "both"


def test_columns_become_blocks_read_left_then_right() -> None:
    page, _ = two_columns()
    seg = segment_page(page)
    assert seg.regions is not None and len(seg.regions) == 2
    sides = [line_text_side(ln.bbox) for ln in seg.lines]
    assert "both" not in sides
    assert sides == ["left"] * 5 + ["right"] * 5
    assert seg.regions[0].lines == [0, 1, 2, 3, 4]
    assert seg.regions[1].lines == [5, 6, 7, 8, 9]
    # Without regions the page is one block, and lines run across both columns.
    flat = segment_page(page, SegmentOptions(regions=False))
    assert flat.regions is None
    assert any(line_text_side(ln.bbox) == "both" for ln in flat.lines)


def test_every_line_has_a_polygon_inside_the_page() -> None:
    page, _ = two_columns()
    seg = segment_page(page)
    h, w = page.shape
    for ln in seg.lines:
        assert ln.polygon is not None and len(ln.polygon) >= 4
        assert (ln.polygon[:, 0] >= 0).all() and (ln.polygon[:, 0] <= w - 1).all()
        assert (ln.polygon[:, 1] >= 0).all() and (ln.polygon[:, 1] <= h - 1).all()
        x0, y0, x1, y1 = ln.bbox
        px0, py0 = ln.polygon.min(axis=0)
        px1, py1 = ln.polygon.max(axis=0)
        # The outline holds the line's box (padded) and not much more.
        assert px0 <= x0 + 1 and py0 <= y0 + 1 and px1 >= x1 - 2 and py1 >= y1 - 2
        assert py1 - py0 < 2 * (y1 - y0) + 20


def test_regions_on_every_page_and_drawn() -> None:
    blank = np.full((300, 400), 230, np.uint8)
    assert segment_page(blank).regions == []
    one = draw([("a single line", 40, 150)], (300, 600))
    seg = segment_page(one)
    assert len(seg.lines) == 1 and seg.regions is not None and seg.regions[0].lines == [0]
    picture = draw_segmentation(one, seg)
    # The block's outline is teal, (160, 160, 0) in BGR.
    assert ((picture == (160, 160, 0)).all(axis=2)).any()


def test_reading_order_marginalia_after_the_block_beside_them() -> None:
    heading = (300, 20, 700, 60)
    body = (150, 100, 900, 700)
    margin = (10, 300, 120, 450)  # narrow note left of the body
    footer = (150, 760, 600, 800)
    order = reading_order([footer, margin, body, heading])
    assert order == [3, 2, 1, 0]
    # Two columns of equal width: left before right.
    assert reading_order([(520, 100, 900, 700), (100, 120, 480, 690)]) == [1, 0]


def test_scanner_frame_and_punch_hole_are_not_text() -> None:
    texts = [(WORDS[i], 120, 220 + 80 * i) for i in range(5)]
    clean = draw(texts)
    framed = clean.copy()
    # A dark scanner border (a ring, not solid) and a punch hole near the left edge.
    cv2.rectangle(framed, (0, 0), (999, 1099), 20, 28)
    cv2.circle(framed, (60, 560), 24, 30, -1)
    want = segment_page(clean, SegmentOptions(regions=False, archival=False))
    got = segment_page(framed)
    assert len(got.lines) == len(want.lines) == 5
    for a, b in zip(got.lines, want.lines):
        assert abs(a.bbox[0] - b.bbox[0]) <= 6 and abs(a.bbox[2] - b.bbox[2]) <= 6
    before = segment_page(framed, SegmentOptions(regions=False, archival=False))
    assert len(before.lines) != 5 or before.lines[0].bbox[0] < 60


def test_clean_archival_keeps_writing_removes_lone_specks() -> None:
    page = draw([("writing stays", 100, 200)], (400, 700))
    page[350:353, 600:603] = 0  # a speck far from the writing
    binary = page < 150
    image, cleaned, removed = clean_archival(page, binary)
    assert not cleaned[350:353, 600:603].any()
    assert (image[350:353, 600:603] == 255).all()
    assert cleaned[150:220, 80:500].sum() == binary[150:220, 80:500].sum()
    assert 0 < removed < 0.05


def test_bad_block_options_fail_early() -> None:
    with pytest.raises(OptionsError, match="smear"):
        segment_page(np.full((50, 50), 255, np.uint8), SegmentOptions(smear_x=-1))
