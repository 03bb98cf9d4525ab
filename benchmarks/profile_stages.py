"""Where the time goes, stage by stage, on pages and on line images (issue 26).

    python benchmarks/profile_stages.py --pages work/pages24 --lines work/val --n-lines 600 \\
        --out benchmarks/results/profile-stages.json

Everything runs in this process, one file after another (``workers=0``), so that each stage's
wall time is its own. Stage functions are wrapped with timers (inclusive wall seconds and call
counts; no cProfile overhead inside the timed code): reading (``io.iter_pages``), cleaning
(illumination flattening + noise estimate + median filter), deskew (skew search, rotation),
rule detection and removal, binarisation, line candidates, rule checks, straight cuts, A* seams
(and the search loop inside them), line cutting, line normalisation, the recogniser's forward
pass, and the decoder. ``--cprofile N`` adds the N functions with most own time under cProfile
(a second pass; cProfile slows Python-heavy code, so read it for ranking only).

Start-up is timed in fresh interpreters (best of ``--startup-rounds``): ``import htrbatch.cli``,
``htrbatch --help``, and loading the model.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import json
import platform
import pstats
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# (stage name, module, function): wrapped wherever htrbatch modules hold the function.
STAGES = [
    ("read", "htrbatch.pipeline", "iter_pages"),
    ("segment_page (all of segmentation)", "htrbatch.segment.page", "segment_page"),
    ("  preprocess_page", "htrbatch.preprocess", "preprocess_page"),
    ("    cleaning (flatten + noise + median)", "htrbatch.preprocess", "_flatten_denoise"),
    ("    deskew: skew search", "htrbatch.preprocess", "estimate_skew"),
    ("    rule detection", "htrbatch.preprocess", "detect_rules"),
    ("    rule removal", "htrbatch.preprocess", "_remove_rules"),
    ("    binarisation", "htrbatch.preprocess", "binarize"),
    ("    component cleaning", "htrbatch.preprocess", "_clean_components"),
    ("  deskew: rotation", "htrbatch.segment.page", "rotate_page"),
    ("  components", "htrbatch.segment.page", "components"),
    ("  line candidates (ridges)", "htrbatch.segment.page", "ridge_candidates"),
    ("  line candidates (profile)", "htrbatch.segment.page", "profile_candidates"),
    ("  candidate checks", "htrbatch.segment.page", "validate_candidates"),
    ("  straight cuts", "htrbatch.segment.page", "straight_cuts"),
    ("  A* seams", "htrbatch.segment.page", "seams"),
    ("    A* search (astar_seam)", "htrbatch.segment.seams", "astar_seam"),
    ("  line cutting", "htrbatch.segment.page", "cut_line"),
    ("line cleaning (segmenter none)", "htrbatch.segment.page", "clean_line"),
    ("line normalisation", "htrbatch.pipeline", "prepare_line_mapped"),
    ("recogniser forward", "htrbatch.pipeline", "Recognizer.logprobs_prepared"),
    ("decoder", "htrbatch.pipeline", "decode_batch"),
]


def install_timers() -> dict[str, list[float]]:
    """Wrap each stage function with a timer; returns {stage: [seconds, calls]}."""
    import importlib

    acc: dict[str, list[float]] = {}
    for stage, modname, fname in STAGES:
        mod = importlib.import_module(modname)
        owner, attr = mod, fname
        if "." in fname:
            cls, attr = fname.split(".")
            owner = getattr(mod, cls)
        orig = getattr(owner, attr)
        cell = acc.setdefault(stage, [0.0, 0])

        def wrap(fn, cell=cell):
            @functools.wraps(fn)
            def timed(*a, **k):
                t0 = time.perf_counter()
                try:
                    return fn(*a, **k)
                finally:
                    cell[0] += time.perf_counter() - t0
                    cell[1] += 1

            return timed

        if fname == "iter_pages":
            # a generator: time each next() as reading
            def gen_wrap(fn, cell=cell):
                @functools.wraps(fn)
                def timed(*a, **k):
                    it = fn(*a, **k)
                    while True:
                        t0 = time.perf_counter()
                        try:
                            item = next(it)
                        except StopIteration:
                            cell[0] += time.perf_counter() - t0
                            return
                        cell[0] += time.perf_counter() - t0
                        cell[1] += 1
                        yield item

                return timed

            wrapped = gen_wrap(orig)
        else:
            wrapped = wrap(orig)
        if owner is mod:
            # every htrbatch module that imported the function by name
            for m in list(sys.modules.values()):
                if (
                    getattr(m, "__name__", "").startswith("htrbatch")
                    and getattr(m, attr, None) is orig
                ):
                    setattr(m, attr, wrapped)
        else:
            setattr(owner, attr, wrapped)
    return acc


def startup(rounds: int) -> dict[str, float]:
    """Best wall seconds of fresh interpreters."""
    env_py = sys.executable
    cmds = {
        "python -c pass": [env_py, "-c", "pass"],
        "import htrbatch.cli": [env_py, "-c", "import htrbatch.cli"],
        "htrbatch --help": [
            env_py,
            "-c",
            "import sys; sys.argv=['htrbatch','--help']; from htrbatch.cli import main; main()",
        ],
        "import torch": [env_py, "-c", "import torch"],
        "import htrbatch.segment._astar": [env_py, "-c", "import htrbatch.segment._astar"],
        "load model + decoder (Recognizer())": [
            env_py,
            "-c",
            "from htrbatch.pipeline import Recognizer; Recognizer(threads=1)",
        ],
    }
    out = {}
    for name, cmd in cmds.items():
        best = float("inf")
        for _ in range(rounds):
            t0 = time.perf_counter()
            subprocess.run(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            best = min(best, time.perf_counter() - t0)
        out[name] = round(best, 3)
        print(f"startup {name}: {best:.2f} s", flush=True)
    return out


def run_set(files: list[Path], segmenter: str, decoder: str, threads: int) -> dict:
    from htrbatch.decode import DecodeOptions
    from htrbatch.pipeline import FileJob, TranscribeOptions, Transcriber
    from htrbatch.segment import SegmentOptions

    opts = TranscribeOptions(
        segment=SegmentOptions(method=segmenter),
        decode=DecodeOptions(decoder=decoder),
        workers=0,
        threads=threads,
    )
    tr = Transcriber(opts)
    acc = install_timers()
    # warm-up: one file, so one-off costs (oneDNN kernels) are not counted
    list(tr.transcribe_files([FileJob(files[0])]))
    for cell in acc.values():
        cell[0], cell[1] = 0.0, 0
    t0 = time.perf_counter()
    n_lines = 0
    for r in tr.transcribe_files([FileJob(f) for f in files]):
        n_lines += sum(len(p.lines) for p in r.pages)
    wall = time.perf_counter() - t0
    stages = {k: {"seconds": round(v[0], 3), "calls": int(v[1])} for k, v in acc.items() if v[1]}
    return {"files": len(files), "lines": n_lines, "wall_s": round(wall, 3), "stages": stages}


def top_functions(files: list[Path], segmenter: str, decoder: str, n: int) -> list[dict]:
    from htrbatch.decode import DecodeOptions
    from htrbatch.pipeline import FileJob, TranscribeOptions, Transcriber
    from htrbatch.segment import SegmentOptions

    tr = Transcriber(
        TranscribeOptions(
            segment=SegmentOptions(method=segmenter),
            decode=DecodeOptions(decoder=decoder),
            workers=0,
            threads=1,
        )
    )
    prof = cProfile.Profile()
    prof.enable()
    list(tr.transcribe_files([FileJob(f) for f in files]))
    prof.disable()
    st = pstats.Stats(prof)
    rows = sorted(st.stats.items(), key=lambda kv: -kv[1][2])[:n]
    return [
        {
            "function": f"{Path(k[0]).name}:{k[1]}:{k[2]}",
            "own_s": round(v[2], 3),
            "cumulative_s": round(v[3], 3),
            "calls": v[1],
        }
        for k, v in rows
    ]


def print_table(title: str, res: dict) -> None:
    print(f"\n{title}: {res['files']} files, {res['lines']} lines, {res['wall_s']:.2f} s wall")
    for k, v in res["stages"].items():
        share = 100 * v["seconds"] / res["wall_s"] if res["wall_s"] else 0
        print(f"  {k:45s} {v['seconds']:8.3f} s {share:5.1f} %  ({v['calls']} calls)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=Path, help="folder of page images")
    ap.add_argument("--n-pages", type=int, default=24)
    ap.add_argument("--lines", type=Path, help="folder of line images (.png)")
    ap.add_argument("--n-lines", type=int, default=600)
    ap.add_argument("--decoder", default="beam", help="beam (default, with the LM) or greedy")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--startup-rounds", type=int, default=3)
    ap.add_argument("--cprofile", type=int, default=0, help="also list the top N by own time")
    ap.add_argument("--note", default="", help="free text: what else ran on the machine")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    report: dict = {
        "command": " ".join(sys.argv),
        "python": platform.python_version(),
        "machine": {"cpus": __import__("os").cpu_count(), "note": args.note},
    }
    if args.startup_rounds:
        report["startup_s"] = startup(args.startup_rounds)
    if args.pages:
        files = sorted(p for p in args.pages.iterdir() if p.suffix in (".png", ".jpg"))
        files = files[: args.n_pages]
        report["pages"] = run_set(files, "auto", args.decoder, args.threads)
        print_table("pages (segmenter auto)", report["pages"])
        if args.cprofile:
            report["pages_cprofile"] = top_functions(files, "auto", args.decoder, args.cprofile)
    if args.lines:
        files = sorted(args.lines.glob("*.png"))[: args.n_lines]
        report["lines"] = run_set(files, "none", args.decoder, args.threads)
        print_table("lines (segmenter none)", report["lines"])
        if args.cprofile:
            report["lines_cprofile"] = top_functions(files, "none", args.decoder, args.cprofile)
    for key in ("pages_cprofile", "lines_cprofile"):
        if key in report:
            print(f"\n{key}:")
            for r in report[key]:
                print(f"  {r['own_s']:7.3f} own {r['cumulative_s']:7.3f} cum  {r['function']}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
