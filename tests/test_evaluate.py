"""evaluate: scoring options (with a stand-in transcriber that returns fixed text), the same
text as ``transcribe``, and missing images counted."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from htrbatch.cli import app
from htrbatch.errors import OptionsError
from htrbatch.evaluate import ScoringOptions, evaluate_dataset
from htrbatch.model import CRNN, DEFAULT_CHARSET, Charset, CRNNConfig, save_checkpoint
from htrbatch.pipeline import FileJob, FileResult, TranscribeOptions
from htrbatch.segment import SegmentOptions
from htrbatch.types import LineResult, PageResult
from tests.conftest import draw_lines

SPLIT_REFS = ["so , he said . then ; no ? yes !", "a , b .", "Mr. Foot , he said : no ."] * 3
runner = CliRunner()


class FixedRecognizer:
    """A stand-in Transcriber: reads each file as one line, the next of ``texts``."""

    options = TranscribeOptions(segment=SegmentOptions(method="none"))

    def __init__(self, texts: list[str]) -> None:
        self.texts = iter(texts)

    def transcribe_files(self, jobs: Iterable[FileJob]) -> Iterator[FileResult]:
        for job in jobs:
            line = LineResult((0, 0, 60, 20), next(self.texts), 1.0)
            yield FileResult(job, [PageResult(str(job.path), 60, 20, [line])])


def _dataset(root: Path, refs: list[str]) -> Path:
    root.mkdir()
    for i, ref in enumerate(refs):
        cv2.imwrite(str(root / f"l{i}.png"), np.full((20, 60), 255, np.uint8))
        (root / f"l{i}.gt.txt").write_text(ref, encoding="utf-8")
    return root


def test_auto_scores_in_the_references_punctuation_convention(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "iam", SPLIT_REFS)
    # the recogniser read every word right but wrote the marks the written-English way
    attached = [r.replace(" ,", ",").replace(" .", ".").replace(" ;", ";") for r in SPLIT_REFS]
    attached = [a.replace(" ?", "?").replace(" !", "!").replace(" :", ":") for a in attached]
    auto = evaluate_dataset(root, FixedRecognizer(attached))  # type: ignore[arg-type]
    assert auto.reference_punctuation == auto.scored_punctuation == "split"
    assert auto.cer == 0.0 and [i.prediction for i in auto.items] == SPLIT_REFS
    kept = evaluate_dataset(
        root,
        FixedRecognizer(attached),  # type: ignore[arg-type]
        scoring=ScoringOptions(punctuation="as-decoded"),
    )
    assert kept.scored_punctuation is None and kept.cer > 0.05
    # an explicit style applies whatever the references do
    forced = evaluate_dataset(
        root,
        FixedRecognizer(SPLIT_REFS),  # type: ignore[arg-type]
        scoring=ScoringOptions(punctuation="attach"),
    )
    assert forced.scored_punctuation == "attach" and forced.items[1].prediction == "a, b."


def test_auto_leaves_predictions_alone_without_enough_marks(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "few", ["a , b .", "no marks here"])
    report = evaluate_dataset(root, FixedRecognizer(["a, b.", "no marks here"]))  # type: ignore[arg-type]
    assert report.reference_punctuation is None and report.scored_punctuation is None
    assert [i.prediction for i in report.items] == ["a, b.", "no marks here"]


def test_bad_scoring_style_names_the_choices(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "d", ["a"])
    with pytest.raises(OptionsError, match="--punctuation spaced: must be one of auto, attach"):
        evaluate_dataset(root, FixedRecognizer(["a"]), scoring=ScoringOptions("spaced"))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def lively_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tiny_checkpoint``'s network with its conv weights x3 and LSTM weights x10: still
    untrained, but its greedy text depends on the ink (the plain tiny model reads every line as
    "V", which would make comparing two pipelines' texts vacuous)."""
    torch.manual_seed(0)
    config = CRNNConfig(height=32, channels=(8, 8, 16, 16, 16, 16), features=32, lstm_hidden=16)
    model = CRNN(config, len(Charset(DEFAULT_CHARSET)))
    with torch.no_grad():
        for p in model.rnn.parameters():
            p.mul_(10)
        for m in model.conv:
            if isinstance(m, torch.nn.Conv2d):
                m.weight.mul_(3)
    path = tmp_path_factory.mktemp("ckpt") / "lively.pt"
    save_checkpoint(path, model, Charset(DEFAULT_CHARSET), meta={"note": "test"})
    return path


