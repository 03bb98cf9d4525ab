#!/usr/bin/env bash
# Reproduce the shipped recogniser from scratch on a CPU machine (one command):
#   bash benchmarks/train_model.sh [../shared] [work-dir]
# Stage 1 (model v1, 101 min): trainset rendered 4x (seed 1) + 8,000 font lines, 25 x 200 steps
# (the shipped v1 added the font lines at epoch 14 with --resume; here they are in from the start).
# Stage 2 (model v2, ~110 min): fine-tune v1 at lr 5e-4 on fresh renderings (trainset seeds 11 and
# 14, 4,000 font lines seed 13), 27 x 200 steps, validation on testset_v (seed 7, 400 lines).
# The shipped runs rendered and trained at the same time (`--rescan`); this script renders first.
set -euo pipefail
SHARED=${1:-../shared}
WORK=${2:-work}
D="$SHARED/data/iam-ondb"
mkdir -p "$WORK"
htrbatch data iamondb "$D" --split testset_v --variants 1 --seed 7 --out "$WORK/val"
# Stage 1
htrbatch data iamondb "$D" --split trainset --variants 4 --seed 1 --out "$WORK/train1/r4"
htrbatch data synth --fonts "$SHARED/fonts" --text "$SHARED/data/text/iam-lines-text.txt" \
    --count 8000 --seed 3 --out "$WORK/train1/synth3"
htrbatch train --train "$WORK/train1" --val "$WORK/val" --out "$WORK/v1.pt" \
    --epochs 25 --max-steps-per-epoch 200 --val-limit 400 --threads 1 --patience 8
# Stage 2
for seed in 11 14; do
    htrbatch data iamondb "$D" --split trainset --variants 1 --seed $seed --out "$WORK/train2/s$seed"
done
htrbatch data synth --fonts "$SHARED/fonts" --text "$SHARED/data/text/iam-lines-text.txt" \
    --count 4000 --seed 13 --out "$WORK/train2/synth13"
htrbatch train --train "$WORK/train2" --val "$WORK/val" --out "$WORK/v2.pt" --init "$WORK/v1.pt" \
    --lr 5e-4 --epochs 27 --max-steps-per-epoch 200 --val-limit 400 --threads 1 --patience 10
cp "$WORK/v2.pt" models/htrbatch-crnn.pt
