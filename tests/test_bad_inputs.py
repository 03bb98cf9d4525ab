"""Bad inputs of every kind in one batch: each is named once on stderr with its reason, the good
files are done, the exit code is 1; broken and looping links, folders and FIFOs with an image
name are reported, never skipped without a word; error lines print file names literally."""

from __future__ import annotations

import os
import random
from pathlib import Path

import cv2
import pytest
from PIL import Image
from typer.testing import CliRunner

from htrbatch.cli import app
from htrbatch.cli.app import literal
from htrbatch.errors import InputError
from htrbatch.io import expand_inputs, iter_pages, not_a_file
from tests.conftest import draw_lines, load_benchmark

soak = load_benchmark("soak")  # benchmarks/soak.py, whose bad-file makers these tests share

# what each kind's reason says (as root, chmod 0 does not stop reading: "unreadable" is then
# judged by its content, a truncated PNG)
REASONS = {
    "empty": "file is empty",
    "text": "not an image file",
    "truncated-png": "cannot decode image",
    "truncated-jpeg": "cannot decode image",
    "truncated-tiff": "cannot decode image",
    "noise": "not an image file",
    "bomb": "60000x60000 pixels, over the limit",
    "tiny": "1x1 pixels, too small",
    "corrupt-pdf": "cannot read PDF",
    "unreadable": "permission denied" if os.geteuid() != 0 else "cannot decode image",
    "directory": "is a directory",
    "broken-link": "broken symbolic link",
    "looping-link": "symbolic link loops back on itself",
    "fifo": "FIFO",
}


@pytest.fixture
def batch(tmp_path: Path) -> tuple[Path, list[Path], dict[Path, str]]:
    """3 good pages (one named with a newline and rich markup) and one entry of each bad kind."""
    root = tmp_path / "in"
    root.mkdir()
    good = []
    for i, name in enumerate(["a page é.png", "b\nline [red]x.png", "c page.jpg"]):
        p = root / name
        cv2.imwrite(str(p), draw_lines(["some words"], width=400, seed=i))
        good.append(p)
    png = (root / "a page é.png").read_bytes()
    bad = {}
    rng = random.Random(0)
    for kind, (suffix, make) in soak.BAD_KINDS.items():
        p = root / f"bad {kind}{suffix}"
        make(p, png, rng)
        bad[p] = kind
    return root, good, bad


def test_every_bad_input_named_once_good_ones_done(
    batch: tuple[Path, list[Path], dict[Path, str]], tmp_path: Path, tiny_checkpoint: Path
) -> None:
    root, good, bad = batch
    out = tmp_path / "out"
    args = ["transcribe", str(root), "--out", str(out), "--model", str(tiny_checkpoint)]
    r = CliRunner().invoke(app, [*args, "--decoder", "greedy", "--segmenter", "none"])
    assert r.exit_code == 1, r.output
    lines = r.stderr.splitlines()
    errors = [ln for ln in lines if ln.startswith("error: ")]
    assert len(errors) == len(bad), errors
    for path, kind in bad.items():
        head = f"error: {path}: "
        named = [ln for ln in errors if ln.startswith(head)]
        assert len(named) == 1, (kind, named)
        assert REASONS[kind] in named[0], (kind, named[0])
    # the good pages are written, the bad ones have no output
    assert sorted(p.name for p in out.glob("*.json")) == sorted(p.stem + ".json" for p in good)
    assert f"{len(good)} page(s) written" in r.stderr and f"{len(bad)} input(s) failed" in r.stderr


def test_error_lines_print_names_literally(tmp_path: Path, tiny_checkpoint: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()
    bad = root / "[bold]x\ny[b].png"
    bad.write_bytes(b"")
    out = tmp_path / "out"
    r = CliRunner().invoke(
        app, ["transcribe", str(root), "--out", str(out), "--model", str(tiny_checkpoint)]
    )
    assert r.exit_code == 1
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error: ")]
    assert errors == [f"error: {root}/[bold]x\\ny[b].png: file is empty"]


def test_literal_escapes_control_characters() -> None:
    assert literal("a\nb\tc\x1b[31m é [x]") == "a\\nb\\tc\\x1b[31m é [x]"


def test_not_a_file_reasons(tmp_path: Path) -> None:
    f = tmp_path / "f.png"
    f.write_bytes(b"x")
    assert not_a_file(f) is None
    (tmp_path / "d.png").mkdir()
    assert not_a_file(tmp_path / "d.png") == "is a directory, not a file"
    assert not_a_file(tmp_path / "missing.png") == "no such file or directory"
    (tmp_path / "loop.jpg").symlink_to("loop.jpg")
    assert not_a_file(tmp_path / "loop.jpg") == "symbolic link loops back on itself"
    (tmp_path / "broken.png").symlink_to("nowhere.png")
    assert "broken symbolic link" in not_a_file(tmp_path / "broken.png")
    os.mkfifo(tmp_path / "pipe.png")
    assert "FIFO" in not_a_file(tmp_path / "pipe.png")
    (tmp_path / "link.png").symlink_to(f)  # a link to a file is a file
    assert not_a_file(tmp_path / "link.png") is None


def test_expand_inputs_reports_links_named_directly_and_in_folders(tmp_path: Path) -> None:
    d = tmp_path / "scans"
    d.mkdir()
    (d / "ok.png").write_bytes(b"x")
    (d / "loop.jpg").symlink_to("loop.jpg")
    (d / "notes.txt").symlink_to("missing.txt")  # not an input name: not ours to judge
    sub = d / "sub"
    sub.mkdir()
    (sub / "up").symlink_to("..")  # a folder loop ends
    files, errors = expand_inputs([str(d), str(tmp_path / "gone.png"), str(d / "loop.jpg")])
    assert [f.path for f in files] == [d / "ok.png"]
    reasons = sorted((Path(e.path).name, e.reason) for e in errors)
    assert reasons == [
        ("gone.png", "no such file or directory"),
        ("loop.jpg", "symbolic link loops back on itself"),
        ("loop.jpg", "symbolic link loops back on itself"),
    ]


def test_permission_denied_is_said(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "locked.png"
    cv2.imwrite(str(p), draw_lines(["x"], width=100))
    real_open = open

    def deny(file, *a, **k):  # what a chmod 0 file gives a user who is not root
        if str(file) == str(p):
            raise PermissionError(13, "Permission denied", str(p))
        return real_open(file, *a, **k)

    monkeypatch.setattr("builtins.open", deny)
    with pytest.raises(InputError, match="permission denied"):
        list(iter_pages(p))


def test_decoder_crash_becomes_input_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "odd.png"
    cv2.imwrite(str(p), draw_lines(["x"], width=100))

    def broken(*a, **k):
        raise IndexError("tuple index out of range")

    monkeypatch.setattr("htrbatch.io._read_frame", broken)
    with pytest.raises(InputError, match="cannot decode image \\(IndexError"):
        list(iter_pages(p))


@pytest.mark.parametrize("kind", soak.UNUSUAL)
def test_unusual_but_valid_images_are_read(tmp_path: Path, kind: str) -> None:
    img = draw_lines(["unusual"], width=200, seed=3)
    suffix, data = soak._unusual(img, kind)
    p = tmp_path / f"u{suffix}"
    p.write_bytes(data)
    pages = list(iter_pages(p))
    assert len(pages) == (2 if kind == "gif2" else 1)
    gray = pages[0].image
    assert gray.shape == img.shape and gray.dtype.name == "uint8"
    # ink stays dark, paper light (CMYK and palettes included)
    assert abs(float(gray.mean()) - float(img.mean())) < 12
    assert Image.open(p).format is not None
