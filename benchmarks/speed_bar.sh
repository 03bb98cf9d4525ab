#!/usr/bin/env bash
# htrbatch against Tesseract, side by side in one run (issue 26).
#
#   benchmarks/speed_bar.sh [--lines DIR] [--pages DIR] [--n-lines 600] [--n-pages 24]
#       [--rounds 2] [--main /work/main] [--out benchmarks/results/speed-bar.json] [--note TEXT]
#
# The bar: on the same inputs in the same run, process start included, Tesseract 5.3 with one
# thread per process (OMP_THREAD_LIMIT=1) and one process per core (the file list split into
# `nproc` parts run at once), htrbatch >= 1.5x Tesseract's speed on the lines and >= 1.0x on
# the pages, with CER <= 5.5 % on the lines.
#
# Inputs (see docs/benchmarks.md, "Speed against Tesseract"): the first N line images (sorted)
# of DIR with their .gt.txt (default work/val = `htrbatch data iamondb ../shared/data/iam-ondb
# --split testset_v --variants 1 --seed 7 --out work/val`), and the first N pages of DIR
# (default work/pages24 = `htrbatch data pages ../shared/data/iam-ondb --split testset_v --seed
# 5 --limit 24 --out work/pages24`).
#
# Per round, one after the other: htrbatch of this checkout, htrbatch of --main (the
# branch-vs-main ratio, same run), Tesseract; lines with `htrbatch evaluate` (its defaults:
# beam + LM, worker processes) and `tesseract --psm 7`; pages with `htrbatch transcribe` and
# `tesseract` (its default page layout analysis). Best (lowest) wall time of the rounds; CPU is
# user + sys of the command and its children. CER from each tool's own output; pages' CER is
# the page text against the page's .gt.txt (lines joined), for information only.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
LINES=$REPO/work/val
PAGES=$REPO/work/pages24
N_LINES=600
N_PAGES=24
ROUNDS=2
MAIN=/work/main
OUT=$REPO/benchmarks/results/speed-bar.json
NOTE=""
while [ $# -gt 0 ]; do
    case $1 in
        --lines) LINES=$2; shift 2 ;;
        --pages) PAGES=$2; shift 2 ;;
        --n-lines) N_LINES=$2; shift 2 ;;
        --n-pages) N_PAGES=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --main) MAIN=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --note) NOTE=$2; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
command -v tesseract >/dev/null || { echo "tesseract missing: apt-get install -y tesseract-ocr" >&2; exit 2; }
PY=${PYTHON:-python}
CORES=$(nproc)
W=$(mktemp -d /tmp/speedbar.XXXXXX)
trap 'rm -rf "$W"' EXIT

# inputs: symlinks to the first N, with their transcriptions
mkdir -p "$W/lines" "$W/pages"
ls "$LINES" | grep -E '\.png$' | sort | sed -n "1,${N_LINES}p" | while read -r f; do
    ln -s "$LINES/$f" "$W/lines/$f"; ln -s "$LINES/${f%.png}.gt.txt" "$W/lines/${f%.png}.gt.txt"
done
ls "$PAGES" | grep -E '\.(png|jpg)$' | sort | sed -n "1,${N_PAGES}p" | while read -r f; do
    ln -s "$PAGES/$f" "$W/pages/$f"
