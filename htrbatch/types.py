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
    """A text line cut out of a page: the grayscale crop given to the recogniser and its box;
    its outline, baseline and id when the segmentation or the layout file gave them."""

    image: np.ndarray  # (h, w) uint8 grayscale, dark ink on light background
    bbox: BBox
    polygon: np.ndarray | None = None  # (N, 2) float, input-image pixels
    baseline: np.ndarray | None = None  # (M, 2) float, input-image pixels, left to right
    id: str | None = None  # the layout file's line id


@dataclass
class RegionResult:
    """A text block of a page: its box and its lines (indices into the page's lines, in reading
    order); ``id`` is the layout file's region id when the regions came from one."""

    bbox: BBox
    lines: list[int]
    id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {} if self.id is None else {"id": self.id}
        out["bbox"] = [int(v) for v in self.bbox]
        out["lines"] = [int(i) for i in self.lines]
        return out


def points_list(pts: np.ndarray) -> list[list[int]]:
    """``(N, 2)`` points as ``[[x, y], ...]`` whole input-image pixels (for JSON)."""
    return [[int(round(float(x))), int(round(float(y)))] for x, y in pts]


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
    id: str | None = None  # the layout file's line id (--segmenter xml)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {} if self.id is None else {"id": self.id}
        out["bbox"] = [int(v) for v in self.bbox]
        if self.polygon is not None and len(self.polygon):
            out["polygon"] = points_list(self.polygon)
        if self.baseline is not None and len(self.baseline):
            out["baseline"] = points_list(self.baseline)
        out.update(
            {
                "text": self.text,
                "confidence": round(float(self.confidence), 4),
                "words": [w.to_dict() for w in self.words],
            }
        )
        return out


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
    # Text blocks in reading order, when known (the layout file's regions with --segmenter xml);
    # None: the page was not divided into regions.
    regions: list[RegionResult] | None = None

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
                **(
                    {} if self.regions is None else {"regions": [r.to_dict() for r in self.regions]}
                ),
                "lines": [line.to_dict() for line in self.lines],
                "text": self.text,
            }
        )
        return out
