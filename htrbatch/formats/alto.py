"""ALTO (v2-v4, as eScriptorium, kraken and OCR-D write it): reading, and writing ALTO 4.4.

Blocks and lines come in document order. A line's outline is its ``Shape/Polygon`` when it has
one, else its ``HPOS``/``VPOS``/``WIDTH``/``HEIGHT`` box; its baseline the ``BASELINE`` points
(``"x y x y ..."``, or ALTO 4.2's ``"x,y x,y"``; a single number, as ALTO 2-4.1 allow, is a
y with no x and is ignored); its text the ``String/@CONTENT`` values joined by single spaces (the
``SP`` elements between them); its type the ``LABEL`` of the tag its ``TAGREFS`` points to
(e.g. ``DefaultLine:Handwritten``). Only ``MeasurementUnit`` pixel is read; other units
(mm10, inch1200) need the image resolution and are refused with a clear error.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from htrbatch.errors import InputError
from htrbatch.formats.layout import (
    Layout,
    LayoutLine,
    LayoutRegion,
    child,
    children,
    descendants,
    line_outline,
    line_words,
    local,
    output_blocks,
    parse_points,
    points,
    software,
    xml_string,
)
from htrbatch.types import PageResult


def _box(elem: ET.Element) -> np.ndarray | None:
    try:
        x, y = float(elem.get("HPOS", "")), float(elem.get("VPOS", ""))
        w, h = float(elem.get("WIDTH", "")), float(elem.get("HEIGHT", ""))
    except ValueError:
        return None
    if w <= 0 or h <= 0:
        return None
    return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], dtype=np.float64)


def _shape(elem: ET.Element, path: Path, what: str) -> np.ndarray | None:
    shape = child(elem, "Shape")
    if shape is not None:
        poly = child(shape, "Polygon")
        if poly is not None:
            pts = parse_points(poly.get("POINTS"), path, what)
            if pts is not None and len(pts) >= 3:
                return pts
    return _box(elem)


def _tag_labels(root: ET.Element) -> dict[str, str]:
    tags = child(root, "Tags")
    if tags is None:
        return {}
    return {t.get("ID", ""): t.get("LABEL", "") for t in tags if t.get("ID")}


def _line_text(line: ET.Element) -> str:
    return " ".join(s.get("CONTENT", "") for s in children(line, "String") if s.get("CONTENT"))


def read(path: Path, root: ET.Element) -> Layout:
    """The first ``Page`` of a parsed ALTO document."""
    ns = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    version = ns.rstrip("#").rsplit("ns-v", 1)[-1] if "ns-v" in ns else "2"
    desc = child(root, "Description")
    unit = None if desc is None else child(desc, "MeasurementUnit")
    if unit is not None and (unit.text or "").strip() not in ("", "pixel"):
        raise InputError(path, f"MeasurementUnit {unit.text.strip()!r}: only pixel is supported")
    name_el = None if desc is None else next(iter(descendants(desc, "fileName")), None)
    layout_el = child(root, "Layout")
    page = None if layout_el is None else child(layout_el, "Page")
    if page is None:
        raise InputError(path, "ALTO without a <Layout>/<Page> element")

    def size(attr: str) -> int | None:
        try:
            return int(float(page.get(attr, "")))
        except ValueError:
            return None

    layout = Layout(
        path=path,
        image_name=(name_el.text or "").strip() or None if name_el is not None else None,
        width=size("WIDTH"),
        height=size("HEIGHT"),
        format=f"alto-{version}",
    )
    labels = _tag_labels(root)
    for block in (e for e in page.iter() if local(e.tag) == "TextBlock"):
        bid = block.get("ID", "")
        region = LayoutRegion(
            id=bid,
            polygon=_shape(block, path, f"TextBlock {bid}"),
            type=next((labels[t] for t in block.get("TAGREFS", "").split() if t in labels), None),
        )
        for ln in children(block, "TextLine"):
            lid = ln.get("ID", "")
            base_attr = ln.get("BASELINE")
            baseline = None
            if base_attr and len(base_attr.replace(",", " ").split()) >= 4:
                baseline = parse_points(base_attr, path, f"BASELINE of {lid}")
            region.lines.append(
                LayoutLine(
                    id=lid,
                    polygon=_shape(ln, path, f"TextLine {lid}"),
                    baseline=baseline,
                    text=_line_text(ln),
                    type=next(
                        (labels[t] for t in ln.get("TAGREFS", "").split() if t in labels),
                        region.type,
                    ),
                )
            )
        layout.regions.append(region)
    return layout


# --------------------------------------------------------------------------- writing

NS = "http://www.loc.gov/standards/alto/ns-v4#"
SCHEMA = "http://www.loc.gov/standards/alto/v4/alto-4-4.xsd"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"


def _pos(elem: ET.Element, box: tuple[int, int, int, int]) -> None:
    x0, y0, x1, y1 = box
    elem.set("HPOS", str(int(x0)))
    elem.set("VPOS", str(int(y0)))
    elem.set("WIDTH", str(int(x1 - x0)))
    elem.set("HEIGHT", str(int(y1 - y0)))


def _sub(parent: ET.Element, name: str, **attrs: str) -> ET.Element:
    return ET.SubElement(parent, f"{{{NS}}}{name}", attrs)


def write(page: PageResult) -> str:
    """One page's results as an ALTO 4.4 document (pixel units).

    One TextBlock per text block (:func:`~htrbatch.formats.layout.output_blocks`: the page's
    regions, in reading order) holds its lines in reading order; each TextLine has its box, its
    outline as ``Shape/Polygon`` (the box when the segmentation gave no polygon), its
    ``BASELINE`` when known, and one ``String`` per word (box, ``WC`` confidence) with an ``SP``
    between words. A line without text gets one empty ``String`` (ALTO needs one)."""
    ET.register_namespace("", NS)
    ET.register_namespace("xsi", _XSI)
    root = ET.Element(f"{{{NS}}}alto")
    root.set(f"{{{_XSI}}}schemaLocation", f"{NS} {SCHEMA}")
    desc = _sub(root, "Description")
    _sub(desc, "MeasurementUnit").text = "pixel"
    info = _sub(desc, "sourceImageInformation")
    _sub(info, "fileName").text = Path(page.source).name
    proc = _sub(desc, "Processing", ID="htrbatch")
    _sub(proc, "processingCategory").text = "contentGeneration"
    name, version = software()
    sw = _sub(proc, "processingSoftware")
    _sub(sw, "softwareName").text = name
    _sub(sw, "softwareVersion").text = version
    layout = _sub(root, "Layout")
    pg = _sub(
        layout,
        "Page",
        ID="page_1",
        PHYSICAL_IMG_NR=str(page.page or 1),
        WIDTH=str(int(page.width)),
        HEIGHT=str(int(page.height)),
    )
    space = _sub(pg, "PrintSpace")
    _pos(space, (0, 0, page.width, page.height))
    for out_block in output_blocks(page):
        block = _sub(space, "TextBlock", ID=out_block.id)
        _pos(block, out_block.bbox)
        for i, lid in out_block.lines:
            line = page.lines[i]
            tl = _sub(block, "TextLine", ID=lid)
            _pos(tl, line.bbox)
            if line.baseline is not None and len(line.baseline) >= 2:
                tl.set("BASELINE", points(line.baseline, " "))
            shape = _sub(tl, "Shape")
            _sub(shape, "Polygon", POINTS=points(line_outline(line), " "))
            words = line_words(line)
            if not words:
                s = _sub(tl, "String", ID=f"{lid}_w1", CONTENT="")
                _pos(s, line.bbox)
            for k, w in enumerate(words, 1):
                if k > 1:
                    prev = words[k - 2].bbox
                    sp = _sub(tl, "SP", ID=f"{lid}_sp{k - 1}")
                    sp.set("HPOS", str(int(prev[2])))
                    sp.set("VPOS", str(int(line.bbox[1])))
                    sp.set("WIDTH", str(max(0, int(w.bbox[0] - prev[2]))))
                s = _sub(tl, "String", ID=f"{lid}_w{k}", CONTENT=w.text)
                _pos(s, w.bbox)
                s.set("WC", f"{min(1.0, max(0.0, w.confidence)):.4f}")
    return xml_string(root)


class AltoSerializer:
    """``--format alto``: ALTO 4.4 per page (``<key>.alto.xml``)."""

    name = "alto"
    suffix = ".alto.xml"
    per_document = False

    def serialize(self, page: PageResult) -> str:
        return write(page)
