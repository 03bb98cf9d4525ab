"""Build the shipped word LM (models/lm.arpa.gz + models/lm.unigrams.txt) in one command.

    nice python benchmarks/build_lm.py            # reads ../shared/data, writes models/

Text used, one line of handwriting = one LM sentence:
- ``text/iam-lines-text.txt`` (IAM offline line transcriptions, LOB corpus text), minus every line
  that shares a 5-token sequence with an IAM-OnDB validation/test line, and its neighbours above
  and below (``htrbatch.data.text.drop_held_out``): IAM and IAM-OnDB copy the same LOB passages,
  and about 20 % of the test 6-grams occur verbatim in that file. After filtering, the share of
  the kept text's 4-grams found in the test lines is below the share for IAM-OnDB's own training
  text (natural phrase overlap).
- the ``CSR:`` lines of the IAM-OnDB forms in ``trainset.txt`` (never testset_v / testset_t).

Order 4, unpruned (2.6 MB): on the validation lines (testset_v) perplexity is 323 / 317 / 316
for orders 3 / 4 / 5 and 324 for order 4 with singleton 3- and 4-grams pruned (0.9 MB), OOV 6.7 %
(measured before session 12, when ``Mr.`` was still two tokens; the order-4 model is at 320 since).
The default back end is htrbatch's pure-Python estimator, which gives byte-identical output on any
machine; ``--backend lmplz`` (KenLM on PATH) gives the same model to float rounding.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from htrbatch.data.iamondb import read_split_list  # noqa: E402
from htrbatch.data.text import (  # noqa: E402
    HELD_OUT_SPLITS,
    drop_held_out,
    form_transcriptions,
    read_text_lines,
)
from htrbatch.lm import build_lm  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=REPO / "models" / "lm.arpa.gz")
    parser.add_argument("--order", type=int, default=4)
    parser.add_argument("--prune", type=int, nargs="*", default=[0])
    parser.add_argument("--backend", default="python", choices=["auto", "lmplz", "python"])
    parser.add_argument(
        "--extra",
        type=Path,
        action="append",
        default=[],
        help="more text (one line of writing per line) added to the corpus, e.g. a collection's "
        "training transcriptions for its own LM (benchmarks/hooker_model.sh)",
    )
    args = parser.parse_args()

    ondb = args.data / "iam-ondb"
    train_ids = read_split_list(ondb, "trainset")
    held_out_ids = set().union(*(read_split_list(ondb, name) for name in HELD_OUT_SPLITS))
    assert not train_ids & held_out_ids, "train and test forms overlap"
    train = form_transcriptions(ondb, ["trainset"])
    held_out = form_transcriptions(ondb, HELD_OUT_SPLITS)
    iam = drop_held_out(read_text_lines(args.data / "text" / "iam-lines-text.txt"), held_out)
    iam_kept = iam.lines

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "lm-text.txt"
        extra = [ln for f in args.extra for ln in read_text_lines(f) if ln]
        corpus.write_text("\n".join(iam_kept + train + extra) + "\n", encoding="utf-8")
        start = time.perf_counter()
        result = build_lm(
            [corpus], args.out, args.order, prune=args.prune, backend=args.backend, tmp_dir=tmp
        )
        seconds = time.perf_counter() - start
    size = result.path.stat().st_size
    print(
        f"IAM lines kept {len(iam_kept)} of {iam.total} "
        f"(dropped {iam.dropped} near held-out text); "
        f"IAM-OnDB train lines {len(train)}; extra lines {len(extra)}; "
        f"held-out lines excluded {len(held_out)}"
    )
    print(
        f"{result.path} ({size / 1e6:.1f} MB, {result.backend}, {seconds:.1f} s): order "
        f"{result.order}, n-grams {result.ngram_counts}, {result.sentences} sentences, "
        f"{result.tokens} tokens; unigrams in {result.unigrams_path}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
