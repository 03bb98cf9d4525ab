"""Plain data types passed between pipeline stages (no torch here).

Images are numpy arrays of dtype uint8, shape (H, W), grayscale, dark ink on light paper.
Boxes are ``(x0, y0, x1, y1)`` in pixels of the *input* image, x1/y1 exclusive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

BBox = tuple[int, int, int, int]


def page_suffix(page: int | None) -> str:
    """Suffix added to the output stem: ``-p2`` for page 2 of a multi-page file, else ``""``."""
    return "" if page is None else f"-p{page}"


@dataclass
class PageImage:
    """One page read from an input file.

    ``page`` is the 1-based page number inside a multi-page file (TIFF), or None for a single page.
    """

    image: np.ndarray  # (H, W) uint8 grayscale
    source: str
    page: int | None = None

    @property
    def stem_suffix(self) -> str:
        return page_suffix(self.page)


@dataclass
class LineImage:
    """A text line cut out of a page: the grayscale crop given to the recogniser and its box."""

    image: np.ndarray  # (h, w) uint8 grayscale, dark ink on light background
    bbox: BBox


@dataclass
class WordResult:
    """One recognised word: its text, its box in input-image pixels (x from the recogniser's
    frames, y the line's) and its confidence in [0, 1]."""

    text: str
    bbox: BBox
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "bbox": [int(v) for v in self.bbox],
            "confidence": round(float(self.confidence), 4),
        }


@dataclass
class LineResult:
    bbox: BBox
    text: str
    confidence: float  # in [0, 1]
    words: list[WordResult] = field(default_factory=list)
    # The line's outline and baseline, (N, 2) input-image pixels, when the segmentation or the
    # layout gave them (layout files write them; without them the box stands for the outline).
    polygon: np.ndarray | None = None
    baseline: np.ndarray | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "bbox": [int(v) for v in self.bbox],
            "text": self.text,
            "confidence": round(float(self.confidence), 4),
            "words": [w.to_dict() for w in self.words],
        }


@dataclass
class PageResult:
    source: str
    width: int
    height: int
    lines: list[LineResult] = field(default_factory=list)
    page: int | None = None
    # Skew the segmenter measured and corrected, degrees (> 0: lines rose to the right);
    # None when the page was not segmented (e.g. --segmenter none).
    skew_deg: float | None = None

    @property
    def stem_suffix(self) -> str:
        return page_suffix(self.page)

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source}
        if self.page is not None:
            out["page"] = self.page
        out.update(
            {
                "width": int(self.width),
                "height": int(self.height),
                **({} if self.skew_deg is None else {"skew_deg": round(float(self.skew_deg), 2)}),
                "lines": [line.to_dict() for line in self.lines],
                "text": self.text,
            }
        )
        return out
