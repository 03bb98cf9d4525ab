from pathlib import Path

import cv2
import numpy as np
import pytest

from htrbatch.data.datasets import detect_layout, load_dataset
from htrbatch.errors import DatasetError


def _img(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((20, 50), 255, np.uint8))


def test_iam_layout_uses_only_rows_with_images(tmp_path: Path) -> None:
    (tmp_path / "lines.txt").write_text(
        "#--- IAM lines.txt header\n"
        "a01-000u-00 ok 154 19 408 746 1661 89 A|MOVE|to|stop|Mr.|Gaitskell\n"
        "a01-000u-01 err 156 19 395 932 1850 105 to|&quot;|prop|up|&quot;|R&amp;D\n"
        "a01-000u-02 ok 157 16 408 1106 1838 93 missing|image\n",
        encoding="utf-8",
    )
    _img(tmp_path / "lines/a01/a01-000u/a01-000u-00.png")
    _img(tmp_path / "lines/a01/a01-000u/a01-000u-01.png")
    assert detect_layout(tmp_path) == "iam"
    samples = load_dataset(tmp_path)
    assert [s.id for s in samples] == ["a01-000u-00", "a01-000u-01"]
    assert samples[0].text == "A MOVE to stop Mr. Gaitskell"
    assert samples[1].text == 'to " prop up " R&D'


def test_sidecar_layout_recursive(tmp_path: Path) -> None:
    _img(tmp_path / "x" / "b.png")
    (tmp_path / "x" / "b.gt.txt").write_text("  two   words \n", encoding="utf-8")
    _img(tmp_path / "a.jpg")
    (tmp_path / "a.gt.txt").write_text("first", encoding="utf-8")
    _img(tmp_path / "orphan.png")  # no sidecar: not part of the set
    samples = load_dataset(tmp_path)
    assert [(s.id, s.text) for s in samples] == [("a", "first"), ("x/b", "two words")]


def test_unknown_layout_and_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="unknown dataset layout"):
        load_dataset(tmp_path)
    with pytest.raises(DatasetError, match="not found"):
        load_dataset(tmp_path / "nope")
