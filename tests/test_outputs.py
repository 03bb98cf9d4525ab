"""Output naming (htrbatch.outputs): no result overwrites another, resume is exact, and
concurrent runs sharing an output folder keep each other's temporary files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path, PurePosixPath

import cv2
import pytest
from PIL import Image
from typer.testing import CliRunner

from htrbatch.cli import app
from htrbatch.errors import OutputNameError
from htrbatch.io import FoundFile, clear_dead_temporaries, machine_tag, write_atomic
from htrbatch.outputs import OutputName, output_key, plan_outputs
from tests.conftest import draw_lines

runner = CliRunner()


def _said(result) -> str:
    """stderr with rich's line wrapping undone."""
    return " ".join(result.stderr.split())


def _tiff(path: Path, pages: list[list[str]], seed: int = 3) -> None:
    frames = [Image.fromarray(draw_lines(t, seed=seed + i)) for i, t in enumerate(pages)]
    frames[0].save(path, save_all=True, append_images=frames[1:])


@pytest.fixture
def scans(tmp_path: Path) -> Path:
    """The review's case: same stems in two folders, names like page suffixes, a 2-page TIFF."""
    d = tmp_path / "scans"
    for i, rel in enumerate(["a/p1.png", "b/p1.png", "b/p1-2.png", "book-p2.png"]):
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(d / rel), draw_lines([f"text of {rel}"], seed=10 + i))
    _tiff(d / "book.tif", [["page one"], ["page two"]])
    return d


# The sorted walk of `scans`, as (source below scans/, page, output key)
EXPECTED = [
    ("a/p1.png", None, "a/p1"),
    ("b/p1-2.png", None, "b/p1-2"),
    ("b/p1.png", None, "b/p1"),
    ("book-p2.png", None, "book-p2"),
    ("book.tif", 1, "book/book-p1"),
    ("book.tif", 2, "book/book-p2"),
]


def _transcribe(args: list[str], ckpt: Path, stdin: str | None = None):
    base = ["transcribe", *args, "--model", str(ckpt), "--decoder", "greedy", "--lm", "none"]
    return runner.invoke(app, base, input=stdin)


