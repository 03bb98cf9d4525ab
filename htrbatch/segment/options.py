"""Options and result of page segmentation (:func:`htrbatch.segment.segment_page`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from htrbatch.errors import OptionsError
from htrbatch.preprocess import PreprocessOptions
from htrbatch.types import LineImage, RegionResult

METHODS = ("auto", "projection", "seam", "none", "xml")


@dataclass(frozen=True)
class SegmentOptions:
    """How a page is split into lines. Lengths relative to the typical text height are in units
    of the page's area-weighted median component height (``h``)."""

    method: str = "auto"
    """One of auto | projection | seam | none | xml (the lines of the page's PAGE XML or ALTO
    file, :mod:`~htrbatch.segment.layout`)."""
    line_types: tuple[str, ...] = ()
    """xml: keep only lines of these types (``Handwritten``, see
    :meth:`htrbatch.formats.LayoutLine.has_type`); empty = all lines."""
    preprocess: PreprocessOptions = field(default_factory=PreprocessOptions)
    analysis_side: int = 1200
    """Longest side (px) of the downscaled map used for line finding and seams."""
    pad: int = 4
    """Paper-coloured margin (px) around each line crop."""
    min_text_height: float = 0.4
    """A candidate is a text line when it owns a component at least this tall (x h)."""
    min_valley_depth: float = 0.15
    """projection: two profile peaks are separate lines only if the valley between them is at
    least this much (relative) lower than the smaller peak."""
    min_line_mass: float = 0.04
    """A line holds at least this fraction of the median line's ink (a one-word last line does)."""
    max_straddle: float = 0.4
    """Two neighbouring candidates are one line when components crossing both carry more than
    this fraction of their ink."""
    companion_mass: float = 0.35
    """A candidate closer than about half the line pitch to a neighbour with 1/this times its ink
    is that neighbour's ascender/descender zone, not a line."""
    ridge_window: float = 2.5
    """seam/auto: width (x h, and at least 1/16 of the page width) of the box filter, applied
    twice, that blurs the ink along lines."""
    ridge_join_gap: float = 8.0
    """seam/auto: ridge pieces this far apart (x h) at about the same height join into one line."""
    seam_ink_cost: float = 40.0
    """Cost of a seam step on ink (analysis pixels); detours shorter than ~this are preferred."""
    seam_dist_cost: float = 4.0
    """Cost 4/(1 + distance to ink): keeps seams in the middle of gaps."""
    seam_dev_cost: float = 1.0
    """Vertical-deviation cost: this much next to a line's curve, falling linearly to 0 midway
    between the two curves (the start row when lines are flat): keeps seams near the middle of
    the gap."""
    seam_step_cost: float = 0.5
    """Extra cost of each diagonal or vertical move."""
    seam_text_height: float = 12.0
    """The A* search runs on the ink map shrunk by an integer factor until text is about this
    many nodes tall (never enlarged)."""
    auto_touch_px: int = 2
    """auto uses seams when no straight cut between two lines crosses at most this many ink
    pixels (analysis px)."""
    regions: bool = True
    """Find text blocks first (:mod:`~htrbatch.segment.regions`) and lines within each block;
    False: the whole page is one block (lines span the page)."""
    archival: bool = True
    """Clean archival scans before finding blocks: dark scanner borders and page edges, punch
    holes, stamps and colour charts at the edge are not text."""
    smear_x: float = 2.5
    """regions: ink is joined across horizontal gaps up to this wide (x h) into blocks."""
    smear_y: float = 3.0
    """regions: ink is joined across vertical gaps up to this tall (x h) into blocks."""
    min_block: float = 1.0
    """regions: a block must be at least this large (x h) on its longer side."""
    margin_frac: float = 0.2
    """regions: a column at the side under this fraction of the width beside a wider one is
    marginalia, read after the blocks beside it."""

    merge_split: bool = True
    """Split a found line that holds two lines (a deep valley between two peaks of its ink
    profile; :mod:`~htrbatch.segment.merged`)."""
    merge_valley: float = 0.25
    """merge_split: the valley is at most this fraction of the lower peak."""
    merge_min_mass: float = 0.1
    """merge_split: each side carries at least this fraction of the line's ink."""
    merge_min_dist: float = 1.5
    """merge_split: the two peaks are at least this far apart (x the larger side's core
    height): an ascender or descender zone next to its core is nearer."""
    merge_overlap: float = 0.7
    """merge_split: the two sides' column spans overlap by at least this fraction of the
    narrower one's."""

    insertions: bool = False
    """Off by default: +0.9 recall on Hooker but 95 -> 90 % exact counts on rendered IAM-OnDB
    forms (docs/segmentation.md). Split interlinear insertions (a few words written small above
    or below a line) off the line that absorbed them into lines of their own
    (:mod:`~htrbatch.segment.insertions`)."""
    insert_dist: float = 1.0
    """insertions: a group of ink lies this far (x the line's core height) from its core band."""
    insert_min_height: float = 0.6
    """insertions: a group is at least this tall (x core height): not i-dots, bars, commas."""
    insert_min_width: float = 2.5
    """insertions: a group is at least this wide (x core height): a word, not a capital's
    loose top or a crossbar."""
    insert_min_mass: float = 0.1
    """insertions: a group carries at least this fraction of the line's ink."""
    insert_join: float = 2.0
    """insertions: components closer than this (x core height) along the line form one group."""
    insert_max_frac: float = 0.6
    """insertions: a group narrower than this fraction of the line's width (a wider one is a
    missed whole line, not an insertion)."""

    def validate(self) -> None:
        """Raise :class:`OptionsError` for values that cannot work."""
        if self.method not in METHODS:
            raise OptionsError(
                f"segment method must be one of {', '.join(METHODS)}, got {self.method!r}"
            )
        if self.line_types and self.method != "xml":
            raise OptionsError(
                f"--line-type {','.join(self.line_types)}: line types come from a layout file, "
                f"so they need --segmenter xml (got {self.method!r})"
            )
        if self.analysis_side < 64:
            raise OptionsError(f"analysis_side must be >= 64, got {self.analysis_side}")
        if self.pad < 0:
            raise OptionsError(f"pad must be >= 0, got {self.pad}")
        if self.ridge_window <= 0 or self.ridge_join_gap < 0:
            raise OptionsError("ridge_window must be > 0 and ridge_join_gap >= 0")
        if self.smear_x < 0 or self.smear_y < 0 or self.min_block < 0:
            raise OptionsError("smear_x, smear_y and min_block must be >= 0")
        self.preprocess.validate()


@dataclass
class Segmentation:
    """Lines found on a page, in reading order (top to bottom for the line finders)."""

    lines: list[LineImage]
    """Crops (cleaned, deskewed, uint8 (h, w)) with boxes in input pixels."""
    skew_deg: float
    """Skew removed before segmenting (> 0: lines rose to the right)."""
    method: str
    """The method actually used (auto resolves to projection or seam)."""
    separators: list[np.ndarray] = field(default_factory=list)
    """Cuts between lines, each an int32 (N, 2) polyline of (x, y) in input pixels."""
    regions: list[RegionResult] | None = None
    """Text blocks in reading order with their lines' indices (xml: the layout's regions);
    None when the page was not divided into regions."""
