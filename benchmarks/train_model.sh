#!/usr/bin/env bash
# Reproduce the shipped recogniser from scratch on a CPU machine (one command):
#   bash benchmarks/train_model.sh [../shared] [work-dir]
# Renders IAM-OnDB trainset x4 (seed 1) and testset_v (seed 7) with our stroke renderer, then
# trains the CRNN (defaults of htrbatch train) with the schedule used for models/htrbatch-crnn.pt.
set -euo pipefail
SHARED=${1:-../shared}
WORK=${2:-work}
mkdir -p "$WORK"
htrbatch data iamondb "$SHARED/data/iam-ondb" --split testset_v --variants 1 --seed 7 --out "$WORK/val"
htrbatch data iamondb "$SHARED/data/iam-ondb" --split trainset --variants 4 --seed 1 --out "$WORK/train-r4"
htrbatch train --train "$WORK/train-r4" --val "$WORK/val" --out "$WORK/crnn.pt" \
    --epochs 30 --max-steps-per-epoch 200 --val-limit 400 --max-minutes 110 --threads 1 --patience 8
cp "$WORK/crnn.pt" models/htrbatch-crnn.pt
