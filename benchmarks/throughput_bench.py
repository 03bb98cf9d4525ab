"""Throughput: lines/s and pages/s per stage and end to end, CPU inference variants, and
`htrbatch evaluate` against Tesseract on the same line images in the same run.

    python benchmarks/throughput_bench.py --lines work/bench_lines --n 600 \\
        --subset-dir work/bench600 --pages work/bench_pages/first100 \\
        --out benchmarks/results/throughput.json

Sections (each optional):

* ``--pages DIR``: stages one after the other in this process on the page images: read,
  preprocess + segment, line normalisation, recognise (fp32), decode (greedy and beam + LM);
  then the streaming ``Transcriber.transcribe_files`` with worker processes and in-process.
* ``--lines DIR --n N``: N line images (the first N, sorted) copied by symlink into
  ``--subset-dir`` with their ``.gt.txt``; then
  - CPU inference variants of the recogniser on them (threads, channels_last, bf16 autocast),
  - end to end, process start included, interleaved ``--rounds`` times: ``htrbatch evaluate``
    (greedy and the default beam + LM) and Tesseract (``--psm 7``, English): one process per
    image, and one process for a file list, both with OMP_THREAD_LIMIT=1 (OpenMP threads on
    the shared cores made it ~3x slower). Wall and CPU seconds (user + sys of the children).
    Best (lowest) wall time of the rounds for each; Tesseract's CER from its own output.

The report's ``machine.load`` records what else used the CPU while it ran (sampled from
``/proc``: other processes' share of the cores, load average, the busiest other processes) and
calls the run ``idle`` (others under 10 % of the cores on average) or ``shared``; ``--note``
adds free text.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch

from htrbatch.decode import DecodeOptions, build_decoder, decode_batch
from htrbatch.io import read_pages
from htrbatch.metrics import corpus_rates, normalize_text
from htrbatch.model import collate, prepare_line
from htrbatch.pipeline import DEFAULT_WORKERS, FileJob, Recognizer, TranscribeOptions, Transcriber
from htrbatch.segment import SegmentOptions, segment_page

REPO = Path(__file__).resolve().parents[1]
HTRBATCH = Path(sys.executable).with_name("htrbatch")


class LoadMonitor:
    """What else ran on the machine during the benchmark, sampled every ``interval`` seconds in
    a thread from ``/proc`` (Linux): the 1-minute load average, and the CPU time used by
    processes outside this benchmark's process tree, as a share of all cores.

    Recorded in the report instead of assuming the machine was idle or shared."""

    def __init__(self, interval: float = 2.0) -> None:
        self.interval = interval
        self.loadavg: list[float] = []
        self.other_share: list[float] = []
        self.other_cpu: dict[tuple[int, str], float] = {}  # (pid, name) -> CPU s while sampled
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._tick = os.sysconf("SC_CLK_TCK")
        self._ok = Path("/proc/loadavg").exists()

    @staticmethod
    def _procs() -> dict[int, tuple[int, str, float]]:
        """pid -> (ppid, name, CPU jiffies user + system) of every readable process."""
        out = {}
        for d in Path("/proc").iterdir():
            if not d.name.isdigit():
                continue
            try:
                raw = (d / "stat").read_text()
            except OSError:
                continue  # gone meanwhile
            name = raw[raw.index("(") + 1 : raw.rindex(")")]
            f = raw[raw.rindex(")") + 2 :].split()
            out[int(d.name)] = (int(f[1]), name, float(f[11]) + float(f[12]))
        return out

    def _others(self) -> dict[int, tuple[str, float]]:
        procs = self._procs()
        mine = {os.getpid()}
        grew = True
        while grew:  # this process and its descendants (evaluate, tesseract, workers)
            new = {pid for pid, (ppid, _, _) in procs.items() if ppid in mine} - mine
            mine |= new
            grew = bool(new)
        return {pid: (name, j) for pid, (_, name, j) in procs.items() if pid not in mine}

    def _run(self) -> None:
        prev, t_prev = self._others(), time.monotonic()
        while not self._stop.wait(self.interval):
            cur, t = self._others(), time.monotonic()
            used = 0.0
            for pid, (name, j) in cur.items():
                d = j - prev[pid][1] if pid in prev else 0.0  # new processes: from next sample
                if d > 0:
                    used += d
                    key = (pid, name)
                    self.other_cpu[key] = self.other_cpu.get(key, 0.0) + d / self._tick
            cores = os.cpu_count() or 1
            self.other_share.append(used / self._tick / max(t - t_prev, 1e-9) / cores)
            self.loadavg.append(float(Path("/proc/loadavg").read_text().split()[0]))
            prev, t_prev = cur, t

    def __enter__(self) -> LoadMonitor:
        if self._ok:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._ok:
            self._thread.join()

    def summary(self, note: str = "") -> dict:
        if not self.other_share:
            return {"state": "unknown (no /proc samples)", "note": note}
        mean = float(np.mean(self.other_share))
        busiest = sorted(self.other_cpu.items(), key=lambda kv: -kv[1])[:5]
        return {
            # idle: other processes used under 10 % of the cores on average while we ran
            "state": "idle" if mean < 0.10 else "shared",
            "other_cpu_share_mean": round(mean, 3),
            "other_cpu_share_max": round(float(np.max(self.other_share)), 3),
            "loadavg_1min_mean": round(float(np.mean(self.loadavg)), 2),
            "loadavg_1min_max": round(float(np.max(self.loadavg)), 2),
            "samples": len(self.other_share),
            "interval_s": self.interval,
            "busiest_others": [
                {"pid": pid, "name": name, "cpu_s": round(cpu, 1)} for (pid, name), cpu in busiest
            ],
            "note": note,
        }


def _clock(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def _rates(seconds: float, lines: int, pages: int | None = None) -> dict:
    d = {"seconds": round(seconds, 3), "lines_per_s": round(lines / max(seconds, 1e-9), 1)}
    if pages is not None:
        d["pages_per_s"] = round(pages / max(seconds, 1e-9), 2)
    return d


def stage_bench(pages_dir: Path) -> dict:
    files = sorted(p for p in pages_dir.iterdir() if p.suffix.lower() in {".png", ".jpg", ".tif"})
    rec = Recognizer("default", "cpu", 32, DecodeOptions(decoder="greedy"))
    beam = build_decoder(DecodeOptions(), rec.charset.labels, rec.charset.blank)
    pages, t_read = _clock(lambda: [p for f in files for p in read_pages(f)])
    seg_opts = SegmentOptions()
    segs, t_seg = _clock(lambda: [segment_page(p.image, seg_opts) for p in pages])
    crops = [ln.image for s in segs for ln in s.lines]
    n, n_pages = len(crops), len(pages)
    prepared, t_prep = _clock(lambda: [prepare_line(c, rec.height) for c in crops])
    rec.logprobs_prepared(prepared[:32])  # warm-up
    lps, t_rec = _clock(lambda: rec.logprobs_prepared(prepared))
    _, t_greedy = _clock(lambda: decode_batch(rec.decoder, lps))
    _, t_beam = _clock(lambda: decode_batch(beam, lps))
    stages = {
        "read": _rates(t_read, n, n_pages),
        "preprocess+segment": _rates(t_seg, n, n_pages),
        "line normalisation": _rates(t_prep, n, n_pages),
        "recognise (fp32)": _rates(t_rec, n, n_pages),
        "decode greedy": _rates(t_greedy, n, n_pages),
        "decode beam+LM": _rates(t_beam, n, n_pages),
    }
    seq = t_read + t_seg + t_prep + t_rec
    stages["sum of stages, greedy"] = _rates(seq + t_greedy, n, n_pages)
    stages["sum of stages, beam+LM"] = _rates(seq + t_beam, n, n_pages)
    jobs = [FileJob(f) for f in files]
    for decoder in ("greedy", "beam"):
        for workers in sorted({0, DEFAULT_WORKERS}):
            t = Transcriber(TranscribeOptions(device="cpu", decode=DecodeOptions(decoder=decoder)))
            results, secs = _clock(lambda t=t, w=workers: list(t.transcribe_files(jobs, w)))
            lines = sum(len(p.lines) for r in results for p in r.pages)
            name = f"transcribe_files {decoder}, workers={workers} (no process start)"
            stages[name] = _rates(secs, lines, sum(len(r.pages) for r in results))
    return {"folder": str(pages_dir), "files": len(files), "pages": n_pages, "lines": n, **stages}


def make_subset(lines_dir: Path, n: int, subset: Path) -> list[Path]:
    images = sorted(p for p in lines_dir.rglob("*.png") if p.with_suffix(".gt.txt").is_file())[:n]
    if len(images) < n:
        raise SystemExit(f"{lines_dir}: only {len(images)} labelled line images, need {n}")
    if subset.exists():
        shutil.rmtree(subset)
    subset.mkdir(parents=True)
    for p in images:
        os.symlink(p.resolve(), subset / p.name)
        os.symlink(p.with_suffix(".gt.txt").resolve(), subset / (p.stem + ".gt.txt"))
    return sorted(subset.glob("*.png"))


def variant_bench(images: list[Path]) -> dict:
    """The recogniser alone on the same prepared lines, fp32 vs the CPU options we tried."""
    rec = Recognizer("default", "cpu", 32, DecodeOptions(decoder="greedy"), precision="fp32")
    prepared = [prepare_line(read_pages(p)[0].image, rec.height) for p in images]
    order = np.argsort([x.shape[1] for x in prepared], kind="stable")
    batches = [collate([prepared[i] for i in order[s : s + 32]]) for s in range(0, len(order), 32)]
    model = rec.loaded.model
    threads0 = torch.get_num_threads()

    def run(bf16: bool, channels_last: bool) -> list[torch.Tensor]:
        outs = []
        with torch.inference_mode():
            for x, w in batches:
                if channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    lp, _ = model(x, w)
                outs.append(lp.float())
        return outs

    torch.set_num_threads(1)
    reference = run(False, False)
    variants = [
        ("fp32, 1 thread", 1, False, False),
        ("fp32, 2 threads", 2, False, False),
        ("fp32 channels_last, 1 thread", 1, False, True),
        ("bf16 autocast, 1 thread", 1, True, False),
        ("bf16 autocast, 2 threads", 2, True, False),
    ]
    out = {}
    for _round in range(2):  # interleaved, best of two
        for name, threads, bf16, cl in variants:
            torch.set_num_threads(threads)
            if _round == 0:
                run(bf16, cl)  # warm-up
            res, secs = _clock(lambda b=bf16, c=cl: run(b, c))
            diff = max(float((a - b).abs().max()) for a, b in zip(res, reference))
            best = min(secs, out.get(name, {}).get("seconds", float("inf")))
            out[name] = {**_rates(best, len(images)), "max_abs_logprob_diff": round(diff, 4)}
    torch.set_num_threads(threads0)
    base = out["fp32, 1 thread"]["lines_per_s"]
    for v in out.values():
        v["ratio_to_fp32_1_thread"] = round(v["lines_per_s"] / base, 2)
    return out


def _time_cmd(cmd: list[str], env: dict | None = None, stdout=subprocess.DEVNULL) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=stdout, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def tesseract_cer(images: list[Path], texts: list[str]) -> dict:
    refs = [normalize_text(p.with_suffix(".gt.txt").read_text("utf-8")) for p in images]
    rates = corpus_rates(zip(refs, [normalize_text(t) for t in texts]))
    return {"cer": round(rates.cer, 4), "wer": round(rates.wer, 4)}


def versus_tesseract(
    images: list[Path], subset: Path, rounds: int, work: Path, per_image_mode: bool = True
) -> dict:
    n = len(images)
    listing = work / "tesseract-list.txt"
    listing.write_text("".join(f"{p}\n" for p in images))
    env1 = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    tess = ["tesseract", "--psm", "7", "-l", "eng"]

    def per_image() -> None:
        for p in images:
            subprocess.run([*tess[:1], str(p), "-", *tess[1:]], check=True, env=env1,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip

    def evaluate(decoder: str) -> list[str]:
        out = work / f"evaluate-{decoder}.json"
        return [str(HTRBATCH), "evaluate", str(subset), "--wer", "--json", str(out)] + (
            ["--decoder", "greedy"] if decoder == "greedy" else []
        )

    commands = {
        "htrbatch evaluate --decoder greedy": lambda: _time_cmd(evaluate("greedy")),
        "htrbatch evaluate (beam 25 + LM, default)": lambda: _time_cmd(evaluate("beam")),
        "tesseract --psm 7, file list, one process, OMP_THREAD_LIMIT=1": lambda: _time_cmd(
            [*tess[:1], str(listing), str(work / "tess-list1"), *tess[1:]], env=env1
        ),
        "tesseract --psm 7, one process per image, OMP_THREAD_LIMIT=1": lambda: _clock(per_image)[
            1
        ],
    }
    if not per_image_mode:
        commands = {k: v for k, v in commands.items() if "per image" not in k}
    best: dict[str, float] = {}
    cpu: dict[str, float] = {}
    for _ in range(rounds):
        for name, fn in commands.items():
            c0 = _child_cpu()
            best[name] = min(best.get(name, float("inf")), fn())
            cpu[name] = min(cpu.get(name, float("inf")), _child_cpu() - c0)
            print(f"  {name}: {best[name]:.1f} s wall, {cpu[name]:.1f} s CPU", flush=True)
    out: dict = {"lines": n, "rounds": rounds, "commands": {}}
    for name, secs in best.items():
        out["commands"][name] = {
            "wall_s": round(secs, 2),
            "lines_per_s": round(n / secs, 2),
            "cpu_s": round(cpu[name], 2),
            "lines_per_cpu_s": round(n / max(cpu[name], 1e-9), 2),
        }
    for decoder in ("greedy", "beam"):
        rep = json.loads((work / f"evaluate-{decoder}.json").read_text())
        name = [k for k in out["commands"] if k.startswith("htrbatch") and
                (decoder == "greedy") == ("greedy" in k)][0]  # fmt: skip
        out["commands"][name].update(cer=round(rep["cer"], 4), wer=round(rep["wer"], 4))
    for key, stem in (("OMP_THREAD_LIMIT=1", "tess-list1"),):
        # one form feed after each page (tesseract 5.3 leaves it off the last one)
        pages = (work / f"{stem}.txt").read_text("utf-8").split("\f")
        texts = [t.strip() for t in pages[:n]]
        if len(pages) - 1 not in (n - 1, n):
            raise SystemExit(f"tesseract wrote {len(pages)} pages for {n} images")
        name = [k for k in out["commands"] if "file list" in k and key in k][0]
        out["commands"][name].update(tesseract_cer(images, texts))
    tess_fastest = max(
        (v["lines_per_s"], k) for k, v in out["commands"].items() if k.startswith("tesseract")
    )
    out["tesseract_fastest"] = tess_fastest[1]
    tess_cpu = max(
        v["lines_per_cpu_s"] for k, v in out["commands"].items() if k.startswith("tesseract")
    )
    for v in out["commands"].values():
        v["ratio_to_fastest_tesseract"] = round(v["lines_per_s"] / tess_fastest[0], 2)
        v["cpu_ratio_to_fastest_tesseract"] = round(v["lines_per_cpu_s"] / tess_cpu, 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=Path, help="folder of page images for the stage timings")
    ap.add_argument("--lines", type=Path, help="folder of line images with .gt.txt sidecars")
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--subset-dir", type=Path, default=Path("work/bench600"))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--skip-variants", action="store_true")
    ap.add_argument("--skip-tesseract", action="store_true")
    ap.add_argument("--skip-per-image", action="store_true", help="no one-process-per-image run")
    ap.add_argument("--variant-n", type=int, default=0, help="lines for the variants (0 = --n)")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks/results/throughput.json")
    ap.add_argument("--note", default="", help="free text on the conditions, kept in the report")
    args = ap.parse_args()
    report: dict = {
        "machine": {
            "cpus": os.cpu_count(),
            "cpu": platform.processor() or platform.machine(),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "default_workers": DEFAULT_WORKERS,
            "cuda": torch.cuda.is_available(),
        }
    }
    with LoadMonitor() as load:
        run_sections(args, report)
    # the machine's real state during the run (not assumed): see LoadMonitor
    report["machine"]["load"] = load.summary(args.note)
    print(json.dumps(report["machine"]["load"], indent=1), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")


def run_sections(args: argparse.Namespace, report: dict) -> None:
    if args.pages:
        report["stages"] = stage_bench(args.pages)
        print(json.dumps(report["stages"], indent=1), flush=True)
    if args.lines:
        images = make_subset(args.lines, args.n, args.subset_dir)
        if not args.skip_variants:
            report["cpu_variants"] = variant_bench(images[: args.variant_n or None])
            print(json.dumps(report["cpu_variants"], indent=1), flush=True)
        if not args.skip_tesseract:
            work = args.subset_dir.with_name(args.subset_dir.name + "-work")
            work.mkdir(parents=True, exist_ok=True)
            report["versus_tesseract"] = versus_tesseract(
                images, args.subset_dir, args.rounds, work, per_image_mode=not args.skip_per_image
            )
            print(json.dumps(report["versus_tesseract"], indent=1), flush=True)


if __name__ == "__main__":
    main()
