from pathlib import Path

import numpy as np
import pytest
import torch

from htrbatch.errors import CheckpointError
from htrbatch.model import (
    CRNN,
    DEFAULT_CHARSET,
    Charset,
    CRNNConfig,
    collate,
    load_checkpoint,
    prepare_line,
    read_checkpoint,
)


def test_charset_blank_and_roundtrip() -> None:
    cs = Charset(DEFAULT_CHARSET)
    assert cs.labels[0] == "" and cs.blank == 0
    text = "Mr. Foot's line, 1961!"
    assert cs.decode_indices(cs.encode(text)) == text
    assert cs.encode("a\u00e9b") == cs.encode("ab")  # unknown characters are dropped
    for ch in "!\"#&'()*+,-./:;?":
        assert cs.covers(ch)


def test_prepare_line_any_size_normalises_contrast() -> None:
    img = np.full((120, 700), 200, np.uint8)  # gray paper
    img[50:70, 100:600] = 120  # gray ink
    x = prepare_line(img, 32)
    assert x.shape[0] == 32 and x.dtype == np.float32
    assert x.max() == pytest.approx(1.0) and x.min() == 0.0
    # Trimmed to the ink: the 500 px wide, 20 px tall stroke keeps roughly its aspect.
    assert 300 < x.shape[1] < 1100
    blank = prepare_line(np.full((40, 90), 255, np.uint8), 32)
    assert blank.max() == 0.0


def test_forward_shapes_and_true_lengths() -> None:
    cfg = CRNNConfig(height=32, channels=(8, 8, 16, 16, 16, 16), features=32, lstm_hidden=16)
    model = CRNN(cfg, 10).eval()
    x, widths = collate([np.ones((32, 100), np.float32), np.ones((32, 40), np.float32)])
    assert x.shape == (2, 1, 32, 100) and widths.tolist() == [100, 40]
    lp, lengths = model(x, widths)
    assert lp.shape == (25, 2, 10)
    assert lengths.tolist() == [25, 10]
    assert torch.allclose(lp.exp().sum(-1), torch.ones(25, 2), atol=1e-4)


def test_padding_does_not_change_a_lines_output() -> None:
    torch.manual_seed(0)
    cfg = CRNNConfig(height=32, channels=(8, 8, 16, 16, 16, 16), features=32, lstm_hidden=16)
    model = CRNN(cfg, 10).eval()
    line = np.random.default_rng(0).random((32, 60)).astype(np.float32)
    alone, _ = model(*collate([line]))
    padded, _ = model(*collate([line, np.zeros((32, 200), np.float32)]))
    # Convs see zero padding either way; packing keeps the BLSTM from reading the padding.
    assert torch.allclose(alone[:15, 0], padded[:15, 0], atol=1e-4)


def test_checkpoint_roundtrip(tiny_checkpoint: Path) -> None:
    loaded = load_checkpoint(tiny_checkpoint)
    assert loaded.config.height == 32 and loaded.charset.labels[0] == ""
    assert loaded.meta == {"note": "test"}
    assert not loaded.model.training


def test_checkpoint_errors_name_the_bad_field(tiny_checkpoint: Path, tmp_path: Path) -> None:
    ckpt = read_checkpoint(tiny_checkpoint)
    for field, value, expect in [
        ("format_version", 99, "format_version"),
        ("format", "other", "format"),
        ("input_height", 48, "input_height"),
        ("config", {"height": 32, "bogus": 1}, "config"),
    ]:
        bad = dict(ckpt)
        bad[field] = value
        p = tmp_path / f"{field}.pt"
        torch.save(bad, p)
        with pytest.raises(CheckpointError, match=expect):
            load_checkpoint(p)
    missing = {k: v for k, v in ckpt.items() if k != "charset"}
    torch.save(missing, tmp_path / "m.pt")
    with pytest.raises(CheckpointError, match="'charset' is missing"):
        load_checkpoint(tmp_path / "m.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pt"):
        load_checkpoint(tmp_path / "junk.pt")


def test_histogram_percentiles_equal_numpy() -> None:
    from htrbatch.model import _percentiles_u8

    rng = np.random.default_rng(5)
    arrays = [rng.integers(0, 256, (int(h), int(w)), dtype=np.uint8) for h, w in
              rng.integers(1, 60, (200, 2))]  # fmt: skip
    arrays += [np.full((3, 4), 9, np.uint8), np.array([[0, 255]], np.uint8)]
    for a in arrays:
        for q, got in zip((90, 1, 50), _percentiles_u8(a, (90, 1, 50))):
            assert got == np.percentile(a.astype(np.float32), q)


def test_rounded_batch_width_leaves_outputs_unchanged(tiny_checkpoint: Path) -> None:
    model = load_checkpoint(tiny_checkpoint).model
    for m in model.modules():  # trained-like BatchNorm: zero input no longer maps to zero
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.fill_(-0.3)
    rng = np.random.default_rng(1)
    lines = [rng.random((32, w)).astype(np.float32) for w in (37, 90, 61)]
    x1, w1 = collate(lines)
    x32, w32 = collate(lines, multiple=32)
    assert x1.shape[-1] == 90 and x32.shape[-1] == 96 and torch.equal(w1, w32)
    with torch.inference_mode():
        (a, la), (b, lb) = model(x1, w1), model(x32, w32)
    assert torch.equal(la, lb)
    # lines narrower than the batch were zero-padded before too: unchanged
    for i in (0, 2):
        n = int(la[i])
        assert torch.allclose(a[:n, i], b[:n, i], atol=1e-5)
    # the widest line now also ends in explicit zero padding: its end frames move a little, and
    # the backward LSTM carries that to the whole line, but only slightly
    n = int(la[1])
    assert torch.allclose(a[:n, 1], b[:n, 1], atol=1e-2)
