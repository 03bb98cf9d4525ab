"""Render a whole IAM-OnDB split into a line dataset folder (``<id>-v<k>.png`` + ``.gt.txt``).

Every image's random generator is derived from a hash of (seed, line id, variant), so the output
does not depend on the number of workers or their scheduling.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from htrbatch.data.iamondb import OnlineLine, read_iamondb
from htrbatch.data.parallel import map_with_progress
from htrbatch.data.render import clean_strokes, render_line, sample_style
from htrbatch.errors import DatasetError, OptionsError


@dataclass(frozen=True)
class RenderOptions:
    """How to render a split: renderings per line, base seed, worker processes."""

    variants: int = 4
    seed: int = 0
    workers: int = 2
    clean_fraction: float = 0.25  # share of renderings that look like clean flatbed scans

    def validate(self) -> None:
        if self.variants < 1:
            raise OptionsError(f"variants must be >= 1, got {self.variants}")
        if self.workers < 1:
            raise OptionsError(f"workers must be >= 1, got {self.workers}")
        if not 0.0 <= self.clean_fraction <= 1.0:
            raise OptionsError(f"clean_fraction must be in [0, 1], got {self.clean_fraction}")


DEFAULTS = RenderOptions()


@dataclass(frozen=True)
class RenderCounts:
    """Images written, and lines skipped (no transcription or no ink left after clean-up)."""

    written: int
    skipped: int


def line_rng(line_id: str, variant: int, seed: int) -> np.random.Generator:
    """The generator for one rendering, independent of process and order."""
    digest = hashlib.blake2b(f"{seed}\0{line_id}\0{variant}".encode(), digest_size=16).digest()
    return np.random.default_rng(int.from_bytes(digest, "little"))


def render_variant(line: OnlineLine, variant: int, seed: int, clean_fraction: float) -> np.ndarray:
    """Rendering number ``variant`` of ``line`` under ``seed``: uint8 (h, w)."""
    rng = line_rng(line.id, variant, seed)
    style = sample_style(rng, clean_fraction)
    return render_line(line.strokes, style, rng)


def make_out_dir(out_dir: str | Path) -> Path:
    """Create ``out_dir`` (and its parents) if missing; DatasetError when that fails."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"{out_dir}: cannot create output folder ({exc.strerror})") from exc
    return out_dir


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _render_one(job: tuple[OnlineLine, Path, RenderOptions]) -> int:
    """Render and write all variants of one line; returns images written (0 = skipped)."""
    line, out_dir, opts = job
    if not clean_strokes(line.strokes):
        return 0
    for k in range(opts.variants):
        img = render_variant(line, k, opts.seed, opts.clean_fraction)
        ok, png = cv2.imencode(".png", img)
        if not ok:  # pragma: no cover - a 2-D uint8 array always encodes
            raise DatasetError(f"{line.id}: cannot encode rendering {k}")
        _write(out_dir / f"{line.id}-v{k}.png", png.tobytes())
        _write(out_dir / f"{line.id}-v{k}.gt.txt", (line.text + "\n").encode("utf-8"))
    return opts.variants


def render_lines(
    lines: list[OnlineLine],
    out_dir: Path,
    options: RenderOptions = DEFAULTS,
    progress: Callable[[int, int], None] | None = None,
) -> RenderCounts:
    """Render ``lines`` into ``out_dir``; ``progress(done, total)`` counts lines."""
    options.validate()
    out_dir = make_out_dir(out_dir)
    jobs = [(line, out_dir, options) for line in lines]
    written = skipped = 0
    try:
        for n in map_with_progress(_render_one, jobs, options.workers, progress, chunksize=4):
            written += n
            skipped += n == 0
    except OSError as exc:
        raise DatasetError(f"{out_dir}: cannot write rendering ({exc})") from exc
    return RenderCounts(written=written, skipped=skipped)


def render_split(
    src: Path,
    split: str | None,
    out_dir: Path,
    variants: int = DEFAULTS.variants,
    seed: int = DEFAULTS.seed,
    workers: int = DEFAULTS.workers,
    progress: Callable[[int, int], None] | None = None,
    clean_fraction: float = DEFAULTS.clean_fraction,
) -> RenderCounts:
    """Read ``split`` of IAM-OnDB at ``src`` and render ``variants`` images per line.

    Writes ``<out_dir>/<line-id>-v<k>.png`` (uint8 gray) and ``<line-id>-v<k>.gt.txt``. Skipped
    counts stroke files without a transcription plus lines with no usable ink.
    """
    options = RenderOptions(variants, seed, workers, clean_fraction)
    options.validate()
    db = read_iamondb(Path(src), split)
    counts = render_lines(db.lines, out_dir, options, progress)
    return RenderCounts(written=counts.written, skipped=counts.skipped + db.skipped)
