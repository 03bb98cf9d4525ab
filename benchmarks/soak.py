"""Reliability soak: `htrbatch transcribe` on a corpus with bad files of every kind, killed with
kill -9 at random moments and resumed, against one uninterrupted run.

    nice python benchmarks/soak.py --bar --seed 0       # 402 line images + 15 bad files
    nice python benchmarks/soak.py --n 2000 --seed 0    # 1 % bad, every kind, 3 kills

Checks (each reported as true/false in the results JSON, benchmarks/results/soak-*.json):
- every good file has exactly its outputs, byte-identical to the uninterrupted run's;
- every bad file is named once, with a reason, on the final run's stderr (and on the
  uninterrupted run's), and has no output;
- no temporary file of an atomic write remains in the output folder;
- exit codes: 1 for the runs with bad inputs, -9 for the killed ones;
- memory: resident set size of the transcribe process (and of its worker processes) sampled from
  /proc every 0.25 s during the uninterrupted run; flat if the last quarter's peak is within
  ``--rss-slack`` MB of the first quarter's.

Good files are line images (``--segmenter none``) cut from the Hooker letters in ../shared (or,
with ``--source drawn`` or without ../shared, lines drawn with OpenCV), named with spaces and
accents, spread over a few folders, some saved as JPEG, TIFF, 16-bit PNG, CMYK JPEG, palette PNG
with transparency and a 2-frame GIF. tests/test_soak.py runs a small corpus through this module.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import signal
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
HOOKER = SHARED / "data" / "hooker" / "pages"
TEMP_MARK = ".htrtmp-"

# --------------------------------------------------------------------------- the corpus


def _png(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


def _pil_bytes(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int = 60000, height: int = 60000) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` gray pixels (3.6 GB for 60000x60000)
    with a few rows of data: a decompression bomb's header, refused before decoding."""
    rows = zlib.compress(b"\0" * (width + 1) * 4)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", rows) + _chunk(b"IEND", b"")
    )


# Bad kinds: name suffix, maker(path, sample_png_bytes, rng). Each maker creates the entry.
def _write(data: bytes) -> Callable[[Path, bytes, random.Random], None]:
    return lambda p, png, rng: p.write_bytes(data)


