"""Reading pages through their PAGE XML/ALTO layouts: ``--segmenter xml`` in transcribe,
evaluate on a collection of page images with layout files, and training straight from one."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from htrbatch.cli import app
from htrbatch.data.datasets import detect_layout, scan_dataset
from htrbatch.data.layout_lines import export_layout_lines
from htrbatch.errors import InputError, OptionsError
from htrbatch.evaluate import evaluate_dataset
from htrbatch.formats import read_layout
from htrbatch.io import read_pages
from htrbatch.metrics import normalize_text
from htrbatch.pipeline import FileJob, TranscribeOptions, Transcriber, prepare_file
from htrbatch.segment import SegmentOptions, segment_layout, segment_page
from htrbatch.train import TrainOptions, train
from tests.layouts import ALTO, PAGE_NS, page_image, page_xml
from tests.test_train import TINY

runner = CliRunner()

OUTSIDE = (
    '<TextLine id="x"><Coords points="-90,-90 -20,-90 -20,-20"/>'
    "<TextEquiv><Unicode>gone</Unicode></TextEquiv></TextLine>"
)


def _collection(root: Path) -> Path:
    """A PAGE page (layout beside it), an ALTO page (layout in alto/)."""
    root.mkdir()
    page_image(root / "p.png")
    (root / "p.xml").write_text(page_xml("2019"), "utf-8")
    page_image(root / "q.png")
    (root / "alto").mkdir()
    (root / "alto" / "q.xml").write_text(ALTO.replace("p.png", "q.png"), "utf-8")
    return root


def test_segment_layout_lines_polygons_ids_regions_in_reading_order(tmp_path: Path) -> None:
    gray = page_image(tmp_path / "p.png")
    layout = read_layout(_write(tmp_path / "p.xml", page_xml("2019")))
    seg = segment_layout(gray, layout, SegmentOptions(method="xml"))
    assert seg.method == "xml"
    # Region r1 comes first (ReadingOrder) although r2 is first in the file; in r1, l1 before
    # l2 (readingOrder index) although l2 is first in the file.
    assert [ln.id for ln in seg.lines] == ["l1", "l2", "m1"]
    assert [ln.bbox for ln in seg.lines] == [
        (10, 20, 191, 51),
        (10, 60, 191, 91),
        (10, 160, 101, 191),
    ]
    assert seg.lines[0].polygon.tolist() == [[10, 20], [190, 20], [190, 50], [10, 50]]
    assert seg.lines[1].baseline.tolist() == [[10, 85], [190, 85]]
    assert [(r.id, r.lines, r.bbox) for r in seg.regions] == [
        ("r1", [0, 1], (0, 0, 200, 101)),
        ("r2", [2], (0, 150, 200, 200)),
    ]
    # The crop is the polygon's box plus the padding, masked outside the polygon: the text
    # "second" (rows 60-90) is not in the crop of l1.
    assert seg.lines[0].image.shape == (31 + 8, 181 + 8)
    assert (seg.lines[0].image < 128).any()

    margins = segment_layout(gray, layout, SegmentOptions(method="xml", line_types=("marginalia",)))
    assert [ln.id for ln in margins.lines] == ["m1"]
    assert [(r.id, r.lines) for r in margins.regions] == [("r2", [0])]

    # A layout made on a scan twice the size is scaled onto the image; one made for another
    # page (polygons far past the image) is refused, naming the layout file.
    big = page_xml("2019").replace('imageWidth="200" imageHeight="200"', 'imageWidth="400" ')
    big = big.replace("imageWidth", 'imageHeight="400" imageWidth').replace(
        'points="10,20 190,20 190,50 10,50"', 'points="20,40 380,40 380,100 20,100"'
    )
    scaled = segment_layout(gray, read_layout(_write(tmp_path / "big.xml", big)))
    assert scaled.lines[0].bbox == (10, 20, 191, 51)
    wrong = page_xml("2019").replace('points="10,20 190,20', 'points="10,20 900,20')
    with pytest.raises(InputError, match="wrong.xml: line polygons reach"):
        segment_layout(gray, read_layout(_write(tmp_path / "wrong.xml", wrong)))
    with pytest.raises(OptionsError, match="segment_layout"):
        segment_page(gray, SegmentOptions(method="xml"))
    with pytest.raises(OptionsError, match="--line-type Handwritten.*--segmenter xml"):
        SegmentOptions(line_types=("Handwritten",)).validate()


def _write(path: Path, text: str) -> Path:
    path.write_text(text, "utf-8")
    return path


def test_transcribe_xml_segmenter_cli(tmp_path: Path, tiny_checkpoint: Path) -> None:
    col = _collection(tmp_path / "col")
    page_image(col / "r.png")  # no layout file
    out = tmp_path / "out"
    base = ["transcribe", str(col), "--segmenter", "xml", "--model", str(tiny_checkpoint)]
    base += ["--workers", "0", "--decoder", "greedy"]
    res = runner.invoke(app, [*base, "--out", str(out), "--format", "json,page,alto"])
    assert res.exit_code == 1  # r.png failed, the others were written
    assert "r.png" in res.output and "no PAGE XML or ALTO file found" in res.output
    assert "alto/" in res.output  # says where it looked
    assert not (out / "r.json").exists()

    p = json.loads((out / "p.json").read_text("utf-8"))
    assert [ln["id"] for ln in p["lines"]] == ["l1", "l2", "m1"]
    assert p["lines"][0]["polygon"] == [[10, 20], [190, 20], [190, 50], [10, 50]]
    assert p["lines"][0]["bbox"] == [10, 20, 191, 51]
    assert p["lines"][1]["baseline"] == [[10, 85], [190, 85]]
    assert p["regions"] == [
        {"id": "r1", "bbox": [0, 0, 200, 101], "lines": [0, 1]},
        {"id": "r2", "bbox": [0, 150, 200, 200], "lines": [2]},
    ]
    assert "skew_deg" not in p  # nothing was measured
    # The writers draw the layout's outlines, not boxes.
    assert 'points="10,160 100,160 100,190 10,190"' in (out / "p.page.xml").read_text("utf-8")
    q = json.loads((out / "q.json").read_text("utf-8"))
    assert [ln["id"] for ln in q["lines"]] == ["a1", "a2", "a3"]  # every line, text or not
    assert 'POINTS="10 60 190 60 190 90 10 90"' in (out / "q.alto.xml").read_text("utf-8")

    hand = tmp_path / "hand"
    res = runner.invoke(app, [*base, "--out", str(hand), "--line-type", "Handwritten"])
    q = json.loads((hand / "q.json").read_text("utf-8"))
    assert [ln["id"] for ln in q["lines"]] == ["a2", "a3"]
    assert [ln["id"] for ln in json.loads((hand / "p.json").read_text("utf-8"))["lines"]] == []

    # Other segmenters find their own blocks and outlines: regions and polygons without ids.
    res = runner.invoke(app, [*base[:3], "auto", *base[4:], "--out", str(tmp_path / "auto")])
    auto = json.loads((tmp_path / "auto" / "p.json").read_text("utf-8"))
    assert auto["regions"] and all("id" not in r for r in auto["regions"])
    assert sorted(i for r in auto["regions"] for i in r["lines"]) == list(range(len(auto["lines"])))
    assert all("id" not in ln and len(ln["polygon"]) >= 4 for ln in auto["lines"])
    res = runner.invoke(app, [*base[:3], "auto", "--line-type", "x", "--out", str(tmp_path / "o")])
    assert res.exit_code != 0 and "--segmenter xml" in res.output


def _transcriber(checkpoint: Path, **segment: object) -> Transcriber:
    options = TranscribeOptions(
        model=str(checkpoint),
        workers=0,
        segment=SegmentOptions(**segment),  # type: ignore[arg-type]
    )
    return Transcriber(options)


def test_evaluate_xml_collection_counts_problems(tmp_path: Path, tiny_checkpoint: Path) -> None:
    col = _collection(tmp_path / "col")
    (col / "orphan.xml").write_text(page_xml("2019", "gone.png"), "utf-8")  # image missing
    page_image(col / "broken.png")
    (col / "broken.xml").write_text("<PcGts", "utf-8")  # bad XML
    page_image(col / "far.png")
    (col / "far.xml").write_text(page_xml("2019", "far.png", OUTSIDE), "utf-8")
    assert detect_layout(col) == "xml"

    report = evaluate_dataset(col, _transcriber(tiny_checkpoint, method="xml"))
    ids = [i.id for i in report.items]
    # p: 3 lines; q: a1, a2 (a3 has no text); gone: 3 lines, unread; far: x (outside), m1
    assert ids == [
        "far/x",
        "far/m1",
        "p/l1",
        "p/l2",
        "p/m1",
        "q/a1",
        "q/a2",
        "gone/l1",
        "gone/l2",
        "gone/m1",
    ]
    unread = {i.id: i.prediction for i in report.items if i.id.startswith(("gone/", "far/x"))}
    assert set(unread.values()) == {""}
    msgs = [str(e) for e in report.errors]
    assert len(msgs) == 3
    assert any("broken.xml" in m and "not well-formed" in m for m in msgs)
    assert any("gone.png" in m and "no PAGE XML" not in m for m in msgs)  # the image is missing
    assert any("far.xml: line x: polygon lies outside the page" in m for m in msgs)
    assert next(i for i in report.items if i.id == "q/a2").reference == "28th of May"

    margins = _transcriber(tiny_checkpoint, method="xml", line_types=("marginalia",))
    report = evaluate_dataset(col, margins)
    assert [i.id for i in report.items] == ["far/m1", "p/m1", "gone/m1"]


def test_evaluate_xml_reads_what_the_exported_crops_read(
    tmp_path: Path, tiny_checkpoint: Path
) -> None:
    """The same lines read from the pages (--segmenter xml) and from their exported crops
    (data layout-lines, --segmenter none) give the same predictions."""
    col = _collection(tmp_path / "col")
    on_pages = evaluate_dataset(col, _transcriber(tiny_checkpoint, method="xml"))
    export_layout_lines(col, tmp_path / "lines")
    crops = evaluate_dataset(tmp_path / "lines", _transcriber(tiny_checkpoint, method="none"))
    assert len(on_pages.items) == len(crops.items) == 5
    assert {i.id: i.prediction for i in on_pages.items} == {i.id: i.prediction for i in crops.items}
    assert on_pages.cer == crops.cer

    with pytest.raises(OptionsError, match="--segmenter xml"):
        evaluate_dataset(col, _transcriber(tiny_checkpoint, method="none"))

    # From Python: a page read from its file finds its layout by its source path.
    page = _transcriber(tiny_checkpoint, method="xml").transcribe_page(read_pages(col / "q.png")[0])
    assert [ln.id for ln in page.lines] == ["a1", "a2", "a3"] and page.regions[0].id == "b1"
    by_id = {i.id: i.prediction for i in on_pages.items}
    assert [normalize_text(ln.text) for ln in page.lines[:2]] == [by_id["q/a1"], by_id["q/a2"]]

    hand = ["--line-type", "Handwritten", "--model", str(tiny_checkpoint), "--workers", "0"]
    res = runner.invoke(app, ["evaluate", str(col), *hand, "--json", "-"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout[res.stdout.index("{") :])
    assert [i["id"] for i in report["items"]] == ["q/a2"]


def test_train_from_an_xml_collection(tmp_path: Path) -> None:
    col = _collection(tmp_path / "col")
    page_image(col / "broken.png")
    (col / "broken.xml").write_text("<PcGts", "utf-8")
    assert len(scan_dataset(col).samples) == 5
    events: list[dict] = []
    opts = TrainOptions(epochs=1, batch_size=4, max_steps_per_epoch=1, config=TINY, threads=1)
    out = tmp_path / "run" / "m.pt"
    result = train([col], col, out, opts, log=events.append)
    assert result.epochs_run == 1 and out.is_file()
    start = next(e for e in events if e["event"] == "start")
    assert start["train_lines"] == 5 and start["val_lines"] == 5  # cut from the pages
    warning = next(e["message"] for e in events if e["event"] == "warning")
    assert "broken.xml" in warning and "not well-formed" in warning

    events.clear()
    hand = TrainOptions(**{**opts.__dict__, "line_types": ("Handwritten",)})
    train([col], col, tmp_path / "run" / "h.pt", hand, log=events.append)
    start = next(e for e in events if e["event"] == "start")
    assert start["train_lines"] == 1  # q/a2 only

    # A page whose lines are all outside it gives no lines, and says so.
    (col / "far.xml").write_text(page_xml("2019", "far.png", OUTSIDE), "utf-8")
    cv2.imwrite(str(col / "far.png"), np.full((200, 200), 230, np.uint8))
    events.clear()
    train([col], col, tmp_path / "run" / "f.pt", opts, log=events.append)
    start = next(e for e in events if e["event"] == "start")
    assert start["train_lines"] == 6  # far/m1 added, far/x left out
    warning = next(e["message"] for e in events if e["event"] == "warning")
    assert "line x: polygon lies outside the page" in warning

    # Lines of other types are neither read nor reported.
    events.clear()
    margins = TrainOptions(**{**opts.__dict__, "line_types": ("marginalia",)})
    train([col], col, tmp_path / "run" / "g.pt", margins, log=events.append)
    start = next(e for e in events if e["event"] == "start")
    assert start["train_lines"] == 2  # p/m1, far/m1
    warning = next(e["message"] for e in events if e["event"] == "warning")
    assert "broken.xml" in warning and "line x" not in warning


def test_serve_refuses_the_xml_segmenter() -> None:
    pytest.importorskip("fastapi")
    res = runner.invoke(app, ["serve", "--segmenter", "xml"])
    assert res.exit_code != 0 and "layout file beside each image" in res.output


def test_xml_segmenter_refuses_pages_a_layout_does_not_describe(tmp_path: Path) -> None:
    """A layout file describes one page: a multi-page file with one fails, naming both."""
    img = page_image(tmp_path / "one.png")
    assert cv2.imwritemulti(str(tmp_path / "book.tif"), [img, img])
    (tmp_path / "book.xml").write_text(page_xml("2019", "book.tif"), "utf-8")
    done = prepare_file(FileJob(tmp_path / "book.tif"), SegmentOptions(method="xml"), 32)
    assert done.error is not None and "book.tif" in done.error
    assert "book.xml describes one page, but this file has page 2" in done.error
    (tmp_path / "one.xml").write_text(page_xml("2019", "one.png"), "utf-8")
    done = prepare_file(FileJob(tmp_path / "one.png"), SegmentOptions(method="xml"), 32)
    assert done.error is None and [s.id for s in done.pages[0].shapes] == ["l1", "l2", "m1"]


def _six_line_page(root: Path, x0: int) -> None:
    """A 400x400 page with six written lines on its left half and a PAGE layout whose six line
    polygons start at ``x0`` (15: on the writing; 215: on the blank right half)."""
    img = np.full((400, 400), 230, np.uint8)
    lines = []
    for k in range(6):
        y = 20 + 60 * k
        cv2.putText(img, f"line {k}", (20, y + 32), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 30, 2)
        pts = f"{x0},{y} {x0 + 170},{y} {x0 + 170},{y + 45} {x0},{y + 45}"
        lines.append(
            f'<TextLine id="l{k}"><Coords points="{pts}"/>'
            f"<TextEquiv><Unicode>line {k}</Unicode></TextEquiv></TextLine>"
        )
    cv2.imwrite(str(root / "p.png"), img)
    ns, joined = PAGE_NS["2019"], "".join(lines)
    (root / "p.xml").write_text(
        f'<?xml version="1.0" encoding="UTF-8"?><PcGts xmlns="{ns}">'
        '<Page imageFilename="p.png" imageWidth="400" imageHeight="400">'
        f'<TextRegion id="r"><Coords points="0,0 399,0 399,399 0,399"/>{joined}'
        "</TextRegion></Page></PcGts>",
        "utf-8",
    )


def test_a_layout_that_misses_the_writing_is_refused(tmp_path: Path) -> None:
    """Polygons that hold little of the page's ink (a layout made for another scan or crop of
    the page) would give every line the wrong text: train/export and --segmenter xml refuse
    the page, naming the layout file; a layout on the writing is read."""
    for x0, fits in ((15, True), (215, False)):
        root = tmp_path / f"x{x0}"
        root.mkdir()
        _six_line_page(root, x0)
        gray = read_pages(root / "p.png")[0].image
        layout = read_layout(root / "p.xml")
        scan = export_layout_lines(root, tmp_path / f"lines{x0}")
        if fits:
            assert len(segment_layout(gray, layout, SegmentOptions(method="xml")).lines) == 6
            assert len(scan.samples) == 6 and not scan.errors
        else:
            with pytest.raises(InputError, match="does not match the image") as err:
                segment_layout(gray, layout, SegmentOptions(method="xml"))
            assert "p.xml" in str(err.value) and "hold only" in str(err.value)
            assert not scan.samples and len(scan.errors) == 1
            assert "p.xml" in str(scan.errors[0]) and "does not match" in str(scan.errors[0])
