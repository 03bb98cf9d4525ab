"""Build the shipped word LM (models/lm.arpa.gz + models/lm.unigrams.txt) in one command.

    nice python benchmarks/build_lm.py            # reads ../shared/data, writes models/

Text used, one line of handwriting = one LM sentence:
- ``text/iam-lines-text.txt`` (IAM offline line transcriptions, LOB corpus text), minus every line
  that shares a 5-token sequence with an IAM-OnDB validation/test line, and its neighbours above
  and below: IAM and IAM-OnDB copy the same LOB passages, and about 20 % of the test 6-grams
  occur verbatim in that file. After filtering, the share of the kept text's 4-grams found in
  the test lines is below the share for IAM-OnDB's own training text (natural phrase overlap).
- the ``CSR:`` lines of the IAM-OnDB forms in ``trainset.txt`` (never testset_v / testset_t).

Order 4, unpruned (2.6 MB): on the validation lines (testset_v) perplexity is 323 / 317 / 316
for orders 3 / 4 / 5 and 324 for order 4 with singleton 3- and 4-grams pruned (0.9 MB), OOV 6.7 %.
The default back end is htrbatch's pure-Python estimator, which gives byte-identical output on any
machine; ``--backend lmplz`` (KenLM on PATH) gives the same model to float rounding.
"""

from __future__ import annotations

import argparse
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from htrbatch.lm import build_lm, tokenize  # noqa: E402

HELD_OUT_SPLITS = ("testset_v.txt", "testset_t.txt")
LEAK_N = 5  # shared token n-gram length that marks an IAM line as a copy of held-out text


def ondb_csr_lines(ascii_tar: Path, form_ids: set[str]) -> dict[str, list[str]]:
    """Form id -> its CSR lines, for the forms asked for."""
    out: dict[str, list[str]] = {}
    with tarfile.open(ascii_tar) as tar:
        for member in tar:
            stem = Path(member.name).stem
            if not member.isfile() or stem not in form_ids:
                continue
            text = tar.extractfile(member).read().decode("latin-1")  # type: ignore[union-attr]
            if "CSR:" not in text:
                continue
            out[stem] = [ln.strip() for ln in text.split("CSR:", 1)[1].splitlines() if ln.strip()]
    return out


def ngrams(tokens: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=REPO / "models" / "lm.arpa.gz")
    parser.add_argument("--order", type=int, default=4)
    parser.add_argument("--prune", type=int, nargs="*", default=[0])
    parser.add_argument("--backend", default="python", choices=["auto", "lmplz", "python"])
    args = parser.parse_args()

    ondb = args.data / "iam-ondb"
    split = {
        name: set((ondb / name).read_text().split()) for name in ("trainset.txt",) + HELD_OUT_SPLITS
    }
    held_out_ids = set().union(*(split[n] for n in HELD_OUT_SPLITS))
    assert not split["trainset.txt"] & held_out_ids, "train and test forms overlap"
    forms = ondb_csr_lines(ondb / "ascii-dev.tar.gz", split["trainset.txt"] | held_out_ids)
    train = [ln for f in sorted(split["trainset.txt"]) for ln in forms.get(f, [])]
    held_out = [ln for f in sorted(held_out_ids) for ln in forms.get(f, [])]

    leak: set[tuple[str, ...]] = set()
    for line in held_out:
        leak |= ngrams(tokenize(line), LEAK_N)
    iam = [ln.strip() for ln in (args.data / "text" / "iam-lines-text.txt").open(encoding="utf-8")]
    drop: set[int] = set()
    for i, line in enumerate(iam):
        if ngrams(tokenize(line), LEAK_N) & leak:
            drop.update((i - 1, i, i + 1))
    iam_kept = [ln for i, ln in enumerate(iam) if i not in drop and ln]

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "lm-text.txt"
        corpus.write_text("\n".join(iam_kept + train) + "\n", encoding="utf-8")
        start = time.perf_counter()
        result = build_lm(
            [corpus], args.out, args.order, prune=args.prune, backend=args.backend, tmp_dir=tmp
        )
        seconds = time.perf_counter() - start
    size = result.path.stat().st_size
    print(
        f"IAM lines kept {len(iam_kept)} of {sum(1 for ln in iam if ln)} "
        f"(dropped {len(drop & set(range(len(iam))))} near held-out text); "
        f"IAM-OnDB train lines {len(train)}; held-out lines excluded {len(held_out)}"
    )
    print(
        f"{result.path} ({size / 1e6:.1f} MB, {result.backend}, {seconds:.1f} s): order "
        f"{result.order}, n-grams {result.ngram_counts}, {result.sentences} sentences, "
        f"{result.tokens} tokens; unigrams in {result.unigrams_path}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