def _truncated(fmt: str) -> Callable[[Path, bytes, random.Random], None]:
    def make(p: Path, png: bytes, rng: random.Random) -> None:
        im = Image.open(io.BytesIO(png)).convert("L")
        data = _pil_bytes(im, fmt)
        p.write_bytes(data[: len(data) // 3])

    return make


def _unreadable(p: Path, png: bytes, rng: random.Random) -> None:
    p.write_bytes(png[: len(png) // 2])  # also truncated: bad even where root reads it anyway
    p.chmod(0)


def _directory(p: Path, png: bytes, rng: random.Random) -> None:
    p.mkdir()


def _broken_link(p: Path, png: bytes, rng: random.Random) -> None:
    p.symlink_to(p.with_name(p.name + ".missing-target"))


def _looping_link(p: Path, png: bytes, rng: random.Random) -> None:
    p.symlink_to(p.name)  # points at itself


def _fifo(p: Path, png: bytes, rng: random.Random) -> None:
    os.mkfifo(p)


def _noise(p: Path, png: bytes, rng: random.Random) -> None:
    p.write_bytes(rng.randbytes(4096))


def _tiny(p: Path, png: bytes, rng: random.Random) -> None:
    p.write_bytes(_png(np.full((1, 1), 255, np.uint8)))


def _corrupt_pdf(p: Path, png: bytes, rng: random.Random) -> None:
    p.write_bytes(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n" + b"\0" * 64)


BAD_KINDS: dict[str, tuple[str, Callable[[Path, bytes, random.Random], None]]] = {
    "empty": (".png", _write(b"")),
    "text": (".jpg", _write(b"Dear Sir, this is a letter, not a picture.\n")),
    "truncated-png": (".png", _truncated("PNG")),
    "truncated-jpeg": (".jpg", _truncated("JPEG")),
    "truncated-tiff": (".tif", _truncated("TIFF")),
    "noise": (".png", _noise),
    "bomb": (".png", _write(bomb_png())),
    "tiny": (".png", _tiny),
    "corrupt-pdf": (".pdf", _corrupt_pdf),
    "unreadable": (".png", _unreadable),
    "directory": (".png", _directory),
    "broken-link": (".png", _broken_link),
    "looping-link": (".jpg", _looping_link),
    "fifo": (".png", _fifo),
}
# The bar's 15: the seven it names, then the other kinds.
BAR_BAD = [
    "empty",
    "text",
    "truncated-png",
    "noise",
    "bomb",
    "directory",
    "looping-link",
    "truncated-jpeg",
    "truncated-tiff",
    "tiny",
    "corrupt-pdf",
    "unreadable",
    "broken-link",
    "fifo",
    "empty",
]


def _unusual(img: np.ndarray, kind: str) -> tuple[str, bytes]:
    """A good line image saved in an unusual but valid way: (suffix, bytes)."""
    im = Image.fromarray(img)
    if kind == "jpeg":
        return ".jpg", _pil_bytes(im, "JPEG", quality=92)
    if kind == "tiff":
        return ".tif", _pil_bytes(im, "TIFF", compression="tiff_lzw")
    if kind == "16bit":
        return ".png", _pil_bytes(Image.fromarray(img.astype(np.uint16) * 257), "PNG")
    if kind == "cmyk":
        return ".jpg", _pil_bytes(im.convert("CMYK"), "JPEG", quality=92)
    if kind == "palette-alpha":
        p = im.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
        return ".png", _pil_bytes(p, "PNG", transparency=0)
    if kind == "gif2":  # two frames: two pages
        frames = [im.convert("P"), Image.fromarray(255 - (255 - img) // 2).convert("P")]
        return ".gif", _pil_bytes(frames[0], "GIF", save_all=True, append_images=frames[1:])
    return ".png", _png(img)


UNUSUAL = ["jpeg", "tiff", "16bit", "cmyk", "palette-alpha", "gif2"]


def hooker_lines(n: int) -> list[np.ndarray]:
    """Up to ``n`` line crops of the Hooker letters (pages in name order)."""
    from htrbatch.data.layout_lines import find_layout_pages, iter_layout_lines

    pages, _ = find_layout_pages(HOOKER)
    out = []
    for sample in iter_layout_lines(pages):
        out.append(sample.image)
        if len(out) >= n:
            break
    return out


def drawn_lines(n: int, seed: int = 0) -> list[np.ndarray]:
    """``n`` lines of text drawn with OpenCV's script font on noisy paper."""
    rng = np.random.default_rng(seed)
    words = "the of and to in that was his with for had you not be on her which as it".split()
    out = []
    for _ in range(n):
        text = " ".join(rng.choice(words, int(rng.integers(2, 6))))
        w = 40 + 28 * len(text)
        img = np.clip(rng.normal(232, 4, (64, w)), 0, 255).astype(np.uint8)
        cv2.putText(img, text, (20, 44), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 1.1, 40, 2, cv2.LINE_AA)
        out.append(img)
    return out


@dataclass
class Corpus:
    root: Path
    good: list[str]  # paths relative to root
    bad: dict[str, str]  # relative path -> kind
    pages: dict[str, int] = field(default_factory=dict)  # good file -> page count


def make_corpus(
    root: Path,
    n_good: int,
    bad_kinds: list[str],
    seed: int = 0,
    source: str = "hooker",
    folders: int = 4,
    newline_name: bool = True,
) -> Corpus:
    """Write ``n_good`` line images and one bad entry per item of ``bad_kinds`` under ``root``,
    spread over ``folders`` folders, in a shuffled order of names."""
    rng = random.Random(seed)
    unique = min(n_good, 1000)
    if source == "hooker" and HOOKER.is_dir():
        lines = hooker_lines(unique)
    else:
        lines = drawn_lines(unique, seed)
    root.mkdir(parents=True)
    dirs = [root / f"lettres {c} à voir" for c in "abcdefghijklmnop"[:folders]]
    for d in dirs:
        d.mkdir()
    corpus = Corpus(root, [], {})
    for i in range(n_good):
        img = lines[i % len(lines)]
        step = max(5, n_good // 60)  # about 60 unusual files (at least one of each kind)
        kind = UNUSUAL[i // step % len(UNUSUAL)] if i % step == 3 else "png"
        suffix, data = _unusual(img, kind)
        name = f"ligne {i:05d} écrite{suffix}"
        if newline_name and i == 7:
            name = f"ligne {i:05d}\nà la ligne [red]{suffix}"
        p = dirs[rng.randrange(len(dirs))] / name
        p.write_bytes(data)
        corpus.good.append(str(p.relative_to(root)))
        corpus.pages[corpus.good[-1]] = 2 if kind == "gif2" else 1
    png = _png(lines[0])
    for j, kind in enumerate(bad_kinds):
        suffix, make = BAD_KINDS[kind]
        p = dirs[rng.randrange(len(dirs))] / f"mauvais {j:03d} {kind}{suffix}"
        make(p, png, rng)
        corpus.bad[str(p.relative_to(root))] = kind
    return corpus


def bad_kinds_for(n: int) -> list[str]:
    """1 % of ``n`` (at least one of each kind), cycling through the kinds."""
    kinds = list(BAD_KINDS)
    return [kinds[i % len(kinds)] for i in range(max(len(kinds), n // 100))]


# --------------------------------------------------------------------------- running


def command(corpus: Corpus, out: Path, extra: list[str]) -> list[str]:
    return [
        sys.executable,
        "-c",
        "from htrbatch.cli import main; main()",
        "transcribe",
        str(corpus.root),
        "--out",
        str(out),
        "--segmenter",
        "none",
        *extra,
    ]


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(c) for c in text.split()]


@dataclass
class Run:
    rc: int
    seconds: float
    stderr: str
    rss: list[tuple[float, float, float]]  # (t, main MB, main + workers MB)
    outputs_at_kill: int | None = None
    orphans: int = 0
    first_output_s: float | None = None  # when ``out`` first held a result
    first_stderr_s: float | None = None  # when the first line came on stderr


def count_outputs(out: Path) -> int:
    n = 0
    for _, _, names in os.walk(out):
        n += sum(name.endswith(".json") for name in names)
    return n


def run(
    cmd: list[str],
    env: dict[str, str],
    kill_after: float | None = None,
    out: Path | None = None,
    kill_at: int | None = None,
) -> Run:
    """Run ``cmd``; with ``kill_after``, send SIGKILL to the transcribe process (only it, as an
    out-of-memory kill or `kill -9 PID` would) that many seconds after its start; with
    ``kill_at``, once ``out`` holds that many JSON results."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    err_chunks: list[bytes] = []
    first_err: list[float] = []  # when stderr's first line came: the end of the start-up

    def read() -> None:
        for line in proc.stderr:
            if not first_err:
                first_err.append(time.perf_counter() - t0)
            err_chunks.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    rss = []
    killed_at = None
    workers: set[int] = set()
    first_output = None
    while proc.poll() is None:
        if first_output is None and out is not None and out.exists() and count_outputs(out):
            first_output = time.perf_counter() - t0
        kids = _children(proc.pid)
        workers.update(kids)
        main = _rss_mb(proc.pid)
        rss.append((time.perf_counter() - t0, main, main + sum(_rss_mb(k) for k in kids)))
        now = time.perf_counter() - t0
        due = kill_at is not None and out is not None and out.exists()
        due = due and count_outputs(out) >= kill_at
        if due or (kill_after is not None and now + 0.25 >= kill_after):
            time.sleep(max(0.0, kill_after - now) if kill_after is not None else 0.0)
            proc.send_signal(signal.SIGKILL)
            killed_at = count_outputs(out) if out is not None and out.exists() else 0
            break
        # a kill at a count of results polls often: on a quiet machine a run writes dozens of
        # small results a second, and a coarse poll may find them all written already
        time.sleep(0.02 if kill_at is not None else 0.25)
    rc = proc.wait()
    reader.join(30)
    orphans = 0
    if killed_at is not None:
        # workers of the killed process: they must end on their own (their pipe is gone)
        deadline = time.time() + 10
        while time.time() < deadline and any(Path(f"/proc/{w}").exists() for w in workers):
            time.sleep(0.2)
        alive = [w for w in workers if Path(f"/proc/{w}").exists()]
        orphans = len(alive)
        for w in alive:  # ours: do not leave them behind
            try:
                os.kill(w, signal.SIGKILL)
            except ProcessLookupError:
                pass
    return Run(
        rc,
        time.perf_counter() - t0,
        b"".join(err_chunks).decode("utf-8", "replace"),
        rss,
        killed_at,
        orphans,
        first_output,
        first_err[0] if first_err else None,
    )


# --------------------------------------------------------------------------- checking


def output_files(out: Path) -> dict[str, bytes]:
    files = {}
    for folder, _, names in os.walk(out):
        for name in names:
            p = Path(folder, name)
            files[str(p.relative_to(out))] = p.read_bytes()
    return files


def literal(text: str) -> str:
    from htrbatch.cli.app import literal as lit

    return lit(text)


def bad_reports(corpus: Corpus, stderr: str) -> dict[str, list[str]]:
    """For each bad file, the stderr lines that name it."""
    lines = stderr.splitlines()
    out = {}
    for rel, _ in corpus.bad.items():
        head = f"error: {literal(str(corpus.root / rel))}: "
        out[rel] = [ln[len(head) :] for ln in lines if ln.startswith(head)]
    return out


def memory_summary(rss: list[tuple[float, float, float]]) -> dict:
    if len(rss) < 8:
        return {"samples": len(rss)}
    q = len(rss) // 4
    first, last = rss[q : 2 * q], rss[3 * q :]  # skip the start-up quarter's model load
    return {
        "samples": len(rss),
        "peak_main_mb": round(max(r[1] for r in rss), 1),
        "peak_total_mb": round(max(r[2] for r in rss), 1),
        "second_quarter_peak_main_mb": round(max(r[1] for r in first), 1),
        "last_quarter_peak_main_mb": round(max(r[1] for r in last), 1),
        "second_quarter_peak_total_mb": round(max(r[2] for r in first), 1),
        "last_quarter_peak_total_mb": round(max(r[2] for r in last), 1),
        "growth_main_mb": round(max(r[1] for r in last) - max(r[1] for r in first), 1),
    }


def soak(
    work: Path,
    n_good: int,
    bad: list[str],
    seed: int = 0,
    kills: int = 3,
    extra: list[str] | None = None,
    source: str = "hooker",
    folders: int = 4,
    log: Callable[[str], None] = print,
    kill_at: int | None = None,
) -> dict:
    """Make the corpus under ``work``, run it uninterrupted and killed + resumed; the checks."""
    rng = random.Random(seed)
    random.seed(seed)
    extra = list(extra or [])
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    t = time.perf_counter()
    corpus = make_corpus(work / "corpus", n_good, bad, seed, source, folders)
    log(f"corpus: {len(corpus.good)} good, {len(corpus.bad)} bad ({time.perf_counter() - t:.0f} s)")
    ref_out, out = work / "uninterrupted", work / "resumed"
    ref = run(command(corpus, ref_out, extra), env, out=ref_out)
    log(f"uninterrupted: exit {ref.rc}, {ref.seconds:.0f} s")
    expected_json = sum(corpus.pages.values())
    runs = []
    for k in range(kills):
        # a random moment of the work left: after the start-up (model loaded: the uninterrupted
        # run's first stderr line, the bad inputs found), within the time the pages left took
        start = ref.first_stderr_s or 0.1 * ref.seconds
        have = count_outputs(out) if out.exists() else 0
        left = (expected_json - have) / expected_json
        if left <= 0:
            break
        kill_after = start + rng.uniform(0.1, 0.8) * left * (ref.seconds - start)
        if kill_at is not None:  # at a number of results instead (the test's one kill)
            r = run(command(corpus, out, extra), env, out=out, kill_at=kill_at)
        else:
            r = run(command(corpus, out, extra), env, kill_after=kill_after, out=out)
        runs.append(r)
        log(f"kill {k + 1}: exit {r.rc} at {r.outputs_at_kill} outputs, {r.seconds:.0f} s")
    final = run(command(corpus, out, extra), env)
    log(f"resume: exit {final.rc}, {final.seconds:.0f} s")

    ref_files, files = output_files(ref_out), output_files(out)
    temps = sorted(f for f in list(ref_files) + list(files) if TEMP_MARK in f)
    for name in temps:
        ref_files.pop(name, None)
        files.pop(name, None)
    differing = sorted(f for f in ref_files if f in files and files[f] != ref_files[f])
    missing = sorted(set(ref_files) - set(files))
    extra_files = sorted(set(files) - set(ref_files))
    # every good file's outputs: .txt and .json per page
    from htrbatch.io import FoundFile
    from htrbatch.outputs import plan_outputs

    names = plan_outputs(
        [FoundFile(corpus.root / g, corpus.root) for g in corpus.good]
    )  # same rule as the CLI
    expected = set()
    for g, name in zip(corpus.good, names):
        pages = corpus.pages[g]
        for page in [None] if pages == 1 else range(1, pages + 1):
            for suffix in (".txt", ".json"):
                expected.add(str(name.path(ref_out, page, suffix).relative_to(ref_out)))
    reports_final = bad_reports(corpus, final.stderr)
    reports_ref = bad_reports(corpus, ref.stderr)
    error_lines = [ln for ln in final.stderr.splitlines() if ln.startswith("error: ")]
    checks = {
        "uninterrupted_has_every_good_output": set(ref_files) == expected,
        "resumed_outputs_identical": not differing and not missing and not extra_files,
        "no_temporaries": not temps,
        "every_bad_named_once_final": all(len(v) == 1 and v[0] for v in reports_final.values()),
        "every_bad_named_once_uninterrupted": all(len(v) == 1 for v in reports_ref.values()),
        "only_bad_files_reported": len(error_lines) == len(corpus.bad),
        "exit_codes": ref.rc == (1 if bad else 0)
        and final.rc == (1 if bad else 0)
        and all(r.rc == -9 for r in runs)
        and len(runs) == kills,
        "no_orphan_workers": all(r.orphans == 0 for r in runs),
    }
    return {
        "good_files": len(corpus.good),
        "good_pages": expected_json,
        "bad_files": len(corpus.bad),
        "seed": seed,
        "kills": kills,
        "options": ["--segmenter", "none", *extra],
        "source": source if source != "hooker" or HOOKER.is_dir() else "drawn",
        "checks": checks,
        "ok": all(checks.values()),
        "differing": differing[:20],
        "missing": missing[:20],
        "extra": extra_files[:20],
        "temporaries": temps[:20],
        "bad_reports": {f"{k} ({corpus.bad[k]})": v for k, v in reports_final.items()},
        "exit": {
            "uninterrupted": ref.rc,
            "killed": [r.rc for r in runs],
            "resume": final.rc,
        },
        "kills_at_outputs": [r.outputs_at_kill for r in runs],
        "kills_at_seconds": [round(r.seconds, 1) for r in runs],
        "startup_seconds": ref.first_stderr_s and round(ref.first_stderr_s, 1),
        "orphan_workers": [r.orphans for r in runs],
        "seconds": {
            "uninterrupted": round(ref.seconds, 1),
            "killed": [round(r.seconds, 1) for r in runs],
            "resume": round(final.seconds, 1),
        },
        "memory_uninterrupted": memory_summary(ref.rss),
        "memory_resume": memory_summary(final.rss),
        "rss_series_uninterrupted": [
            [round(t, 1), round(a, 1), round(b, 1)]
            for t, a, b in ref.rss[:: max(1, len(ref.rss) // 200)]
        ],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--bar", action="store_true", help="402 good line images + 15 bad files")
    ap.add_argument("--n", type=int, default=10_000, help="files in all (1 %% bad)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kills", type=int, default=3)
    ap.add_argument("--source", choices=["hooker", "drawn"], default="hooker")
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: /tmp/...)")
    ap.add_argument("--json", type=Path, default=None, help="results file")
    ap.add_argument("transcribe_args", nargs="*", help="more transcribe options, after --")
    args = ap.parse_args()
    if args.bar:
        n_good, bad, tag = 402, BAR_BAD, "bar"
    else:
        bad = bad_kinds_for(args.n)
        n_good, tag = args.n - len(bad), f"n{args.n}"
    work = args.work or Path(f"/tmp/htrbatch-soak-{tag}-seed{args.seed}-{os.getpid()}")
    result = soak(work, n_good, bad, args.seed, args.kills, args.transcribe_args, args.source)
    result["machine"] = f"{os.cpu_count()} CPUs, shared with a 1-thread training run"
    dest = args.json or ROOT / "benchmarks" / "results" / f"soak-{tag}-seed{args.seed}.json"
    dest.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("ok", "checks", "exit", "seconds")}, indent=1))
    print(f"work folder kept: {work}; results: {dest}")


if __name__ == "__main__":
    main()
