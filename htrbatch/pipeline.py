"""Pages in, text out: segment each page into lines, recognise them in width-sorted batches,
decode, and assemble a :class:`~htrbatch.types.PageResult` per page.

Usable from Python without the CLI::

    from htrbatch.pipeline import Transcriber, TranscribeOptions
    from htrbatch.io import read_pages
    t = Transcriber(TranscribeOptions())
    result = t.transcribe_page(read_pages("scan.png")[0])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from htrbatch.assets import default_model_path
from htrbatch.decode import DecodeOptions, DecodeResult, build_decoder, decode_batch
from htrbatch.errors import OptionsError
from htrbatch.model import LoadedModel, collate, load_checkpoint, prepare_line
from htrbatch.segment import Segmentation, SegmentOptions, segment_page
from htrbatch.types import LineImage, LineResult, PageImage, PageResult

DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class TranscribeOptions:
    model: str = "default"  # "default" = the shipped model, else a checkpoint path
    device: str = "auto"  # auto | cpu | cuda
    batch_size: int = 32
    segment: SegmentOptions = field(default_factory=SegmentOptions)
    decode: DecodeOptions = field(default_factory=DecodeOptions)

    def validate(self) -> None:
        if self.device not in DEVICES:
            raise OptionsError(f"--device {self.device!r}: expected one of {', '.join(DEVICES)}")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise OptionsError("--device cuda: no CUDA device is available (use auto or cpu)")
        if self.batch_size < 1:
            raise OptionsError(f"--batch-size {self.batch_size}: must be at least 1")


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def model_path(model: str) -> Path:
    return default_model_path() if model == "default" else Path(model)


class Recognizer:
    """The CRNN plus a decoder: grayscale line crops in, (text, confidence) out."""

    def __init__(
        self,
        model: str = "default",
        device: str = "auto",
        batch_size: int = 32,
        decode: DecodeOptions = DecodeOptions(),
    ) -> None:
        self.device = resolve_device(device)
        self.batch_size = batch_size
        self.loaded: LoadedModel = load_checkpoint(model_path(model), self.device)
        self.charset = self.loaded.charset
        self.decoder = build_decoder(decode, self.charset.labels, self.charset.blank)

    @property
    def height(self) -> int:
        return self.loaded.config.height

    @torch.inference_mode()
    def logprobs(self, crops: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Per crop, the model's log-probs (T_i, C) over its true length, in input order."""
        prepared = [prepare_line(c, self.height) for c in crops]
        out: list[np.ndarray] = [np.zeros((0, len(self.charset)), np.float32)] * len(prepared)
        # Width-sorted batches: neighbours have similar widths, so little padding is computed.
        order = np.argsort([p.shape[1] for p in prepared], kind="stable")
        use_amp = self.device.type == "cuda"
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            x, widths = collate([prepared[i] for i in idx])
            x = x.to(self.device, non_blocking=True)
            with torch.autocast(self.device.type, dtype=torch.float16, enabled=use_amp):
                lp, lengths = self.loaded.model(x, widths.to(self.device))
            lp = lp.float().cpu().numpy()  # (T, B, C)
            for b, i in enumerate(idx):
                out[i] = lp[: int(lengths[b]), b, :]
        return out

    def recognize(self, crops: Sequence[np.ndarray]) -> list[DecodeResult]:
        if not crops:
            return []
        return decode_batch(self.decoder, self.logprobs(crops))


class Transcriber:
    """Segmentation + recognition for whole pages."""

    def __init__(self, options: TranscribeOptions = TranscribeOptions()) -> None:
        options.validate()
        self.options = options
        self.recognizer = Recognizer(
            options.model, options.device, options.batch_size, options.decode
        )

    def segment(self, page: PageImage) -> Segmentation:
        return segment_page(page.image, self.options.segment)

    def transcribe_segmented(
        self, pages: Sequence[tuple[PageImage, Segmentation]]
    ) -> list[PageResult]:
        """Recognise the lines of several segmented pages in shared batches."""
        lines: list[LineImage] = [ln for _, seg in pages for ln in seg.lines]
        decoded = self.recognizer.recognize([ln.image for ln in lines])
        results, k = [], 0
        for page, seg in pages:
            h, w = page.image.shape
            res = PageResult(source=page.source, width=w, height=h, page=page.page)
            for ln in seg.lines:
                d = decoded[k]
                k += 1
                res.lines.append(LineResult(bbox=ln.bbox, text=d.text, confidence=d.confidence))
            results.append(res)
        return results

    def transcribe_page(self, page: PageImage) -> PageResult:
        return self.transcribe_segmented([(page, self.segment(page))])[0]
