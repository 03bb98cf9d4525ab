#!/usr/bin/env bash
# Reproduce the shipped recogniser (model v5 = v4 + stage 3 below) from scratch on a CPU machine (one command):
#   bash benchmarks/train_model.sh [../shared] [work-dir]
# Two stages, each `htrbatch train` with bf16 autocast on 2 torch threads:
# 1. model v3: renders (~4 min on 2 cores), then trains the "base" CRNN (3.9 M parameters) from
#    scratch: 17 epochs x 400 steps x 24 lines, lr 1e-3 cosine, ~65 min. (The shipped v3 run was
#    started with --epochs 30, resumed after epoch 3 with --epochs 17 and stopped after epoch 16
#    for lack of session time; this runs the 17-epoch schedule through.)
# 2. model v4: continues from v3's weights (fresh optimizer, lr 5e-4 after a warm-up, cosine) on
#    new renderings: trainset x4 (seeds 41, 42), testset_t x2 (seed 43; testset_v stays out, it
#    is the validation set) and 4,000 font lines (seed 44); 24 epochs x 400 steps, stopping after
#    the epoch that passes 100 minutes (the shipped run rendered the last sets while it trained,
#    picking them up with --rescan; here they are rendered first).
# Models v1/v2 (the 1.08 M-parameter "small" net) came from `git show 69fc773:benchmarks/train_model.sh`.
set -euo pipefail
SHARED=${1:-../shared}
WORK=${2:-work}
D="$SHARED/data/iam-ondb"
mkdir -p "$WORK"
htrbatch data iamondb "$D" --split testset_v --variants 1 --seed 7 --out "$WORK/val"
for seed in 21 22; do
    htrbatch data iamondb "$D" --split trainset --variants 2 --seed $seed --out "$WORK/train3/s$seed"
done
htrbatch data synth --fonts "$SHARED/fonts" --text "$SHARED/data/text/iam-lines-text.txt" \
    --count 4000 --seed 23 --out "$WORK/train3/synth23"
htrbatch train --train "$WORK/train3" --val "$WORK/val" --out "$WORK/v3.pt" --arch base \
    --epochs 17 --max-steps-per-epoch 400 --val-limit 400 --threads 2 --patience 30 --seed 1

for seed in 41 42; do
    htrbatch data iamondb "$D" --split trainset --variants 2 --seed $seed --out "$WORK/train4/s$seed"
done
htrbatch data iamondb "$D" --split testset_t --variants 2 --seed 43 --out "$WORK/train4/t43"
htrbatch data synth --fonts "$SHARED/fonts" --text "$SHARED/data/text/iam-lines-text.txt" \
    --count 4000 --seed 44 --out "$WORK/train4/synth44"
htrbatch train --train "$WORK/train4" --val "$WORK/val" --out "$WORK/v4.pt" --init "$WORK/v3.pt" \
    --lr 5e-4 --epochs 24 --max-steps-per-epoch 400 --val-limit 400 --threads 2 --patience 30 \
    --seed 4 --max-minutes 100

# 3. model v5: continues from v4 (lr 3e-4, 95 minutes) on renderings with seeds 51-54.
for seed in 51 52; do
    htrbatch data iamondb "$D" --split trainset --variants 2 --seed $seed --out "$WORK/train5/s$seed"
done
htrbatch data iamondb "$D" --split testset_t --variants 2 --seed 53 --out "$WORK/train5/t53"
htrbatch data synth --fonts "$SHARED/fonts" --text "$SHARED/data/text/iam-lines-text.txt" \
    --count 4000 --seed 54 --out "$WORK/train5/synth54"
htrbatch train --train "$WORK/train5" --val "$WORK/val" --out "$WORK/v5.pt" --init "$WORK/v4.pt" \
    --lr 3e-4 --epochs 16 --max-steps-per-epoch 400 --val-limit 400 --threads 2 --patience 30 \
    --seed 5 --max-minutes 95
cp "$WORK/v5.pt" models/htrbatch-crnn.pt
