"""The neutral layout model that PAGE XML and ALTO are read into, and cutting lines out of pages.

Coordinates are input-image pixels, ``(x, y)`` float pairs; a polygon is an ``(N, 2)`` float array.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from htrbatch.errors import InputError
from htrbatch.types import LineResult, PageResult, WordResult

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


@dataclass
class LayoutLine:
    """One text line of a layout file."""

    id: str
    polygon: np.ndarray | None  # (N, 2) float, the line's outline; None when the file has none
    baseline: np.ndarray | None = None  # (M, 2) float, left to right, when the file has one
    text: str = ""
    type: str | None = None  # e.g. "DefaultLine:Handwritten" (ALTO tag label) or PAGE type

    def has_type(self, wanted: str) -> bool:
        """Whether this line's type is ``wanted``: the whole label or one of its ``:`` parts,
        ignoring case (``Handwritten`` matches ``InterlinearLine:Handwritten``)."""
        if self.type is None:
            return False
        wanted = wanted.casefold()
        label = self.type.casefold()
        return wanted == label or wanted in label.split(":")

    def box(self) -> tuple[int, int, int, int] | None:
        """``(x0, y0, x1, y1)`` around the polygon (x1/y1 exclusive), None without a polygon."""
        if self.polygon is None or len(self.polygon) == 0:
            return None
        x0, y0 = np.floor(self.polygon.min(axis=0)).astype(int)
        x1, y1 = np.ceil(self.polygon.max(axis=0)).astype(int) + 1
        return int(x0), int(y0), int(x1), int(y1)


@dataclass
class LayoutRegion:
    """A text block with its lines in reading order."""

    id: str
    polygon: np.ndarray | None
    lines: list[LayoutLine] = field(default_factory=list)
    type: str | None = None


@dataclass
class Layout:
    """One page of a layout file: the image it describes, its size, regions in reading order."""

    path: Path  # the layout file
    image_name: str | None  # the image file name the layout names (may be absent)
    width: int | None
    height: int | None
    regions: list[LayoutRegion] = field(default_factory=list)
    format: str = ""  # "page-2013", "page-2019", "alto-4", ...

    @property
    def lines(self) -> list[LayoutLine]:
        return [ln for r in self.regions for ln in r.lines]

    def image_path(self) -> Path | None:
        """The image this layout describes, looked for beside the layout file and one folder up
        (Transkribus and eScriptorium put the XML in ``page/`` or ``alto/`` under the images)."""
        if not self.image_name:
            return None
        name = Path(self.image_name.replace("\\", "/")).name
        for folder in (self.path.parent, self.path.parent.parent):
            cand = folder / name
            if cand.is_file():
                return cand
        return None


_SLACK = 1.02  # polygons may overshoot the page edge by this factor (hand-drawn outlines)


def layout_scale(layout: Layout, width: int, height: int, image: str = "") -> tuple[float, float]:
    """``(sx, sy)`` that map ``layout``'s coordinates onto its ``width`` x ``height`` image.

    Exports sometimes keep the size of the original scan in the layout while the image was
    resized: the coordinates are scaled by the ratio of the sizes. Raises InputError naming the
    layout file when the (scaled) line polygons reach far past the image: the layout was made
    for another size or orientation of the page, and every line cut from it would be wrong.
    """
    if layout.width and layout.height and (layout.width, layout.height) != (width, height):
        sx, sy = width / layout.width, height / layout.height
    else:
        sx = sy = 1.0
    polys = [ln.polygon for ln in layout.lines if ln.polygon is not None and len(ln.polygon)]
    if polys:
        mx, my = np.vstack(polys).max(axis=0) * (sx, sy)
        if mx > width * _SLACK or my > height * _SLACK:
            raise InputError(
                layout.path,
                f"line polygons reach ({mx:.0f}, {my:.0f}), beyond the {width}x{height} image "
                f"{image}: the layout does not match it (scaled or rotated?)",
            )
    return sx, sy


def parse_xml(path: Path) -> ET.Element:
    """The root element of an XML file; InputError naming the file when it is not well formed.

    The standard library's parser expands no external entities and, with expat >= 2.4.1,
    refuses entity-expansion bombs."""
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise InputError(path, f"not well-formed XML ({exc})") from None
    except OSError as exc:
        raise InputError(path, f"cannot read ({exc.strerror or exc})") from None


def local(tag: str) -> str:
    """An element's tag without its namespace."""
    return tag.rsplit("}", 1)[-1]