def _files(root: Path) -> dict[str, int]:
    """Every file under root (relative posix path) with its modification time in ns."""
    return {
        p.relative_to(root).as_posix(): p.stat().st_mtime_ns
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# --------------------------------------------------------------------------- the naming rule


def test_keys_mirror_the_input_folder_and_pages_get_a_folder(tmp_path: Path) -> None:
    root = tmp_path / "scans"
    found = [FoundFile(root / "a" / "p1.png", root), FoundFile(root / "book.tif", root)]
    a, book = plan_outputs(found, cwd=tmp_path)
    assert a.key == PurePosixPath("a/p1") and a.path("r", None, ".json") == Path("r/a/p1.json")
    assert book.page_key(None) == PurePosixPath("book")
    assert book.paths("r", 2, ["json", "txt"]) == {
        "json": Path("r/book/book-p2.json"),
        "txt": Path("r/book/book-p2.txt"),
    }
    assert book.path("dbg", 1, ".lines.png") == Path("dbg/book/book-p1.lines.png")


def test_files_named_directly_keep_their_path_below_the_current_directory(tmp_path: Path) -> None:
    inside = FoundFile(Path("archive/x/b.tif"))
    assert output_key(inside, cwd=tmp_path) == PurePosixPath("archive/x/b")
    assert output_key(FoundFile(tmp_path / "x" / ".." / "y" / "c.png"), cwd=tmp_path) == (
        PurePosixPath("y/c")
    )
    outside = FoundFile(tmp_path.parent / "elsewhere" / "q.png")
    assert output_key(outside, cwd=tmp_path) == PurePosixPath("q")  # bare name
    assert output_key(FoundFile(Path("../up.png")), cwd=tmp_path) == PurePosixPath("up")


@pytest.mark.parametrize(
    "rels,shared",
    [
        (["a/p1.png", "a/p1.jpg"], "a/p1"),  # same name, another suffix
        (["a/P1.png", "a/p1.jpg"], "a/p1"),  # differ only in case: one file on macOS/Windows
        (["book.tif", "book/book-p1.png"], "book/book-p1"),  # where page 1 of book.tif goes
        (["b.png", "b/b-p12.jpg"], "b/b-p12"),  # any input may hold several pages
    ],
)
def test_inputs_sharing_an_output_are_refused(tmp_path: Path, rels: list[str], shared: str) -> None:
    found = [FoundFile(tmp_path / r, tmp_path) for r in rels]
    with pytest.raises(OutputNameError) as info:
        plan_outputs(found)
    msg = str(info.value)
    assert all(str(tmp_path / r) in msg for r in rels)
    assert shared.lower() in msg.lower() and "--out" in msg


def test_similar_names_that_do_not_clash_are_accepted(tmp_path: Path) -> None:
    rels = ["book.tif", "book-p2.png", "book/notes.png", "book/book-p0.png", "c/book-p1.png"]
    names = plan_outputs([FoundFile(tmp_path / r, tmp_path) for r in rels])
    assert len({n.key for n in names}) == len(rels)
    # two input folders that both hold p1.png
    x, y = tmp_path / "x", tmp_path / "y"
    with pytest.raises(OutputNameError, match="p1"):
        plan_outputs([FoundFile(x / "p1.png", x), FoundFile(y / "p1.png", y)])


def test_finished_pages_reads_the_page_count_only_for_started_documents(tmp_path: Path) -> None:
    _tiff(tmp_path / "book.tif", [["one"], ["two"]])
    name = OutputName(tmp_path / "book.tif", PurePosixPath("book"))
    out = tmp_path / "out"
    assert name.finished_pages(out, ["json"]) is None
    write_atomic(name.path(out, 1, ".json"), "{}")
    assert name.finished_pages(out, ["json"]) is None  # page 2 missing
    write_atomic(name.path(out, 2, ".json"), "{}")
    assert name.finished_pages(out, ["json"]) == [1, 2]
    assert name.finished_pages(out, ["json", "txt"]) is None
    one = OutputName(tmp_path / "gone.png", PurePosixPath("gone"))  # never opened: no folder
    write_atomic(one.path(out, None, ".json"), "{}")
    assert one.finished_pages(out, ["json"]) == [None]


# --------------------------------------------------------------------------- the command


def test_no_result_overwrites_another_and_a_rerun_redoes_none(
    scans: Path, tmp_path: Path, tiny_checkpoint: Path
) -> None:
    out = tmp_path / "results"
    r = _transcribe([str(scans), "--out", str(out)], tiny_checkpoint)
    assert r.exit_code == 0, r.output
    assert "6 page(s) written" in _said(r)
    first = _files(out)
    assert sorted(first) == sorted(f"{k}.{ext}" for _, _, k in EXPECTED for ext in ("json", "txt"))
    for source, page, key in EXPECTED:
        doc = json.loads((out / f"{key}.json").read_text())
        assert Path(doc["source"]) == scans / source and doc.get("page") == page, key

    again = _transcribe([str(scans), "--out", str(out), "--jsonl"], tiny_checkpoint)
    assert again.exit_code == 0, again.output
    assert "0 page(s) written" in _said(again) and "6 page(s) already done" in _said(again)
    assert _files(out) == first  # nothing rewritten
    listed = [json.loads(line) for line in again.stdout.splitlines()]
    assert [(Path(d["source"]), d.get("page")) for d in listed] == [
        (scans / s, p) for s, p, _ in EXPECTED
    ]

    # a run stopped inside the TIFF: only its missing page is written, page 1 is kept
    for ext in ("json", "txt"):
        (out / "book" / f"book-p2.{ext}").unlink()
    part = _transcribe([str(scans), "--out", str(out)], tiny_checkpoint)
    assert part.exit_code == 0, part.output
    assert "1 page(s) written" in _said(part) and "5 page(s) already done" in _said(part)
    now = _files(out)
    assert now.keys() == first.keys()
    assert {k for k in now if now[k] != first[k]} == {"book/book-p2.json", "book/book-p2.txt"}


def test_a_clash_is_a_usage_error_before_any_work(tmp_path: Path, tiny_checkpoint: Path) -> None:
    d = tmp_path / "scans"
    (d / "a").mkdir(parents=True)
    cv2.imwrite(str(d / "a" / "p1.png"), draw_lines(["one"]))
    cv2.imwrite(str(d / "a" / "p1.jpg"), draw_lines(["two"]))
    out = tmp_path / "results"
    r = _transcribe([str(d), "--out", str(out)], tiny_checkpoint)
    assert r.exit_code == 2 and "Traceback" not in r.output
    said = _said(r)
    assert str(d / "a" / "p1.png") in said and str(d / "a" / "p1.jpg") in said
    assert "a/p1.*" in said and "separate runs" in said
    assert not out.exists()  # nothing was done


def test_paths_from_stdin_mirror_their_tree(
    tmp_path: Path, tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i, rel in enumerate(["archive/x/b.png", "archive/y/b.png"]):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(tmp_path / rel), draw_lines([f"line {i}"], seed=i))
    monkeypatch.chdir(tmp_path)
    stdin = "archive/x/b.png\narchive/y/b.png\n"
    r = _transcribe(["-", "--out", "r", "--format", "json"], tiny_checkpoint, stdin)
    assert r.exit_code == 0, r.output
    assert sorted(_files(tmp_path / "r")) == ["archive/x/b.json", "archive/y/b.json"]
    assert json.loads((tmp_path / "r/archive/y/b.json").read_text())["source"] == "archive/y/b.png"


def test_debug_pictures_follow_the_same_names(
    scans: Path, tmp_path: Path, tiny_checkpoint: Path
) -> None:
    dbg = tmp_path / "dbg"
    args = [str(scans), "--out", str(tmp_path / "o"), "--format", "json", "--debug-dir", str(dbg)]
    r = _transcribe([*args, "--workers", "1"], tiny_checkpoint)
    assert r.exit_code == 0, r.output
    assert sorted(_files(dbg)) == sorted(f"{key}.lines.png" for _, _, key in EXPECTED)


# --------------------------------------------------------------------------- temporary files


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_only_temporaries_of_ended_writers_on_this_machine_are_cleared(tmp_path: Path) -> None:
    here = machine_tag()
    other = "00000000" if here != "00000000" else "11111111"
    names = {
        "dead": f".x.json.htrtmp-{_dead_pid()}-{here}-abcd_123.tmp",
        "live": f".x.json.htrtmp-{os.getppid()}-{here}-abcd_123.tmp",
        "mine": f".x.json.htrtmp-{os.getpid()}-{here}-abcd_123.tmp",
        "other machine": f".x.json.htrtmp-{_dead_pid()}-{other}-abcd_123.tmp",
        "not ours": ".x.json.abcd_123.tmp",
    }
    for n in names.values():
        (tmp_path / n).write_text("")
    assert clear_dead_temporaries(tmp_path) == [tmp_path / names["dead"]]
    kept = {p.name for p in tmp_path.iterdir()}
    assert kept == set(names.values()) - {names["dead"]}


def test_a_concurrent_run_keeps_its_temporary_file(tmp_path: Path) -> None:
    """Run B writes into the folder while run A is between writing and renaming: A's temporary
    file survives and A's write completes."""
    target = tmp_path / "page.json"
    code = textwrap.dedent(
        f"""
        import os, sys
        from htrbatch import io
        fsync = os.fsync
        def paused(fd):
            print("writing", flush=True)
            sys.stdin.readline()
            fsync(fd)
        io.os.fsync = paused
        io.write_atomic({str(target)!r}, "from run A\\n")
        """
    )
    a = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert a.stdout.readline() == "writing\n"
        (temp,) = tmp_path.glob(f".page.json.htrtmp-{a.pid}-*.tmp")
        write_atomic(tmp_path / "other.json", "from run B\n")  # B's first write here
        assert clear_dead_temporaries(tmp_path) == []
        assert temp.is_file()
    finally:
        a.communicate("\n")
    assert a.returncode == 0
    assert target.read_text() == "from run A\n" and not temp.exists()
