#!/usr/bin/env bash
# Worker/thread settings of `htrbatch transcribe` on pages, interleaved rounds (issue 26).
#   benchmarks/workers_pages.sh PAGES_DIR ROUNDS OUT.json "SETTING;SETTING..."
# A setting is the extra flags, e.g. "--workers 1" or "--workers 2 --threads 1".
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
PAGES=$1; ROUNDS=$2; OUT=$3; IFS=';' read -r -a SETTINGS <<< "$4"
W=$(mktemp -d /tmp/workers.XXXXXX); trap 'rm -rf "$W"' EXIT
for r in $(seq 1 "$ROUNDS"); do
    for s in "${SETTINGS[@]}"; do
        rm -rf "$W/out"
        /usr/bin/time -f "$s|%e|%U|%S" -a -o "$W/times" env PYTHONPATH="$REPO" python -c \
            'import sys; sys.argv[0] = "htrbatch"; from htrbatch.cli import main; main()' \
            transcribe "$PAGES" --out "$W/out" $s >/dev/null 2>&1
        tail -1 "$W/times" >&2
    done
done
python - "$W/times" "$OUT" "$PAGES" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import json, sys
best = {}
for row in open(sys.argv[1]).read().splitlines():
    s, wall, u, sy = row.split("|")
    if s not in best or float(wall) < best[s]["wall_s"]:
        best[s] = {"wall_s": float(wall), "cpu_s": round(float(u) + float(sy), 2)}
json.dump({"pages": sys.argv[3], "loadavg_at_end": sys.argv[4], "best_of_rounds": best},
          open(sys.argv[2], "w"), indent=1)
print(json.dumps(best, indent=1))
PY
