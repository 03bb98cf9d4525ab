"""Build word n-gram language models for beam decoding.

Text is tokenised like the IAM / LOB transcriptions the recogniser is trained on: punctuation is
split off into tokens of its own (``resolution. Mr. Gaitskell,`` -> ``resolution . Mr. Gaitskell
,``) except the dot of an abbreviation or initialism (``Mr.``, ``U.S.``), word-internal hyphens
and apostrophes stay (``Left-wing``, ``don't``), case is kept. Every input line is one
"sentence" (``<s> ... </s>``), because the decoder scores one handwritten line at a time with
sentence boundaries at both ends.

Two back ends write the same model: KenLM's ``lmplz`` (and ``build_binary`` for ``.bin`` output)
when they are on PATH, otherwise a pure-Python interpolated modified Kneser-Ney estimator that
follows ``lmplz``'s definitions (adjusted counts, Chen & Goodman discounts per order, ``<unk>`` as
a zeroton of the uniform distribution, ``--prune`` semantics), so either gives the same ARPA up to
float rounding. One known difference: when identical lines are adjacent in the input, lmplz's
counts of counts, and so its discounts, shift slightly; both models are properly normalised.

Next to the model, ``<stem>.unigrams.txt`` lists the vocabulary (one word a line, most frequent
first); pyctcdecode needs it to know which partial words can still become words. Getting lmplz:
``pip download --no-deps --no-binary :all: --no-build-isolation kenlm``, unpack, then
``cmake -DCMAKE_BUILD_TYPE=Release`` and ``make lmplz build_binary`` (needs Boost
program-options/system/thread, zlib, bz2, lzma dev packages).
"""

from __future__ import annotations

import gzip
import io
import math
import os
import re
import shutil
import subprocess
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from htrbatch.errors import LanguageModelError, OptionsError

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
_SPECIALS = frozenset({BOS, EOS, UNK})
MAX_ORDER = 6

# Clitics the LOB transcriptions write as tokens of their own ("Foot 's"); a leading apostrophe
# before anything else is an opening quote and is split off.
_CLITICS = frozenset({"'s", "'ll", "'d", "'m", "'re", "'ve", "n't", "'t"})
_CHUNK = re.compile(r"^(\W*)(.*?)(\W*)$", re.DOTALL)
_PUNCT_RUN = re.compile(r"\.+|.", re.DOTALL)
# Words IAM writes with their final dot ("Mr.", "U.S."); any other dot is a token of its own.
ABBREVIATIONS = frozenset({"Mr", "Mrs", "Dr", "St", "Messrs", "Mme", "Mlle", "Prof", "Rev"})

# lmplz's --discount_fallback values (D1, D2, D3+), used when a tiny corpus has no n-grams of
# some adjusted count and Chen & Goodman's estimate is undefined.
_FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)

_LM_SUFFIXES = (".arpa.gz", ".arpa", ".bin", ".binary", ".klm")


@dataclass(frozen=True)
class LmBuildResult:
    """What :func:`build_lm` wrote."""

    path: Path
    unigrams_path: Path
    order: int
    ngram_counts: tuple[int, ...]  # n-grams written per order, unigrams first
    sentences: int
    tokens: int  # words and punctuation tokens, without <s>/</s>
    backend: str  # "lmplz" or "python"


def keeps_final_dot(core: str) -> bool:
    """True for an abbreviation or initialism that IAM writes with its dot (``Mr``, ``U.S``)."""
    return core in ABBREVIATIONS or ("." in core and core.replace(".", "").isalpha())


def tokenize(line: str) -> list[str]:
    """Split one line of text into IAM/LOB-style tokens (see the module docstring)."""
    tokens: list[str] = []
    for chunk in line.split():
        if chunk in _SPECIALS:
            continue  # would clash with the model's own markers (lmplz refuses them)
        if chunk.lower() in _CLITICS:
            tokens.append(chunk)
            continue
        lead, core, trail = _CHUNK.match(chunk).groups()  # type: ignore[union-attr]
        if lead.endswith("'") and ("'" + core).lower() in _CLITICS:
            lead, core = lead[:-1], "'" + core
        if trail.startswith(".") and not trail.startswith("..") and keeps_final_dot(core):
            core, trail = core + ".", trail[1:]
        tokens += _PUNCT_RUN.findall(lead)
        if core:
            tokens.append(core)
        tokens += _PUNCT_RUN.findall(trail)
    return tokens


def unigrams_path_for(lm_path: str | Path) -> Path:
    """The unigram list belonging to an LM: ``models/lm.arpa.gz`` -> ``models/lm.unigrams.txt``."""
    lm_path = Path(lm_path)
    name = lm_path.name
    for suffix in _LM_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return lm_path.with_name(name[: -len(suffix)] + ".unigrams.txt")
    return lm_path.with_name(name + ".unigrams.txt")


