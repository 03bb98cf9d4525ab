"""Interlinear insertions split off the line that absorbed them (htrbatch.segment.insertions)."""

from __future__ import annotations

import cv2
import numpy as np

from htrbatch.segment import SegmentOptions, segment_page
from tests.test_preprocess import FONT, TEXT

PITCH = 90


def letter(insert: bool) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Four lines of script; with ``insert`` the word "mostly" written small between the first
    and the second line. Returns the page and the insertion's ink box (x0, y0, x1, y1)."""
    ink = np.zeros((PITCH * (len(TEXT) + 2), 1000), np.uint8)
    for i, text in enumerate(TEXT):
        cv2.putText(ink, text, (60, PITCH * (i + 1)), FONT, 1.3, 255, 2, cv2.LINE_AA)
    word = np.zeros_like(ink)
    if insert:
        cv2.putText(word, "mostly", (400, 2 * PITCH - 40), FONT, 0.7, 255, 2, cv2.LINE_AA)
    ys, xs = np.nonzero(word > 127)
    box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1) if insert else None
    return 255 - np.maximum(ink, word), box


def contains(outer, inner, slack: int = 3) -> bool:
    return (
        outer[0] <= inner[0] + slack
        and outer[1] <= inner[1] + slack
        and outer[2] >= inner[2] - slack
        and outer[3] >= inner[3] - slack
    )


def test_insertion_becomes_its_own_line_between_its_neighbours():
    page, word = letter(insert=True)
    merged = segment_page(page, SegmentOptions(insertions=False))
    assert len(merged.lines) == 4
    # Without the stage the word is the ascender zone of the line below it.
    assert contains(merged.lines[1].bbox, word)

    seg = segment_page(page, SegmentOptions(insertions=True))
    assert len(seg.lines) == 5
    ins = seg.lines[1]
    assert contains(ins.bbox, word)
    # Only the word: no ink of the lines around it.
    assert ins.bbox[2] - ins.bbox[0] < 1.3 * (word[2] - word[0])
    assert ins.bbox[3] - ins.bbox[1] < 1.3 * (word[3] - word[1])
    assert ins.polygon is not None
    assert ins.polygon[:, 1].min() >= word[1] - 8 and ins.polygon[:, 1].max() <= word[3] + 8
    # The line below keeps the rest of its ink: its box now starts below the word.
    below = seg.lines[2]
    assert below.bbox[1] >= word[3] - 2
    assert below.bbox[0] == merged.lines[1].bbox[0] and below.bbox[2] == merged.lines[1].bbox[2]
    # The insertion's crop holds the word and nothing else: paper outside its ink.
    assert (ins.image < 128).sum() > 0
    assert seg.regions is not None and [r.lines for r in seg.regions] == [[0, 1, 2, 3, 4]]
    # The other lines are cut as before.
    assert [ln.bbox for ln in seg.lines[:1] + seg.lines[3:]] == [
        ln.bbox for ln in merged.lines[:1] + merged.lines[2:]
    ]


def test_page_without_insertions_is_unchanged():
    page, _ = letter(insert=False)
    off = segment_page(page, SegmentOptions(insertions=False))
    on = segment_page(page, SegmentOptions(insertions=True))
    assert len(on.lines) == len(off.lines) == 4
    for a, b in zip(on.lines, off.lines):
        assert a.bbox == b.bbox
        assert np.array_equal(a.image, b.image)
        assert np.array_equal(a.polygon, b.polygon)
