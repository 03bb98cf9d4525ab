"""Font line synthesis, held-out text filtering and the `htrbatch data synth` command."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from htrbatch.cli import app
from htrbatch.data.synth import (
    SynthOptions,
    TextPool,
    missing_glyphs,
    render_font_line,
    synth_lines,
    written_form,
)
from htrbatch.data.text import drop_held_out
from htrbatch.errors import DatasetError
from tests.test_data_iamondb import make_folder

TEXTS = ["the quick brown fox , he said .", "Mr . Foot 's line ( 1961 )", "a small test"]


@pytest.fixture(scope="module")
def ttf_dir() -> Path:
    """Matplotlib's DejaVu fonts: Sans covers ASCII but not CJK, SansDisplay lacks letters."""
    mpl = pytest.importorskip("matplotlib")
    folder = Path(mpl.get_data_path()) / "fonts" / "ttf"
    if not (folder / "DejaVuSans.ttf").is_file():
        pytest.skip("matplotlib ships no DejaVu fonts here")
    return folder


@pytest.fixture
def fonts(ttf_dir: Path, tmp_path: Path) -> Path:
    out = tmp_path / "fonts"
    out.mkdir()
    for name in ("DejaVuSans.ttf", "DejaVuSansDisplay.ttf"):
        shutil.copy(ttf_dir / name, out / name)
    return out


def test_missing_glyphs_are_detected(ttf_dir: Path) -> None:
    sans = ttf_dir / "DejaVuSans.ttf"
    assert missing_glyphs(sans, "Hello, world! 12/3") == []
    assert missing_glyphs(sans, "tea \u4e2d\ue000 cup") == ["\u4e2d", "\ue000"]
    assert missing_glyphs(ttf_dir / "DejaVuSansDisplay.ttf", "Hello") == ["H", "e", "l", "o"]
    with pytest.raises(DatasetError, match="DejaVuSans.ttf.*\u4e2d"):
        render_font_line("tea \u4e2d", sans, np.random.default_rng(0))


def test_font_line_shape_and_ink(ttf_dir: Path) -> None:
    for k in range(4):
        img = render_font_line("Handwriting, 1961.", ttf_dir / "DejaVuSans.ttf",
                               np.random.default_rng(k), clean_fraction=1.0)  # fmt: skip
        assert img.dtype == np.uint8 and img.ndim == 2
        h, w = img.shape
        assert 20 <= h <= 400 and w > 2 * h
        assert np.percentile(img, 60) - np.percentile(img, 1) > 50


def test_written_form_closes_corpus_gaps() -> None:
    assert written_form("Mr . Foot 's line ( 1961 ) , \" he said .") == (
        "Mr. Foot's line (1961),\" he said."
    )
    assert written_form('a " limited state " was , " Yes') == 'a "limited state" was, "Yes'
    assert written_form("Labour ' s attack") == "Labour's attack"


def test_held_out_lines_and_neighbours_are_dropped() -> None:
    lines = ["one two", "", "we meet in London today at noon", "after", "far away", "fine"]
    kept = drop_held_out(lines, ["They will meet in London today ."], n=4)
    assert kept.lines == ["one two", "far away", "fine"]
    assert kept.total == 5 and kept.dropped == 3
    assert drop_held_out(lines, ["meet in London"], n=4).lines == [ln for ln in lines if ln]


def test_same_seed_same_bytes_whatever_the_workers(fonts: Path, tmp_path: Path) -> None:
    pool = TextPool.from_lines(TEXTS)
    opts = SynthOptions(count=4, seed=3, workers=1)
    ttfs = sorted(fonts.iterdir())
    one = synth_lines(pool, ttfs, tmp_path / "one", opts)
    two = synth_lines(pool, ttfs, tmp_path / "two", SynthOptions(count=4, seed=3, workers=2))
    other = synth_lines(pool, ttfs, tmp_path / "other", SynthOptions(count=4, seed=4, workers=1))
    assert one.written == two.written == other.written == 4
    names = sorted(p.name for p in (tmp_path / "one").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "two").iterdir())
    for name in names:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    a = (tmp_path / "one" / "synth-000000.png").read_bytes()
    assert a != (tmp_path / "other" / "synth-000000.png").read_bytes()


def test_text_no_font_covers_is_skipped(ttf_dir: Path, tmp_path: Path) -> None:
    # SansDisplay has no letters at all: every sample must be skipped, none drawn as boxes.
    opts = SynthOptions(count=3, random_fraction=0.0, workers=1)
    counts = synth_lines(
        TextPool.from_lines(TEXTS), [ttf_dir / "DejaVuSansDisplay.ttf"], tmp_path, opts
    )
    assert (counts.written, counts.skipped) == (0, 3)
    assert not list(tmp_path.glob("*.png"))


def test_cli_writes_images_with_sidecars(fonts: Path, tmp_path: Path) -> None:
    src = make_folder(tmp_path / "iam-ondb")
    text = tmp_path / "text.txt"
    text.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    args = ["data", "synth", "--fonts", str(fonts), "--text", str(text), "--count", "3"]
    args += ["--out", str(out), "--seed", "1", "--workers", "1", "--iamondb", str(src)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"synth-00000{i}.{ext}" for i in range(3) for ext in ("gt.txt", "png")]
    for i in range(3):
        label = (out / f"synth-00000{i}.gt.txt").read_text(encoding="utf-8")
        assert label.endswith("\n") and label.strip() and "\n" not in label.strip()
        img = cv2.imread(str(out / f"synth-00000{i}.png"), cv2.IMREAD_UNCHANGED)
        assert img is not None and img.ndim == 2 and img.dtype == np.uint8


def test_cli_help_has_examples() -> None:
    result = CliRunner().invoke(app, ["data", "synth", "--help"])
    assert result.exit_code == 0 and "Examples" in result.output


def test_cli_errors_are_one_line_and_nonzero(fonts: Path, tmp_path: Path) -> None:
    text = tmp_path / "t" / "text.txt"
    text.parent.mkdir()
    text.write_text("a line\n", encoding="utf-8")
    runner = CliRunner()
    base = ["data", "synth", "--fonts", str(fonts), "--text", str(text), "--out", str(tmp_path)]
    result = runner.invoke(app, base)  # no IAM-OnDB beside the text: cannot filter held-out text
    assert result.exit_code == 2 and "iam-ondb" in result.output
    src = make_folder(tmp_path / "src")
    result = runner.invoke(app, [*base, "--iamondb", str(src), "--fonts", str(tmp_path / "nope")])
    assert result.exit_code == 1 and "nope" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, [*base, "--iamondb", str(src), "--count", "0"])
    assert result.exit_code == 1 and "count" in result.output
