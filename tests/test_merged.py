"""A found line that holds two lines is split in two (htrbatch.segment.merged)."""

from __future__ import annotations

import cv2
import numpy as np

from htrbatch.segment import SegmentOptions, segment_page
from htrbatch.segment.merged import best_split
from tests.test_preprocess import FONT, TEXT

PITCH = 90
GAP = 45  # the closing line's baseline, half a pitch below the last full line's


def letter(closing: str | None) -> tuple[np.ndarray, tuple[int, int, int, int] | None]:
    """Four lines of script at a 90 px pitch; with ``closing`` a short line written half a pitch
    below the last one. Returns the page and the closing line's ink box (x0, y0, x1, y1)."""
    ink = np.zeros((PITCH * 7, 1000), np.uint8)
    for i, text in enumerate(TEXT):
        cv2.putText(ink, text, (60, PITCH * (i + 1)), FONT, 1.3, 255, 2, cv2.LINE_AA)
    box = None
    if closing:
        extra = np.zeros_like(ink)
        cv2.putText(extra, closing, (60, PITCH * len(TEXT) + GAP), FONT, 1.3, 255, 2, cv2.LINE_AA)
        ys, xs = np.nonzero(extra > 127)
        box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
        ink = np.maximum(ink, extra)
    return 255 - ink, box


def test_short_line_close_below_its_neighbour_is_split_off():
    page, closing = letter("in the dark")
    assert closing is not None
    before = segment_page(page, SegmentOptions(merge_split=False))
    # Without the stage the closing line is the descender zone of the line above: one box.
    assert len(before.lines) == 4
    assert before.lines[3].bbox[3] >= closing[3] - 2

    seg = segment_page(page, SegmentOptions())
    assert len(seg.lines) == 5
    last, above = seg.lines[4], seg.lines[3]
    assert abs(last.bbox[1] - closing[1]) <= 4 and abs(last.bbox[3] - closing[3]) <= 4
    assert abs(last.bbox[0] - closing[0]) <= 4 and abs(last.bbox[2] - closing[2]) <= 4
    # The line above ends where its own ink ends, above the closing line's core.
    assert above.bbox[3] < closing[3] - 10
    assert above.bbox[2] > closing[2] + 100
    # Each crop holds its own line only: the closing line's crop is about as tall as its ink.
    assert last.image.shape[0] <= closing[3] - closing[1] + 2 * SegmentOptions().pad + 2
    assert seg.regions is not None and [r.lines for r in seg.regions] == [[0, 1, 2, 3, 4]]
    # The lines above are cut as before.
    assert [ln.bbox for ln in seg.lines[:3]] == [ln.bbox for ln in before.lines[:3]]


def test_page_of_whole_lines_is_unchanged():
    page, _ = letter(None)
    off = segment_page(page, SegmentOptions(merge_split=False))
    on = segment_page(page, SegmentOptions())
    assert len(on.lines) == len(off.lines) == 4
    for a, b in zip(on.lines, off.lines):
        assert a.bbox == b.bbox
        assert np.array_equal(a.image, b.image)
        assert np.array_equal(a.polygon, b.polygon)


def test_best_split_finds_the_valley_between_two_lines_only():
    page, closing = letter("in the dark")
    assert closing is not None
    ink = page[PITCH * 3 + 10 :, :] < 128
    two = best_split(ink, PITCH)
    assert two is not None and two.ratio < 0.25 and two.dist > 1.5 * two.core
    one = best_split(letter(None)[0][PITCH * 3 + 10 :, :] < 128, PITCH)
    assert one is not None and one.ratio > 0.25
