"""Whole-form page rendering and the `htrbatch data pages` command on a tiny IAM-OnDB fixture."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from htrbatch.cli import app
from htrbatch.data.iamondb import OnlineLine, read_iamondb
from htrbatch.data.pages import PAGE_STYLES, PageOptions, render_forms, render_page
from htrbatch.errors import DatasetError, OptionsError
from tests.test_data_iamondb import make_folder

PITCH = 400  # sensor units between the fixture's lines once spread out


def _spread_lines(root: Path) -> None:
    """The shared fixture writes every line at the same height; put line k k pitches lower."""
    for xml in root.glob("lineStrokes/**/*.xml"):
        dy = (int(xml.stem.rsplit("-", 1)[1]) - 1) * PITCH
        text = re.sub(r'y="(\d+)"', lambda m, dy=dy: f'y="{int(m[1]) + dy}"', xml.read_text())
        xml.write_text(text)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    src = make_folder(tmp_path / "src")
    _spread_lines(src)
    return src


@pytest.fixture
def form(source: Path) -> list[OnlineLine]:
    return read_iamondb(source, "trainset").lines  # a01-000u: two lines


def _ink(img: np.ndarray) -> np.ndarray:
    """Pixels clearly darker than the paper around them (light varies across photos)."""
    paper = cv2.dilate(img, np.ones((15, 15), np.uint8))
    return img.astype(np.int16) < paper.astype(np.int16) - 40


@pytest.mark.parametrize("style", PAGE_STYLES)
def test_boxes_inside_page_and_in_reading_order(form: list[OnlineLine], style: str) -> None:
    page = render_page(form, np.random.default_rng(2), style=style, x_height=24)
    h, w = page.image.shape
    assert page.image.dtype == np.uint8 and page.style == style
    assert [ln.text for ln in page.lines] == ["A MOVE to stop", "Mr . Gaitskell from"]
    centres = []
    for ln in page.lines:
        x0, y0, x1, y1 = ln.bbox
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
        centres.append((y0 + y1) / 2)
    assert centres == sorted(centres)


@pytest.mark.parametrize(("style", "seed"), [("scan", 0), ("gray", 1), ("photo", 0), ("photo", 3)])
def test_boxes_follow_the_ink(form: list[OnlineLine], style: str, seed: int) -> None:
    # Photos are turned by up to 3 degrees: boxes must be measured after the turn.
    page = render_page(form, np.random.default_rng(seed), style=style, x_height=40)
    ink = _ink(page.image)
    inside = np.zeros_like(ink)
    for ln in page.lines:
        x0, y0, x1, y1 = ln.bbox
        inside[y0:y1, x0:x1] = True
        assert ink[y0:y1, x0:x1].mean() > 0.05  # each box holds ink
    assert ink.sum() > 1000
    assert (ink & ~inside).sum() <= 0.005 * ink.sum()


def test_same_seed_same_page(form: list[OnlineLine]) -> None:
    a = render_page(form, np.random.default_rng(5))
    b = render_page(form, np.random.default_rng(5))
    c = render_page(form, np.random.default_rng(6), style=a.style)
    assert a.image.tobytes() == b.image.tobytes() and a.lines == b.lines
    assert a.image.tobytes() != c.image.tobytes()


def test_errors(form: list[OnlineLine], tmp_path: Path) -> None:
    empty = [OnlineLine(id="a01-000u-01", form="a01-000u", text="x", strokes=[])]
    with pytest.raises(DatasetError, match="a01-000u"):
        render_page(empty, np.random.default_rng(0))
    with pytest.raises(OptionsError, match="crayon"):
        render_page(form, np.random.default_rng(0), style="crayon")
    with pytest.raises(OptionsError, match="tiff"):
        render_forms([form], tmp_path, PageOptions(image_format="tiff"))


def test_render_forms_independent_of_workers(source: Path, tmp_path: Path) -> None:
    db = read_iamondb(source)
    forms = [[ln for ln in db.lines if ln.form == f] for f in ("a01-000u", "a01-001x")]
    one = render_forms(forms, tmp_path / "one", PageOptions(seed=1, workers=1))
    two = render_forms(forms, tmp_path / "two", PageOptions(seed=1, workers=2))
    assert (
        (one.written, one.skipped, one.lines) == (two.written, two.skipped, two.lines) == (2, 0, 4)
    )
    for p in sorted((tmp_path / "one").iterdir()):
        assert p.read_bytes() == (tmp_path / "two" / p.name).read_bytes()


def test_cli_writes_page_text_and_boxes(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["data", "pages", str(source), "--split", "testset_v", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--seed", "3", "--limit", "1", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "a01-001x.gt.txt",
        "a01-001x.lines.json",
        "a01-001x.png",
    ]
    img = cv2.imread(str(out / "a01-001x.png"), cv2.IMREAD_UNCHANGED)
    assert img.ndim == 2 and img.dtype == np.uint8
    gt = (out / "a01-001x.gt.txt").read_text(encoding="utf-8")
    assert gt == "nominating any\nmore Labour\n"
    meta = json.loads((out / "a01-001x.lines.json").read_text(encoding="utf-8"))
    assert [ln["text"] for ln in meta["lines"]] == gt.splitlines()
    h, w = img.shape
    for ln in meta["lines"]:
        x0, y0, x1, y1 = ln["bbox"]
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h


def test_cli_help_has_examples() -> None:
    result = CliRunner().invoke(app, ["data", "pages", "--help"])
    assert result.exit_code == 0 and "Examples" in result.output


def test_cli_errors_are_one_line_and_nonzero(source: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = ["--out", str(tmp_path / "o")]
    result = runner.invoke(app, ["data", "pages", str(source), "--split", "bogus", *out])
    assert result.exit_code != 0 and "bogus" in result.output
    result = runner.invoke(
        app, ["data", "pages", str(tmp_path / "nope"), "--split", "trainset", *out]
    )
    assert result.exit_code == 1 and "nope" in result.output and "Traceback" not in result.output
    args = ["data", "pages", str(source), "--split", "trainset", "--styles", "scan,crayon", *out]
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "crayon" in result.output