def _line_images(root: Path, n: int) -> Path:
    """``n`` synthetic line images with sidecars: script on paper that darkens to one side
    (so the cleaning of a line image matters), a few grayer and noisier."""
    root.mkdir()
    words = ["the", "cat", "sat", "on", "a", "mat", "by", "old", "red", "door", "in", "rain"]
    rng = np.random.default_rng(3)
    for i in range(n):
        text = " ".join(rng.choice(words, size=int(rng.integers(1, 4))))
        img = draw_lines([text], width=70 + 34 * len(text), line_h=48, seed=i).astype(np.float32)
        shade = np.linspace(1.0, 0.55 + 0.4 * rng.random(), img.shape[1], dtype=np.float32)
        img = img * shade[None, :] + rng.normal(0, 2 + 6 * (i % 3), img.shape)
        cv2.imwrite(str(root / f"l{i:02d}.png"), np.clip(img, 0, 255).astype(np.uint8))
        (root / f"l{i:02d}.gt.txt").write_text(text + "\n", encoding="utf-8")
    return root


def test_evaluate_reads_line_images_as_transcribe_does(
    tmp_path: Path, lively_checkpoint: Path
) -> None:
    """The bar: per image, evaluate's prediction is the text transcribe writes."""
    root = _line_images(tmp_path / "lines", 60)
    common = ["--segmenter", "none", "--model", str(lively_checkpoint), "--decoder", "greedy"]
    common += ["--punctuation", "attach", "--workers", "1"]
    report = tmp_path / "r.json"
    r = runner.invoke(app, ["evaluate", str(root), "--json", str(report), *common])
    assert r.exit_code == 0, r.output
    out = tmp_path / "out"
    r = runner.invoke(app, ["transcribe", str(root), "--out", str(out), "--format", "txt", *common])
    assert r.exit_code == 0, r.output
    items = json.loads(report.read_text(encoding="utf-8"))["items"]
    assert len(items) == 60
    written = {}
    for item in items:
        (txt,) = out.rglob(f"{item['id']}*.txt")
        written[item["id"]] = txt.read_text(encoding="utf-8").rstrip("\n")
    assert {i["id"]: i["prediction"] for i in items} == written
    # the (untrained) model reads different images differently: the texts compared are real
    # (cleaned and raw images give different text for every one of these 60 lines)
    assert len(set(written.values())) > 30


def test_a_missing_line_image_is_reported_and_counted(
    tmp_path: Path, tiny_checkpoint: Path
) -> None:
    iam = tmp_path / "iam"
    folder = iam / "lines" / "a01" / "a01-000u"
    folder.mkdir(parents=True)
    rows = []
    for i, text in enumerate(["the cat", "on a mat", "by the door"]):
        line_id = f"a01-000u-{i:02d}"
        if i != 1:  # line 01's image is missing
            cv2.imwrite(str(folder / f"{line_id}.png"), draw_lines([text], width=320, seed=i))
        rows.append(f"{line_id} ok 154 1 0 0 10 10 {text.replace(' ', '|')}")
    (iam / "lines.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
    report = tmp_path / "r.json"
    args = ["evaluate", str(iam), "--model", str(tiny_checkpoint), "--decoder", "greedy"]
    r = runner.invoke(app, [*args, "--json", str(report), "--workers", "0"])
    assert r.exit_code == 1
    missing = folder / "a01-000u-01.png"
    # (rich may wrap the long path anywhere: compare without whitespace)
    assert f"{missing}:nosuchfile" in "".join(r.stderr.split())
    doc = json.loads(report.read_text(encoding="utf-8"))
    assert doc["lines"] == 3 and doc["chars"] == len("the cat") + len("on a mat") + len(
        "by the door"
    )
    assert doc["errors"] == [f"{missing}: no such file or directory"]
    item = doc["items"][1]
    assert item["id"] == "a01-000u-01" and item["prediction"] == "" and item["cer"] == 1.0
