"""The runtime policy: an explicit --precision that cannot run as asked says so, once, on stderr."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest
import torch
from typer.testing import CliRunner

import htrbatch.runtime as runtime
from htrbatch.cli import app
from htrbatch.errors import OptionsError
from htrbatch.runtime import choose_precision, recognizer_threads
from tests.conftest import draw_lines

CPU = torch.device("cpu")
NO_BF16 = frozenset({"avx2", "avx512f"})
BF16 = NO_BF16 | {"avx512_bf16"}
needs_onednn = pytest.mark.skipif(
    not torch.backends.mkldnn.is_available(), reason="no oneDNN: bf16 is never native"
)


def test_auto_and_fp32_never_carry_a_note() -> None:
    for flags in (NO_BF16, BF16):
        for training in (False, True):
            for precision in ("auto", "fp32"):
                assert choose_precision(precision, CPU, flags, training=training).note is None
    assert choose_precision("fp32", CPU, BF16).dtype is None


def test_cpu_without_bf16_runs_fp32_and_says_why() -> None:
    chosen = choose_precision("bf16", CPU, NO_BF16)
    assert chosen.dtype is None and chosen.name == "fp32"
    assert chosen.note is not None
    assert "--precision bf16" in chosen.note and "no bf16 instructions" in chosen.note
    assert chosen.note.endswith("running fp32")
    # fp16 is fp32 on any CPU, with or without bf16
    for flags in (NO_BF16, BF16):
        chosen = choose_precision("fp16", CPU, flags)
        assert chosen.dtype is None and chosen.note is not None
        assert chosen.note.startswith("--precision fp16") and "running fp32" in chosen.note


@needs_onednn
def test_cpu_with_bf16_runs_bf16_silently() -> None:
    for precision in ("auto", "bf16"):
        chosen = choose_precision(precision, CPU, BF16)
        assert chosen.dtype is torch.bfloat16 and chosen.note is None


def test_training_keeps_explicit_bf16_even_emulated_and_says_so() -> None:
    chosen = choose_precision("bf16", CPU, NO_BF16, training=True)
    assert chosen.dtype is torch.bfloat16
    assert chosen.note is not None and "emulated" in chosen.note
    assert choose_precision("auto", CPU, NO_BF16, training=True).dtype is None
    with pytest.raises(OptionsError, match="'fp16': expected one of auto, fp32, bf16"):
        choose_precision("fp16", CPU, NO_BF16, training=True)


def test_cuda_without_bf16_runs_fp16_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    cuda = torch.device("cuda")  # only the policy: no GPU is touched
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    chosen = choose_precision("bf16", cuda)
    assert chosen.dtype is torch.float16 and chosen.note is not None and "GPU" in chosen.note
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert choose_precision("bf16", cuda).dtype is torch.bfloat16
    for precision in ("auto", "fp16"):
        assert choose_precision(precision, cuda) == runtime.Precision(torch.float16)


def test_recognizer_threads_leave_the_workers_their_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "usable_cpus", lambda: 4)
    assert recognizer_threads(3, 2) == 3  # explicit wins
    assert recognizer_threads(0, 0) == 0  # no workers: torch's default
    assert recognizer_threads(0, 3) == 1  # the one core left
    assert recognizer_threads(0, 8) == 1  # at least one
    # workers that only clean line images leave the recogniser every core (up to torch's own)
    monkeypatch.setattr(runtime.torch, "get_num_threads", lambda: 4)
    assert recognizer_threads(0, 4, line_images=True) == 4
    assert recognizer_threads(0, 4, line_images=False) == 1
    assert recognizer_threads(2, 4, line_images=True) == 2


def _stderr_notes(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("note: --precision")]


def test_transcribe_prints_the_precision_note_once(
    tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime, "cpu_flags", lambda: NO_BF16)
    scans = tmp_path / "scans"
    scans.mkdir()
    for i in range(2):
        cv2.imwrite(str(scans / f"p{i}.png"), draw_lines(["a line"], seed=i))
    base = ["transcribe", str(scans), "--model", str(tiny_checkpoint), "--device", "cpu"]
    base += ["--decoder", "greedy", "--workers", "0", "--overwrite"]
    r = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "o"), "--precision", "bf16"])
    assert r.exit_code == 0, r.output
    notes = _stderr_notes(r.stderr)
    assert notes == [
        "note: --precision bf16: this CPU has no bf16 instructions (avx512_bf16 or amx_bf16), "
        "running fp32"
    ]
    r = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "o"), "--precision", "fp16"])
    assert r.exit_code == 0, r.output
    assert len(_stderr_notes(r.stderr)) == 1 and "fp16" in r.stderr
    for precision in ("auto", "fp32"):
        r = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "o"), "--precision", precision])
        assert r.exit_code == 0 and "note" not in r.stderr, r.output


def test_train_prints_the_emulated_bf16_note_once(
    line_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime, "cpu_flags", lambda: NO_BF16)
    out = tmp_path / "m.pt"
    args = ["train", "--train", str(line_dataset), "--val", str(line_dataset), "--out", str(out)]
    args += ["--epochs", "1", "--batch-size", "4", "--max-steps-per-epoch", "1", "--threads", "1"]
    r = CliRunner().invoke(app, [*args, "--precision", "bf16"])
    assert r.exit_code == 0, r.output
    notes = _stderr_notes(r.stderr)
    assert len(notes) == 1 and "emulated" in notes[0]
    assert '"event": "note"' in out.with_name("m.log.jsonl").read_text()
    r = CliRunner().invoke(app, [*args, "--precision", "auto"])
    assert r.exit_code == 0 and "note" not in r.stderr, r.output


@pytest.mark.parametrize("cpus, workers", [(1, 0), (2, 2), (3, 3), (4, 4), (16, 4)])
def test_default_workers_is_one_per_core_up_to_four(monkeypatch, cpus, workers) -> None:
    monkeypatch.setattr(runtime, "usable_cpus", lambda: cpus)
    assert runtime.default_workers() == workers
    # the recogniser keeps at least one thread beside them
    assert recognizer_threads(0, workers) >= 1 or workers == 0
