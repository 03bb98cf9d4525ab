"""PAGE XML (PRImA ``PcGts``; 2013-07-15 and 2019-07-15 schemas, as Transkribus and
eScriptorium export them): reading, and writing PAGE 2019-07-15.

Regions come in the ``ReadingOrder`` when the file has one, else in document order; lines in
their ``custom="readingOrder {index:N;}"`` order when every line has one, else in document order.
A line's text is its own ``TextEquiv/Unicode`` (the one with the lowest ``index`` when there are
several), else its words' texts joined by spaces. Its type is the TextLine's ``custom``
``structure {type:...}`` when present, else the region's ``type``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path

from htrbatch.errors import InputError
from htrbatch.formats.layout import (
    Layout,
    LayoutLine,
    LayoutRegion,
    box_outline,
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

_READING_INDEX = re.compile(r"readingOrder\s*\{[^}]*index\s*:\s*(\d+)")
_STRUCTURE_TYPE = re.compile(r"structure\s*\{[^}]*type\s*:\s*([^;}]+)")


def _text_equiv(elem: ET.Element) -> str | None:
    """The Unicode text of ``elem``'s own TextEquiv (lowest index first), None when absent."""
    equivs = children(elem, "TextEquiv")
    if not equivs:
        return None

    def index(e: ET.Element) -> int:
        try:
            return int(e.get("index", "0"))
        except ValueError:
            return 0

    best = min(equivs, key=index)
    uni = child(best, "Unicode")
    return None if uni is None else (uni.text or "")


def _line_text(line: ET.Element) -> str:
    text = _text_equiv(line)
    if text is not None:
        return text
    words = [_text_equiv(w) for w in children(line, "Word")]
    return " ".join(w for w in words if w)


def _coords(elem: ET.Element, path: Path, what: str):
    coords = child(elem, "Coords")
    if coords is None:
        return None
    if coords.get("points") is not None:
        return parse_points(coords.get("points"), path, what)
    # PAGE 2010 wrote <Coords><Point x= y=/>...</Coords>
    pts = [f"{p.get('x')},{p.get('y')}" for p in children(coords, "Point")]
    return parse_points(" ".join(pts), path, what)


def _custom(elem: ET.Element, pattern: re.Pattern[str]) -> str | None:
    m = pattern.search(elem.get("custom", ""))
    return m.group(1).strip() if m else None


def _region_order(page: ET.Element) -> list[str]:
    """Region ids in the page's ReadingOrder (first ordered group), [] when it has none."""
    ro = child(page, "ReadingOrder")
    if ro is None:
        return []
    refs = descendants(ro, "RegionRefIndexed")
    refs.sort(key=lambda r: int(r.get("index", "0")) if r.get("index", "0").isdigit() else 0)
    return [r.get("regionRef", "") for r in refs]


def read(path: Path, root: ET.Element) -> Layout:
    """The first ``Page`` of a parsed PAGE XML document."""
    page = child(root, "Page")
    if page is None:
        raise InputError(path, "PAGE XML without a <Page> element")
    ns = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    version = ns.rsplit("/", 1)[-1] if ns else "unknown"

    def size(attr: str) -> int | None:
        try:
            return int(float(page.get(attr, "")))
        except ValueError:
            return None

    layout = Layout(
        path=path,
        image_name=page.get("imageFilename"),
        width=size("imageWidth"),
        height=size("imageHeight"),
        format=f"page-{version}",
    )
    regions = [e for e in page.iter() if local(e.tag) == "TextRegion"]
    order = {rid: i for i, rid in enumerate(_region_order(page))}
    if order:
        regions.sort(key=lambda r: order.get(r.get("id", ""), len(order)))
    for reg in regions:
        region = LayoutRegion(
            id=reg.get("id", ""),
            polygon=_coords(reg, path, f"TextRegion {reg.get('id', '?')}"),
            type=reg.get("type") or _custom(reg, _STRUCTURE_TYPE),
        )
        lines = children(reg, "TextLine")
        idx = [_custom(ln, _READING_INDEX) for ln in lines]
        if lines and all(i is not None for i in idx):
            lines = [ln for _, ln in sorted(zip((int(i) for i in idx), lines), key=lambda t: t[0])]
        for ln in lines:
            lid = ln.get("id", "")
            base = child(ln, "Baseline")
            region.lines.append(
                LayoutLine(
                    id=lid,
                    polygon=_coords(ln, path, f"TextLine {lid}"),
                    baseline=None
                    if base is None
                    else parse_points(base.get("points"), path, f"Baseline of {lid}"),
                    text=_line_text(ln),
                    type=_custom(ln, _STRUCTURE_TYPE) or region.type,
                )
            )
        layout.regions.append(region)
    return layout


