"""The streaming transcribe pipeline: worker processes, bounded prefetch, order, failures,
resumability, atomic outputs, and the CPU precision choice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import htrbatch.runtime as runtime
from htrbatch.cli import app
from htrbatch.decode import DecodeOptions, beam_search_of
from htrbatch.io import read_pages, write_atomic
from htrbatch.pipeline import (
    FileJob,
    PreparedFile,
    Recognizer,
    TranscribeOptions,
    Transcriber,
    decode_workers,
    prepared_stream,
)
from htrbatch.runtime import cpu_has_native_bf16, resolve_precision
from tests.conftest import draw_lines

GREEDY = DecodeOptions(decoder="greedy")
runner = CliRunner()

TEXTS = [
    ["first line", "second line"],
    ["only one"],
    ["a", "bb ccc", "ddd eeee ff"],
    ["the last page of the set"],
    ["x y", "zz"],
]


@pytest.fixture
def page_dir(tmp_path: Path) -> Path:
    d = tmp_path / "pages"
    d.mkdir()
    for i, texts in enumerate(TEXTS):
        cv2.imwrite(str(d / f"p{i}.png"), draw_lines(texts, width=500 + 60 * i, seed=i))
    return d


def _transcriber(ckpt: Path, **kw) -> Transcriber:
    # batch 2 -> groups of 8 lines: batches and groups cut across files
    return Transcriber(
        TranscribeOptions(model=str(ckpt), device="cpu", batch_size=2, decode=GREEDY, **kw)
    )


def _cli(args: list[str], stdin: str | None = None):
    return runner.invoke(app, args, input=stdin)


def _said(result) -> str:
    """stderr with rich's line wrapping undone."""
    return " ".join(result.stderr.split())


def test_streaming_with_workers_equals_in_process(page_dir: Path, tiny_checkpoint: Path) -> None:
    t = _transcriber(tiny_checkpoint)
    jobs = [FileJob(p) for p in sorted(page_dir.glob("*.png"))]
    streamed = list(t.transcribe_files(jobs, workers=2))
    inline = list(t.transcribe_files(jobs, workers=0))
    one_by_one = [t.transcribe_page(read_pages(j.path)[0]).to_dict() for j in jobs]
    assert [r.job for r in streamed] == jobs  # input order
    assert all(r.ok and len(r.pages) == 1 for r in streamed)
    as_dicts = [r.pages[0].to_dict() for r in streamed]
    assert as_dicts == [r.pages[0].to_dict() for r in inline] == one_by_one
    assert [len(d["lines"]) for d in as_dicts] == [len(x) for x in TEXTS]
    assert t.stats.files == 2 * len(jobs) and t.stats.lines == 2 * sum(map(len, TEXTS))


def test_beam_search_in_its_own_process_equals_in_process(
    page_dir: Path, tiny_checkpoint: Path
) -> None:
    jobs = [FileJob(p) for p in sorted(page_dir.glob("*.png"))]
    runs = {}
    for n in (1, 0):
        t = Transcriber(
            TranscribeOptions(
                model=str(tiny_checkpoint),
                device="cpu",
                batch_size=2,
                decode=DecodeOptions(workers=n, punctuation="as-decoded"),
            )
        )
        beam = beam_search_of(t.recognizer.decoder)
        assert beam is not None and beam.workers == n
        assert (beam._pool is not None) == (n == 1)  # started with the pipeline, not later
        runs[n] = [r.pages[0].to_dict() for r in t.transcribe_files(jobs, workers=1)]
        beam.close()
    assert runs[1] == runs[0]
    assert [len(d["lines"]) for d in runs[1]] == [len(x) for x in TEXTS]


def test_decode_workers_auto_is_one_process_beside_the_recogniser(monkeypatch) -> None:
    import htrbatch.pipeline as pipeline

    for cpus, want in ((1, 0), (2, 1), (16, 1)):
        monkeypatch.setattr(pipeline, "usable_cpus", lambda cpus=cpus: cpus)
        assert decode_workers(TranscribeOptions(workers=1)) == want
        assert decode_workers(TranscribeOptions(decode=DecodeOptions(decoder="greedy"))) == 0
        # --workers 0 means everything in this process, unless decode workers are asked for
        assert decode_workers(TranscribeOptions(workers=0)) == 0
        assert decode_workers(TranscribeOptions(decode=DecodeOptions(workers=3), workers=0)) == 3