def children(elem: ET.Element, name: str) -> list[ET.Element]:
    """Direct children named ``name`` in any namespace."""
    return [c for c in elem if local(c.tag) == name]


def child(elem: ET.Element, name: str) -> ET.Element | None:
    for c in elem:
        if local(c.tag) == name:
            return c
    return None


def descendants(elem: ET.Element, name: str) -> list[ET.Element]:
    """All elements named ``name`` below ``elem``, in document order, in any namespace."""
    return [e for e in elem.iter() if e is not elem and local(e.tag) == name]


def parse_points(text: str | None, path: Path, what: str) -> np.ndarray | None:
    """``"x,y x,y ..."`` (PAGE) or ``"x y x y ..."`` (ALTO) as an (N, 2) float array.

    None for an absent or empty attribute; InputError naming the file and the element for an
    odd count of numbers."""
    if text is None or not text.strip():
        return None
    nums = [float(v) for v in _NUMBER.findall(text)]
    if len(nums) % 2:
        raise InputError(path, f"{what}: odd number of coordinates in {text[:60]!r}")
    if not nums:
        return None
    return np.asarray(nums, dtype=np.float64).reshape(-1, 2)


def cut_line(
    image: np.ndarray,
    polygon: np.ndarray,
    *,
    pad: int = 4,
    mask: bool = True,
) -> np.ndarray | None:
    """The part of a grayscale page inside a line polygon, as a uint8 (h, w) crop.

    The crop is the polygon's bounding box (clipped to the page) plus ``pad`` pixels; with
    ``mask`` everything outside the polygon (dilated by ``pad``) is painted the paper colour
    (the 90th percentile of the pixels inside), so neighbouring lines' ascenders and descenders
    do not reach the recogniser, as kraken does. None when the polygon lies outside the page or
    encloses less than 2 x 2 pixels.
    """
    h, w = image.shape[:2]
    pts = np.asarray(polygon, dtype=np.float64)
    x0 = max(0, int(np.floor(pts[:, 0].min())) - pad)
    y0 = max(0, int(np.floor(pts[:, 1].min())) - pad)
    x1 = min(w, int(np.ceil(pts[:, 0].max())) + 1 + pad)
    y1 = min(h, int(np.ceil(pts[:, 1].max())) + 1 + pad)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    crop = image[y0:y1, x0:x1]
    if not mask or len(pts) < 3:
        return crop.copy()
    inside = np.zeros(crop.shape, np.uint8)
    local_pts = np.round(pts - (x0, y0)).astype(np.int32)
    cv2.fillPoly(inside, [local_pts], 1)
    if pad > 0:
        inside = cv2.dilate(inside, np.ones((2 * pad + 1, 2 * pad + 1), np.uint8))
    sel = inside.astype(bool)
    if sel.sum() < 4:
        return None
    paper = np.uint8(np.percentile(crop[sel], 90))
    out = np.where(sel, crop, paper).astype(np.uint8)
    return out


# --------------------------------------------------------------------------- writing results


def line_outline(line: LineResult) -> np.ndarray:
    """A line result's polygon, or its box as a rectangle when it has none ((4, 2) float)."""
    if line.polygon is not None and len(line.polygon) >= 3:
        return np.asarray(line.polygon, dtype=np.float64)
    x0, y0, x1, y1 = line.bbox
    return np.array([[x0, y0], [x1 - 1, y0], [x1 - 1, y1 - 1], [x0, y1 - 1]], dtype=np.float64)


def box_outline(bbox: tuple[int, int, int, int]) -> np.ndarray:
    """A box ``(x0, y0, x1, y1)`` (exclusive ends) as its 4 corner pixels."""
    x0, y0, x1, y1 = bbox
    return np.array([[x0, y0], [x1 - 1, y0], [x1 - 1, y1 - 1], [x0, y1 - 1]], dtype=np.float64)


