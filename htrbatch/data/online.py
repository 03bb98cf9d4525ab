"""IAM-OnDB lines rendered on the fly for training: a fresh rendering of every line each epoch.

The alternative to pre-rendering K variants per line (``render_dataset``): no disk, no fixed K,
but every training step waits for its lines to be drawn. Rendering (epoch ``e``, line ``i``) is
exactly variant ``e`` of ``render_dataset.render_variant`` under the same seed, so a run is
reproducible and its epoch-``e`` images equal a pre-rendered set's ``-v<e>`` files.

Batches are rendered in worker processes a batch ahead of the training step that needs them
(``StrokeLines.render_batches``), so drawing overlaps the forward and backward pass.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from htrbatch.data.iamondb import OnlineLine, read_iamondb
from htrbatch.data.parallel import map_with_progress
from htrbatch.data.render import clean_strokes
from htrbatch.data.render_dataset import DEFAULTS, render_variant
from htrbatch.model import Charset, prepare_line_u8

# The lines of the current training run, handed to worker processes once (fork or initializer)
# instead of pickling strokes with every batch.
_LINES: list[OnlineLine] = []


def _set_lines(lines: list[OnlineLine]) -> None:
    global _LINES
    _LINES = lines


def _render_batch(job: tuple[np.ndarray, int, int, float, int]) -> list[np.ndarray]:
    """Render lines ``idx`` for ``epoch``: model inputs as uint8 (height, W_i), ink = 255."""
    idx, epoch, seed, clean_fraction, height = job
    return [
        prepare_line_u8(render_variant(_LINES[i], epoch, seed, clean_fraction), height) for i in idx
    ]


@dataclass
class StrokeLines:
    """Training lines kept as pen strokes, with their label ids.

    ``widths`` stands in for image widths when batching by width before anything is rendered:
    the transcription length, which the rendered width follows closely (x-height and stretch
    are drawn per rendering anyway).
    """

    lines: list[OnlineLine]
    labels: list[list[int]]

    @property
    def widths(self) -> np.ndarray:
        return np.array([len(line.text) for line in self.lines], dtype=np.float64)

    @classmethod
    def read(cls, src: str | Path, split: str | None, charset: Charset) -> StrokeLines:
        """The lines of ``split`` with ink and a transcription the charset can encode."""
        db = read_iamondb(Path(src), split)
        lines, labels = [], []
        for line in db.lines:
            ids = charset.encode(line.text)
            if ids and clean_strokes(line.strokes):
                lines.append(line)
                labels.append(ids)
        return cls(lines, labels)

    def render_batches(
        self,
        batches: Sequence[np.ndarray],
        epoch: int,
        height: int,
        seed: int = DEFAULTS.seed,
        clean_fraction: float = DEFAULTS.clean_fraction,
        workers: int = 1,
    ) -> Iterator[list[np.ndarray]]:
        """Yield the rendered model inputs of each batch of line indices, in order.

        ``workers`` >= 1 renders in that many processes, which work ahead of the consumer;
        0 renders in this process when each batch is asked for.
        """
        jobs = [(np.asarray(b), epoch, seed, clean_fraction, height) for b in batches]
        if workers == 0:
            _set_lines(self.lines)
            return (_render_batch(job) for job in jobs)
        return map_with_progress(
            _render_batch,
            jobs,
            workers,
            initializer=_set_lines,
            initargs=(self.lines,),
            pool_for_one=True,
        )
