"""A small soak (benchmarks/soak.py): 80 files, line images and one bad file of each kind,
transcribed once uninterrupted and once killed with kill -9 midway and resumed. The resumed
outputs are byte-identical to the uninterrupted run's (a line's result does not depend on the
other lines of its batch), no temporary file remains, every bad file is named once, exit codes
1 / -9 / 1."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import load_benchmark


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX only (FIFOs, kill -9)")
def test_kill_and_resume_gives_the_uninterrupted_outputs(tmp_path: Path) -> None:
    soak = load_benchmark("soak")
    # small batches: many groups of results, so the kill lands between written pages
    extra = ["--decoder", "greedy", "--workers", "1", "--batch-size", "4"]
    r = soak.soak(
        tmp_path,
        80,
        list(soak.BAD_KINDS),
        seed=1,
        kills=1,
        extra=extra,
        source="drawn",
        folders=3,
        log=lambda s: None,
        kill_at=14,
    )
    assert r["exit"] == {"uninterrupted": 1, "killed": [-9], "resume": 1}
    assert 14 <= r["kills_at_outputs"][0] < r["good_pages"], r["kills_at_outputs"]
    assert r["checks"] == dict.fromkeys(r["checks"], True), {
        k: r[k] for k in ("checks", "differing", "missing", "extra", "temporaries", "bad_reports")
    }
