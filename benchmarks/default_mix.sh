#!/usr/bin/env bash
# Issue 21, part 3: the default model with real lines as a minority of its training data.
#
#   bash benchmarks/default_mix.sh [../shared] [work-dir] [minutes]
#
# Stage 10 of benchmarks/train_model.sh's recipe, with one change: the training letters of
# ../shared/data/hooker (work/hooker/train, cut and split by letter by benchmarks/hooker_model.sh
# step 1; ~4,300 lines, about 15 % of the stage's lines) join the new renderings (trainset x2,
# testset_t x2, 4,000 font lines, seeds 101-104). It continues from the shipped model v9, keeps
# its charset (--no-extend-charset: the Hooker lines with characters outside it are left out),
# and validates on IAM-OnDB testset_v as every stage did. The validation letters and test letters
# of Hooker and all of stanford-dev stay out of training; read them afterwards with
# benchmarks/evaluate_model.sh and `htrbatch evaluate ../shared/data/stanford-dev --line-type
# Handwritten --model WORK/v10.pt`.
set -euo pipefail
SHARED=${1:-../shared}
WORK=${2:-work}
MINUTES=${3:-75}
D="$SHARED/data/iam-ondb"
dir="$WORK/train10"
[ -d "$WORK/val" ] || htrbatch data iamondb "$D" --split testset_v --variants 1 --seed 7 --out "$WORK/val"
[ -d "$WORK/hooker/train" ] || { echo "work/hooker/train missing: run step 1 of benchmarks/hooker_model.sh" >&2; exit 2; }
for seed in 101 102; do
    [ -d "$dir/s$seed" ] || htrbatch data iamondb "$D" --split trainset --variants 2 --seed $seed --out "$dir/s$seed"
done
[ -d "$dir/t103" ] || htrbatch data iamondb "$D" --split testset_t --variants 2 --seed 103 --out "$dir/t103"
[ -d "$dir/synth104" ] || htrbatch data synth --fonts "$SHARED/fonts" --text "$SHARED/data/text/iam-lines-text.txt" \
    --count 4000 --seed 104 --out "$dir/synth104"
htrbatch train --train "$dir" --train "$WORK/hooker/train" --val "$WORK/val" --out "$WORK/v10.pt" \
    --init models/htrbatch-crnn.pt --no-extend-charset --lr 1.5e-4 --epochs 12 \
    --max-steps-per-epoch 400 --val-limit 400 --threads 2 --patience 30 --seed 10 \
    --max-minutes "$MINUTES"
