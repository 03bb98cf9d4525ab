"""Shared fixtures: tiny synthetic pages and a tiny checkpoint, all made in the tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
import pytest
import torch

from htrbatch.model import CRNN, DEFAULT_CHARSET, Charset, CRNNConfig, save_checkpoint

# The read-only project data (IAM-OnDB archives, fonts, texts), beside the checkout as ../shared.
SHARED = Path(__file__).resolve().parents[2] / "shared"


def load_benchmark(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` imported as module ``name`` (benchmarks/ is not a package);
    tests share its makers, e.g. soak.py's bad files."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tests marked ``shared`` need ../shared: skip them (with the path) where it is absent."""
    if item.get_closest_marker("shared") is not None and not SHARED.is_dir():
        pytest.skip(f"needs the project data at {SHARED} (absent)")


def draw_lines(texts: list[str], width: int = 900, line_h: int = 70, seed: int = 0) -> np.ndarray:
    """A page with one text line per entry: dark gray script on light paper, uint8 (H, W)."""
    rng = np.random.default_rng(seed)
    h = line_h * (len(texts) + 1)
    page = np.full((h, width), 235, np.uint8)
    page = np.clip(page + rng.normal(0, 3, page.shape), 0, 255).astype(np.uint8)
    for i, t in enumerate(texts):
        y = line_h * (i + 1)
        cv2.putText(page, t, (30, y), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 1.2, 40, 2, cv2.LINE_AA)
    return page


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small randomly initialised CRNN checkpoint (its outputs are meaningless, its I/O real)."""
    torch.manual_seed(0)
    config = CRNNConfig(height=32, channels=(8, 8, 16, 16, 16, 16), features=32, lstm_hidden=16)
    model = CRNN(config, len(Charset(DEFAULT_CHARSET)))
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(path, model, Charset(DEFAULT_CHARSET), meta={"note": "test"})
    return path


@pytest.fixture
def line_dataset(tmp_path: Path) -> Path:
    """A sidecar dataset of 6 synthetic single-line images."""
    root = tmp_path / "lines"
    root.mkdir()
    for i, text in enumerate(["hello world", "the cat", "a line", "tiny test", "more text", "end"]):
        img = draw_lines([text], width=60 + 30 * len(text), line_h=50, seed=i)
        cv2.imwrite(str(root / f"l{i}.png"), img)
        (root / f"l{i}.gt.txt").write_text(text + "\n", encoding="utf-8")
    return root