done
ls "$W"/lines/*.png > "$W/lines.list"
ls "$W"/pages/*.* > "$W/pages.list"
# one list per core, for one Tesseract process per core
split -n "r/$CORES" -d "$W/lines.list" "$W/lines.part"
split -n "r/$CORES" -d "$W/pages.list" "$W/pages.part"

htr() {  # htr CHECKOUT ARGS...: the htrbatch CLI of that checkout, started fresh
    local src=$1; shift
    # from a neutral folder: `python -c` puts the current folder first on sys.path
    (cd "$W" && PYTHONPATH=$src "$PY" -c 'import sys; sys.argv[0] = "htrbatch"; from htrbatch.cli import main; main()' "$@")
}
tess_parts() {  # tess_parts lines|pages PSM...: one Tesseract process per list part, at once
    local kind=$1; shift
    for part in "$W/$kind".part*; do
        OMP_THREAD_LIMIT=1 tesseract "$part" "$part.out" "$@" -l eng >/dev/null 2>&1 &
    done
    wait
}
timed() {  # timed NAME CMD...: append "NAME wall user sys" to $W/times
    local name=$1; shift
    /usr/bin/time -f "$name %e %U %S" -a -o "$W/times" "$@" >/dev/null 2>"$W/last.err" \
        || { cat "$W/last.err" >&2; echo "$name failed" >&2; exit 1; }
}
export -f htr tess_parts
export W PY

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
busy=$(ps -eo pcpu,etimes,args --sort=-pcpu | head -4 | tail -3 | cut -c1-120)
for r in $(seq 1 "$ROUNDS"); do
    echo "round $r" >&2
    timed "lines:branch" bash -c "htr '$REPO' evaluate '$W/lines' --wer --json '$W/lines-branch.json'"
    timed "lines:main" bash -c "htr '$MAIN' evaluate '$W/lines' --wer --json '$W/lines-main.json'"
    timed "lines:tesseract" bash -c "tess_parts lines --psm 7"
    rm -rf "$W/out-branch" "$W/out-main"
    timed "pages:branch" bash -c "htr '$REPO' transcribe '$W/pages' --out '$W/out-branch'"
    timed "pages:main" bash -c "htr '$MAIN' transcribe '$W/pages' --out '$W/out-main'"
    timed "pages:tesseract" bash -c "tess_parts pages"
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

PYTHONPATH=$REPO "$PY" - "$W" "$OUT" "$N_LINES" "$N_PAGES" "$CORES" "$ROUNDS" "$NOTE" \
    "$load_before" "$load_after" "$busy" "$MAIN" "$*" <<'EOF'
import json, subprocess, sys
from pathlib import Path
from htrbatch.metrics import corpus_rates, normalize_text

w, out = Path(sys.argv[1]), Path(sys.argv[2])
n_lines, n_pages, cores, rounds = map(int, sys.argv[3:7])
note, load0, load1, busy, main_src = sys.argv[7:12]
best: dict = {}
for row in (w / "times").read_text().split("\n"):
    if not row.strip() or row.startswith("Command"):
        continue
    name, wall, user, sys_ = row.split()
    wall, cpu = float(wall), float(user) + float(sys_)
    if name not in best or wall < best[name]["wall_s"]:
        best[name] = {"wall_s": wall, "cpu_s": round(cpu, 2)}

def tess_texts(kind):
    """Tesseract's text per input, in list order (parts are round-robin splits)."""
    texts = {}
    for part in sorted(w.glob(f"{kind}.part*")):
        if part.suffix == ".txt":
            continue
        names = part.read_text().split()
        pages = (part.with_name(part.name + ".out.txt")).read_text("utf-8").split("\f")
        for name, text in zip(names, pages):
            texts[name] = text
    return texts

def gt(p):
    return normalize_text(Path(p).resolve().with_suffix(".gt.txt").read_text("utf-8"))

lines = (w / "lines.list").read_text().split()
tl = tess_texts("lines")
for who in ("branch", "main"):
    rep = json.loads((w / f"lines-{who}.json").read_text())
    best[f"lines:{who}"].update(cer=round(rep["cer"], 4), wer=round(rep.get("wer", float("nan")), 4))
r = corpus_rates([(gt(p), normalize_text(tl.get(p, ""))) for p in lines])
best["lines:tesseract"].update(cer=round(r.cer, 4), wer=round(r.wer, 4))
pages = (w / "pages.list").read_text().split()
tp = tess_texts("pages")
for who in ("branch", "main"):
    pred = []
    for p in pages:
        f = w / f"out-{who}" / (Path(p).stem + ".txt")
        pred.append(f.read_text("utf-8") if f.exists() else "")
    r = corpus_rates([(gt(p), normalize_text(t)) for p, t in zip(pages, pred)])
    best[f"pages:{who}"].update(cer=round(r.cer, 4), wer=round(r.wer, 4))
r = corpus_rates([(gt(p), normalize_text(tp.get(p, ""))) for p in pages])
best["pages:tesseract"].update(cer=round(r.cer, 4), wer=round(r.wer, 4))

report = {
    "command": "benchmarks/speed_bar.sh " + sys.argv[12],
    "tesseract": subprocess.run(["tesseract", "--version"], capture_output=True, text=True).stdout.split("\n")[0],
    "cores": cores, "rounds": rounds, "lines": n_lines, "pages": n_pages,
    "main_checkout": main_src,
    "main_commit": subprocess.run(["git", "-C", main_src, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip(),
    "branch_commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip(),
    "machine": {"loadavg_before": load0, "loadavg_after": load1, "busiest_at_start": busy.split("\n"), "note": note},
    "results": best,
}
for kind, n in (("lines", n_lines), ("pages", n_pages)):
    t = best[f"{kind}:tesseract"]["wall_s"]
    for who in ("branch", "main", "tesseract"):
        b = best[f"{kind}:{who}"]
        b[f"{kind}_per_s"] = round(n / b["wall_s"], 2)
        b["speed_vs_tesseract"] = round(t / b["wall_s"], 3)
    report[f"{kind}_branch_vs_main"] = round(best[f"{kind}:main"]["wall_s"] / best[f"{kind}:branch"]["wall_s"], 3)
report["bar"] = {
    "lines_speed_ok": best["lines:branch"]["speed_vs_tesseract"] >= 1.5,
    "pages_speed_ok": best["pages:branch"]["speed_vs_tesseract"] >= 1.0,
    "lines_cer_ok": best["lines:branch"]["cer"] <= 0.055,
}
out.parent.mkdir(parents=True, exist_ok=True)
out.write_text(json.dumps(report, indent=1) + "\n")
for k, v in best.items():
    print(f"{k:18s} {v}")
print(f"branch vs main: lines {report['lines_branch_vs_main']}x, pages {report['pages_branch_vs_main']}x")
print("bar:", report["bar"])
EOF