def line_words(line: LineResult) -> list[WordResult]:
    """A line result's words; when it has none but has text (made without word boxes), its
    words share the line's box in proportion to their lengths, with the line's confidence."""
    if line.words or not line.text.strip():
        return list(line.words)
    tokens = line.text.split()
    x0, y0, x1, y1 = line.bbox
    total = sum(len(t) for t in tokens) + len(tokens) - 1
    out, pos = [], 0
    for t in tokens:
        a = x0 + (x1 - x0) * pos / total
        pos += len(t)
        b = x0 + (x1 - x0) * pos / total
        pos += 1
        out.append(WordResult(t, (int(a), y0, max(int(a) + 1, int(round(b))), y1), line.confidence))
    return out


# An XML ID (xsd:ID, an NCName): PAGE and ALTO ids must be one, and unique in the document.
_NCNAME = re.compile(r"^[A-Za-z_][\w.-]*$")


@dataclass(frozen=True)
class OutputBlock:
    """A text block as the PAGE/ALTO writers write it: an XML id, its box, its lines (index into
    the page's lines, and XML id) in reading order."""

    id: str
    bbox: tuple[int, int, int, int]
    lines: list[tuple[int, str]]


def output_blocks(page: PageResult) -> list[OutputBlock]:
    """The page's blocks in reading order: its regions (the segmenter's text blocks, or the
    layout file's regions with ``--segmenter xml``), then one block of the lines no region holds;
    one block of all lines when the page has no regions. Ids are the layout file's own (kept
    when each is a valid, unique XML id, so a PAGE/ALTO written from ``--segmenter xml`` names
    the same lines as its input), else ``region_<k>``/``line_<i>`` (1-based)."""
    if not page.lines:
        return []
    groups: list[tuple[str | None, tuple[int, int, int, int] | None, list[int]]] = []
    held: set[int] = set()
    for r in page.regions or []:
        members = [i for i in r.lines if 0 <= i < len(page.lines) and i not in held]
        if members:
            held.update(members)
            groups.append((r.id, tuple(int(v) for v in r.bbox), members))  # type: ignore[misc]
    rest = [i for i in range(len(page.lines)) if i not in held]
    if rest:
        groups.append((None, None, rest))
    used: set[str] = set()

    def pick(own: str | None, fallback: str) -> str:
        name = own if own and _NCNAME.match(own) and own not in used else fallback
        while name in used:
            name += "_"
        used.add(name)
        return name

    # fallbacks first, so that an own id can never take one of them
    used.update(f"region_{k}" for k in range(1, len(groups) + 1))
    used.update(f"line_{i}" for i in range(1, len(page.lines) + 1))
    blocks = []
    for k, (rid, bbox, members) in enumerate(groups, 1):
        used.discard(f"region_{k}")
        bid = pick(rid, f"region_{k}")
        lines = []
        for i in members:
            used.discard(f"line_{i + 1}")
            lines.append((i, pick(page.lines[i].id, f"line_{i + 1}")))
        box = union_box([page.lines[i].bbox for i in members] + ([bbox] if bbox else []))
        blocks.append(OutputBlock(bid, box, lines))
    return blocks


def union_box(boxes: list[tuple[int, int, int, int]]) -> tuple[int, int, int, int]:
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def points(pts: np.ndarray, sep: str = ",") -> str:
    """``(N, 2)`` points as PAGE ``"x,y x,y"`` (``sep=","``) or ALTO ``"x y x y"`` (``" "``),
    rounded to whole pixels."""
    return " ".join(f"{int(round(x))}{sep}{int(round(y))}" for x, y in pts)


def xml_string(root: ET.Element) -> str:
    """An element tree as an indented UTF-8 XML document (with its declaration)."""
    ET.indent(root, space=" ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def software() -> tuple[str, str]:
    """This program's name and version, as the outputs name their producer."""
    from htrbatch import __version__

    return "htrbatch", __version__