# --------------------------------------------------------------------------- writing

NS = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
SCHEMA = f"{NS}/pagecontent.xsd"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"


def _sub(parent: ET.Element, name: str, **attrs: str) -> ET.Element:
    return ET.SubElement(parent, f"{{{NS}}}{name}", attrs)


def _equiv(parent: ET.Element, text: str, conf: float | None = None) -> None:
    eq = _sub(parent, "TextEquiv")
    if conf is not None:
        eq.set("conf", f"{min(1.0, max(0.0, conf)):.4f}")
    _sub(eq, "Unicode").text = text


def write(page: PageResult) -> str:
    """One page's results as a PAGE 2019-07-15 document.

    One TextRegion per text block (:func:`~htrbatch.formats.layout.output_blocks`: the page's
    regions, in the ReadingOrder) holds its lines in reading order; each TextLine has
    its outline as ``Coords`` (the box when the segmentation gave no polygon), its ``Baseline``
    when known, one ``Word`` per word (box, text, confidence) and its own ``TextEquiv`` with the
    line confidence."""
    ET.register_namespace("", NS)
    ET.register_namespace("xsi", _XSI)
    root = ET.Element(f"{{{NS}}}PcGts")
    root.set(f"{{{_XSI}}}schemaLocation", f"{NS} {SCHEMA}")
    meta = _sub(root, "Metadata")
    name, version = software()
    _sub(meta, "Creator").text = f"{name} {version}"
    now = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    _sub(meta, "Created").text = now
    _sub(meta, "LastChange").text = now
    pg = _sub(
        root,
        "Page",
        imageFilename=Path(page.source).name,
        imageWidth=str(int(page.width)),
        imageHeight=str(int(page.height)),
    )
    if not page.lines:
        return xml_string(root)
    blocks = output_blocks(page)
    order = _sub(_sub(pg, "ReadingOrder"), "OrderedGroup", id="ro_1")
    for k, block in enumerate(blocks):
        _sub(order, "RegionRefIndexed", index=str(k), regionRef=block.id)
    for block in blocks:
        region = _sub(pg, "TextRegion", id=block.id, type="paragraph")
        _sub(region, "Coords", points=points(box_outline(block.bbox)))
        for j, (i, lid) in enumerate(block.lines):
            line = page.lines[i]
            tl = _sub(region, "TextLine", id=lid, custom=f"readingOrder {{index:{j};}}")
            _sub(tl, "Coords", points=points(line_outline(line)))
            if line.baseline is not None and len(line.baseline) >= 2:
                _sub(tl, "Baseline", points=points(line.baseline))
            for k, w in enumerate(line_words(line), 1):
                word = _sub(tl, "Word", id=f"{lid}_w{k}")
                _sub(word, "Coords", points=points(box_outline(w.bbox)))
                _equiv(word, w.text, w.confidence)
            _equiv(tl, line.text, line.confidence)
        _equiv(region, "\n".join(page.lines[i].text for i, _ in block.lines))
    return xml_string(root)


class PageXmlSerializer:
    """``--format page``: PAGE XML 2019-07-15 per page (``<key>.page.xml``)."""

    name = "page"
    suffix = ".page.xml"
    per_document = False

    def serialize(self, page: PageResult) -> str:
        return write(page)
