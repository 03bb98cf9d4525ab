"""The recogniser: a CRNN (convolutional features -> BLSTM over the width -> CTC head).

Shapes used throughout:
- a prepared line is float32 (H, W) with ink = 1 and paper = 0, H = ``config.height``;
- a batch is (B, 1, H, W_max), right-padded with zeros, plus the true widths (B,);
- the model returns log-probabilities (T, B, C) with T = W_max // 4 and the true lengths (B,),
  the layout ``torch.nn.functional.ctc_loss`` expects. Index 0 of C is the CTC blank.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn

from htrbatch.errors import CheckpointError

CHECKPOINT_FORMAT = "htrbatch-crnn"
CHECKPOINT_VERSION = 1

# Letters, digits, space and the punctuation found in IAM and IAM-OnDB transcriptions.
DEFAULT_CHARSET = (
    " !\"#%&'()*+,-./0123456789:;?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]_abcdefghijklmnopqrstuvwxyz"
)

# How raw crops become model input; stored in every checkpoint so a model is always fed the way
# it was trained.
PREPROCESSING = {"normalize": "percentile", "paper_pct": 90, "ink_pct": 1, "trim": True, "pad": 4}


@dataclass(frozen=True)
class CRNNConfig:
    """Architecture of the recogniser (stored in the checkpoint)."""

    height: int = 32
    channels: tuple[int, ...] = (16, 32, 64, 64, 128, 128)
    # Height pooling after each conv; width is pooled by 2 after the first two convs only,
    # so T = W / 4: enough frames for CTC on narrow handwriting.
    pool_h: tuple[int, ...] = (2, 2, 1, 2, 1, 2)
    pool_w: tuple[int, ...] = (2, 2, 1, 1, 1, 1)
    features: int = 192
    lstm_hidden: int = 128
    lstm_layers: int = 2
    dropout: float = 0.25

    def __post_init__(self) -> None:
        if not (len(self.channels) == len(self.pool_h) == len(self.pool_w)):
            raise ValueError("channels, pool_h and pool_w must have the same length")
        if self.height % int(np.prod(self.pool_h)) != 0:
            raise ValueError(f"height {self.height} is not divisible by the height pooling")

    @property
    def width_stride(self) -> int:
        return int(np.prod(self.pool_w))

    @property
    def right_reach(self) -> int:
        """How many input columns right of a frame's own columns can change its conv features
        (3x3 convolutions with padding 1, width pooling): 19 for the default net. A line given
        this many zero columns after its end gets the same features on its frames whatever
        follows (more zero padding of a wider batch, or the convolutions' own border)."""
        pos = 0  # the rightmost column reached, walking from one output frame back to the input
        for pw in reversed(self.pool_w):
            if pw > 1:
                pos = pos * pw + pw - 1
            pos += 1  # the 3x3 convolution before the pooling
        return pos - (self.width_stride - 1)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CRNNConfig:
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown config field(s): {sorted(unknown)}")
        kw = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return cls(**kw)


# Named architectures for `htrbatch train --arch`. "small" is the 1.08 M-parameter net of models
# v1/v2; "base" doubles the conv widths and the BLSTM (3.9 M parameters, ~2x the training time
# per line on the 2-core development CPU under bf16 autocast).
ARCHITECTURES: dict[str, CRNNConfig] = {
    "small": CRNNConfig(),
    "base": CRNNConfig(channels=(32, 64, 128, 128, 256, 256), features=256, lstm_hidden=256),
}


def usable_label(char: str) -> bool:
    """Whether ``char`` can be a new label: one printable character, not whitespace (text has
    single spaces only, and the space is label 1) and not U+2581, which pyctcdecode's beam search
    takes for a BPE word marker and would rewrite."""
    return (
        len(char) == 1
        and not char.isspace()
        and unicodedata.category(char)[0] != "C"
        and char != "\u2581"
    )


class Charset:
    """Maps text to label indices; index ``blank`` (0) is the CTC blank with label ``""``."""

    def __init__(self, chars: str | list[str], blank: int = 0) -> None:
        chars = list(chars)
        if blank != 0:
            raise ValueError("only blank index 0 is supported")
        if len(set(chars)) != len(chars) or "" in chars:
            raise ValueError("charset characters must be unique and non-empty")
        self.blank = blank
        self.labels: list[str] = [""] + chars
        self._index = {c: i for i, c in enumerate(self.labels) if i != blank}

    def __len__(self) -> int:
        return len(self.labels)

    def encode(self, text: str) -> list[int]:
        """Label indices of ``text``; characters outside the charset are dropped."""
        return [self._index[c] for c in text if c in self._index]

    def covers(self, text: str) -> bool:
        return all(c in self._index for c in text)

    def decode_indices(self, indices: list[int]) -> str:
        return "".join(self.labels[i] for i in indices if i != self.blank)

    def missing(self, text: str) -> list[str]:
        """The characters of ``text`` outside the charset, in order of first appearance."""
        return list(dict.fromkeys(c for c in text if c not in self._index))

    def extended(self, chars: Sequence[str]) -> Charset:
        """This charset with ``chars`` (those it lacks) appended as new labels: the blank and
        every existing label keep their index, so a model's trained outputs stay valid."""
        new = [c for c in dict.fromkeys(chars) if c not in self._index]
        return Charset(self.labels[1:] + new, blank=self.blank)


class CRNN(nn.Module):
    """Conv feature extractor -> linear to ``features`` -> BLSTM -> per-frame class scores."""

    def __init__(self, config: CRNNConfig, num_classes: int) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        c_in, h = 1, config.height
        for c_out, ph, pw in zip(config.channels, config.pool_h, config.pool_w):
            layers += [
                nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            ]
            if ph > 1 or pw > 1:
                layers.append(nn.MaxPool2d((ph, pw)))
            c_in, h = c_out, h // ph
        self.conv = nn.Sequential(*layers)
        self.proj = nn.Sequential(
            nn.Linear(c_in * h, config.features), nn.ReLU(inplace=True), nn.Dropout(config.dropout)
        )
        self.rnn = nn.LSTM(
            config.features,
            config.lstm_hidden,
            num_layers=config.lstm_layers,
            bidirectional=True,
            dropout=config.dropout if config.lstm_layers > 1 else 0.0,
        )
        self.head = nn.Sequential(
            nn.Dropout(config.dropout), nn.Linear(2 * config.lstm_hidden, num_classes)
        )

    @torch.no_grad()
    def add_outputs(self, n: int, generator: torch.Generator | None = None) -> None:
        """Grow the output layer by ``n`` classes (new characters of a fine-tuning charset).

        The existing rows and biases are kept as they are, so the scores (logits) of the blank
        and of every known character do not change. A new row starts as the mean of the
        non-blank rows plus a little noise (std 1 % of the rows' own): before training it scores
        like an average known character on the frames where that character does not fit, i.e. it
        is improbable, and it is trained from there.
        """
        if n <= 0:
            return
        old = self.head[-1]
        assert isinstance(old, nn.Linear)
        new = nn.Linear(old.in_features, old.out_features + n)
        rows = old.weight[1:] if old.out_features > 1 else old.weight
        noise = torch.randn(n, old.in_features, generator=generator) * 0.01 * rows.std()
        new.weight.copy_(torch.cat([old.weight, rows.mean(0, keepdim=True) + noise]))
        biases = old.bias[1:] if old.out_features > 1 else old.bias
        new.bias.copy_(torch.cat([old.bias, biases.mean().expand(n)]))
        self.head[-1] = new

    def output_lengths(self, widths: torch.Tensor) -> torch.Tensor:
        return torch.clamp(widths // self.config.width_stride, min=1)

    def forward(self, x: torch.Tensor, widths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (B, 1, H, W) -> (log-probs (T, B, C), lengths (B,)) with T = W // stride."""
        f = self.conv(x)  # (B, C', H', T)
        b, c, h, t = f.shape
        # Height and channels together form one feature vector per horizontal position.
        f = f.permute(3, 0, 1, 2).reshape(t, b, c * h)  # (T, B, C'*H')
        f = self.proj(f.float())  # LSTM runs in fp32 even under bf16 autocast of the convs
        lengths = self.output_lengths(widths).clamp(max=t)
        # Pack so the backward LSTM starts at each line's true end, not in the padding.
        packed = nn.utils.rnn.pack_padded_sequence(f, lengths.cpu(), enforce_sorted=False)
        out, _ = self.rnn(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, total_length=t)  # (T, B, 2*hidden)
        return self.head(out).float().log_softmax(-1), lengths


def _percentiles_u8(image: np.ndarray, qs: tuple[float, ...]) -> list[np.float64]:
    """``np.percentile(image, q)`` (linear method) for uint8 data, from a 256-bin histogram.

    The order statistics come from the cumulative histogram; the interpolation between the two
    neighbouring ones is numpy's own formula in float64, so results equal ``np.percentile``'s
    (checked on rendered lines and random arrays: bit-identical)."""
    cum = np.cumsum(np.bincount(image.ravel(), minlength=256))
    n = int(cum[-1])
    out = []
    for q in qs:
        pos = q / 100.0 * (n - 1)
        lo = int(np.floor(pos))
        t = pos - lo
        # sorted[k] is the smallest value v with more than k values <= v
        a = float(np.searchsorted(cum, lo, side="right"))
        b = float(np.searchsorted(cum, min(lo + 1, n - 1), side="right"))
        out.append(np.float64(b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t))
    return out


@dataclass(frozen=True)
class LineMap:
    """Where a prepared line's columns came from: prepared column ``c`` (frame ``t`` covers
    columns ``t * stride`` to ``(t + 1) * stride``) is crop column ``x0 + (c - pad) * scale``."""

    x0: float  # the first crop column kept by trimming
    scale: float  # crop pixels per prepared pixel
    pad: int  # zero columns added on the left
    x1: float = 0.0  # the crop column after the last one kept (the inked end plus a margin)

    def crop_x(self, column: float) -> float:
        """The crop column of prepared column ``column``."""
        return self.x0 + (column - self.pad) * self.scale


def prepare_line(image: np.ndarray, height: int, pad: int = PREPROCESSING["pad"]) -> np.ndarray:
    """Turn a grayscale crop into model input.

    image: uint8 (h, w), dark ink on light paper, any size. Returns float32 (height, W), ink = 1,
    paper = 0: contrast stretched between paper and ink percentiles (so gray ink on gray paper
    looks like black on white), trimmed to the inked area (so segmenter margins do not matter),
    resized to ``height`` keeping the aspect ratio, padded left and right.
    """
    return prepare_line_mapped(image, height, pad)[0]


def prepare_line_mapped(
    image: np.ndarray, height: int, pad: int = PREPROCESSING["pad"]
) -> tuple[np.ndarray, LineMap]:
    """:func:`prepare_line` and the :class:`LineMap` from its columns back to the crop's
    (word boxes come from it)."""
    if image.ndim != 2 or image.size == 0:
        raise ValueError(f"expected a non-empty 2-D grayscale image, got shape {image.shape}")
    img = image.astype(np.float32)
    if image.dtype == np.uint8:  # the usual case: exact percentiles from a histogram, ~10x faster
        paper, ink = _percentiles_u8(image, (PREPROCESSING["paper_pct"], PREPROCESSING["ink_pct"]))
    else:
        paper = np.percentile(img, PREPROCESSING["paper_pct"])
        ink = np.percentile(img, PREPROCESSING["ink_pct"])
    if paper - ink < 12:  # no real contrast: nothing written
        x = np.zeros_like(img)
    else:
        x = np.clip((paper - img) / (paper - ink), 0.0, 1.0)
    trim_x0 = 0
    if PREPROCESSING["trim"]:
        rows = np.flatnonzero(x.max(axis=1) > 0.4)
        cols = np.flatnonzero(x.max(axis=0) > 0.4)
        if rows.size and cols.size:
            m = max(2, int(0.04 * (rows[-1] - rows[0] + 1)))
            y0, y1 = max(0, rows[0] - m), min(x.shape[0], rows[-1] + 1 + m)
            x0, x1 = max(0, cols[0] - m), min(x.shape[1], cols[-1] + 1 + m)
            x = x[y0:y1, x0:x1]
            trim_x0 = int(x0)
    h, w = x.shape
    new_w = max(1, int(round(w * height / h)))
    interp = cv2.INTER_AREA if h > height else cv2.INTER_LINEAR
    x = cv2.resize(x, (new_w, height), interpolation=interp)
    out = np.pad(x, ((0, 0), (pad, pad))).astype(np.float32)
    return out, LineMap(x0=float(trim_x0), scale=w / new_w, pad=pad, x1=float(trim_x0 + w))


def prepare_line_u8(image: np.ndarray, height: int) -> np.ndarray:
    """``prepare_line`` stored as uint8 (height, W), ink = 255: a quarter of the memory, so
    training keeps tens of thousands of lines at hand."""
    return (prepare_line(image, height) * 255).round().astype(np.uint8)


def collate(
    lines: list[np.ndarray], min_width: int = 16, multiple: int = 1, margin: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack prepared lines (H, W_i) into (B, 1, H, W_max) zero-padded, and widths (B,).

    ``multiple`` > 1 rounds W_max up to a multiple of it: fewer distinct batch shapes, so
    oneDNN's per-shape kernel cache and the allocator reuse memory instead of growing.

    ``margin`` zero columns are kept after every line, the widest included (the widths returned
    are the lines' own, so the frames of the margin are dropped). Without it, a line's frames
    near its end see more zero padding when a wider line shares its batch and the convolutions'
    border when it is the widest, which changes its log-probs (through the backward LSTM, all
    its frames; up to 0.8 in logits with the shipped model). With ``margin`` >=
    :attr:`CRNNConfig.right_reach` a line's result does not depend on which lines share its
    batch (benchmarks/batch_independence.py), so a resumed run writes what an uninterrupted one
    writes."""
    h = lines[0].shape[0]
    widths = [max(min_width, ln.shape[1]) for ln in lines]
    w_max = -(-(max(widths) + margin) // multiple) * multiple
    batch = np.zeros((len(lines), 1, h, w_max), dtype=np.float32)
    for i, ln in enumerate(lines):
        batch[i, 0, :, : ln.shape[1]] = ln
    return torch.from_numpy(batch), torch.tensor(widths, dtype=torch.long)


@dataclass
class LoadedModel:
    model: CRNN
    charset: Charset
    config: CRNNConfig
    meta: dict[str, Any]


def checkpoint_dict(model: CRNN, charset: Charset, meta: dict[str, Any] | None = None) -> dict:
    """A self-describing checkpoint: format, version, config, charset, blank, height, state."""
    return {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "config": {
            k: list(v) if isinstance(v, tuple) else v for k, v in asdict(model.config).items()
        },
        "charset": charset.labels[1:],
        "blank": charset.blank,
        "input_height": model.config.height,
        "preprocessing": dict(PREPROCESSING),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "meta": meta or {},
    }


def save_checkpoint(
    path: str | Path,
    model: CRNN,
    charset: Charset,
    meta: dict | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write a checkpoint atomically; ``extra`` (e.g. optimizer state) goes in as is."""
    ckpt = checkpoint_dict(model, charset, meta)
    if extra:
        ckpt.update(extra)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(ckpt, tmp)
    tmp.replace(path)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load and validate a checkpoint dict (``weights_only=True``: no code runs on load)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "file not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for corrupt files
        raise CheckpointError(
            path, f"cannot be read as a torch checkpoint ({exc.__class__.__name__})"
        ) from exc
    if not isinstance(ckpt, dict):
        raise CheckpointError(path, "is not a dict")
    if ckpt.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            path, f"field 'format' is {ckpt.get('format')!r}, expected {CHECKPOINT_FORMAT!r}"
        )
    if ckpt.get("format_version") != CHECKPOINT_VERSION:
        raise CheckpointError(
            path,
            f"field 'format_version' is {ckpt.get('format_version')!r}, "
            f"this htrbatch reads {CHECKPOINT_VERSION}",
        )
    for key in ("config", "charset", "blank", "input_height", "state_dict"):
        if key not in ckpt:
            raise CheckpointError(path, f"field {key!r} is missing")
    return ckpt


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> LoadedModel:
    """Build the model a checkpoint describes and load its weights (eval mode)."""
    ckpt = read_checkpoint(path)
    try:
        config = CRNNConfig.from_dict(ckpt["config"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(path, f"field 'config' is invalid: {exc}") from exc
    if config.height != ckpt["input_height"]:
        raise CheckpointError(
            path, f"field 'input_height' {ckpt['input_height']} != config height {config.height}"
        )
    try:
        charset = Charset(ckpt["charset"], blank=ckpt["blank"])
    except ValueError as exc:
        raise CheckpointError(path, f"field 'charset' is invalid: {exc}") from exc
    prep = ckpt.get("preprocessing", PREPROCESSING)
    if prep != PREPROCESSING:
        raise CheckpointError(
            path, f"field 'preprocessing' {prep} is not supported by this version"
        )
    model = CRNN(config, len(charset))
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:
        raise CheckpointError(path, f"field 'state_dict' does not match the config: {exc}") from exc
    model.to(device).eval()
    return LoadedModel(model=model, charset=charset, config=config, meta=ckpt.get("meta", {}))
