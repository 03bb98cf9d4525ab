"""Regression test of the shipped model: models/htrbatch-crnn.pt + models/lm.arpa.gz, with the
default options (auto segmenter, beam search + LM), on the three pages in samples/.

An accuracy regression anywhere on the path (reading, preprocessing, segmentation, line
normalisation, the model, decoding, the LM) turns this red. The model is loaded once per module.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from htrbatch.assets import default_lm_path, default_model_path
from htrbatch.cli import app
from htrbatch.io import read_pages
from htrbatch.metrics import corpus_rates, line_cer
from htrbatch.pipeline import TranscribeOptions, Transcriber
from htrbatch.types import PageResult

pytestmark = pytest.mark.slow

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
PAGES = sorted(SAMPLES.glob("*.jpg"))

# Measured with the shipped state (model v9 + session-12 LM):
#   htrbatch evaluate samples/ --segmenter auto --wer
# gives 4.61 % CER (27 wrong characters of 586) over the three pages; per page 7.95 %
# (a04-047-notebook), 1.19 % (d05-335z-scan), 2.60 % (m04-392z-gray), the same under bf16
# autocast (what --precision auto picks on a CPU with avx512_bf16) and in fp32. The bounds leave
# a margin of about 8 characters overall; the per-page bound catches one page going badly wrong.
MAX_CER = 0.06
MAX_PAGE_CER = 0.10


def _reference(image: Path) -> str:
    return image.with_name(image.name.removesuffix(".jpg") + ".gt.txt").read_text(encoding="utf-8")


def _reference_lines(image: Path) -> list[str]:
    return [ln for ln in _reference(image).splitlines() if ln.strip()]


@pytest.fixture(scope="module")
def results() -> dict[str, PageResult]:
    """Each sample page read by the shipped model with TranscribeOptions() (the defaults)."""
    assert default_model_path().is_file() and default_lm_path().is_file()
    transcriber = Transcriber(TranscribeOptions())
    out = {}
    for image in PAGES:
        (page,) = read_pages(image)
        out[image.name] = transcriber.transcribe_page(page)
    return out


def test_samples_are_present() -> None:
    assert [p.name for p in PAGES] == [
        "a04-047-notebook.jpg",
        "d05-335z-scan.jpg",
        "m04-392z-gray.jpg",
    ]
    assert all(len(_reference_lines(p)) >= 5 for p in PAGES)


def test_defaults_are_beam_with_lm() -> None:
    # what "default options" means here; if a default changes, the bound below must be re-measured
    opts = TranscribeOptions()
    assert opts.model == "default" and opts.segment.method == "auto"
    assert opts.decode.decoder == "beam" and opts.decode.lm == "default"


@pytest.mark.parametrize("image", PAGES, ids=lambda p: p.stem)
def test_each_page_splits_into_its_lines(results: dict[str, PageResult], image: Path) -> None:
    assert len(results[image.name].lines) == len(_reference_lines(image))


@pytest.mark.parametrize("image", PAGES, ids=lambda p: p.stem)
def test_each_page_cer_within_bound(results: dict[str, PageResult], image: Path) -> None:
    cer = line_cer(_reference(image), results[image.name].text)
    assert cer <= MAX_PAGE_CER, f"{image.name}: page CER {cer:.2%} > {MAX_PAGE_CER:.0%}"


def test_page_cer_over_the_samples_within_bound(results: dict[str, PageResult]) -> None:
    rates = corpus_rates((_reference(p), results[p.name].text) for p in PAGES)
    assert rates.chars == 586
    assert rates.cer <= MAX_CER, f"page CER {rates.cer:.2%} > {MAX_CER:.0%}"


def test_cli_transcribe_writes_what_the_library_reads(
    results: dict[str, PageResult], tmp_path: Path
) -> None:
    """`htrbatch transcribe samples/` with no options writes the same text as the library."""
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["transcribe", str(SAMPLES), "--out", str(out)])
    assert r.exit_code == 0, r.output
    for image in PAGES:
        written = (out / f"{image.stem}.txt").read_text(encoding="utf-8")
        assert written.rstrip("\n") == results[image.name].text
