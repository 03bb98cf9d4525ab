#!/usr/bin/env bash
# Training-data ablation (issue 3): strokes-only vs fonts-only vs mixed, same architecture, from
# scratch, 1,000 steps each (5 x 200 x 24 lines), 1 torch thread, same validation; then each
# model on testset_t drawn by a second, independent renderer (benchmarks/alt_render.py).
#   bash benchmarks/ablation_data.sh [../shared] [work-dir]
# Figures: benchmarks/results/ablation-data.json, written at the end by
# benchmarks/ablation_report.py from the training logs and evaluate reports; docs/benchmarks.md.
set -euo pipefail
SHARED=${1:-../shared}
WORK=${2:-work}
D="$SHARED/data/iam-ondb"
[ -d "$WORK/val" ] || htrbatch data iamondb "$D" --split testset_v --variants 1 --seed 7 --out "$WORK/val"
[ -d "$WORK/abl/s11" ] || htrbatch data iamondb "$D" --split trainset --variants 1 --seed 11 --out "$WORK/abl/s11"
[ -d "$WORK/abl/synth13" ] || htrbatch data synth --fonts "$SHARED/fonts" \
    --text "$SHARED/data/text/iam-lines-text.txt" --count 4000 --seed 13 --out "$WORK/abl/synth13"
[ -d "$WORK/test_t_alt" ] || python benchmarks/alt_render.py "$D" testset_t "$WORK/test_t_alt"
common=(--val "$WORK/val" --epochs 5 --max-steps-per-epoch 200 --val-limit 400 --threads 1 --patience 10 --lr 1e-3)
htrbatch train --train "$WORK/abl/s11" --out "$WORK/abl-strokes.pt" "${common[@]}"
htrbatch train --train "$WORK/abl/synth13" --out "$WORK/abl-fonts.pt" "${common[@]}"
htrbatch train --train "$WORK/abl/s11" --train "$WORK/abl/synth13" --out "$WORK/abl-mixed.pt" "${common[@]}"
for k in strokes fonts mixed; do
    htrbatch evaluate "$WORK/test_t_alt" --wer --decoder greedy --model "$WORK/abl-$k.pt" \
        --json "$WORK/abl-$k-alt.json"
done
python benchmarks/ablation_report.py "$WORK" --out benchmarks/results/ablation-data.json
