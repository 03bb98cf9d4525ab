#!/usr/bin/env bash
# Fine-tuning curve on the Hooker letters (issue 21): CER on held-out letters against the number
# of training pages. Each point fine-tunes the shipped model with the FINETUNING defaults on N
# training pages spread over the training letters (benchmarks/finetune_defaults.py: early-stop
# validation on 150 lines of the validation letters), then reads the 556 lines of the 11 test
# letters with `htrbatch evaluate` (greedy, and beam + the default LM).
#
#   htrbatch data layout-lines ../shared/data/hooker/pages --out work/hooker-lines
#   python benchmarks/hooker_split.py work/hooker-lines work/hooker
#   nice bash benchmarks/hooker_curve.sh   # -> benchmarks/results/hooker-curve-*-train.json, work/curve-*/test-*.json
#
# The all-pages point is the shipped models/hooker-crnn.pt (benchmarks/hooker_model.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
split=${SPLIT:-work/hooker}
for spec in ${CURVE:-10:12 30:12 100:10}; do
    pages=${spec%%:*} epochs=${spec##*:}
    work=work/curve-${pages}p
    python benchmarks/finetune_defaults.py "$split" --pages "$pages" --epochs "$epochs" \
        --val-limit 150 --settings 'lr 1e-3 warm-up 50 (FINETUNING)' --work "$work" \
        --out "benchmarks/results/hooker-curve-${pages}p-train.json"
    for dec in greedy beam; do
        htrbatch evaluate "$split/test" --model "$work/run0.pt" --decoder "$dec" --threads 1 \
            --workers 0 --json "$work/test-${dec}.json"
    done
done
