"""Speed options (issue 26): --quantize, beam pruning thresholds, decoding overlapped with
recognition."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from htrbatch.cli import app
from htrbatch.decode import DecodeOptions, build_decoder
from htrbatch.errors import OptionsError
from htrbatch.pipeline import FileJob, Recognizer, TranscribeOptions, Transcriber
from htrbatch.quantize import quantize_model
from tests.conftest import draw_lines


def test_int8_quantisation_replaces_lstm_and_linear_and_stays_close(tiny_checkpoint: Path):
    rec = Recognizer(str(tiny_checkpoint), "cpu", decode=DecodeOptions(decoder="greedy"))
    q = Recognizer(
        str(tiny_checkpoint), "cpu", decode=DecodeOptions(decoder="greedy"), quantize="int8"
    )
    kinds = {type(m).__module__ for m in q.loaded.model.modules()}
    assert any("quantized" in k for k in kinds)
    assert not any(type(m) is nn.LSTM for m in q.loaded.model.modules())
    crops = [draw_lines(["some words here"], width=400)[20:100], np.full((40, 200), 255, np.uint8)]
    a, b = rec.logprobs(crops), q.logprobs(crops)
    for x, y in zip(a, b, strict=True):
        assert x.shape == y.shape
        assert np.allclose(np.exp(y).sum(-1), 1.0, atol=1e-4)  # still log-probs
        assert np.abs(x - y).max() < 0.5  # a small random net: int8 noise, not garbage


def test_quantize_is_checked(tiny_checkpoint: Path):
    with pytest.raises(OptionsError, match="--quantize 'int4'"):
        TranscribeOptions(model=str(tiny_checkpoint), quantize="int4").validate()
    with pytest.raises(OptionsError, match="int4"):
        quantize_model(nn.Linear(2, 2), "int4")


def test_cli_quantize_flag(tmp_path: Path, tiny_checkpoint: Path):
    page = tmp_path / "p.png"
    cv2.imwrite(str(page), draw_lines(["one line"]))
    args = ["transcribe", str(page), "--out", str(tmp_path / "o"), "--model", str(tiny_checkpoint)]
    res = CliRunner().invoke(app, [*args, "--decoder", "greedy", "--quantize", "int8"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "o" / "p.txt").exists()
    res = CliRunner().invoke(app, [*args, "--quantize", "fp8"])
    assert res.exit_code == 2 and "--quantize 'fp8'" in res.output


def test_beam_pruning_thresholds_are_passed_and_checked():
    labels = ["", "a", "b", " "]
    for bad in (0.0, 1.0, float("nan")):
        with pytest.raises(OptionsError, match="token_min_logp"):
            DecodeOptions(token_min_logp=bad)
    with pytest.raises(OptionsError, match="beam_prune_logp"):
        DecodeOptions(beam_prune_logp=0.0)
    dec = build_decoder(DecodeOptions(lm="none", token_min_logp=-4.0, beam_prune_logp=-7.0), labels)
    beam = dec.inner  # under the punctuation wrapper
    seen = {}
    real = beam._decoder.decode_beams

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    beam._decoder.decode_beams = spy
    x = np.log(np.array([[0.05, 0.9, 0.04, 0.01], [0.1, 0.02, 0.87, 0.01]], np.float32))
    assert dec.decode(x).text == "ab"
    assert seen["token_min_logp"] == -4.0 and seen["beam_prune_logp"] == -7.0
    # the defaults (pyctcdecode's own) reach the decoder
    default = build_decoder(DecodeOptions(lm="none"), labels).inner
    assert (default.token_min_logp, default.beam_prune_logp) == (-5.0, -10.0)


def test_overlapped_decoding_keeps_job_order_and_results(tmp_path: Path, tiny_checkpoint: Path):
    files = []
    for i in range(7):
        f = tmp_path / f"p{i}.png"
        cv2.imwrite(str(f), draw_lines([f"line {i}", "and another"][: 1 + i % 2], seed=i))
        files.append(f)
    (tmp_path / "bad.png").write_bytes(b"not an image")
    files.insert(3, tmp_path / "bad.png")
    opts = TranscribeOptions(
        model=str(tiny_checkpoint), batch_size=1, workers=0, decode=DecodeOptions("greedy")
    )
    t = Transcriber(opts)
    # batch_size 1: groups of ~4 lines, so several groups are in flight one after another
    got = list(t.transcribe_files([FileJob(f) for f in files]))
    assert [r.job.path for r in got] == files
    assert got[3].error is not None and all(r.ok for i, r in enumerate(got) if i != 3)
    # the same texts as recognising each file on its own
    for r in got:
        if r.ok:
            alone = list(Transcriber(opts).transcribe_files([FileJob(r.job.path)]))[0]
            assert [ln.text for p in r.pages for ln in p.lines] == [
                ln.text for p in alone.pages for ln in p.lines
            ]
    assert t.stats.files == len(files) and t.stats.failed == 1
    torch.set_num_threads(torch.get_num_threads())
