"""PAGE XML and ALTO reading, line cutting, and layout collections as line datasets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from htrbatch.cli import app
from htrbatch.data.datasets import load_dataset
from htrbatch.data.layout_lines import (
    clean_transcription,
    export_layout_lines,
    find_layout_pages,
    iter_layout_lines,
)
from htrbatch.errors import InputError
from htrbatch.formats import cut_line, find_layout, read_layout
from tests.layouts import ALTO, PAGE_NS, page_image, page_xml


@pytest.mark.parametrize("version", ["2013", "2019"])
def test_page_xml_reading_order_types_and_geometry(tmp_path: Path, version: str) -> None:
    xml = tmp_path / "p.xml"
    xml.write_text(page_xml(version), encoding="utf-8")
    layout = read_layout(xml)
    assert layout.format == f"page-{PAGE_NS[version].rsplit('/', 1)[-1]}"
    assert (layout.width, layout.height, layout.image_name) == (200, 200, "p.png")
    assert [r.id for r in layout.regions] == ["r1", "r2"]  # ReadingOrder, not document order
    assert [ln.text for ln in layout.lines] == ["first line", "second line", "margin"]
    first, second, margin = layout.lines
    assert first.type == "heading" and second.type == "paragraph" and margin.type == "marginalia"
    assert first.box() == (10, 20, 191, 51)
    assert second.baseline.tolist() == [[10, 85], [190, 85]]
    assert first.baseline is None


def test_alto_text_types_baseline_and_box_fallback(tmp_path: Path) -> None:
    xml = tmp_path / "p.xml"
    xml.write_text(ALTO, encoding="utf-8")
    layout = read_layout(xml)
    assert layout.format == "alto-4" and layout.image_name == "p.png"
    a1, a2, a3 = layout.lines
    assert a1.text == "LETTER HEAD" and a1.type == "Print"
    assert a1.polygon.tolist() == [[10, 20], [190, 20], [190, 50], [10, 50]]  # from HPOS/VPOS
    assert a1.baseline.tolist() == [[10, 45], [190, 45]]
    assert a2.baseline.tolist() == [[10, 85], [190, 85]]  # ALTO 4.2 "x,y" pairs
    assert a2.has_type("Handwritten") and a2.has_type("defaultline:handwritten")
    assert not a1.has_type("Handwritten")
    assert a3.text == ""


def test_bad_xml_and_unknown_root_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text("<PcGts><Page>", encoding="utf-8")
    with pytest.raises(InputError, match="bad.xml: not well-formed XML"):
        read_layout(bad)
    other = tmp_path / "other.xml"
    other.write_text("<html/>", encoding="utf-8")
    with pytest.raises(InputError, match="neither PAGE XML"):
        read_layout(other)
    odd = tmp_path / "odd.xml"
    odd.write_text(page_xml("2019").replace('points="10,20 190,20', 'points="10,20 190'), "utf-8")
    with pytest.raises(InputError, match="TextLine l1: odd number of coordinates"):
        read_layout(odd)


def test_cut_line_masks_outside_the_polygon() -> None:
    img = np.zeros((60, 100), np.uint8)  # all "ink"
    img[10:50, 10:90] = 200  # paper inside the box
    img[20:30, 20:40] = 10  # a stroke inside the triangle
    tri = np.array([[10.0, 10.0], [89.0, 10.0], [10.0, 49.0]])
    crop = cut_line(img, tri, pad=0)
    assert crop.shape == (40, 80)
    assert crop[0, 0] == 200 and crop[15, 15] == 10  # inside kept
    assert crop[-1, -1] == 200  # outside the triangle: painted paper, not the black ink
    assert cut_line(img, tri, pad=0, mask=False)[-1, -1] == 200
    assert cut_line(img, np.array([[500.0, 500.0], [600, 500], [600, 550]])) is None


def test_find_layout_beside_or_in_page_folder(tmp_path: Path) -> None:
    img = tmp_path / "a.png"
    page_image(img)
    assert find_layout(img) is None
    (tmp_path / "page").mkdir()
    (tmp_path / "page" / "a.xml").write_text(page_xml("2019", "a.png"), "utf-8")
    assert find_layout(img) == tmp_path / "page" / "a.xml"
    (tmp_path / "a.xml").write_text(page_xml("2019", "a.png"), "utf-8")
    assert find_layout(img) == tmp_path / "a.xml"
    assert read_layout(tmp_path / "page" / "a.xml").image_path() == img


def test_collection_lines_errors_and_type_filter(tmp_path: Path) -> None:
    col = tmp_path / "col"
    col.mkdir()
    page_image(col / "p.png")
    (col / "p.xml").write_text(page_xml("2013"), "utf-8")
    page_image(col / "q.png")
    (col / "alto").mkdir()
    (col / "alto" / "q.xml").write_text(ALTO.replace("p.png", "q.png"), "utf-8")
    (col / "orphan.xml").write_text(page_xml("2019", "gone.png"), "utf-8")  # image missing
    page_image(col / "broken.png")
    (col / "broken.xml").write_text("<PcGts", "utf-8")  # bad XML
    page_image(col / "far.png")
    far = page_xml(
        "2019",
        "far.png",
        '<TextLine id="x"><Coords points="-90,-90 -20,-90 -20,-20"/>'
        "<TextEquiv><Unicode>gone</Unicode></TextEquiv></TextLine>",
    )
    (col / "far.xml").write_text(far, "utf-8")
    page_image(col / "big.png")  # polygons drawn on a 3x larger scan of the page
    big = page_xml("2019", "big.png").replace(
        'points="10,20 190,20 190,50 10,50"', 'points="30,60 570,60 570,150 30,150"'
    )
    (col / "big.xml").write_text(big, "utf-8")

    pages, errors = find_layout_pages(col)
    names = sorted(p.image.name for p in pages)
    assert names == ["big.png", "broken.png", "far.png", "p.png", "q.png"]
    assert len(errors) == 1 and "orphan.xml" in str(errors[0]) and "gone.png" in str(errors[0])

    from htrbatch.data.layout_lines import LayoutScan

    scan = LayoutScan()
    samples = list(iter_layout_lines(pages, scan=scan))
    ids = [s.id for s in samples]
    assert "p/l1" in ids and "q/a2" in ids and "far/m1" in ids
    assert not any(i.startswith("far/x") for i in ids)
    msgs = [str(e) for e in scan.errors]
    assert any("broken.xml" in m and "not well-formed" in m for m in msgs)
    assert any("far.xml" in m and "line x: polygon lies outside the page" in m for m in msgs)
    assert any("big.xml" in m and "does not match" in m for m in msgs)
    assert not any(i.startswith("big/") for i in ids)  # the whole page is skipped
    assert scan.skipped_empty == 1  # q/a3
    assert next(s for s in samples if s.id == "q/a2").text == "28th of May"  # CATMuS ^ dropped
    hand = [s.id for s in iter_layout_lines(pages, line_types=("Handwritten",))]
    assert hand == ["q/a2"]


def test_export_is_a_line_dataset_and_cli_reports_problems(tmp_path: Path) -> None:
    col = tmp_path / "col"
    col.mkdir()
    page_image(col / "p 1.png")  # a space in the name, as real exports have
    (col / "p 1.xml").write_text(page_xml("2019", "p 1.png"), "utf-8")
    out = tmp_path / "lines"
    scan = export_layout_lines(col, out)
    assert len(scan.samples) == 3 and not scan.errors
    samples = load_dataset(out)
    assert sorted(s.text for s in samples) == ["first line", "margin", "second line"]

    (col / "orphan.xml").write_text(page_xml("2019", "gone.png"), "utf-8")
    res = CliRunner().invoke(app, ["data", "layout-lines", str(col), "--out", str(tmp_path / "o")])
    assert res.exit_code == 1
    assert "orphan.xml" in res.output and "wrote 3 lines" in res.output


def test_clean_transcription() -> None:
    assert clean_transcription(" 28^th  May ") == "28th May"


SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.mark.shared
@pytest.mark.skipif(not (SHARED_DATA / "hooker").is_dir(), reason="../shared/data not present")
def test_shared_collections_read() -> None:
    """The real exports in ../shared: a Transkribus PAGE 2013 page and an eScriptorium ALTO."""
    shared_dir = SHARED_DATA.parent
    hooker = read_layout(shared_dir / "data/hooker/pages/JDH_2_16_144_001.xml")
    assert hooker.format == "page-2013-07-15" and hooker.image_path() is not None
    assert hooker.lines[0].text == "Dec 21/95" and hooker.lines[0].baseline is not None
    stanford = read_layout(shared_dir / "data/stanford-dev/Lettre241.xml")
    assert stanford.format == "alto-4" and stanford.lines[0].type == "DefaultLine:Print"
    hand = read_layout(shared_dir / "data/stanford-dev/Lettre46.xml")
    assert any(ln.has_type("Handwritten") for ln in hand.lines)