def read_unigrams(path: str | Path) -> list[str]:
    """Words of a unigram list written by :func:`build_lm` (one a line)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise LanguageModelError(f"{path}: cannot read unigram list: {exc.strerror}") from exc
    return [w for w in text.split("\n") if w.strip()]


def read_arpa_unigrams(path: str | Path) -> list[str]:
    """The words of an ARPA file's 1-gram section (``.arpa`` or ``.arpa.gz``), specials left out."""
    path = Path(path)
    opener = gzip.open if path.name.endswith(".gz") else open
    words: list[str] = []
    try:
        with opener(path, "rt", encoding="utf-8") as f:  # type: ignore[operator]
            inside = False
            for line in f:
                line = line.strip()
                if line == "\\1-grams:":
                    inside = True
                elif line.startswith("\\") and inside:
                    break
                elif inside and line:
                    parts = line.split("\t")
                    if len(parts) >= 2 and parts[1] not in _SPECIALS:
                        words.append(parts[1])
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise LanguageModelError(f"{path}: cannot read ARPA unigrams: {exc}") from exc
    if not words:
        raise LanguageModelError(f"{path}: no 1-grams found; is this an ARPA file?")
    return words


def read_sentences(texts: Sequence[str | Path]) -> Iterator[list[str]]:
    """Tokenised non-empty lines of plain UTF-8 text files (``.gz`` is read transparently)."""
    for text in texts:
        path = Path(text)
        opener = gzip.open if path.name.endswith(".gz") else open
        try:
            with opener(path, "rt", encoding="utf-8", errors="replace") as f:  # type: ignore[operator]
                for line in f:
                    tokens = tokenize(line)
                    if tokens:
                        yield tokens
        except OSError as exc:
            raise LanguageModelError(f"{path}: cannot read text: {exc.strerror or exc}") from exc


def build_lm(
    texts: Sequence[str | Path],
    out: str | Path,
    order: int = 4,
    *,
    prune: Sequence[int] = (),
    backend: str = "auto",
    tmp_dir: str | Path | None = None,
) -> LmBuildResult:
    """Estimate a word n-gram LM from text files and write it to ``out``.

    ``out`` ends in ``.arpa``, ``.arpa.gz`` or ``.bin`` (KenLM binary; needs ``build_binary``).
    ``prune`` are lmplz-style count thresholds per order, e.g. ``(0, 0, 1)`` drops 3-grams and
    longer seen only once; the first must be 0 and they must not decrease. ``backend`` is
    ``"auto"`` (lmplz when on PATH), ``"lmplz"`` or ``"python"``. The unigram list is written to
    :func:`unigrams_path_for` ``(out)``.
    """
    out = Path(out)
    prune = _check_build_options(texts, out, order, prune, backend)
    lmplz = shutil.which("lmplz")
    if backend == "lmplz" and lmplz is None:
        raise LanguageModelError("backend 'lmplz' asked for but lmplz is not on PATH")
    use_lmplz = backend == "lmplz" or (backend == "auto" and lmplz is not None)
    build_binary = shutil.which("build_binary")
    if out.name.endswith(".bin") and build_binary is None:
        raise LanguageModelError(
            f"{out}: a .bin model needs KenLM's build_binary on PATH; write .arpa or .arpa.gz"
        )

    vocab: Counter[str] = Counter()
    sentences = 0
    with tempfile.TemporaryDirectory(prefix="htrbatch-lm-", dir=tmp_dir) as tmp:
        corpus = Path(tmp) / "corpus.txt"
        with open(corpus, "w", encoding="utf-8") as f:
            for tokens in read_sentences(texts):
                vocab.update(tokens)
                sentences += 1
                f.write(" ".join(tokens) + "\n")
        if sentences == 0:
            raise LanguageModelError(
                f"no text to build a language model from in {', '.join(map(str, texts))}"
            )
        arpa = Path(tmp) / "model.arpa"
        if use_lmplz:
            _run_lmplz(lmplz or "lmplz", corpus, arpa, order, prune, Path(tmp))
        else:
            with open(corpus, encoding="utf-8") as f, open(arpa, "w", encoding="utf-8") as g:
                _write_arpa(g, _estimate_kn((line.split() for line in f), order, prune))
        ngram_counts = _arpa_counts(arpa)
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.name.endswith(".bin"):
            _run([build_binary or "build_binary", "trie", str(arpa), str(out) + ".tmp"], out)
            os.replace(str(out) + ".tmp", out)
        elif out.name.endswith(".gz"):
            _replace_with(out, lambda dst: _gzip_copy(arpa, dst))
        else:
            _replace_with(out, lambda dst: shutil.copyfile(arpa, dst))

    unigrams = unigrams_path_for(out)
    words = sorted(vocab, key=lambda w: (-vocab[w], w))
    _replace_with(unigrams, lambda dst: Path(dst).write_text("\n".join(words) + "\n", "utf-8"))
    return LmBuildResult(
        path=out,
        unigrams_path=unigrams,
        order=order,
        ngram_counts=ngram_counts,
        sentences=sentences,
        tokens=sum(vocab.values()),
        backend="lmplz" if use_lmplz else "python",
    )


