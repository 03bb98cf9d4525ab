"""IAM-OnDB reader and the `htrbatch data iamondb` command on a tiny fixture written per test."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from htrbatch.cli import app
from htrbatch.data.iamondb import read_ascii_files, read_iamondb
from htrbatch.errors import DatasetError

# form -> (number of stroke files, CSR lines); a01-001x has one stroke file too many.
FORMS = {
    "a01-000u": (2, ["A  MOVE to stop ", "Mr . Gaitskell   from"]),
    "a01-001x": (3, ["nominating any", "more Labour"]),
}
SPLITS = {"trainset": ["a01-000u"], "testset_v": ["a01-001x"], "testset_t": []}


def _stroke_xml(seed: int) -> str:
    rng = np.random.default_rng(seed)
    strokes = []
    t = 1.29e7 + seed  # absolute times as large as the real ones
    for k in range(4):
        x = np.linspace(300 * k, 300 * k + 250, 25)
        y = 1000 + 80 * np.sin(x / 40) + rng.normal(0, 2, x.size)
        pts = []
        for xi, yi in zip(x, y, strict=True):
            pts.append(f'<Point x="{xi:.0f}" y="{yi:.0f}" time="{t:.2f}"/>')
            t += 0.01
        t += 0.2
        strokes.append(f'<Stroke colour="black">{"".join(pts)}</Stroke>')
    return (
        '<?xml version="1.0" encoding="ISO-8859-1"?>\n<WhiteboardCaptureSession>'
        f"<StrokeSet>{''.join(strokes)}</StrokeSet></WhiteboardCaptureSession>"
    )


def _ascii(csr: list[str]) -> str:
    return "OCR:\n\nsomething else\n\nCSR:\n\n" + "\n".join(csr) + "\n"


def make_folder(root: Path) -> Path:
    """Extracted layout: lineStrokes/, ascii/ and split lists."""
    for n, (form, (count, csr)) in enumerate(FORMS.items()):
        sub = f"{form[:3]}/{form[:7]}"
        (root / "ascii" / sub).mkdir(parents=True, exist_ok=True)
        (root / "ascii" / sub / f"{form}.txt").write_text(_ascii(csr), encoding="latin-1")
        (root / "lineStrokes" / sub).mkdir(parents=True, exist_ok=True)
        for i in range(1, count + 1):
            xml = _stroke_xml(10 * n + i)
            (root / "lineStrokes" / sub / f"{form}-{i:02d}.xml").write_text(xml)
    for split, forms in SPLITS.items():
        (root / f"{split}.txt").write_text("".join(f + "\n" for f in forms))
    return root


def make_tarballs(root: Path, tmp: Path) -> Path:
    """Distribution layout: the two tarballs and split lists, built from an extracted folder."""
    folder = make_folder(tmp / "extracted")
    root.mkdir()
    for name, tarname in (("lineStrokes", "lineStrokes-dev.tar.gz"), ("ascii", "ascii-dev.tar.gz")):
        with tarfile.open(root / tarname, "w:gz") as tar:
            tar.add(folder / name, arcname=name)
    for split in SPLITS:
        (root / f"{split}.txt").write_bytes((folder / f"{split}.txt").read_bytes())
    return root


@pytest.fixture(params=["folder", "tarballs"])
def source(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    if request.param == "folder":
        return make_folder(tmp_path / "src")
    return make_tarballs(tmp_path / "src", tmp_path)


def test_reads_all_lines_and_counts_unmatched(source: Path) -> None:
    db = read_iamondb(source)
    assert [line.id for line in db.lines] == [
        "a01-000u-01",
        "a01-000u-02",
        "a01-001x-01",
        "a01-001x-02",
    ]
    assert db.skipped == 1  # a01-001x-03 has no CSR line
    assert [line.text for line in db.lines[:2]] == ["A MOVE to stop", "Mr . Gaitskell from"]
    line = db.lines[0]
    assert line.form == "a01-000u"
    assert len(line.strokes) == 4
    for s in line.strokes:
        assert s.dtype == np.float32 and s.ndim == 2 and s.shape[1] == 3
    # Times count from the line's first point, so float32 keeps the 10 ms steps.
    assert line.strokes[0][0, 2] == 0.0
    assert np.allclose(np.diff(line.strokes[0][:, 2]), 0.01, atol=1e-3)
    assert line.strokes[0][0, 0] == 0.0 and 900 < line.strokes[0][0, 1] < 1100


def test_split_filtering(source: Path) -> None:
    train = read_iamondb(source, "trainset")
    assert [line.form for line in train.lines] == ["a01-000u", "a01-000u"]
    assert train.skipped == 0
    val = read_iamondb(source, "testset_v")
    assert [line.id for line in val.lines] == ["a01-001x-01", "a01-001x-02"]
    assert val.skipped == 1


def test_folder_and_tarballs_agree(tmp_path: Path) -> None:
    a = read_iamondb(make_folder(tmp_path / "a"))
    b = read_iamondb(make_tarballs(tmp_path / "b", tmp_path))
    assert [(x.id, x.text) for x in a.lines] == [(x.id, x.text) for x in b.lines]
    for x, y in zip(a.lines, b.lines, strict=True):
        assert all(np.array_equal(s, t) for s, t in zip(x.strokes, y.strokes, strict=True))


def test_read_ascii_files(tmp_path: Path) -> None:
    for src in (make_folder(tmp_path / "a"), make_tarballs(tmp_path / "b", tmp_path)):
        assert read_ascii_files(src) == {f: _ascii(csr) for f, (_, csr) in FORMS.items()}
        assert read_ascii_files(src, {"a01-001x", "z99-999"}) == {
            "a01-001x": _ascii(["nominating any", "more Labour"])
        }
    with pytest.raises(DatasetError, match="not an IAM-OnDB source"):
        read_ascii_files(tmp_path)


def test_bad_sources_raise_naming_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(DatasetError, match="nope"):
        read_iamondb(missing)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match="empty"):
        read_iamondb(empty)
    src = make_folder(tmp_path / "src")
    with pytest.raises(DatasetError, match="unknown split"):
        read_iamondb(src, "testset_f")
    (src / "testset_t.txt").unlink()
    with pytest.raises(DatasetError, match="testset_t.txt"):
        read_iamondb(src, "testset_t")
    bad = make_tarballs(tmp_path / "bad", tmp_path / "x")
    (bad / "ascii-dev.tar.gz").write_bytes(b"not a tarball")
    with pytest.raises(DatasetError, match="ascii-dev.tar.gz"):
        read_iamondb(bad)


def test_cli_renders_split(tmp_path: Path) -> None:
    src = make_tarballs(tmp_path / "src", tmp_path)
    out = tmp_path / "out"
    args = ["data", "iamondb", str(src), "--split", "testset_v", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--variants", "2", "--workers", "1"])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        f"a01-001x-0{i}-v{k}.{ext}" for i in (1, 2) for k in (0, 1) for ext in ("gt.txt", "png")
    ]
    assert (out / "a01-001x-02-v1.gt.txt").read_text(encoding="utf-8") == "more Labour\n"


def test_cli_help_has_examples() -> None:
    result = CliRunner().invoke(app, ["data", "iamondb", "--help"])
    assert result.exit_code == 0 and "Examples" in result.output


def test_cli_errors_are_one_line_and_nonzero(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["data", "iamondb", str(tmp_path / "nope"), "--split", "trainset"])
    assert result.exit_code != 0
    assert "nope" in result.output and "Traceback" not in result.output
    src = make_folder(tmp_path / "src")
    result = runner.invoke(app, ["data", "iamondb", str(src), "--split", "bogus"])
    assert result.exit_code != 0 and "bogus" in result.output
    args = ["data", "iamondb", str(src), "--split", "trainset", "--variants", "0"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "o")])
    assert result.exit_code != 0 and "variants" in result.output
