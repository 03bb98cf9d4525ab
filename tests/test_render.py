"""Stroke renderer, degradations and split rendering on synthetic pen strokes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from htrbatch.data.degrade import (
    apply_page_style,
    capture,
    composite_ink,
    draw_rules,
    jpeg,
    make_paper,
    sample_page_style,
    texture_ink,
)
from htrbatch.data.iamondb import OnlineLine
from htrbatch.data.parallel import map_with_progress
from htrbatch.data.render import clean_strokes, estimate_layout, render_line, sample_style
from htrbatch.data.render_dataset import RenderOptions, render_lines, render_variant
from htrbatch.errors import OptionsError

CORE = 100.0  # sensor units between baseline (y=1000) and x-line (y=900)


def _writing(n_words: int = 4, ascender: bool = True) -> list[np.ndarray]:
    """Fake cursive: per word a zig-zag in the core band, plus a tall 'l' left of the first word."""
    rng = np.random.default_rng(0)
    strokes, t = [], 0.0
    if ascender:
        y = np.linspace(1000, 1000 - 2.5 * CORE, 30)
        strokes.append(np.column_stack([np.full(30, -60.0), y, t + 0.01 * np.arange(30)]))
        t += 0.6
    for w in range(n_words):
        x = np.linspace(w * 500, w * 500 + 380, 120)
        y = 950 + 0.5 * CORE * np.sin(x / 25) + rng.normal(0, 1.5, x.size)
        strokes.append(np.column_stack([x, y, t + 0.01 * np.arange(x.size)]))
        t += 1.5
    return [s.astype(np.float32) for s in strokes]


def _line(i: int = 0) -> OnlineLine:
    return OnlineLine(id=f"a01-000u-{i + 1:02d}", form="a01-000u", text="hello", strokes=_writing())


def test_same_seed_same_bytes_different_seed_differs() -> None:
    line = _line()
    a = render_variant(line, 0, seed=5, clean_fraction=0.25)
    b = render_variant(line, 0, seed=5, clean_fraction=0.25)
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != render_variant(line, 0, seed=6, clean_fraction=0.25).tobytes()
    assert a.tobytes() != render_variant(line, 1, seed=5, clean_fraction=0.25).tobytes()


@pytest.mark.parametrize("clean", [1.0, 0.0])
def test_shape_dtype_and_ink_darker_than_paper(clean: float) -> None:
    for k in range(6):
        rng = np.random.default_rng(k)
        style = sample_style(rng, clean_fraction=clean)
        img = render_line(_writing(), style, rng)
        assert img.dtype == np.uint8 and img.ndim == 2
        h, w = img.shape
        assert 1.5 * style.x_height < h < 8 * style.x_height
        assert w > 3 * h
        paper = np.percentile(img, 60)
        ink = np.percentile(img, 1)
        assert paper - ink > 50, (k, paper, ink)


def test_upright_ascender_stays_on_top() -> None:
    # The tall stroke rises above the core (smaller y in sensor units); in the image the
    # ascender column must have ink higher up than the core-only columns.
    rng = np.random.default_rng(1)
    style = replace(sample_style(rng, clean_fraction=1.0), rotation=0.0, slant=0.0, wobble=0.0)
    style = replace(style, neighbour_above=False, neighbour_below=False)
    img = render_line(_writing(), style, rng)
    dark = img < (int(np.median(img)) - 60)
    rows = np.flatnonzero(dark.any(axis=1))
    cols = np.flatnonzero(dark.any(axis=0))
    left = dark[:, cols[0] : cols[0] + int(style.x_height)]
    top_left = np.flatnonzero(left.any(axis=1))[0]
    right = dark[:, cols[-1] - 3 * int(style.x_height) : cols[-1]]
    top_right = np.flatnonzero(right.any(axis=1))[0]
    assert top_left == rows[0]
    assert top_right - top_left > style.x_height


def test_x_height_estimate_and_outlier_removal() -> None:
    strokes = _writing()
    layout = estimate_layout(clean_strokes(strokes))
    assert 0.6 * CORE < layout.x_height < 1.4 * CORE
    assert abs(layout.angle) < 0.05
    glitch = strokes[1].copy()
    glitch[40, 1] = -5000  # tracker jumps far off the board for one sample
    cleaned = clean_strokes([strokes[0], glitch, *strokes[2:]])
    assert min(float(s[:, 1].min()) for s in cleaned) > 500
    far = np.array([[90000.0, 950.0, 0.0], [90010.0, 955.0, 0.01]], np.float32)
    cleaned = clean_strokes([*strokes, far])
    assert max(float(s[:, 0].max()) for s in cleaned) < 5000


def test_degradations_keep_uint8_shape() -> None:
    rng = np.random.default_rng(3)
    alpha = np.zeros((40, 200), np.float32)
    alpha[15:25, 20:180] = 1.0
    for d in (0.0, 1.0):
        style = sample_page_style(rng, d)
        img = apply_page_style(alpha, style, rng, rule_ys=[30.0])
        assert img.shape == alpha.shape and img.dtype == np.uint8
        assert img[18:22, 40:160].mean() + 50 < img[:8].mean()
    out = jpeg(np.full((16, 16), 200, np.uint8), rng, 30)
    assert out.shape == (16, 16) and out.dtype == np.uint8


def test_page_style_is_paper_ink_then_capture() -> None:
    alpha = np.zeros((30, 120), np.float32)
    alpha[10:20, 10:110] = 1.0
    style = sample_page_style(np.random.default_rng(4), 1.0)
    whole = apply_page_style(alpha, style, np.random.default_rng(5), rule_ys=[22.0])
    rng = np.random.default_rng(5)
    s = style
    page = make_paper(alpha.shape, rng, s.paper_level, s.paper_texture, s.texture_scale, s.grain)
    page = draw_rules(page, [22.0], rng, s.rule_darkness, s.rule_width)
    page = composite_ink(page, texture_ink(alpha, rng, s.ink_texture), s.ink_level, s.ink_opacity)
    assert np.array_equal(capture(page, style, rng), whole)


_SEEN: list[int] = []


def _remember(value: int) -> None:
    _SEEN.append(value)


@pytest.mark.parametrize("workers", [1, 2])
def test_map_with_progress_keeps_job_order(workers: int) -> None:
    calls: list[tuple[int, int]] = []
    jobs = [-5, 3, -1, 7, -2]
    _SEEN.clear()
    report = lambda done, total: calls.append((done, total))  # noqa: E731
    results = map_with_progress(abs, jobs, workers, report, 2, _remember, (workers,))
    assert list(results) == [5, 3, 1, 7, 2]
    assert calls == [(k, 5) for k in range(6)]
    assert _SEEN == ([1] if workers == 1 else [])  # in-process only when there is one worker
    assert list(map_with_progress(abs, [], workers)) == []


def test_render_lines_independent_of_workers(tmp_path: Path) -> None:
    lines = [_line(i) for i in range(3)]
    opts = RenderOptions(variants=2, seed=11, workers=1)
    one = render_lines(lines, tmp_path / "one", opts)
    two = render_lines(lines, tmp_path / "two", replace(opts, workers=2))
    assert one.written == two.written == 6 and one.skipped == 0
    for p in sorted((tmp_path / "one").iterdir()):
        assert p.read_bytes() == (tmp_path / "two" / p.name).read_bytes()
    assert (tmp_path / "one" / "a01-000u-02-v1.gt.txt").read_text(encoding="utf-8") == "hello\n"
    with pytest.raises(OptionsError):
        render_lines(lines, tmp_path / "bad", replace(opts, variants=0))


def test_line_without_ink_is_skipped(tmp_path: Path) -> None:
    empty = OnlineLine(id="a01-000u-09", form="a01-000u", text="x", strokes=[])
    counts = render_lines([empty, _line()], tmp_path, RenderOptions(variants=1, workers=1))
    assert (counts.written, counts.skipped) == (1, 1)
    assert not list(tmp_path.glob("a01-000u-09*"))