def _check_build_options(
    texts: Sequence[str | Path], out: Path, order: int, prune: Sequence[int], backend: str
) -> tuple[int, ...]:
    if not texts:
        raise OptionsError("no text files given to build the language model from")
    if not 1 <= order <= MAX_ORDER:
        raise OptionsError(f"--order {order}: must be between 1 and {MAX_ORDER}")
    if backend not in ("auto", "lmplz", "python"):
        raise OptionsError(f"LM backend {backend!r}: must be auto, lmplz or python")
    if not any(out.name.endswith(s) for s in (".arpa", ".arpa.gz", ".bin")):
        raise OptionsError(f"--out {out}: must end in .arpa, .arpa.gz or .bin")
    thresholds = tuple(int(t) for t in prune)
    if thresholds:
        if len(thresholds) > order:
            raise OptionsError(f"--prune {thresholds}: more thresholds than --order {order}")
        if thresholds[0] != 0 or any(
            b < a for a, b in zip(thresholds, thresholds[1:], strict=False)
        ):
            raise OptionsError(
                f"--prune {thresholds}: the first must be 0 and they must not decrease"
            )
        # lmplz repeats the last threshold for the orders not given
        thresholds = thresholds + (thresholds[-1],) * (order - len(thresholds))
    for text in texts:
        if not Path(text).is_file():
            raise LanguageModelError(f"{text}: text file not found")
    return thresholds or (0,) * order


# --- KenLM command line tools --------------------------------------------------------------


def _run(cmd: list[str], out: Path) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise LanguageModelError(f"{out}: cannot run {cmd[0]}: {exc}") from exc
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise LanguageModelError(f"{out}: {Path(cmd[0]).name} failed ({proc.returncode}): {last}")


def _run_lmplz(
    lmplz: str, corpus: Path, arpa: Path, order: int, prune: tuple[int, ...], tmp: Path
) -> None:
    cmd = [lmplz, "-o", str(order), "-S", "10%", "-T", str(tmp), "--discount_fallback"]
    cmd += ["--text", str(corpus), "--arpa", str(arpa)]
    if any(prune):
        cmd += ["--prune", *map(str, prune)]
    _run(cmd, arpa)


# --- pure-Python interpolated modified Kneser-Ney ------------------------------------------


@dataclass
class _Model:
    vocab: list[str]  # word id -> word; 0, 1, 2 are <unk>, <s>, </s>
    # per order: n-gram (tuple of ids) -> (log10 prob, log10 backoff or None at the top order)
    grams: list[dict[tuple[int, ...], tuple[float, float | None]]]


