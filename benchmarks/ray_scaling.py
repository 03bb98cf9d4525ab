"""Per-stage costs for the Ray backend, and the scaling table built from them.

    python benchmarks/ray_scaling.py --pages samples/ --out benchmarks/results/ray-scaling.json

Measured here, one thread each (torch and OpenCV at 1 thread; CPU seconds of the measuring
thread, so other load on a shared machine inflates them less than wall time would):

* page task: read + clean + segment + line normalisation (:func:`htrbatch.pipeline.prepare_file`,
  what a Ray page task runs), CPU s/page, lines/page, and the pickled size of the prepared file
  (what goes through Ray's object store to an actor);
* recogniser: the CRNN on CPU (fp32) in groups of ``4 * batch_size`` lines, CPU s/line;
* decode: greedy and beam + KenLM (the defaults), CPU s/line;
* end to end (``--e2e-copies K``: the pages copied K times): the local backend
  (``--workers 1``) and the Ray backend on a local Ray cluster of ``num_cpus=2`` (one recogniser
  actor), wall pages/s, and whether both wrote the same text.

The table (``table``) is computed from those figures and from stated assumptions
(``assumptions``: cores per CPU node, GPU lines/s, actors per GPU), never measured on a cluster:
pages/s for N CPU nodes and M GPUs = the slowest of page tasks (N * cores / page s), GPU
recognition (M * GPU lines/s / lines per page) and decoding in the actors (M * actors per GPU /
(decode s/line * lines per page)); with no GPU, every stage shares the CPU cores.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import torch

from htrbatch.backends import BackendOptions, open_backend
from htrbatch.decode import DecodeOptions, build_decoder, decode_batch
from htrbatch.io import expand_inputs
from htrbatch.outputs import plan_outputs
from htrbatch.pipeline import FileJob, Recognizer, TranscribeOptions, prepare_file

NODE_CORES = (16,)  # cores per CPU node (assumed)
CPU_NODES = (1, 2, 4, 8, 16)
GPUS = (0, 1, 2, 4, 8)


def _cpu() -> float:
    return time.thread_time()


def page_costs(files: list[Path], rec: Recognizer) -> tuple[list[dict], list]:
    seg = TranscribeOptions().segment
    rows, prepared = [], []
    for path in files:
        t0, w0 = _cpu(), time.perf_counter()
        pf = prepare_file(FileJob(path), seg, rec.height)
        cpu, wall = _cpu() - t0, time.perf_counter() - w0
        if pf.error:
            raise SystemExit(pf.error)
        n_pages = len(pf.pages)
        rows.append(
            {
                "file": str(path),
                "pages": n_pages,
                "lines": sum(len(p.lines) for p in pf.pages),
                "cpu_s": round(cpu, 4),
                "wall_s": round(wall, 4),
                "pickled_mb": round(len(pickle.dumps(pf)) / 1e6, 3),
            }
        )
        prepared.append(pf)
    return rows, prepared


def recognise_costs(rec: Recognizer, lines: list[np.ndarray], group: int) -> dict:
    rec.logprobs_prepared(lines[: min(len(lines), 8)])  # warm-up
    t0, w0 = _cpu(), time.perf_counter()
    out = []
    for i in range(0, len(lines), group):
        out += rec.logprobs_prepared(lines[i : i + group])
    cpu, wall = _cpu() - t0, time.perf_counter() - w0
    return {
        "lines": len(lines),
        "cpu_s_per_line": cpu / len(lines),
        "wall_s_per_line": wall / len(lines),
        "logprobs": out,
    }


def decode_costs(rec: Recognizer, logprobs: list[np.ndarray]) -> dict:
    res = {}
    for name, opts in (
        ("greedy", DecodeOptions(decoder="greedy")),
        ("beam_lm", DecodeOptions()),
    ):
        dec = build_decoder(opts, rec.charset.labels, rec.charset.blank)
        decode_batch(dec, logprobs[:4])  # warm-up (LM loaded)
        t0, w0 = _cpu(), time.perf_counter()
        decode_batch(dec, logprobs)
        cpu, wall = _cpu() - t0, time.perf_counter() - w0
        res[name] = {
            "cpu_s_per_line": cpu / len(logprobs),
            "wall_s_per_line": wall / len(logprobs),
        }
    return res


def end_to_end(files: list[Path], copies: int, decoder: str) -> dict:
    """Local backend (one worker) vs Ray backend (local cluster, 2 CPUs), same jobs."""
    import ray

    tmp = Path(tempfile.mkdtemp(prefix="ray-scaling-"))
    try:
        for k in range(copies):
            for f in files:
                (tmp / f"c{k}").mkdir(exist_ok=True)
                shutil.copy(f, tmp / f"c{k}" / f.name)
        found, errors = expand_inputs([str(tmp)])
        names = plan_outputs(found)
        jobs = [FileJob(n.source, None, n) for n in names]
        options = TranscribeOptions(
            device="cpu", workers=1, threads=1, decode=DecodeOptions(decoder=decoder)
        )
        res: dict = {"files": len(jobs), "decoder": decoder}
        texts = {}
        for name, backend, opts in (
            ("local", BackendOptions("local"), options),
            ("ray", BackendOptions("ray", actors=1), replace(options, workers=0)),
        ):
            if name == "ray":
                t0 = time.perf_counter()
                ray.init(num_cpus=2, include_dashboard=False, address="local")
                res["ray_init_s"] = round(time.perf_counter() - t0, 2)
            t0 = time.perf_counter()
            runner = open_backend(opts, backend)
            t1 = time.perf_counter()
            with runner:
                results = list(runner.transcribe_files(jobs))
            t2 = time.perf_counter()
            if name == "ray":
                ray.shutdown()
            pages = [p for r in results for p in r.pages]
            texts[name] = [p.text for p in pages]
            res[name] = {
                "open_s": round(t1 - t0, 2),
                "run_s": round(t2 - t1, 2),
                "pages": len(pages),
                "pages_per_s": round(len(pages) / (t2 - t1), 3),
                "failed": sum(not r.ok for r in results),
            }
        res["same_text"] = texts["local"] == texts["ray"]
        res["ray_over_local"] = round(res["ray"]["pages_per_s"] / res["local"]["pages_per_s"], 3)
        return res
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def scaling_table(m: dict, a: dict, decode_s: float) -> list[dict]:
    """pages/s per (CPU nodes, GPUs) from the measured per-page and per-line costs ``m``, the
    decoder's CPU s/line ``decode_s`` and the assumptions ``a``; ``bound``: the stage that
    limits it.

    No GPU: every stage shares the CPU nodes' cores (actors sized to balance with --ray-actors
    and --threads), pages/s = cores / core-seconds per page. With M GPUs (one per GPU node):
    the CPU nodes run page tasks; each GPU node runs ``actors_per_gpu`` recogniser actors (one
    host core each: the decoding) sharing its GPU, and page tasks on its other host cores."""
    page_s, lpp = m["page_cpu_s"], m["lines_per_page"]
    rec_s = m["recognise_cpu_s_per_line"]
    node, host, k = a["cores_per_cpu_node"], a["host_cores_per_gpu"], a["actors_per_gpu"]
    rows = []
    for n in CPU_NODES:
        for g in GPUS:
            if g == 0:
                stages = {"CPU (all stages)": n * node / (page_s + lpp * (rec_s + decode_s))}
            else:
                stages = {
                    "page tasks": (n * node + g * (host - k)) / page_s,
                    "GPU recognition": g * a["gpu_lines_per_s"] / lpp,
                    "decoding in actors": g * k / (lpp * decode_s),
                }
            bound = min(stages, key=stages.get)
            rows.append(
                {
                    "cpu_nodes": n,
                    "gpus": g,
                    "pages_per_s": round(stages[bound], 1),
                    "bound": bound,
                    "stages_pages_per_s": {k: round(v, 1) for k, v in stages.items()},
                }
            )
    return rows


def tables(measured: dict, assumptions: dict) -> dict:
    return {
        "beam_lm": scaling_table(measured, assumptions, measured["decode_cpu_s_per_line"]),
        "greedy": scaling_table(measured, assumptions, measured["decode_greedy_cpu_s_per_line"]),
    }


ASSUMPTION_NOTE = (
    "not measured: no GPU and no multi-node cluster here. gpu_lines_per_s is a guess for this "
    "CRNN in fp16 on one data-centre GPU; each GPU node has host_cores_per_gpu cores, "
    "actors_per_gpu of them running recogniser actors (--ray-actors = actors_per_gpu * GPUs, "
    "each decoding on its core), the rest page tasks; page tasks and decoding assumed to scale "
    "linearly with cores (no network, filesystem or scheduler limit)"
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", nargs="+", default=["samples"])
    ap.add_argument("--limit", type=int, default=0, help="at most this many files (0 = all)")
    ap.add_argument("--e2e-copies", type=int, default=4)
    ap.add_argument("--e2e-decoder", default="beam")
    ap.add_argument("--gpu-lines-per-s", type=float, default=2000.0, help="ASSUMED, see doc")
    ap.add_argument("--actors-per-gpu", type=int, default=8, help="ASSUMED: --ray-actors / GPUs")
    ap.add_argument("--host-cores-per-gpu", type=int, default=16, help="ASSUMED")
    ap.add_argument("--cores-per-cpu-node", type=int, default=NODE_CORES[0])
    ap.add_argument(
        "--table-only",
        action="store_true",
        help="recompute the table of --out from its measured figures with these assumptions",
    )
    ap.add_argument("--note", default="")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/ray-scaling.json"))
    args = ap.parse_args()
    assumptions = {
        "cores_per_cpu_node": args.cores_per_cpu_node,
        "gpu_lines_per_s": args.gpu_lines_per_s,
        "host_cores_per_gpu": args.host_cores_per_gpu,
        "actors_per_gpu": args.actors_per_gpu,
        "note": ASSUMPTION_NOTE,
    }
    if args.table_only:
        report = json.loads(args.out.read_text("utf-8"))
        report["assumptions"] = assumptions
        report["table"] = tables(report["measured"], assumptions)
        args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        return

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    found, errors = expand_inputs(args.pages)
    if errors:
        raise SystemExit(str(errors[0]))
    files = [f.path for f in found][: args.limit or None]
    rec = Recognizer(device="cpu", precision="fp32", decode=DecodeOptions(decoder="greedy"))

    rows, prepared = page_costs(files, rec)
    n_pages = sum(r["pages"] for r in rows)
    lines = [ln for pf in prepared for p in pf.pages for ln in p.lines]
    recog = recognise_costs(rec, lines, 4 * 32)
    dec = decode_costs(rec, recog.pop("logprobs"))
    measured = {
        "pages": n_pages,
        "lines_per_page": len(lines) / n_pages,
        "page_cpu_s": sum(r["cpu_s"] for r in rows) / n_pages,
        "page_pickled_mb": sum(r["pickled_mb"] for r in rows) / n_pages,
        "recognise_cpu_s_per_line": recog["cpu_s_per_line"],
        "decode_cpu_s_per_line": dec["beam_lm"]["cpu_s_per_line"],
        "decode_greedy_cpu_s_per_line": dec["greedy"]["cpu_s_per_line"],
    }
    report = {
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "load_avg_at_start": os.getloadavg(),
            "torch": torch.__version__,
            "note": args.note,
        },
        "files": rows,
        "measured": {k: round(v, 5) for k, v in measured.items()},
        "recognise": {k: round(v, 5) for k, v in recog.items()},
        "decode": {k: {kk: round(vv, 5) for kk, vv in v.items()} for k, v in dec.items()},
        "assumptions": assumptions,
        "table": tables(measured, assumptions),
    }
    if args.e2e_copies:
        report["end_to_end"] = end_to_end(files, args.e2e_copies, args.e2e_decoder)
    report["machine"]["load_avg_at_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({k: report[k] for k in ("measured", "end_to_end") if k in report}, indent=1))


if __name__ == "__main__":
    main()