def test_bad_file_in_the_middle_is_reported_and_the_rest_done(
    page_dir: Path, tiny_checkpoint: Path
) -> None:
    bad = page_dir / "p2.png"
    bad.write_bytes(b"this is not a png")
    jobs = [FileJob(p) for p in sorted(page_dir.glob("*.png"))]
    results = list(_transcriber(tiny_checkpoint).transcribe_files(jobs, workers=1))
    assert [r.job for r in results] == jobs
    assert [r.ok for r in results] == [True, True, False, True, True]
    assert "p2.png" in results[2].error and results[2].pages == []

    out = page_dir.parent / "out"
    args = ["transcribe", str(page_dir), "--out", str(out), "--model", str(tiny_checkpoint)]
    r = _cli([*args, "--decoder", "greedy", "--workers", "1", "--batch-size", "2"])
    assert r.exit_code == 1
    assert "p2.png: not an image" in _said(r) and "1 input(s) failed" in _said(r)
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(f"p{i}.{ext}" for i in (0, 1, 3, 4) for ext in ("json", "txt"))


def _die_on_p1(job: FileJob) -> PreparedFile:
    if job.path.name == "p1.png":
        os._exit(3)  # a worker killed mid-file (OOM killer, segfault in native code)
    return PreparedFile(job, [])


def test_a_file_that_kills_its_worker_fails_alone(page_dir: Path) -> None:
    jobs = [FileJob(p) for p in sorted(page_dir.glob("*.png"))]
    results = list(prepared_stream(jobs, _die_on_p1, workers=2, window=4))
    assert [r.job for r in results] == jobs
    assert [r.error is None for r in results] == [True, False, True, True, True]
    assert "worker process died" in results[1].error


def _identity(job: FileJob) -> PreparedFile:
    return PreparedFile(job, [])


@pytest.mark.parametrize("workers", [0, 2])
def test_prefetch_is_bounded(workers: int) -> None:
    pulled = 0

    def jobs():
        nonlocal pulled
        for i in range(40):
            pulled += 1
            yield FileJob(Path(f"j{i}.png"))

    window = 3
    for consumed, res in enumerate(prepared_stream(jobs(), _identity, workers, window), 1):
        assert res.job.path.name == f"j{consumed - 1}.png"
        # never more than `window` jobs taken beyond those handed out
        assert pulled <= consumed + window


def test_resume_skips_done_pages_and_keeps_input_order(
    page_dir: Path, tmp_path: Path, tiny_checkpoint: Path
) -> None:
    out = tmp_path / "out"
    args = [
        "transcribe",
        str(page_dir),
        "--out",
        str(out),
        "--model",
        str(tiny_checkpoint),
        "--decoder",
        "greedy",
        "--workers",
        "1",
        "--jsonl",
    ]
    full = _cli(args)
    assert full.exit_code == 0, full.output
    reference = {p.name: p.read_text() for p in out.iterdir()}
    # as if a run had been killed after p0 and p3: the rest is gone, p3 holds a marker
    for p in out.iterdir():
        if not p.name.startswith(("p0.", "p3.")):
            p.unlink()
    doc = json.loads((out / "p3.json").read_text())
    doc["text"] = "kept from the first run"
    (out / "p3.json").write_text(json.dumps(doc))
    resumed = _cli(args)
    assert resumed.exit_code == 0, resumed.output
    assert "3 page(s) written" in _said(resumed) and "2 page(s) already done" in _said(resumed)
    assert json.loads((out / "p3.json").read_text())["text"] == "kept from the first run"
    for name, text in reference.items():
        if not name.startswith("p3."):
            assert (out / name).read_text() == text, name
    # --jsonl lists skipped and new pages together, in input order
    sources = [Path(json.loads(line)["source"]).name for line in resumed.stdout.splitlines()]
    assert sources == [f"p{i}.png" for i in range(5)]


