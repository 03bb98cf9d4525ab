"""--backend ray on a local Ray cluster (127.0.0.1, started once for the module): the same files
as the local backend on samples/ plus bad inputs, resume, and a recogniser actor killed mid-run."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from htrbatch.backends import BackendOptions, open_backend
from htrbatch.cli import app
from htrbatch.pipeline import TranscribeOptions

ray = pytest.importorskip("ray")

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
runner = CliRunner()
# batch size 2: the recogniser takes groups of 8 lines, so a page run spans several groups, some
# holding parts of two files, and the actors see several calls each
ARGS = ["--batch-size", "2", "--decoder", "greedy"]


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _flat(stderr: str) -> str:
    return " ".join(stderr.split())  # rich wraps long lines


def _errors(stderr: str) -> list[str]:
    """The error messages, whole, however rich wrapped them."""
    return sorted(re.findall(r"error: (.*?)(?= error: | \d+ page\(s\) written)", _flat(stderr)))


@pytest.fixture(scope="module")
def cluster() -> object:
    ray.init(num_cpus=2, include_dashboard=False, address="local")
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """samples/ plus a truncated PNG and a text file named .jpg."""
    root = tmp_path_factory.mktemp("in")
    for p in SAMPLES.glob("*.jpg"):
        shutil.copy(p, root / p.name)
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    (root / "notes.jpg").write_text("not an image", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def local_run(inputs: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    out = tmp_path_factory.mktemp("local")
    res = runner.invoke(app, ["transcribe", str(inputs), "--out", str(out), *ARGS])
    assert res.exit_code == 1, res.output  # the two bad files
    return out, _errors(res.stderr)


def test_ray_writes_what_the_local_backend_writes(
    cluster: object, inputs: Path, local_run: tuple[Path, list[str]], tmp_path: Path
) -> None:
    local_out, local_errors = local_run
    out = tmp_path / "ray"
    res = runner.invoke(
        app, ["transcribe", str(inputs), "--out", str(out), "--backend", "ray", *ARGS]
    )
    assert res.exit_code == 1, res.output
    assert "3 page(s) written" in _flat(res.stderr) and "2 input(s) failed" in _flat(res.stderr)
    assert _errors(res.stderr) == local_errors
    assert [e.split(":")[0] for e in local_errors] == [
        str(inputs / "broken.png"),
        str(inputs / "notes.jpg"),
    ]
    ray_files = _tree(out)
    assert ray_files == _tree(local_out)  # byte-identical txt and json
    assert sorted(ray_files) == sorted(
        f"{p.stem}{s}" for p in SAMPLES.glob("*.jpg") for s in (".json", ".txt")
    )
    # resumable like the local run: finished pages are skipped, bad files reported again, and
    # the redone page is what a resumed local run writes (a page's confidences depend a little on
    # which other lines share its batches, so both redo it in the same company)
    resumed_local = tmp_path / "local"
    shutil.copytree(local_out, resumed_local)
    for root in (out, resumed_local):
        (root / "d05-335z-scan.txt").unlink()
    res = runner.invoke(
        app, ["transcribe", str(inputs), "--out", str(out), "--backend", "ray", *ARGS]
    )
    assert res.exit_code == 1, res.output
    flat = _flat(res.stderr)
    assert "1 page(s) written" in flat and "2 page(s) already done" in flat
    res = runner.invoke(app, ["transcribe", str(inputs), "--out", str(resumed_local), *ARGS])
    assert res.exit_code == 1, res.output
    assert _tree(out) == _tree(resumed_local)
    assert _tree(out)["d05-335z-scan.txt"] == ray_files["d05-335z-scan.txt"]


def test_killed_workers_are_retried_and_the_run_completes(
    cluster: object,
    inputs: Path,
    local_run: tuple[Path, list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    marker = tmp_path / "died"
    monkeypatch.setenv("HTRBATCH_RAY_TEST_DIE_ONCE", str(marker))
    out = tmp_path / "ray"
    res = runner.invoke(
        app, ["transcribe", str(inputs), "--out", str(out), "--backend", "ray", *ARGS]
    )
    # a page task's worker and an actor (on its second group) did exit mid-run
    assert Path(f"{marker}.page").is_file() and Path(f"{marker}.actor").is_file()
    assert res.exit_code == 1, res.output  # only the two bad files failed
    assert _errors(res.stderr) == local_run[1]
    assert _tree(out) == _tree(local_run[0])


def test_ray_option_conflicts_and_missing_ray(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = str(SAMPLES / "a04-047-notebook.jpg")
    out = str(tmp_path / "out")
    res = runner.invoke(
        app, ["transcribe", page, "--out", out, "--backend", "ray", "--workers", "2"]
    )
    assert res.exit_code == 2 and "--workers 2 with --backend ray" in _flat(res.stderr)
    res = runner.invoke(app, ["transcribe", page, "--out", out, "--ray-address", "auto"])
    assert res.exit_code == 2 and "--ray-address auto with --backend local" in _flat(res.stderr)
    res = runner.invoke(app, ["transcribe", page, "--out", out, "--backend", "spark"])
    assert res.exit_code == 2 and "--backend 'spark'" in _flat(res.stderr)
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    res = runner.invoke(app, ["transcribe", page, "--out", out, "--backend", "ray"])
    assert res.exit_code == 2 and "pip install 'htrbatch[ray]'" in _flat(res.stderr)
    assert not (tmp_path / "out").exists()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_actors_get_a_gpu_and_run_fp16(cluster: object) -> None:
    with open_backend(TranscribeOptions(), BackendOptions("ray")) as backend:
        assert (backend.device, backend.precision) == ("cuda", "fp16")
        assert len(backend.actors) == int(ray.cluster_resources()["GPU"])