def _estimate_kn(sentences: Iterable[list[str]], order: int, prune: Sequence[int]) -> _Model:
    """Interpolated modified Kneser-Ney with lmplz's conventions.

    ``raw[n-1]`` counts every n-gram of ``<s> w1 .. wk </s>``. Adjusted counts ``a`` are raw counts
    at the top order and for n-grams starting with ``<s>`` (nothing can precede them), otherwise
    the number of distinct words seen to their left. Per context ``h`` of order n::

        p(w|h) = (a(hw) - D_n(a(hw))) / sum_x a(hx) + gamma(h) * p(w|h[1:])
        gamma(h) = (D1 N1(h.) + D2 N2(h.) + D3+ N3+(h.) + pruned mass) / sum_x a(hx)

    and the unigram level interpolates with the uniform distribution over the vocabulary
    (``<unk>`` included, ``<s>`` not).
    """
    ids: dict[str, int] = {UNK: 0, BOS: 1, EOS: 2}
    raw: list[Counter[tuple[int, ...]]] = [Counter() for _ in range(order)]
    for tokens in sentences:
        seq = [1] + [ids.setdefault(t, len(ids)) for t in tokens] + [2]
        for n in range(1, order + 1):
            counts = raw[n - 1]
            for i in range(len(seq) - n + 1):
                counts[tuple(seq[i : i + n])] += 1
    vocab = list(ids)

    adjusted: list[dict[tuple[int, ...], int]] = [{} for _ in range(order)]
    adjusted[order - 1] = dict(raw[order - 1])
    for n in range(order - 1, 0, -1):
        left: Counter[tuple[int, ...]] = Counter(g[1:] for g in raw[n])
        adjusted[n - 1] = {g: (c if g[0] == 1 else left[g]) for g, c in raw[n - 1].items()}
    # lmplz gives <s> no count of its own as a unigram: it is never predicted.
    adjusted[0][(1,)] = 0
    adjusted[0].setdefault((0,), 0)

    pruned = [
        {g for g, c in raw[n].items() if c <= prune[n]} if n and prune[n] else set()
        for n in range(order)
    ]
    discounts = [_discounts(adjusted[n].values()) for n in range(order)]

    grams: list[dict[tuple[int, ...], tuple[float, float | None]]] = []
    gammas: list[dict[tuple[int, ...], float]] = []
    lower_probs: dict[tuple[int, ...], float] = {}
    uniform = 1.0 / (len(vocab) - 1)  # <unk> in, <s> out
    for n in range(order):
        d = discounts[n]
        denom: defaultdict[tuple[int, ...], float] = defaultdict(float)
        mass: defaultdict[tuple[int, ...], float] = defaultdict(float)
        for g, a in adjusted[n].items():
            h = g[:-1]
            denom[h] += a
            mass[h] += a if g in pruned[n] else d[min(a, 3)] * (a > 0)
        gamma = {h: mass[h] / denom[h] for h in denom if denom[h] > 0}
        gammas.append(gamma)
        probs: dict[tuple[int, ...], float] = {}
        for g, a in adjusted[n].items():
            if g in pruned[n]:
                continue
            h = g[:-1]
            lower = uniform if n == 0 else lower_probs[g[1:]]
            if denom[h] > 0:
                probs[g] = (a - d[min(a, 3)] * (a > 0)) / denom[h] + gamma[h] * lower
            else:  # only the unigram level when all counts are zero
                probs[g] = lower
        if n == 0:
            probs[(1,)] = 1.0  # <s> is given, never predicted; lmplz writes log10 1 = 0
        lower_probs = probs
        grams.append({g: (_log10(p), None) for g, p in probs.items()})

    for n in range(order - 1):
        ext = gammas[n + 1]
        for g, (lp, _) in grams[n].items():
            gamma_g = ext.get(g, 1.0) if g[-1] not in (0, 2) else 1.0
            grams[n][g] = (lp, _log10(gamma_g))
    return _Model(vocab=vocab, grams=grams)


def _discounts(adjusted_counts: Iterable[int]) -> tuple[float, float, float, float]:
    """(0, D1, D2, D3+) from counts of counts, Chen & Goodman eq. 26, as lmplz computes them."""
    t = Counter(c for c in adjusted_counts if 0 < c < 5)
    try:
        y = t[1] / (t[1] + 2.0 * t[2])
        d = [k - (k + 1) * y * t[k + 1] / t[k] for k in (1, 2, 3)]
    except ZeroDivisionError:
        return (0.0, *_FALLBACK_DISCOUNTS)
    if any(not 0.0 <= dk <= k for k, dk in zip((1, 2, 3), d, strict=True)) or 0 in (
        t[1],
        t[2],
        t[3],
    ):
        return (0.0, *_FALLBACK_DISCOUNTS)
    return (0.0, d[0], d[1], d[2])


def _log10(p: float) -> float:
    return min(0.0, math.log10(p)) if p > 0 else -99.0


def _write_arpa(f: io.TextIOBase, model: _Model) -> None:
    order = len(model.grams)
    f.write("\\data\\\n")
    for n, grams in enumerate(model.grams, start=1):
        f.write(f"ngram {n}={len(grams)}\n")
    for n, grams in enumerate(model.grams, start=1):
        f.write(f"\n\\{n}-grams:\n")
        for g, (lp, bo) in grams.items():
            words = " ".join(model.vocab[i] for i in g)
            if n < order:
                f.write(f"{lp:.7g}\t{words}\t{bo if bo else 0:.7g}\n")
            else:
                f.write(f"{lp:.7g}\t{words}\n")
    f.write("\n\\end\\\n")


def _arpa_counts(arpa: Path) -> tuple[int, ...]:
    counts: list[int] = []
    with open(arpa, encoding="utf-8") as f:
        for line in f:
            if line.startswith("ngram "):
                counts.append(int(line.split("=", 1)[1]))
            elif line.startswith("\\1-grams:"):
                break
    return tuple(counts)


def _gzip_copy(src: Path, dst: str) -> None:
    # mtime=0 and no file name in the header: the same text gives byte-identical output
    with open(src, "rb") as fin, open(dst, "wb") as raw_out:
        with gzip.GzipFile(filename="", fileobj=raw_out, mode="wb", mtime=0) as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)


def _replace_with(path: Path, write) -> None:  # type: ignore[no-untyped-def]
    """Write via a temporary file in the same folder, then rename, so readers never see half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the model is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
