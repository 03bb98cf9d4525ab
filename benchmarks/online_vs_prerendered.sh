#!/usr/bin/env bash
# Issue 3: does rendering IAM-OnDB strokes on the fly (a fresh rendering of every line each epoch,
# `train --strokes`) beat pre-rendered variants at equal training time?
#   bash benchmarks/online_vs_prerendered.sh [../shared] [work-dir] [minutes]
# Both runs train the same fresh "small" CRNN (same seed, lr 1e-3 after a 300-step warm-up, the
# cosine stretched over 100,000 steps so that it stays flat, as neither run gets near its end)
# for the same wall-clock minutes on the trainset lines only, validated on the same 400 testset_v
# lines every 100 steps:
#   pre-rendered: 2 variants per line rendered beforehand (its rendering time is printed too),
#                 2 torch threads;
#   on the fly:   1 torch thread + 1 render process drawing the next batches (the 2 cores split).
# Logs: <work>/cmp-pre.log.jsonl and <work>/cmp-online.log.jsonl (one record per 100 steps).
set -euo pipefail
SHARED=${1:-../shared}
WORK=${2:-work}
MIN=${3:-12}
D="$SHARED/data/iam-ondb"
mkdir -p "$WORK"
[ -d "$WORK/val" ] || htrbatch data iamondb "$D" --split testset_v --variants 1 --seed 7 --out "$WORK/val"
if [ ! -d "$WORK/cmp-train2" ]; then
    t0=$(date +%s)
    htrbatch data iamondb "$D" --split trainset --variants 2 --seed 51 --out "$WORK/cmp-train2"
    echo "pre-rendering trainset x2: $(( $(date +%s) - t0 )) s"
fi
common=(--val "$WORK/val" --val-limit 400 --arch small --epochs 1000 --max-steps-per-epoch 100
        --patience 1000 --seed 3 --max-minutes "$MIN")
rm -f "$WORK"/cmp-pre.* "$WORK"/cmp-online.*
htrbatch train --train "$WORK/cmp-train2" --out "$WORK/cmp-pre.pt" --threads 2 "${common[@]}"
htrbatch train --strokes "$D" --strokes-split trainset --render-workers 1 --out "$WORK/cmp-online.pt" \
    --threads 1 "${common[@]}"
