"""Page -> text lines (no torch).

The page is cleaned and its skew estimated (:mod:`htrbatch.preprocess`), archival marks that
are not writing removed and the page divided into text blocks (:mod:`~htrbatch.segment.regions`:
scanner borders, punch holes, stamps, folds; run-length smearing, XY-cut reading order), rotated
so the lines are horizontal on average, and analysed on a downscaled ink-coverage map, block by
block, in four stages:

1. :mod:`~htrbatch.segment.candidates`: line candidates, each a centre curve y(x): profile peaks
   (``projection``, flat curves) or ridges of a local profile linked into curves (``seam`` and
   ``auto``).
2. :mod:`~htrbatch.segment.rules`: candidates checked against connected components; i-dots,
   ascender/descender zones, specks and lines cut off by the image border are not lines.
3. Separation between neighbouring lines: straight cuts at the profile valley (``projection``,
   :mod:`~htrbatch.segment.separators`), A* seams through a cost map (``seam``,
   :mod:`~htrbatch.segment.seams`), or straight cuts where every gap has an ink-free row and
   seams otherwise (``auto``). ``none``: the whole image is one line.
4. :mod:`~htrbatch.segment.cut`: each line cut out between its separators, trimmed, padded, and
   its box and polygon mapped back to the input.

:mod:`~htrbatch.segment.layout` (``xml``) takes the lines of the page's PAGE XML or ALTO file
instead (:func:`segment_layout`, the file found by :func:`layout_of` from the image's path).

:mod:`~htrbatch.segment.page` runs the stages (:func:`segment_page`);
:mod:`~htrbatch.segment.options` holds :class:`SegmentOptions` and :class:`Segmentation`;
:mod:`~htrbatch.segment.draw` draws a result.
"""

from htrbatch.segment.candidates import find_peaks
from htrbatch.segment.draw import draw_segmentation, line_boxes
from htrbatch.segment.layout import layout_of, segment_layout
from htrbatch.segment.options import METHODS, Segmentation, SegmentOptions
from htrbatch.segment.page import segment_page
from htrbatch.segment.seams import SeamPath, astar_seam, seam_heuristic

__all__ = [
    "METHODS",
    "SeamPath",
    "SegmentOptions",
    "Segmentation",
    "astar_seam",
    "draw_segmentation",
    "find_peaks",
    "layout_of",
    "line_boxes",
    "seam_heuristic",
    "segment_layout",
    "segment_page",
]
