from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from htrbatch.decode import DecodeOptions
from htrbatch.errors import OptionsError
from htrbatch.pipeline import FileJob, Recognizer, TranscribeOptions, Transcriber
from htrbatch.segment import SegmentOptions
from htrbatch.types import PageImage
from tests.conftest import draw_lines

GREEDY = DecodeOptions(decoder="greedy")


def test_recognizer_keeps_input_order_across_width_sorted_batches(tiny_checkpoint: Path) -> None:
    # fp32: bf16 convolutions (the default on CPUs with bf16) round differently per batch shape
    rec = Recognizer(str(tiny_checkpoint), "cpu", batch_size=2, decode=GREEDY, precision="fp32")
    crops = [draw_lines(["x" * n], width=40 + 40 * n, line_h=40, seed=n) for n in (5, 1, 3, 2)]
    lps = rec.logprobs(crops)
    # Each crop's output length follows its own width, whatever batch it was sorted into.
    widths = [lp.shape[0] for lp in lps]
    assert widths[0] > widths[2] > widths[3] > widths[1]
    alone = [rec.logprobs([c])[0] for c in crops]
    for a, b in zip(alone, lps):
        assert np.allclose(a, b, atol=1e-4)
    assert len(rec.recognize(crops)) == 4 and rec.recognize([]) == []


def test_transcriber_page_result(tiny_checkpoint: Path) -> None:
    t = Transcriber(TranscribeOptions(model=str(tiny_checkpoint), device="cpu", decode=GREEDY))
    page = PageImage(draw_lines(["one", "two", "three"]), "mem.png")
    result = t.transcribe_page(page)
    assert (result.width, result.height) == (900, 280)
    assert len(result.lines) == 3
    ys = [ln.bbox[1] for ln in result.lines]
    assert ys == sorted(ys)
    single = Transcriber(
        TranscribeOptions(
            model=str(tiny_checkpoint), segment=SegmentOptions(method="none"), decode=GREEDY
        )
    ).transcribe_page(page)
    assert [ln.bbox for ln in single.lines] == [(0, 0, 900, 280)]


def test_page_json_reports_the_measured_skew(tiny_checkpoint: Path, tmp_path: Path) -> None:
    page = draw_lines(["one line here", "and another", "the third one", "fourth"], width=1000)
    h, w = page.shape
    # Rotate by +3 degrees (counter-clockwise in OpenCV): the lines now rise to the right.
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 3.0, 1.0)
    tilted = cv2.warpAffine(page, m, (w, h), borderValue=235)
    path = tmp_path / "tilted.png"
    cv2.imwrite(str(path), tilted)
    t = Transcriber(TranscribeOptions(model=str(tiny_checkpoint), device="cpu", decode=GREEDY))
    direct = t.transcribe_page(PageImage(tilted, str(path))).to_dict()
    assert 2.0 <= direct["skew_deg"] <= 4.0
    (streamed,) = list(t.transcribe_files([FileJob(path)], workers=0))
    assert streamed.pages[0].to_dict()["skew_deg"] == direct["skew_deg"]
    unsegmented = Transcriber(
        TranscribeOptions(
            model=str(tiny_checkpoint), segment=SegmentOptions(method="none"), decode=GREEDY
        )
    ).transcribe_page(PageImage(tilted, str(path)))
    assert "skew_deg" not in unsegmented.to_dict()  # not measured, so not reported


def test_option_validation() -> None:
    with pytest.raises(OptionsError, match="--device"):
        TranscribeOptions(device="tpu").validate()
    with pytest.raises(OptionsError, match="--batch-size"):
        TranscribeOptions(batch_size=0).validate()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(tiny_checkpoint: Path) -> None:
    crops = [draw_lines(["gpu test"], width=300, line_h=40)]
    cpu = Recognizer(str(tiny_checkpoint), "cpu", decode=GREEDY).logprobs(crops)[0]
    gpu = Recognizer(str(tiny_checkpoint), "cuda", decode=GREEDY).logprobs(crops)[0]
    assert np.allclose(cpu, gpu, atol=5e-2)


def test_prepare_file_holds_one_page_at_a_time(tmp_path: Path, monkeypatch) -> None:
    """A multi-page file is read, segmented and dropped page by page: when page 2 is decoded,
    page 1's image is already gone; all pages still come back, in order."""
    import weakref

    from PIL import Image

    import htrbatch.pipeline as pipeline
    from htrbatch.io import iter_pages

    frames = [Image.fromarray(draw_lines([t], seed=s)) for s, t in ((3, "page one"), (4, "two"))]
    frames[0].save(tmp_path / "book.tif", save_all=True, append_images=frames[1:])
    alive: list[bool] = []

    def watched(path, dpi=300):
        previous = None
        for page in iter_pages(path, dpi):  # decodes lazily, so this runs before the next decode
            alive.append(previous is not None and previous() is not None)
            previous = weakref.ref(page.image)
            yield page
            del page

    monkeypatch.setattr(pipeline, "iter_pages", watched)
    res = pipeline.prepare_file(FileJob(tmp_path / "book.tif"), SegmentOptions(), 32)
    assert res.error is None and [p.page for p in res.pages] == [1, 2]
    assert all(p.boxes and len(p.lines) == len(p.boxes) for p in res.pages)
    assert alive == [False, False]
