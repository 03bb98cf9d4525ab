"""The command line through Typer's CliRunner: exit codes, outputs, bad inputs, stdin, --jsonl."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from htrbatch import __version__
from htrbatch.cli import app
from tests.conftest import draw_lines

runner = CliRunner()


@pytest.fixture
def pages(tmp_path: Path) -> Path:
    d = tmp_path / "scans"
    d.mkdir()
    cv2.imwrite(str(d / "p1.png"), draw_lines(["first line", "second line"], seed=1))
    cv2.imwrite(str(d / "p2.jpg"), draw_lines(["only one"], seed=2))
    return d


def _run(args: list[str], stdin: str | None = None):
    return runner.invoke(app, args, input=stdin)


def test_version_and_help() -> None:
    r = _run(["--version"])
    assert r.exit_code == 0 and __version__ in r.stdout
    for cmd in ("transcribe", "evaluate", "train"):
        r = _run([cmd, "--help"])
        assert r.exit_code == 0 and "Examples" in r.stdout


def test_transcribe_writes_txt_and_json(pages: Path, tmp_path: Path, tiny_checkpoint: Path) -> None:
    out = tmp_path / "out" / "nested"  # missing --out folders are created
    r = _run(
        [
            "transcribe",
            str(pages),
            "--out",
            str(out),
            "--model",
            str(tiny_checkpoint),
            "--decoder",
            "greedy",
        ]
    )
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == ["p1.json", "p1.txt", "p2.json", "p2.txt"]
    doc = json.loads((out / "p1.json").read_text())
    assert doc["width"] == 900 and doc["height"] == 210 and doc["source"].endswith("p1.png")
    assert len(doc["lines"]) == 2
    for line in doc["lines"]:
        x0, y0, x1, y1 = line["bbox"]
        assert 0 <= x0 < x1 <= 900 and 0 <= y0 < y1 <= 210
        assert 0.0 <= line["confidence"] <= 1.0 and isinstance(line["text"], str)
    assert doc["text"] == "\n".join(li["text"] for li in doc["lines"])
    assert r.stdout == ""  # nothing but results on stdout, and without --jsonl there are none


def test_bad_inputs_are_reported_and_skipped(
    pages: Path, tmp_path: Path, tiny_checkpoint: Path
) -> None:
    (pages / "empty.png").write_bytes(b"")
    (pages / "text.jpg").write_text("not an image")
    (pages / "noise.tif").write_bytes(
        bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8))
    )
    cv2.imwrite(str(pages / "dot.png"), np.zeros((1, 1), np.uint8))
    from tests.test_io import _png_header_only

    _png_header_only(pages / "huge.png", 50_000, 50_000)
    out = tmp_path / "out"
    r = _run(
        [
            "transcribe",
            str(pages),
            str(tmp_path / "missing.png"),
            "--out",
            str(out),
            "--model",
            str(tiny_checkpoint),
            "--decoder",
            "greedy",
        ]
    )
    assert r.exit_code == 1
    for name in ("empty.png", "text.jpg", "noise.tif", "dot.png", "huge.png", "missing.png"):
        assert name in r.stderr
    assert (out / "p1.json").is_file() and (out / "p2.json").is_file()
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*"))


def test_stdin_list_and_jsonl(pages: Path, tmp_path: Path, tiny_checkpoint: Path) -> None:
    stdin = f"{pages / 'p2.jpg'}\n{pages / 'p1.png'}\n"
    r = _run(
        [
            "transcribe",
            "-",
            "--out",
            str(tmp_path / "o"),
            "--jsonl",
            "--format",
            "txt",
            "--model",
            str(tiny_checkpoint),
            "--decoder",
            "greedy",
        ],
        stdin=stdin,
    )
    assert r.exit_code == 0, r.output
    objs = [json.loads(line) for line in r.stdout.splitlines()]
    assert [Path(o["source"]).name for o in objs] == ["p2.jpg", "p1.png"]
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["p1.txt", "p2.txt"]


def test_existing_outputs_are_skipped_unless_overwrite(
    pages: Path, tmp_path: Path, tiny_checkpoint: Path
) -> None:
    args = [
        "transcribe",
        str(pages / "p1.png"),
        "--out",
        str(tmp_path / "o"),
        "--model",
        str(tiny_checkpoint),
        "--decoder",
        "greedy",
    ]
    assert _run(args).exit_code == 0
    (tmp_path / "o" / "p1.txt").write_text("kept")
    r = _run(args)
    assert r.exit_code == 0 and "already done" in r.stderr
    assert (tmp_path / "o" / "p1.txt").read_text() == "kept"
    assert _run([*args, "--overwrite"]).exit_code == 0
    assert (tmp_path / "o" / "p1.txt").read_text() != "kept"


def test_multipage_tiff_pages_go_to_a_folder(tmp_path: Path, tiny_checkpoint: Path) -> None:
    from PIL import Image

    frames = [
        Image.fromarray(draw_lines(["page one"], seed=3)),
        Image.fromarray(draw_lines(["page two"], seed=4)),
    ]
    frames[0].save(tmp_path / "book.tif", save_all=True, append_images=frames[1:])
    r = _run(
        [
            "transcribe",
            str(tmp_path / "book.tif"),
            "--out",
            str(tmp_path / "o"),
            "--model",
            str(tiny_checkpoint),
            "--decoder",
            "greedy",
            "--format",
            "json",
        ]
    )
    assert r.exit_code == 0, r.output
    # the pages get a folder of their own, named like the file
    assert sorted(p.name for p in (tmp_path / "o" / "book").iterdir()) == [
        "book-p1.json",
        "book-p2.json",
    ]
    assert json.loads((tmp_path / "o" / "book" / "book-p2.json").read_text())["page"] == 2


def test_usage_errors_are_one_line(tmp_path: Path, tiny_checkpoint: Path) -> None:
    r = _run(["transcribe", str(tmp_path), "--out", str(tmp_path / "o"), "--bogus-flag"])
    assert r.exit_code == 2 and "Traceback" not in r.output
    r = _run(
        [
            "transcribe",
            str(tmp_path),
            "--out",
            str(tmp_path / "o"),
            "--format",
            "docx",
            "--model",
            str(tiny_checkpoint),
        ]
    )
    assert r.exit_code == 2 and "--format" in r.stderr
    r = _run(
        [
            "transcribe",
            str(tmp_path),
            "--out",
            str(tmp_path / "o"),
            "--model",
            str(tmp_path / "none.pt"),
        ]
    )
    assert r.exit_code == 2 and "none.pt" in r.stderr and "Traceback" not in r.output
    r = _run(
        [
            "transcribe",
            str(tmp_path),
            "--out",
            str(tmp_path / "o"),
            "--segmenter",
            "magic",
            "--model",
            str(tiny_checkpoint),
        ]
    )
    assert r.exit_code == 2 and "magic" in r.stderr


def test_evaluate_reports_cer_and_json(
    line_dataset: Path, tmp_path: Path, tiny_checkpoint: Path
) -> None:
    report = tmp_path / "r.json"
    r = _run(
        [
            "evaluate",
            str(line_dataset),
            "--cer",
            "--wer",
            "--json",
            str(report),
            "--model",
            str(tiny_checkpoint),
            "--decoder",
            "greedy",
        ]
    )
    assert r.exit_code == 0, r.output
    assert "CER" in r.stdout and "WER" in r.stdout
    doc = json.loads(report.read_text())
    assert set(doc) >= {"cer", "wer", "lines", "chars", "seconds", "items"}
    assert doc["lines"] == 6 and len(doc["items"]) == 6
    assert doc["chars"] == sum(len(i["reference"]) for i in doc["items"])
    assert {"id", "reference", "prediction", "cer"} <= set(doc["items"][0])


def test_evaluate_same_figures_from_iam_layout_and_sidecars(
    line_dataset: Path, tmp_path: Path, tiny_checkpoint: Path
) -> None:
    iam = tmp_path / "iam"
    rows = []
    for i, gt in enumerate(sorted(line_dataset.glob("*.gt.txt"))):
        line_id = f"a01-000u-{i:02d}"
        dest = iam / "lines" / "a01" / "a01-000u" / f"{line_id}.png"
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(gt.with_name(gt.name.replace(".gt.txt", ".png")).read_bytes())
        rows.append(f"{line_id} ok 154 1 0 0 10 10 {gt.read_text().strip().replace(' ', '|')}")
    (iam / "lines.txt").write_text("\n".join(rows) + "\n")
    figures = []
    for ds in (line_dataset, iam):
        r = _run(
            [
                "evaluate",
                str(ds),
                "--json",
                str(tmp_path / "r.json"),
                "--model",
                str(tiny_checkpoint),
                "--decoder",
                "greedy",
            ]
        )
        assert r.exit_code == 0, r.output
        doc = json.loads((tmp_path / "r.json").read_text())
        figures.append((doc["cer"], doc["wer"], doc["chars"]))
    assert figures[0] == figures[1]


def test_train_command_smoke(line_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.pt"
    r = _run(
        [
            "train",
            "--train",
            str(line_dataset),
            "--val",
            str(line_dataset),
            "--out",
            str(out),
            "--epochs",
            "1",
            "--batch-size",
            "4",
            "--max-steps-per-epoch",
            "1",
            "--threads",
            "1",
        ]
    )
    assert r.exit_code == 0, r.output
    assert out.is_file() and "best val CER" in r.stderr
    r = _run(
        ["train", "--train", str(tmp_path / "nope"), "--val", str(line_dataset), "--out", str(out)]
    )
    assert r.exit_code == 2 and "nope" in r.stderr
    base = ["train", "--train", str(line_dataset), "--val", str(line_dataset), "--out", str(out)]
    r = _run([*base, "--arch", "base", "--init", str(out)])
    assert r.exit_code == 2 and "--arch and --init conflict" in r.stderr
    r = _run([*base, "--arch", "huge"])
    assert r.exit_code == 2 and "'huge'" in r.stderr and "small, base" in r.stderr


def test_evaluate_scores_punctuation_in_the_references_convention(
    line_dataset: Path, tmp_path: Path, tiny_checkpoint: Path
) -> None:
    # IAM lines.txt style references: every mark a token of its own
    for i, gt in enumerate(sorted(line_dataset.glob("*.gt.txt"))):
        gt.write_text("so , he said . then ; no ? yes !" if i % 2 else "a , b .", encoding="utf-8")
    base = ["evaluate", str(line_dataset), "--model", str(tiny_checkpoint), "--decoder", "greedy"]
    report = tmp_path / "r.json"
    r = _run([*base, "--json", str(report)])  # default: auto
    assert r.exit_code == 0, r.output
    assert "scored in that style (--punctuation auto)" in r.stderr
    doc = json.loads(report.read_text())
    assert doc["reference_punctuation"] == doc["scored_punctuation"] == "split"
    r = _run([*base, "--punctuation", "attach"])
    assert r.exit_code == 0, r.output
    assert "--punctuation split or auto scores in the references' convention" in r.stderr
    for style in ("split", "as-decoded"):
        r = _run([*base, "--punctuation", style, "--json", str(report)])
        assert r.exit_code == 0 and "note" not in r.stderr, r.output
        assert json.loads(report.read_text())["scored_punctuation"] is None


def test_evaluate_pages_with_a_segmenter(tmp_path: Path, tiny_checkpoint: Path) -> None:
    root = tmp_path / "pages"
    root.mkdir()
    cv2.imwrite(str(root / "page.png"), draw_lines(["first line", "second line"]))
    (root / "page.gt.txt").write_text("first line\nsecond line\n")
    base = ["evaluate", str(root), "--model", str(tiny_checkpoint), "--decoder", "greedy"]
    r = _run([*base, "--segmenter", "auto", "--json", str(tmp_path / "r.json")])
    assert r.exit_code == 0, r.output
    doc = json.loads((tmp_path / "r.json").read_text())
    # The page's reference is its whole text, line breaks read as spaces.
    assert doc["lines"] == 1 and doc["items"][0]["reference"] == "first line second line"
    r = _run([*base, "--segmenter", "magic"])
    assert r.exit_code == 2 and "magic" in r.stderr
    r = _run([*base, "--punctuation", "spaced"])
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "--punctuation spaced: must be one of auto, attach, split" in r.stderr


def test_tiff_with_an_oversized_second_page_is_refused(
    pages: Path, tmp_path: Path, tiny_checkpoint: Path
) -> None:
    from tests.test_io import _tiff_by_hand

    first = draw_lines(["page one"], seed=3)
    h, w = first.shape
    _tiff_by_hand(pages / "bomb.tif", [(w, h, first.tobytes()), (40_000, 40_000, b"")])
    out = tmp_path / "out"
    args = ["transcribe", str(pages), "--out", str(out), "--model", str(tiny_checkpoint)]
    r = _run([*args, "--decoder", "greedy", "--format", "json"])
    assert r.exit_code == 1
    assert "bomb.tif" in r.stderr and "page 2 of 2 is 40000x40000 pixels" in r.stderr
    sources = sorted(Path(json.loads(p.read_text())["source"]).name for p in out.glob("*.json"))
    assert sources == ["p1.png", "p2.jpg"]  # the other inputs are still written, bomb.tif not


def test_root_help_lists_every_command_with_its_own_help_without_importing_them():
    import subprocess
    import sys

    from htrbatch.cli import COMMANDS, load_command

    # the root help comes from COMMANDS: the same one-liners as the commands' own help
    for name, (_, short) in COMMANDS.items():
        cmd = load_command(name)
        own = cmd.short_help or (cmd.help or "").strip().split("\n\n")[0]
        assert short == own, name
    # and it does not import torch (start-up of `htrbatch --help` and `htrbatch data ...`)
    code = (
        "import sys; sys.argv = ['htrbatch', '--help']\n"
        "from htrbatch.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('torch' in sys.modules, 'htrbatch.pipeline' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "transcribe" in out.stdout and "lm" in out.stdout
    assert out.stdout.strip().endswith("False False")


def test_cli_runs_without_a_separate_click_package():
    """A plain ``pip install .`` need not bring the click package (typer >= 0.2x vendors it):
    the CLI must not import it at run time."""
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['click'] = None\n"  # any `import click` now raises ImportError
        "sys.argv = ['htrbatch', 'transcribe', '--help']\n"
        "from htrbatch.cli import main\n"
        "try:\n    main()\nexcept SystemExit as e:\n    print('exit', e.code)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "--out" in out.stdout and out.stdout.strip().endswith("exit 0")
