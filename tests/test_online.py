"""Training on lines rendered from strokes on the fly (`train --strokes`): tiny IAM-OnDB fixture."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from htrbatch.cli import app
from htrbatch.data.online import StrokeLines
from htrbatch.data.render_dataset import render_variant
from htrbatch.model import DEFAULT_CHARSET, Charset, prepare_line
from htrbatch.train import TrainOptions, train
from tests.test_data_iamondb import make_folder
from tests.test_train import TINY


def test_epoch_e_is_variant_e_of_the_same_seed(tmp_path: Path) -> None:
    ink = StrokeLines.read(make_folder(tmp_path / "src"), "trainset", Charset(DEFAULT_CHARSET))
    assert [line.id for line in ink.lines] == ["a01-000u-01", "a01-000u-02"]
    assert ink.labels[1] == Charset(DEFAULT_CHARSET).encode(ink.lines[1].text)
    batches = [np.array([1]), np.array([0, 1])]

    inline = list(ink.render_batches(batches, epoch=3, height=32, seed=5, workers=0))
    pooled = list(ink.render_batches(batches, epoch=3, height=32, seed=5, workers=1))
    assert [len(b) for b in inline] == [1, 2]
    for a, b in zip(inline, pooled, strict=True):
        assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))

    want = (prepare_line(render_variant(ink.lines[1], 3, 5, 0.25), 32) * 255).round()
    assert np.array_equal(inline[0][0], want.astype(np.uint8))
    assert inline[0][0].shape[0] == 32 and inline[0][0].dtype == np.uint8
    # Another epoch is another rendering.
    other = next(ink.render_batches(batches[:1], epoch=4, height=32, seed=5, workers=0))
    assert not np.array_equal(other[0], inline[0][0])


def test_training_on_strokes_alone(tmp_path: Path, line_dataset: Path) -> None:
    src = make_folder(tmp_path / "src")
    out = tmp_path / "m.pt"
    opts = TrainOptions(
        epochs=1, batch_size=1, config=TINY, threads=1, strokes=str(src), render_workers=1
    )
    result = train([], line_dataset, out, opts)
    assert result.epochs_run == 1
    log = [json.loads(x) for x in out.with_name("m.log.jsonl").read_text().splitlines()]
    start = next(r for r in log if r["event"] == "start")
    assert start["train_lines"] == 0 and start["stroke_lines"] == 2
    epoch = next(r for r in log if r["event"] == "epoch")
    assert epoch["step"] == 2  # two stroke lines, batch size 1


def test_cli_needs_train_or_strokes(tmp_path: Path, line_dataset: Path) -> None:
    args = ["train", "--val", str(line_dataset), "--out", str(tmp_path / "m.pt")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "--train" in result.output and "--strokes" in result.output
    result = CliRunner().invoke(app, [*args, "--strokes", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "nowhere" in result.output
