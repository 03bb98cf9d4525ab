"""Documents in and out: PDF input, word boxes, ALTO / PAGE / hOCR / searchable PDF output."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pikepdf
import pypdfium2 as pdfium
import pytest
from PIL import Image
from typer.testing import CliRunner

from htrbatch.cli import app
from htrbatch.decode import GreedyDecoder, WordSpan, realign_words
from htrbatch.errors import InputError, OptionsError
from htrbatch.formats import alto, hocr, pagexml, pdf, read_layout, serializers
from htrbatch.io import expand_inputs, read_pages
from htrbatch.model import prepare_line_mapped
from htrbatch.outputs import OutputName, page_count
from htrbatch.pipeline import word_boxes
from htrbatch.types import LineResult, PageResult, RegionResult, WordResult
from tests.conftest import SHARED, draw_lines

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = SHARED / "schemas"
runner = CliRunner()


# --------------------------------------------------------------------------- fixtures


def _result(source: str = "page.png", width: int = 900, height: int = 300) -> PageResult:
    res = PageResult(source, width, height)
    res.lines.append(
        LineResult(
            (20, 30, 700, 90),
            "hello wörld & <co>",
            0.91,
            [
                WordResult("hello", (20, 30, 200, 90), 0.9),
                WordResult("wörld", (230, 30, 420, 90), 0.8),
                WordResult("&", (450, 30, 480, 90), 0.7),
                WordResult("<co>", (500, 30, 700, 90), 0.6),
            ],
            baseline=np.array([[20.0, 80.0], [699.0, 82.0]]),
        )
    )
    res.lines.append(
        LineResult(
            (25, 120, 600, 180),
            "second line",
            0.5,
            [
                WordResult("second", (25, 120, 300, 180), 0.5),
                WordResult("line", (330, 120, 600, 180), 0.4),
            ],
            polygon=np.array([[25.0, 125.0], [599.0, 120.0], [599.0, 179.0], [25.0, 175.0]]),
        )
    )
    res.lines.append(LineResult((30, 200, 400, 260), "", 0.0))  # nothing read: geometry only
    return res


def _schemas():
    etree = pytest.importorskip("lxml.etree")
    if not (SCHEMAS / "alto-4-4.xsd").is_file():
        pytest.skip("../shared/schemas is absent")

    class LocalXlink(etree.Resolver):
        def resolve(self, url, pubid, context):  # noqa: ANN001
            if url.endswith("xlink.xsd"):  # ALTO imports XLink from loc.gov: use the local copy
                return self.resolve_filename(str(SCHEMAS / "xlink.xsd"), context)
            return None

    parser = etree.XMLParser()
    parser.resolvers.add(LocalXlink())
    alto_xsd = etree.XMLSchema(etree.parse(str(SCHEMAS / "alto-4-4.xsd"), parser))
    page_xsd = etree.XMLSchema(etree.parse(str(SCHEMAS / "pagecontent-2019-07-15.xsd")))
    return etree, alto_xsd, page_xsd


def _pdf_from_images(path: Path, images: list[np.ndarray], dpi: int) -> None:
    ims = [Image.fromarray(im) for im in images]
    ims[0].save(path, save_all=True, append_images=ims[1:], resolution=dpi)


def _layer_words(path: Path) -> list[list[str]]:
    doc = pdfium.PdfDocument(str(path))
    try:
        return [doc[i].get_textpage().get_text_range().split() for i in range(len(doc))]
    finally:
        doc.close()


# --------------------------------------------------------------------------- word boxes


def test_greedy_words_span_their_frames() -> None:
    labels = ["", "a", "b", " "]
    path = [0, 1, 1, 0, 2, 0, 3, 3, 0, 0, 2, 2, 0]  # "ab" on frames 1-4, "b" on 10-11
    x = np.full((len(path), 4), -9.0, np.float32)
    x[np.arange(len(path)), path] = -0.01
    d = GreedyDecoder(labels).decode(x)
    assert d.text == "ab b"
    assert [(w.text, w.start, w.end) for w in d.words] == [("ab", 1, 5), ("b", 10, 12)]
    assert all(0.9 < w.confidence <= 1 for w in d.words)
    x[10:12, 2] = -2.0  # a less certain second word
    assert GreedyDecoder(labels).decode(x).words[1].confidence < d.words[1].confidence


def test_realigned_words_follow_punctuation_and_spelling_fixes() -> None:
    raw = (WordSpan("said", 0, 8, 0.9), WordSpan(":", 9, 10, 0.5), WordSpan("teh", 12, 18, 0.8))
    out = realign_words("said: the", raw)
    assert [(w.text, w.start, w.end) for w in out] == [("said:", 0, 10), ("the", 12, 18)]
    assert out[0].confidence == 0.5
    out = realign_words("said : xyz", raw)  # a whole-word replacement keeps its place
    assert [(w.text, w.start, w.end) for w in out] == [
        ("said", 0, 8),
        (":", 9, 10),
        ("xyz", 12, 18),
    ]


def test_line_map_sends_prepared_columns_back_to_the_crop() -> None:
    crop = np.full((60, 800), 230, np.uint8)
    crop[15:45, 150:260] = 20  # a "word" at x 150-259
    crop[15:45, 400:610] = 20  # another at x 400-609
    prepared, lmap = prepare_line_mapped(crop, 32)
    ink = np.flatnonzero(prepared.max(axis=0) > 0.5)
    assert abs(lmap.crop_x(ink[0]) - 150) <= lmap.scale + 1
    assert abs(lmap.crop_x(ink[-1] + 1) - 610) <= lmap.scale + 1
    # frames (stride 4) over each block become word boxes in page pixels (crop at x=1000)
    stride = 4
    cols = np.split(ink, np.flatnonzero(np.diff(ink) > 1) + 1)  # the two blocks' columns
    assert len(cols) == 2
    spans = tuple(
        WordSpan(t, int(c[0]) // stride, int(c[-1]) // stride + 1, 0.9)
        for t, c in zip(("one", "two"), cols)
    )
    from htrbatch.decode import DecodeResult

    boxes = word_boxes(DecodeResult("one two", 0.9, spans), (1000, 50, 1800, 110), lmap, stride)
    (a0, _, a1, _), (b0, y0, b1, y1) = boxes[0].bbox, boxes[1].bbox
    assert (y0, y1) == (50, 110)
    assert abs(a0 - 1150) <= 12 and 1255 <= a1 <= 1400  # right edge: half-way to the next word
    assert abs(b0 - 1400) <= 12 and abs(b1 - 1610) <= 25  # last word: to the inked end


@pytest.mark.slow
def test_shipped_model_word_boxes_sit_on_the_drawn_words() -> None:
    from htrbatch.decode import DecodeOptions
    from htrbatch.pipeline import TranscribeOptions, Transcriber
    from htrbatch.segment import SegmentOptions
    from htrbatch.types import PageImage

    words = ["morning", "light", "falls", "over", "town"]
    img = np.full((80, 1400), 240, np.uint8)
    truth, x = [], 40
    for w in words:
        (tw, _), _ = cv2.getTextSize(w, cv2.FONT_HERSHEY_COMPLEX, 1.3, 2)
        cv2.putText(img, w, (x, 55), cv2.FONT_HERSHEY_COMPLEX, 1.3, 30, 2, cv2.LINE_AA)
        truth.append((x, x + tw))
        x += tw + 45
    options = TranscribeOptions(
        segment=SegmentOptions(method="none"), decode=DecodeOptions(decoder="greedy"), workers=0
    )
    line = Transcriber(options).transcribe_page(PageImage(img, "x")).lines[0]
    assert len(line.words) == len(words)
    for w, (t0, t1) in zip(line.words, truth):
        x0, _, x1, _ = w.bbox
        overlap = min(x1, t1) - max(x0, t0)
        assert overlap / (max(x1, t1) - min(x0, t0)) > 0.7, (w, t0, t1)


# --------------------------------------------------------------------------- PDF input


def test_pdf_pages_render_at_the_scans_resolution(tmp_path: Path) -> None:
    pages = [draw_lines(["first page"], seed=1), draw_lines(["second page", "more"], seed=2)]
    path = tmp_path / "doc.pdf"
    _pdf_from_images(path, pages, dpi=150)
    got = read_pages(path, dpi=300)  # a scanned page keeps its own 150 dpi
    assert [p.page for p in got] == [1, 2]
    for p, want in zip(got, pages):
        assert (
            abs(p.image.shape[0] - want.shape[0]) <= 1
            and abs(p.image.shape[1] - want.shape[1]) <= 1
        )
        assert p.image.mean() < 250  # the script is there
    assert page_count(path) == 2


def test_pdf_without_a_scan_renders_at_dpi(tmp_path: Path) -> None:
    doc = pikepdf.new()
    page = doc.add_blank_page(page_size=(144, 72))  # 2 x 1 inch
    page.contents_add(doc.make_stream(b"0 g 20 20 100 30 re f\n"))
    doc.save(tmp_path / "vector.pdf")
    (only,) = read_pages(tmp_path / "vector.pdf", dpi=100)
    assert only.page is None and only.image.shape == (100, 200)
    assert only.image[50, 100] < 50 and only.image[5, 5] > 200  # the drawn bar, white around


def test_encrypted_and_corrupt_pdfs_are_reported(tmp_path: Path) -> None:
    doc = pikepdf.new()
    doc.add_blank_page()
    doc.save(tmp_path / "locked.pdf", encryption=pikepdf.Encryption(owner="o", user="secret"))
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj garbage\n")
    with pytest.raises(InputError, match="encrypted") as exc:
        read_pages(tmp_path / "locked.pdf")
    assert "locked.pdf" in str(exc.value)
    with pytest.raises(InputError, match="broken.pdf"):
        read_pages(tmp_path / "broken.pdf")


def test_folders_are_searched_for_pdfs(tmp_path: Path) -> None:
    (tmp_path / "a.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "b.txt").write_text("x")
    found, errors = expand_inputs([str(tmp_path)])
    assert [f.path.name for f in found] == ["a.pdf"] and not errors


# --------------------------------------------------------------------------- serializers


@pytest.mark.shared
def test_alto_and_page_validate_against_the_official_schemas() -> None:
    etree, alto_xsd, page_xsd = _schemas()
    for res in (_result(), PageResult("empty.png", 50, 50)):
        a = etree.fromstring(alto.write(res).encode())
        assert alto_xsd.validate(a), alto_xsd.error_log
        p = etree.fromstring(pagexml.write(res).encode())
        assert page_xsd.validate(p), page_xsd.error_log
    broken = etree.fromstring(alto.write(_result()).encode())
    word = broken.find(".//{*}String")
    del word.attrib["CONTENT"]  # required
    assert not alto_xsd.validate(broken)  # the schema is really checked


def test_alto_holds_words_confidences_spaces_and_shapes() -> None:
    doc = alto.write(_result())
    root = __import__("xml.etree.ElementTree", fromlist=["x"]).fromstring(doc)
    ns = {"a": alto.NS}
    strings = root.findall(".//a:String", ns)
    assert [s.get("CONTENT") for s in strings if s.get("CONTENT")] == _result().text.split()
    assert [s.get("WC") for s in strings[:2]] == ["0.9000", "0.8000"]
    first = strings[0]
    assert (first.get("HPOS"), first.get("VPOS"), first.get("WIDTH"), first.get("HEIGHT")) == (
        "20",
        "30",
        "180",
        "60",
    )
    assert len(root.findall(".//a:TextLine[1]/a:SP", ns)) == 3
    assert root.find(".//a:MeasurementUnit", ns).text == "pixel"
    assert root.find(".//a:processingSoftware/a:softwareName", ns).text == "htrbatch"
    assert root.find(".//a:TextLine", ns).get("BASELINE") == "20 80 699 82"


def test_own_alto_and_page_read_back_with_text_and_polygons(tmp_path: Path) -> None:
    res = _result()
    for name, write in (("a.alto.xml", alto.write), ("a.page.xml", pagexml.write)):
        (tmp_path / name).write_text(write(res), encoding="utf-8")
        layout = read_layout(tmp_path / name)
        assert (layout.width, layout.height) == (900, 300)
        assert [ln.text for ln in layout.lines] == [ln.text for ln in res.lines]
        np.testing.assert_allclose(layout.lines[1].polygon, res.lines[1].polygon)
        np.testing.assert_allclose(
            layout.lines[0].polygon, [[20, 30], [699, 30], [699, 89], [20, 89]]
        )
        np.testing.assert_allclose(layout.lines[0].baseline, res.lines[0].baseline)


def test_own_layout_files_are_a_line_dataset(tmp_path: Path) -> None:
    from htrbatch.data.layout_lines import find_layout_pages, iter_layout_lines

    page = draw_lines(["alpha beta", "gamma"], width=600, line_h=70, seed=3)
    for kind, write in (("alto", alto.write), ("page", pagexml.write)):
        folder = tmp_path / kind
        folder.mkdir()
        cv2.imwrite(str(folder / "p.png"), page)
        res = PageResult(str(folder / "p.png"), page.shape[1], page.shape[0])
        res.lines.append(LineResult((20, 35, 300, 85), "alpha beta", 0.9))
        res.lines.append(LineResult((20, 105, 200, 155), "gamma", 0.8))
        (folder / f"p.{kind}.xml").write_text(write(res), encoding="utf-8")
        found, errors = find_layout_pages(folder)
        assert not errors and len(found) == 1
        samples = list(iter_layout_lines(found))
        assert [s.text for s in samples] == ["alpha beta", "gamma"]
        assert samples[0].image.shape == (50 + 8, 280 + 8)  # the box, padded by 4


def test_hocr_lines_and_words_carry_boxes_and_confidences() -> None:
    etree = pytest.importorskip("lxml.etree")
    root = etree.fromstring(hocr.write(_result()).encode())
    spans = root.iter("{http://www.w3.org/1999/xhtml}span")
    lines = [s for s in spans if s.get("class") == "ocr_line"]
    assert [ln.get("title") for ln in lines[:2]] == [
        "bbox 20 30 700 90; x_wconf 91",
        "bbox 25 120 600 180; x_wconf 50",
    ]
    words = [s for s in lines[0] if s.get("class") == "ocrx_word"]
    assert [w.text for w in words] == ["hello", "wörld", "&", "<co>"]
    assert words[1].get("title") == "bbox 230 30 420 90; x_wconf 80"
    assert root.find(".//{*}div").get("class") == "ocr_page"


def test_unknown_format_is_refused() -> None:
    with pytest.raises(OptionsError, match="docx"):
        serializers(["txt", "docx"])
    assert [s.suffix for s in serializers(["alto", "page", "hocr", "pdf"])] == [
        ".alto.xml",
        ".page.xml",
        ".hocr",
        ".pdf",
    ]


# --------------------------------------------------------------------------- searchable PDF


def _charboxes(path: Path, index: int = 0) -> tuple[str, list[tuple[float, ...]], tuple]:
    doc = pdfium.PdfDocument(str(path))
    page = doc[index]
    tp = page.get_textpage()
    n = tp.count_chars()
    return tp.get_text_range(), [tp.get_charbox(i) for i in range(n)], page.get_size()


def test_searchable_pdf_of_an_image_puts_words_on_their_boxes(tmp_path: Path) -> None:
    img = draw_lines(["x"], width=900, line_h=150)
    src = tmp_path / "page.png"
    Image.fromarray(img).save(src, dpi=(150, 150))
    res = _result(str(src), 900, 300)
    out = tmp_path / "page.pdf"
    out.write_bytes(pdf.searchable_pdf(src, [res]))
    text, boxes, (w_pt, h_pt) = _charboxes(out)
    assert text.split() == res.text.split()
    assert (w_pt, h_pt) == pytest.approx((900 * 72 / 150, 300 * 72 / 150), abs=0.1)
    k = 72 / 150  # "hello": x 20-200, y 30-90 px -> points, y up
    (l0, b0, _, t0), (_, _, r4, _) = boxes[0], boxes[4]
    assert l0 == pytest.approx(20 * k, abs=0.5) and r4 <= 230 * k + 0.5
    assert t0 == pytest.approx(h_pt - 30 * k, abs=1) and b0 == pytest.approx(h_pt - 90 * k, abs=1)
    rendered = pdfium.PdfDocument(str(out))[0].render(scale=150 / 72, grayscale=True).to_numpy()
    rendered = rendered.reshape(rendered.shape[0], rendered.shape[1], -1)[..., 0]
    assert rendered.shape == img.shape
    assert np.abs(rendered.astype(int) - img).mean() < 2  # the image, the text invisible


def test_searchable_pdf_of_a_pdf_keeps_its_pages_and_honours_rotation(tmp_path: Path) -> None:
    doc = pikepdf.new()
    for rotate in (0, 90):
        page = doc.add_blank_page(page_size=(200, 100))
        page.contents_add(doc.make_stream(b"0 g 10 60 50 20 re f\n"))  # a bar, top left
        page.obj.Rotate = rotate
    doc.save(tmp_path / "in.pdf")
    rendered = read_pages(tmp_path / "in.pdf", dpi=72)
    results = []
    for p in rendered:
        ys, xs = np.nonzero(p.image < 128)
        box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
        res = PageResult(str(tmp_path / "in.pdf"), p.image.shape[1], p.image.shape[0], page=p.page)
        res.lines.append(LineResult(box, "bar", 0.9, [WordResult("bar", box, 0.9)]))
        results.append(res)
    out = tmp_path / "out.pdf"
    out.write_bytes(pdf.searchable_pdf(tmp_path / "in.pdf", results))
    assert _layer_words(out) == [["bar"], ["bar"]]
    for i in range(2):
        _, boxes, _ = _charboxes(out, i)
        left = min(b[0] for b in boxes)
        bottom = min(b[1] for b in boxes)
        right = max(b[2] for b in boxes)
        top = max(b[3] for b in boxes)
        # in user space (unrotated), the text covers the bar at x 10-60, y 60-80
        assert (left, bottom, right, top) == pytest.approx((10, 60, 60, 80), abs=1.5), i
    with pikepdf.open(out) as again:
        assert len(again.pages) == 2 and int(again.pages[1].obj.Rotate) == 90


# --------------------------------------------------------------------------- CLI, end to end


def _samples_pdf(path: Path) -> None:
    names = ["a04-047-notebook.jpg", "d05-335z-scan.jpg"]
    ims = [Image.open(ROOT / "samples" / n).convert("L") for n in names]
    ims[0].save(path, save_all=True, append_images=ims[1:], resolution=300)


def test_pdf_in_every_format_out(tmp_path: Path, tiny_checkpoint: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    _samples_pdf(tmp_path / "doc.pdf")
    args = ["transcribe", "doc.pdf", "--out", "out", "--model", str(tiny_checkpoint)]
    args += ["--decoder", "greedy", "--workers", "0", "--format", "txt,json,alto,page,hocr,pdf"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    out = tmp_path / "out"
    assert sorted(p.name for p in (out / "doc").iterdir()) == sorted(
        f"doc-p{n}{s}" for n in (1, 2) for s in (".txt", ".json", ".alto.xml", ".page.xml", ".hocr")
    )
    layer = _layer_words(out / "doc.pdf")
    assert len(layer) == 2
    for n in (1, 2):
        stem = out / "doc" / f"doc-p{n}"
        data = json.loads(stem.with_suffix(".json").read_text())
        assert data["page"] == n and data["lines"]
        for line in data["lines"]:
            assert [w["text"] for w in line["words"]] == line["text"].split()
            for w in line["words"]:
                assert line["bbox"][0] <= w["bbox"][0] < w["bbox"][2] <= line["bbox"][2]
        layout = read_layout(Path(f"{stem}.alto.xml"))
        assert [ln.text for ln in layout.lines] == [ln["text"] for ln in data["lines"]]
        assert " ".join(layer[n - 1]) == " ".join(data["text"].split())
        assert "ocr_line" in Path(f"{stem}.hocr").read_text()
    # resume: everything is there, nothing is redone; a missing PDF makes the file redone
    r = runner.invoke(app, args)
    assert r.exit_code == 0 and "2 page(s) already done" in r.output
    (out / "doc.pdf").unlink()
    r = runner.invoke(app, args)
    assert r.exit_code == 0 and (out / "doc.pdf").is_file()


def test_a_bad_pdf_is_reported_and_the_batch_goes_on(tmp_path: Path, tiny_checkpoint: Path) -> None:
    d = tmp_path / "in"
    d.mkdir()
    cv2.imwrite(str(d / "good.png"), draw_lines(["a line"], seed=4))
    (d / "bad.pdf").write_bytes(b"%PDF-1.7\nnot really\n")
    args = ["transcribe", str(d), "--out", str(tmp_path / "out"), "--model", str(tiny_checkpoint)]
    r = runner.invoke(app, args + ["--decoder", "greedy", "--workers", "0", "--format", "txt,pdf"])
    assert r.exit_code == 1 and "bad.pdf" in r.output
    assert (tmp_path / "out" / "good.txt").is_file() and (tmp_path / "out" / "good.pdf").is_file()


def test_per_document_outputs_in_the_naming_rule(tmp_path: Path) -> None:
    name = OutputName(tmp_path / "doc.pdf", Path("sub/doc"))  # type: ignore[arg-type]
    assert name.paths("o", 2, ["txt", "alto", "pdf"]) == {
        "txt": Path("o/sub/doc/doc-p2.txt"),
        "alto": Path("o/sub/doc/doc-p2.alto.xml"),
    }
    assert name.document_paths("o", ["txt", "pdf"]) == {"pdf": Path("o/sub/doc.pdf")}


def test_long_pdfs_reopen_and_huge_pages_are_capped(tmp_path: Path, monkeypatch) -> None:
    pages = [draw_lines([f"page {i}"], width=300, seed=i) for i in range(5)]
    path = tmp_path / "five.pdf"
    _pdf_from_images(path, pages, dpi=100)
    monkeypatch.setattr(pdf, "REOPEN_EVERY", 2)  # the document is opened three times
    got = list(pdf.iter_pages(path))
    assert [p.page for p in got] == [1, 2, 3, 4, 5]
    for p, want in zip(got, pages):
        assert np.abs(p.image.astype(int) - want).mean() < 8  # the same page, in order
    monkeypatch.setattr("htrbatch.io.MAX_PIXELS", 20_000)
    small = next(pdf.iter_pages(path))
    assert small.image.size <= 20_000 * 1.05 and small.image.shape[1] > 2 * small.image.shape[0]


def test_alto_and_page_write_the_regions_and_the_layouts_own_ids(tmp_path: Path) -> None:
    """Regions become TextRegions/TextBlocks in reading order (lines no region holds come
    last); a line's own id (from --segmenter xml) is kept when it is a valid, unique XML id."""
    res = _result()
    res.lines[0].id = "tl_7"
    res.lines[1].id = "2 bad id"  # not an XML id: replaced
    res.lines[2].id = "tl_7"  # a duplicate: replaced
    res.regions = [RegionResult((10, 110, 700, 270), [1], "r_b"), RegionResult((0, 0, 9, 9), [0])]
    for name, write in (("a.alto.xml", alto.write), ("a.page.xml", pagexml.write)):
        (tmp_path / name).write_text(write(res), encoding="utf-8")
        layout = read_layout(tmp_path / name)
        assert [r.id for r in layout.regions] == ["r_b", "region_2", "region_3"]
        assert [[ln.id for ln in r.lines] for r in layout.regions] == [
            ["line_2"], ["tl_7"], ["line_3"]
        ]  # fmt: skip
        assert [ln.text for ln in layout.lines] == ["second line", "hello wörld & <co>", ""]
    try:
        etree, alto_xsd, page_xsd = _schemas()
    except pytest.skip.Exception:
        return
    assert alto_xsd.validate(etree.fromstring(alto.write(res).encode())), alto_xsd.error_log
    assert page_xsd.validate(etree.fromstring(pagexml.write(res).encode())), page_xsd.error_log
