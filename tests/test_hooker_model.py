"""The shipped collection model (models/hooker-crnn.pt + models/hooker-lm.arpa.gz), selected by
name: ``--model hooker`` loads it and ``--lm default`` then means its own LM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from htrbatch.assets import (
    SHIPPED_MODELS,
    default_lm_path,
    default_model_path,
    model_file,
    model_lm_path,
    models_dir,
)
from htrbatch.cli import app
from htrbatch.decode import DecodeOptions
from htrbatch.model import load_checkpoint
from htrbatch.pipeline import Recognizer

from .conftest import SHARED


def test_names_select_shipped_files_and_paths_stay_paths(tmp_path: Path) -> None:
    assert model_file("default") == default_model_path()
    assert model_file("hooker") == models_dir() / "hooker-crnn.pt"
    assert model_file(str(tmp_path / "x.pt")) == tmp_path / "x.pt"
    # --lm default is the model's own LM; a checkpoint path gets the general LM
    assert DecodeOptions().lm_path("hooker") == models_dir() / "hooker-lm.arpa.gz"
    assert DecodeOptions().lm_path("default") == default_lm_path()
    assert DecodeOptions().lm_path(str(tmp_path / "x.pt")) == default_lm_path()
    assert DecodeOptions(lm="none").lm_path("hooker") is None
    assert DecodeOptions(decoder="greedy").lm_path("hooker") is None
    assert DecodeOptions(lm=str(tmp_path / "my.arpa")).lm_path("hooker") == tmp_path / "my.arpa"


@pytest.mark.parametrize("name", sorted(SHIPPED_MODELS))
def test_every_shipped_model_and_its_lm_are_there(name: str) -> None:
    shipped = SHIPPED_MODELS[name]
    assert model_file(name).is_file()
    assert model_lm_path(name).is_file()
    assert (models_dir() / shipped.lm.replace(".arpa.gz", ".unigrams.txt")).is_file()


def test_hooker_model_extends_the_default_charset() -> None:
    default = load_checkpoint(model_file("default"))
    hooker = load_checkpoint(model_file("hooker"))
    # the default network read at twice the height (benchmarks/widen_height.py): one more
    # 2x2 pooling, every other layer of the same shape
    assert hooker.config.height == 2 * default.config.height
    assert hooker.config.channels == default.config.channels
    assert hooker.config.lstm_hidden == default.config.lstm_hidden
    assert hooker.charset.labels[: len(default.charset)] == default.charset.labels
    assert "£" in hooker.charset.labels  # a character of the letters the default model lacks


def test_recognizer_named_hooker_decodes_with_the_hooker_lm() -> None:
    rec = Recognizer(model="hooker", device="cpu")
    decoder = rec.decoder
    while not hasattr(decoder, "lm_path"):
        decoder = decoder.inner
    assert decoder.lm_path == model_lm_path("hooker")


def test_a_mistyped_name_is_refused_naming_the_shipped_models(tmp_path: Path) -> None:
    sample = Path(__file__).resolve().parents[1] / "samples" / "d05-335z-scan.jpg"
    result = CliRunner().invoke(
        app, ["transcribe", str(sample), "--model", "hoker", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert "--model hoker" in result.output and "default, hooker" in result.output


@pytest.mark.shared
@pytest.mark.slow
def test_hooker_model_reads_a_hooker_page_far_better_than_the_default(tmp_path: Path) -> None:
    # JDH_2_16_154_001: a page of a test letter (benchmarks/hooker_split.py). The shipped model
    # has trained on every letter since session 19 (held-out figures: docs/benchmarks.md, "The
    # Hooker model"), so this checks that the collection model is the one loaded and reads its
    # hand, not how it generalises. Measured with the model of session 16, which had not seen
    # it: 17.21 % CER (its LM), 57.97 % with the default model v9, 34.06 % with v10.
    for suffix in (".jpg", ".xml"):
        name = "JDH_2_16_154_001" + suffix
        (tmp_path / name).symlink_to(SHARED / "data" / "hooker" / "pages" / name)
    scores = {}
    for model in ("hooker", "default"):
        report = tmp_path / f"{model}.json"
        args = ["evaluate", str(tmp_path), "--model", model, "--workers", "0"]
        result = CliRunner().invoke(app, [*args, "--json", str(report)])
        assert result.exit_code == 0, result.output
        doc = json.loads(report.read_text(encoding="utf-8"))
        assert doc["lines"] == 22
        scores[model] = doc["cer"]
    assert scores["hooker"] < 0.20
    assert scores["hooker"] < scores["default"] - 0.1  # the collection model reads it far better
