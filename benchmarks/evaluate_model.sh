#!/usr/bin/env bash
# Every accuracy figure of one model with the default decoding, and greedy (docs/benchmarks.md):
#   bash benchmarks/evaluate_model.sh NAME MODEL   -> benchmarks/results/NAME-*.json
# Needs the renderings of docs/benchmarks.md (Recognition accuracy) in work/: val, val_alt,
# test_t, test_t_alt, pages_v, and val_alt_iam (val_alt in IAM layout, references in IAM
# lines.txt style: `python benchmarks/iam_layout.py work/val_alt work/val_alt_iam`).
# Prints one table row per set.
set -euo pipefail
n=$1
m=$2
R=benchmarks/results
row() { tail -2 | head -1 | sed "s/^/$1 /"; }
for s in val val_alt test_t test_t_alt; do
    htrbatch evaluate "work/$s" --wer --decoder greedy --model "$m" --json "$R/$n-$s-greedy.json" 2>/dev/null | row "$s greedy"
    htrbatch evaluate "work/$s" --wer --model "$m" --json "$R/$n-$s-beam.json" 2>/dev/null | row "$s beam"
done
htrbatch evaluate work/val_alt_iam --wer --model "$m" --json "$R/$n-val_alt_iam-beam.json" 2>/dev/null | row "val_alt_iam beam"
htrbatch evaluate samples/ --segmenter auto --wer --model "$m" --json "$R/$n-samples.json" 2>/dev/null | row samples
htrbatch evaluate work/pages_v --segmenter auto --wer --model "$m" --json "$R/$n-pages_v-auto-beam-lm.json" 2>/dev/null | row pages_v
