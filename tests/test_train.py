import json
from pathlib import Path

import cv2
import pytest
import torch

from htrbatch.errors import OptionsError
from htrbatch.model import CRNNConfig, load_checkpoint, read_checkpoint
from htrbatch.train import TrainOptions, train
from tests.conftest import draw_lines

TINY = CRNNConfig(height=32, channels=(8, 8, 16, 16, 16, 16), features=32, lstm_hidden=16)


def test_one_step_training_smoke_and_resume(line_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "run" / "m.pt"
    opts = TrainOptions(epochs=1, batch_size=4, max_steps_per_epoch=1, config=TINY, threads=1)
    result = train([line_dataset], line_dataset, out, opts)
    assert result.epochs_run == 1 and 0.0 <= result.best_cer
    assert load_checkpoint(out).config == TINY
    last = read_checkpoint(out.with_name("m.last.pt"))
    assert last["epoch"] == 1 and "optimizer" in last
    log = [json.loads(x) for x in out.with_name("m.log.jsonl").read_text().splitlines()]
    assert [r["event"] for r in log][-1] == "epoch"

    # Resume continues at epoch 2 with the saved optimizer state.
    result = train(
        [line_dataset],
        line_dataset,
        out,
        TrainOptions(**{**opts.__dict__, "epochs": 2}),
        resume=True,
    )
    assert result.epochs_run == 1
    assert read_checkpoint(out.with_name("m.last.pt"))["epoch"] == 2
    log = [json.loads(x) for x in out.with_name("m.log.jsonl").read_text().splitlines()]
    warnings = [r["message"] for r in log if r["event"] == "warning"]
    assert len(warnings) == 1 and "2 scheduled steps instead of 1" in warnings[0]


def test_conflicting_options_fail_early(line_dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(OptionsError, match="--init and --resume"):
        train(
            [line_dataset], line_dataset, tmp_path / "m.pt", TrainOptions(init="x.pt"), resume=True
        )
    with pytest.raises(OptionsError, match="nothing to resume"):
        train(
            [line_dataset], line_dataset, tmp_path / "m.pt", TrainOptions(config=TINY), resume=True
        )


def test_training_precision_choice() -> None:
    from htrbatch.train import training_autocast_dtype

    # auto follows the CPU's bf16 instructions; explicit choices do what they say.
    assert training_autocast_dtype("auto", frozenset({"avx2", "avx512_bf16"})) is torch.bfloat16
    assert training_autocast_dtype("auto", frozenset({"amx_bf16"})) is torch.bfloat16
    assert training_autocast_dtype("auto", frozenset({"avx2"})) is None
    assert training_autocast_dtype("fp32", frozenset({"avx512_bf16"})) is None
    assert training_autocast_dtype("bf16", frozenset()) is torch.bfloat16
    with pytest.raises(OptionsError, match="'fp8'"):
        training_autocast_dtype("fp8", frozenset())


def test_bf16_training_step_logs_precision(line_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.pt"
    opts = TrainOptions(
        epochs=1, batch_size=4, max_steps_per_epoch=1, config=TINY, threads=1, precision="bf16"
    )
    result = train([line_dataset], line_dataset, out, opts)
    assert result.epochs_run == 1
    log = [json.loads(x) for x in out.with_name("m.log.jsonl").read_text().splitlines()]
    start = next(r for r in log if r["event"] == "start")
    assert start["precision"] == "bf16"
    # The checkpoint holds fp32 weights whatever the autocast dtype was.
    state = read_checkpoint(out)["state_dict"]
    assert all(v.dtype != torch.bfloat16 for v in state.values())


def test_training_fits_a_few_lines(tmp_path: Path) -> None:
    # Four two-letter lines, trained on (and validated against) themselves: the loss must fall
    # far below its start. Without loss.backward() or optimizer.step() it stays where it starts
    # (checked: 37.1 -> 37.1). With seed 0 greedy decoding also comes to read them (CER 1 -> 0),
    # but other seeds sit on the all-blank plateau past 150 steps, so only the loss is asserted:
    # a CER assertion would depend on floating-point details of the machine.
    root = tmp_path / "four"
    root.mkdir()
    for i, text in enumerate(["on", "no", "in", "ni"]):
        cv2.imwrite(str(root / f"l{i}.png"), draw_lines([text], width=120, line_h=50, seed=i))
        (root / f"l{i}.gt.txt").write_text(text + "\n", encoding="utf-8")
    # One step per epoch on all four lines. fp32 and one thread keep the run reproducible; such
    # a tiny net is sensitive to its initialisation (other seeds can sit on the all-blank
    # plateau for longer than 150 steps), so the seed is fixed.
    config = CRNNConfig(
        height=32, channels=(8, 8, 16, 16, 16, 16), features=32, lstm_hidden=16, lstm_layers=1,
        dropout=0.0,
    )  # fmt: skip
    opts = TrainOptions(
        epochs=150, batch_size=4, lr=0.01, warmup_steps=5, patience=150, augment=False, seed=0,
        threads=1, precision="fp32", config=config,
    )  # fmt: skip
    history = train([root], root, tmp_path / "m.pt", opts).history
    assert len(history) == 150 and history[-1]["step"] == 150
    first, last = history[0], history[-1]
    assert last["loss"] < 0.1 * first["loss"], (first["loss"], last["loss"])
