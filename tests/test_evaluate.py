"""evaluate_dataset's scoring options, with a stand-in recogniser that returns fixed text."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from htrbatch.errors import OptionsError
from htrbatch.evaluate import ScoringOptions, evaluate_dataset

SPLIT_REFS = ["so , he said . then ; no ? yes !", "a , b .", "Mr. Foot , he said : no ."] * 3


@dataclass
class _Text:
    text: str


class FixedRecognizer:
    """Reads each crop as the next of ``texts`` (all crops here are blank images)."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = iter(texts)

    def recognize(self, crops: list[np.ndarray]) -> list[_Text]:
        return [_Text(next(self.texts)) for _ in crops]


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