def test_cli_workers_debug_dir_and_option_errors(
    page_dir: Path, tmp_path: Path, tiny_checkpoint: Path
) -> None:
    base = ["transcribe", str(page_dir), "--model", str(tiny_checkpoint), "--decoder", "greedy"]
    r = _cli([*base, "--out", str(tmp_path / "a"), "--workers", "2", "--debug-dir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert len(list(tmp_path.glob("p*.lines.png"))) == 5
    r0 = _cli([*base, "--out", str(tmp_path / "b"), "--workers", "0"])
    assert r0.exit_code == 0, r0.output
    for p in (tmp_path / "a").iterdir():
        assert (tmp_path / "b" / p.name).read_text() == p.read_text()
    r = _cli([*base, "--out", str(tmp_path / "c"), "--precision", "fp8"])
    assert r.exit_code == 2 and "--precision" in r.stderr
    r = _cli([*base, "--out", str(tmp_path / "c"), "--workers", "-1"])
    assert r.exit_code == 2


def test_kill_9_during_a_write_leaves_no_partial_output(tmp_path: Path) -> None:
    target = tmp_path / "page.json"
    target.write_text('{"old": "complete"}\n')
    # A child process dies by SIGKILL inside write_atomic, after writing the data and before
    # the rename: the target must still be the old complete file.
    code = textwrap.dedent(
        f"""
        import os, signal
        from htrbatch import io
        io.os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)
        io.write_atomic({str(target)!r}, '{{"new": "' + 'x' * 100000 + '"}}')
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    assert json.loads(target.read_text()) == {"old": "complete"}
    # what is left is a hidden temporary file that no reader or resumed run takes for output
    leftovers = [p.name for p in tmp_path.iterdir() if p != target]
    assert leftovers and all(n.startswith(".page.json.") and n.endswith(".tmp") for n in leftovers)
    # the resumed run that rewrites the page clears its dead temporary file, and no other's
    other = tmp_path / ".page.json.txt.abcd_123.tmp"  # belongs to "page.json.txt", not "page.json"
    other.write_text("")
    write_atomic(target, '{"new": "complete"}\n')
    assert json.loads(target.read_text()) == {"new": "complete"}
    assert sorted(p.name for p in tmp_path.iterdir()) == [other.name, "page.json"]


def test_bf16_needs_bf16_instructions_else_fp32() -> None:
    cpu = torch.device("cpu")
    emulated = {"avx2", "avx512f"}  # no bf16 instructions: bf16 would be emulated
    assert not cpu_has_native_bf16(emulated)
    for precision in ("auto", "bf16", "fp16", "fp32"):
        assert resolve_precision(precision, cpu, emulated) is None
    amx = emulated | {"amx_tile", "amx_bf16"}
    if torch.backends.mkldnn.is_available():
        for native in (amx, emulated | {"avx512_bf16"}):  # AMX, or AVX-512 bf16 as here
            assert cpu_has_native_bf16(native)
            assert resolve_precision("auto", cpu, native) is torch.bfloat16
    assert resolve_precision("fp32", cpu, amx) is None
    assert resolve_precision("fp16", cpu, amx) is None
    assert resolve_precision("auto", torch.device("cuda")) is torch.float16


def test_recognizer_precision_follows_the_cpu_flags(
    tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crops = [draw_lines(["flag test"], width=300, line_h=40)]
    monkeypatch.setattr(runtime, "cpu_flags", lambda: frozenset({"avx2", "avx512f"}))
    fp32 = Recognizer(str(tiny_checkpoint), "cpu", decode=GREEDY)
    assert fp32.precision == "fp32"
    if not torch.backends.mkldnn.is_available():
        pytest.skip("no oneDNN: bf16 is never chosen")
    monkeypatch.setattr(runtime, "cpu_flags", lambda: frozenset({"amx_bf16", "amx_tile"}))
    bf16 = Recognizer(str(tiny_checkpoint), "cpu", decode=GREEDY)
    assert bf16.precision == "bf16"
    a, b = fp32.logprobs(crops)[0], bf16.logprobs(crops)[0]
    assert a.shape == b.shape and a.dtype == b.dtype == np.float32
    assert np.allclose(a, b, atol=0.2)  # bf16 convs: close, not equal
    assert Recognizer(str(tiny_checkpoint), "cpu", precision="fp32").precision == "fp32"
