#!/usr/bin/env bash
# The shipped collection model models/hooker-crnn.pt and its word LM models/hooker-lm.arpa.gz
# (issue 21), from ../shared/data/hooker, in one command (about 4-5 hours on one CPU core):
#
#   nice bash benchmarks/hooker_model.sh
#
# 1. cut the transcribed lines of the PAGE XML pages (5 pages whose layout does not fit their
#    image are reported and skipped) and split them BY LETTER (benchmarks/hooker_split.py:
#    66 training, 11 validation, 11 test letters);
# 2. fine-tune the shipped model on the training letters (FINETUNING defaults, 22 epochs at most,
#    early stop on the validation letters; new characters £ é ∞ = become outputs); on a busy
#    machine --max-minutes may stop it early (the shipped run: 19 epochs in 100 minutes), then
#    finish the schedule with `htrbatch train --train work/hooker/train --val work/hooker/val
#    --out work/hooker-model/hooker-crnn.pt --resume --epochs 22` and run this script again;
# 3. build its LM: the default LM's text plus the training letters' transcriptions;
# 4. read the held-out test letters from line crops and from the page images + PAGE XML
#    (--segmenter xml), greedy and beam + LM; per-line reports in work/hooker-model/;
# 5. (session 19) the shipped model: continue the 64-pixel model on ALL the letters' lines
#    (train + val + test, 5,470 lines) for 4 epochs at lr 3e-4, and build the LM with all their
#    transcriptions. The same continuation without the test letters (train + val) is read on
#    the test letters first: that is the held-out figure for this recipe;
# 6. copy the model and LM into models/.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${WORK:-work/hooker-model}
mkdir -p "$work"
if [ ! -d work/hooker/train ]; then
    htrbatch data layout-lines ../shared/data/hooker/pages --out work/hooker-lines
    python benchmarks/hooker_split.py work/hooker-lines work/hooker
fi
# the test letters' pages (image + PAGE XML) whose lines were cut, for the page-level reading
mkdir -p "$work/test-pages"
for page in work/hooker/test/*/; do
    stem=$(basename "$page")
    for f in ../shared/data/hooker/pages/"$stem".jpg ../shared/data/hooker/pages/"$stem".xml; do
        ln -sf "$(realpath "$f")" "$work/test-pages/"
    done
done
if [ ! -f "$work/hooker-crnn.pt" ]; then
    htrbatch train --init default --train work/hooker/train --val work/hooker/val \
        --out "$work/hooker-crnn.pt" --epochs 22 --threads 1 --max-minutes 100 \
        > "$work/train.log" 2>&1
fi
# 2b. read at 64 pixels high: the 32-pixel fine-tune widened (one more 2x2 pooling, same weights)
#     and trained 14 more epochs (2 threads, 78 minutes here)
if [ ! -f "$work/hooker64.pt" ]; then
    python benchmarks/widen_height.py "$work/hooker-crnn.pt" "$work/hooker64-init.pt"
    htrbatch train --init "$work/hooker64-init.pt" --train work/hooker/train --val work/hooker/val \
        --out "$work/hooker64.pt" --epochs 14 --threads 2 --max-minutes 80 \
        > "$work/train64.log" 2>&1
fi
find work/hooker/train -name '*.gt.txt' | sort | while read -r f; do cat "$f"; echo; done \
    | sed '/^$/d' > "$work/hooker-train-text.txt"
python benchmarks/build_lm.py --extra "$work/hooker-train-text.txt" --out "$work/hooker-lm.arpa.gz"
for dec in greedy beam; do
    lm=()
    [ "$dec" = beam ] && lm=(--lm "$work/hooker-lm.arpa.gz")
    htrbatch evaluate work/hooker/test --model "$work/hooker64.pt" --decoder "$dec" "${lm[@]}" \
        --json "$work/test-crops-$dec.json" | tee "$work/test-crops-$dec.txt"
    htrbatch evaluate "$work/test-pages" --model "$work/hooker64.pt" --decoder "$dec" \
        "${lm[@]}" --json "$work/test-pages-$dec.json" | tee "$work/test-pages-$dec.txt"
done
# zero-shot: the shipped default model on the same test letters
htrbatch evaluate work/hooker/test --json "$work/test-crops-zero-shot.json" \
    | tee "$work/test-crops-zero-shot.txt"
# 5. more letters: train + val (measured on test), then all letters (shipped)
if [ ! -f "$work/more.pt" ]; then
    htrbatch train --init "$work/hooker64.pt" --train work/hooker/train --train work/hooker/val \
        --val work/hooker/val --out "$work/more.pt" --epochs 4 --lr 3e-4 --threads 1 --seed 1 \
        > "$work/train-more.log" 2>&1
fi
htrbatch evaluate work/hooker/test --model "$work/more.pt" --lm "$work/hooker-lm.arpa.gz" \
    --json "$work/test-crops-more-beam.json" | tee "$work/test-crops-more-beam.txt"
if [ ! -f "$work/all.pt" ]; then
    htrbatch train --init "$work/hooker64.pt" --train work/hooker/train --train work/hooker/val \
        --train work/hooker/test --val work/hooker/val --out "$work/all.pt" --epochs 4 \
        --lr 3e-4 --threads 1 --seed 1 > "$work/train-all.log" 2>&1
fi
find work/hooker/train work/hooker/val work/hooker/test -name '*.gt.txt' | sort \
    | while read -r f; do cat "$f"; echo; done | sed '/^$/d' > "$work/hooker-all-text.txt"
python benchmarks/build_lm.py --extra "$work/hooker-all-text.txt" --out "$work/hooker-lm-all.arpa.gz"
# 6. ship
cp "$work/all.pt" models/hooker-crnn.pt
cp "$work/hooker-lm-all.arpa.gz" models/hooker-lm.arpa.gz
cp "$work/hooker-lm-all.unigrams.txt" models/hooker-lm.unigrams.txt
