"""CTC decoders: greedy best path, beam search with a KenLM word LM (pyctcdecode), spelling.

Every decoder is a small strategy object with one method, ``decode(logprobs) -> DecodeResult``.
``logprobs`` is the float32 ``(T, C)`` log-softmax output of the CTC model for ONE line, cut to
its true length T (padding removed); column ``blank`` is the CTC blank and ``labels[i]`` the text
of class ``i`` (``labels[blank]`` is ignored and treated as ``""``).

Confidence, for all decoders: the probability the model gives the emitted text, as a geometric
mean per emitted character, ``exp(log P / max(1, len(text)))``. Greedy uses the best path's log
probability (sum over frames of the frame maximum); beam search uses the beam's acoustic score,
which sums the alignments of the text kept in the beam (the LM score is left out, so an LM that
overrides the recogniser lowers the confidence). Both are in [0, 1]; an empty input (T == 0)
gives ``("", 1.0)``. Spell correction keeps the confidence of the decoder it wraps.

Whitespace in the output is normalised as pyctcdecode does: no leading, trailing or double spaces.

Punctuation spacing is a convention, not something the recogniser sees: the LM is tokenised the
IAM way (``resolution . Mr.``), so beam search inserts a space before a mark wherever the
recogniser leaves a little probability for one, and its output mixes both styles.
:class:`PunctuationDecoder` makes it one style: ``attach`` (the default: written English, as the
IAM-OnDB transcriptions are; ``resolution. Mr.``), ``split`` (IAM ``lines.txt`` tokens joined by
spaces, as in ``iam-lines-text.txt``) or ``as-decoded``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import logging
import math
import multiprocessing
import os
import re
import tempfile
import weakref
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.pool import Pool
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from htrbatch.errors import HtrError, LanguageModelError, OptionsError
from htrbatch.lm import keeps_final_dot, read_arpa_unigrams, read_unigrams, unigrams_path_for

if TYPE_CHECKING:
    from autocorrect import Speller

# pyctcdecode warns through logging (e.g. "Only 12 unigrams passed"); without a handler Python
# would print those to stderr from library code. Applications that configure logging still see
# them through propagation.
logging.getLogger("pyctcdecode").addHandler(logging.NullHandler())

DECODERS = ("greedy", "beam")

# Beam batches smaller than this are decoded in-process: forking work out costs more than it saves.
MIN_POOL_BATCH = 8


@dataclass(frozen=True)
class WordSpan:
    """One word of a decoded line and the frames it was read from (``end`` exclusive).

    ``confidence`` is the line confidence's formula over the word's frames: the geometric mean
    per character of the best path's probability there."""

    text: str
    start: int
    end: int
    confidence: float


@dataclass(frozen=True)
class DecodeResult:
    text: str
    confidence: float  # in [0, 1], see the module docstring
    # The words of ``text`` (its whitespace-separated tokens, in order) with their frames; empty
    # when a decoder gives none.
    words: tuple[WordSpan, ...] = ()


class Decoder(Protocol):
    def decode(self, logprobs: np.ndarray) -> DecodeResult:
        """Decode one line: ``logprobs`` float32 (T, C) log-softmax -> text and confidence."""
        ...


def _check_labels(labels: Sequence[str], blank: int) -> list[str]:
    labels = list(labels)
    if not 0 <= blank < len(labels):
        raise OptionsError(f"blank index {blank}: outside the charset of {len(labels)} labels")
    labels[blank] = ""
    seen: set[str] = set()
    for i, label in enumerate(labels):
        if i != blank and (label == "" or label in seen):
            raise OptionsError(f"charset label {i} ({label!r}): empty or repeated")
        seen.add(label)
    return labels


def _check_logprobs(logprobs: np.ndarray, num_labels: int) -> np.ndarray:
    x = np.asarray(logprobs)
    if x.ndim != 2 or x.shape[1] != num_labels:
        raise HtrError(
            f"logprobs of shape {x.shape}: expected (T, {num_labels}) for a charset of "
            f"{num_labels} labels"
        )
    return x


def _confidence(logp: float, n_chars: int) -> float:
    if not math.isfinite(logp):
        return 0.0
    return float(min(1.0, max(0.0, math.exp(logp / max(1, n_chars)))))


def _normalize_whitespace(text: str) -> str:
    return " ".join(text.split())


def _word_spans(x: np.ndarray, words: Sequence[tuple[str, int, int]]) -> tuple[WordSpan, ...]:
    """``(text, start, end)`` word frames of log-probs ``x`` with their confidences."""
    if not words:
        return ()
    best = x.max(axis=1).astype(np.float64)
    cum = np.concatenate([[0.0], np.cumsum(best)])
    out = []
    for text, start, end in words:
        start, end = max(0, int(start)), min(len(best), max(int(end), int(start) + 1))
        out.append(WordSpan(text, start, end, _confidence(cum[end] - cum[start], len(text))))
    return tuple(out)


def realign_words(text: str, words: Sequence[WordSpan]) -> tuple[WordSpan, ...]:
    """The words of ``text`` (a correction of the text ``words`` spell: respaced punctuation,
    spelling fixes) with frames taken from the words they came from.

    Characters are matched (spaces ignored) with :class:`difflib.SequenceMatcher`; a new word
    spans the frames of every old word it shares a character with, and its confidence is their
    lowest. A word sharing none (a whole-word replacement) takes the frames of the old word in
    its place when the word count is unchanged, else those between its neighbours."""
    new = text.split()
    if not words or not new:
        return ()
    if [w.text for w in words] == new:
        return tuple(words)
    old_chars = "".join(w.text for w in words)
    old_owner = [i for i, w in enumerate(words) for _ in w.text]
    new_chars = "".join(new)
    new_owner = [j for j, w in enumerate(new) for _ in w]
    sources: list[set[int]] = [set() for _ in new]
    matcher = difflib.SequenceMatcher(None, old_chars, new_chars, autojunk=False)
    for a, b, size in matcher.get_matching_blocks():
        for k in range(size):
            sources[new_owner[b + k]].add(old_owner[a + k])
    out: list[WordSpan | None] = []
    for j, word in enumerate(new):
        if sources[j]:
            olds = [words[i] for i in sorted(sources[j])]
            out.append(
                WordSpan(
                    word,
                    min(w.start for w in olds),
                    max(w.end for w in olds),
                    min(w.confidence for w in olds),
                )
            )
        else:
            out.append(None)
    for j, span in enumerate(out):
        if span is None and len(new) == len(words):  # one word for another, in its place
            out[j] = dataclasses.replace(words[j], text=new[j])
        elif span is None:  # between the neighbours that were matched
            prev = next((out[k] for k in range(j - 1, -1, -1) if out[k] is not None), None)
            nxt = next((out[k] for k in range(j + 1, len(out)) if out[k] is not None), None)
            start = prev.end if prev is not None else words[0].start
            end = nxt.start if nxt is not None else words[-1].end
            if end <= start:
                start, end = (prev or nxt or words[0]).start, (prev or nxt or words[0]).end
            conf = min(w.confidence for w in words)
            out[j] = WordSpan(new[j], start, end, conf)
    return tuple(w for w in out if w is not None)


class GreedyDecoder:
    """Best path: arg-max class per frame, repeats collapsed, blanks dropped."""

    def __init__(self, labels: Sequence[str], blank: int = 0) -> None:
        self.labels = _check_labels(labels, blank)
        self.blank = blank

    def decode(self, logprobs: np.ndarray) -> DecodeResult:
        """``logprobs``: float32 (T, C) log-softmax of one line."""
        x = _check_logprobs(logprobs, len(self.labels))
        if x.shape[0] == 0:
            return DecodeResult("", 1.0)
        best = x.argmax(axis=1)
        path_logp = float(x[np.arange(len(best)), best].sum(dtype=np.float64))
        # a class is emitted where it differs from the previous frame and is not the blank
        keep = np.ones(len(best), dtype=bool)
        keep[1:] = best[1:] != best[:-1]
        keep &= best != self.blank
        text = _normalize_whitespace("".join(self.labels[i] for i in best[keep]))
        return DecodeResult(text, _confidence(path_logp, len(text)), self._words(x, best))

    def _words(self, x: np.ndarray, best: np.ndarray) -> tuple[WordSpan, ...]:
        """The best path's words: each from its first character's first frame to its last
        character's last frame (a character holds the frames its label repeats over)."""
        words: list[tuple[str, int, int]] = []
        chars: list[str] = []
        start = end = 0
        t, n = 0, len(best)
        while t < n:
            label = int(best[t])
            run_end = t + 1
            while run_end < n and best[run_end] == label:
                run_end += 1
            if label != self.blank:
                ch = self.labels[label]
                if ch.isspace():
                    if chars:
                        words.append(("".join(chars), start, end))
                        chars = []
                else:
                    if not chars:
                        start = t
                    chars.append(ch)
                    end = run_end
            t = run_end
        if chars:
            words.append(("".join(chars), start, end))
        return _word_spans(x, words)


class BeamDecoder:
    """CTC prefix beam search (pyctcdecode), optionally fused with a KenLM word n-gram LM.

    ``lm_path`` is a KenLM model (``.arpa``, ``.arpa.gz`` or binary); ``unigrams`` its vocabulary,
    by default read from ``<stem>.unigrams.txt`` next to it (or from the ARPA 1-grams). pyctcdecode
    needs the vocabulary to score partial words and to keep word boundaries. ``alpha`` weighs the
    LM, ``beta`` is the bonus per word, ``unk_offset`` the natural-log penalty for a word outside
    the vocabulary. ``workers`` >= 1 lets :func:`decode_batch` fork that many processes for
    large batches (pyctcdecode keeps the LM in a class variable that forked children inherit);
    0 decodes in this process.
    """

    def __init__(
        self,
        labels: Sequence[str],
        blank: int = 0,
        lm_path: str | Path | None = None,
        alpha: float = 0.5,
        beta: float = 0.0,
        beam_width: int = 25,
        unigrams: Collection[str] | None = None,
        *,
        unk_offset: float = -10.0,
        workers: int = 0,
        token_min_logp: float = -5.0,
        beam_prune_logp: float = -10.0,
    ) -> None:
        from pyctcdecode.alphabet import Alphabet
        from pyctcdecode.decoder import BeamSearchDecoderCTC
        from pyctcdecode.language_model import LanguageModel

        self.labels = _check_labels(labels, blank)
        self.blank = blank
        self.beam_width = int(beam_width)
        self.workers = int(workers)
        self._args = (labels, blank, lm_path, alpha, beta, beam_width, unigrams)
        self.token_min_logp = float(token_min_logp)
        self.beam_prune_logp = float(beam_prune_logp)
        self._kwargs = {
            "unk_offset": unk_offset,
            "workers": workers,
            "token_min_logp": token_min_logp,
            "beam_prune_logp": beam_prune_logp,
        }
        # pyctcdecode rewrites some labels ("|" -> " ", "_" or "<pad>" -> blank, "[unk]" ...) and
        # appends a blank when it finds none; ours must pass through unchanged, blank included.
        alphabet = Alphabet.build_alphabet(self.labels)
        if alphabet.is_bpe or alphabet.labels != self.labels:
            changed = [
                f"{a!r}->{b!r}"
                for a, b in zip(self.labels, alphabet.labels, strict=False)
                if a != b
            ] or ["BPE-style labels"]
            raise OptionsError(
                f"charset not usable for beam search, pyctcdecode would rewrite: {changed[0]}"
            )
        language_model = None
        if lm_path is not None:
            lm_path = Path(lm_path)
            model = _load_kenlm(lm_path)
            words = set(unigrams) if unigrams is not None else set(_lm_unigrams(lm_path))
            language_model = LanguageModel(
                model,
                words,
                alpha=float(alpha),
                beta=float(beta),
                unk_score_offset=float(unk_offset),
                score_boundary=True,
            )
        self.lm_path = lm_path
        self._decoder = BeamSearchDecoderCTC(alphabet, language_model)
        self._pool: Pool | None = None
        self._pool_init: tuple[Callable[..., object] | None, tuple[Any, ...]] = (None, ())
        # the LM lives in pyctcdecode's class-level registry; drop it when this object goes
        weakref.finalize(self, self._decoder.cleanup)

    def __reduce__(self) -> tuple[Any, ...]:
        # rebuild from the arguments in the receiving process: neither the pool nor the LM,
        # which pyctcdecode keeps outside the object, can travel in a pickle
        return (_rebuild_beam, (self._args, self._kwargs))

    def decode(self, logprobs: np.ndarray) -> DecodeResult:
        """``logprobs``: float32 (T, C) log-softmax of one line."""
        x = _check_logprobs(logprobs, len(self.labels))
        if x.shape[0] == 0:
            return DecodeResult("", 1.0)
        beams = self._decoder.decode_beams(
            x.astype(np.float32, copy=False),
            beam_width=self.beam_width,
            beam_prune_logp=self.beam_prune_logp,
            token_min_logp=self.token_min_logp,
            prune_history=True,
        )
        text, _, frames, logit_score, _ = beams[0]
        words = realign_words(text, _beam_words(x, frames))
        return DecodeResult(text, _confidence(logit_score, len(text)), words)

    def decode_many(self, logprobs_list: Sequence[np.ndarray]) -> list[DecodeResult]:
        """Decode several lines, in worker processes when that pays off (see ``workers``)."""
        if self.workers < 1 or len(logprobs_list) < MIN_POOL_BATCH:
            return [self.decode(x) for x in logprobs_list]
        xs = [
            _check_logprobs(x, len(self.labels)).astype(np.float32, copy=False)
            for x in logprobs_list
        ]
        nonempty = [i for i, x in enumerate(xs) if x.shape[0] > 0]
        beams = self._decoder.decode_beams_batch(
            self._get_pool(),
            [xs[i] for i in nonempty],
            beam_width=self.beam_width,
            beam_prune_logp=self.beam_prune_logp,
            token_min_logp=self.token_min_logp,
            prune_history=True,
        )
        results = [DecodeResult("", 1.0)] * len(xs)
        for i, found in zip(nonempty, beams, strict=True):
            text, frames, logit_score, _ = found[0]
            words = realign_words(text, _beam_words(xs[i], frames))
            results[i] = DecodeResult(text, _confidence(logit_score, len(text)), words)
        return results

    def start(
        self, initializer: Callable[..., object] | None = None, initargs: tuple[Any, ...] = ()
    ) -> None:
        """Fork the worker processes now (if ``workers`` >= 1 and not yet started), each running
        ``initializer(*initargs)`` first, rather than at the first large batch, which may come
        from a short-lived thread."""
        self._pool_init = (initializer, initargs)
        if self.workers >= 1:
            self._get_pool()

    def _get_pool(self) -> Pool:
        if self._pool is None:
            # fork, not spawn: children must inherit the LM loaded above (pyctcdecode refuses
            # spawn pools). Created after the LM so that it is there to inherit.
            initializer, initargs = self._pool_init
            self._pool = multiprocessing.get_context("fork").Pool(
                self.workers, initializer, initargs
            )
            weakref.finalize(self, self._pool.terminate)
        return self._pool

    def close(self) -> None:
        """Stop the worker processes, if any were started."""
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None


def _beam_words(
    x: np.ndarray, frames: Sequence[tuple[str, tuple[int, int]]]
) -> tuple[WordSpan, ...]:
    """pyctcdecode's ``text_frames`` (word, (start, end exclusive)) as :class:`WordSpan`."""
    return _word_spans(x, [(w, s, e) for w, (s, e) in frames if w and s >= 0])


def _rebuild_beam(args: tuple[Any, ...], kwargs: dict[str, Any]) -> BeamDecoder:
    return BeamDecoder(*args, **kwargs)


@contextlib.contextmanager
def _stderr_captured() -> Iterator[list[str]]:
    """Collect what C++ code writes to file descriptor 2 (KenLM's loading chatter)."""
    captured: list[str] = []
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all: nothing to hide
        yield captured
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            captured.append(tmp.read().decode("utf-8", "replace"))


def _load_kenlm(path: Path) -> Any:
    import kenlm

    if not path.is_file():
        raise LanguageModelError(f"{path}: language model file not found")
    config = kenlm.Config()
    config.show_progress = False
    try:
        with _stderr_captured():
            return kenlm.Model(str(path), config)
    except (OSError, RuntimeError) as exc:
        # KenLM's message starts with C++ source locations; the readable part is on line two
        msg = str(exc.__cause__ or exc)
        detail = " ".join(msg.split("\n", 1)[-1].split())[:200]
        raise LanguageModelError(f"{path}: cannot load as a KenLM model: {detail}") from exc


def _lm_unigrams(lm_path: Path) -> list[str]:
    listed = unigrams_path_for(lm_path)
    if listed.is_file():
        return read_unigrams(listed)
    if ".arpa" in lm_path.name:
        return read_arpa_unigrams(lm_path)
    raise LanguageModelError(
        f"{lm_path}: binary LM without its unigram list {listed} "
        "(write both with 'htrbatch lm build')"
    )


_SPELL_WORD = re.compile(r"[^\W\d_]+")


class SpellingDecoder:
    """Wraps another decoder and corrects misspelt words with autocorrect's English word list.

    Only plain words change: tokens with digits or apostrophes, words shorter than 3 letters,
    ALL-CAPS and mixed-case words, non-ASCII words and words in ``lexicon`` (the LM's vocabulary,
    compared as written and lower-cased) are left alone; punctuation is never touched. A
    capitalised word is corrected in lower case and capitalised again.
    """

    def __init__(
        self, inner: Decoder, speller: Speller | None = None, lexicon: Collection[str] = ()
    ) -> None:
        if speller is None:
            from autocorrect import Speller

            # fast: single edits only; double edits cost ~0.2 s a word
            speller = Speller(lang="en", fast=True)
        self.inner = inner
        self.speller = speller
        self.lexicon = frozenset(lexicon)

    def decode(self, logprobs: np.ndarray) -> DecodeResult:
        """``logprobs``: float32 (T, C) log-softmax of one line."""
        return self.correct_result(self.inner.decode(logprobs))

    def correct_result(self, result: DecodeResult) -> DecodeResult:
        text = self.correct(result.text)
        return dataclasses.replace(result, text=text, words=realign_words(text, result.words))

    def correct(self, text: str) -> str:
        """``text`` with its plain words spell-corrected."""
        parts = re.split(r"(\s+)", text)
        for i, token in enumerate(parts):
            if token and not token.isspace() and not any(c.isdigit() or c in "'’" for c in token):
                parts[i] = _SPELL_WORD.sub(lambda m: self._word(m.group(0)), token)
        return "".join(parts)

    def _word(self, word: str) -> str:
        if len(word) < 3 or not word.isascii():
            return word
        lower = word.lower()
        if word in self.lexicon or lower in self.lexicon:
            return word
        if word.islower():
            return self.speller.autocorrect_word(word)
        if word[0].isupper() and word[1:].islower():
            fixed = self.speller.autocorrect_word(lower)
            return fixed[:1].upper() + fixed[1:]
        return word  # ALL CAPS or mixed case: acronyms and names


# A mark that closes (or ends) what comes before it, and the spaces in front of it.
_SPACE_BEFORE_CLOSER = re.compile(r" +(?=[.,;:?!)])")
_SPACE_AFTER_OPENER = re.compile(r"(?<=\() +")
# Marks IAM's transcriptions write as tokens of their own ("..." is one token).
_MARK_TOKEN = r"\.{2,}|[.,;:?!()\"]"
_SPLIT_MARK = re.compile(_MARK_TOKEN)
_TRAILING_MARK = re.compile(f"(?:{_MARK_TOKEN})$")
# Clitics, as IAM and IAM-OnDB both write them: contractions stand apart ("I 'm", "you 're",
# "it 's" = it is/has), possessives and "n't" are attached ("Lloyd's", "don't"); testset_v +
# testset_t references: 45 of 47 contractions and 18 of 20 pronoun "'s" apart, 53 of 56
# possessives attached. The LM knows "'s" as a token of its own and prefers it to an unknown
# possessive, so beam search writes "Lloyd 's" unless this puts it back.
_CONTRACTION_HOSTS = frozenset(
    "it that he she there here what who where how when why let this nobody somebody everybody "
    "someone everyone something nothing everything".split()
)
_CLITIC = re.compile(r"(?<![\w'])(\w+)( ?)'(s|m|re|ll|d|ve)(?![\w'])")


def _space_clitic(m: re.Match[str]) -> str:
    host, clitic = m.group(1), m.group(3)
    if clitic == "s" and host.lower() not in _CONTRACTION_HOSTS:
        return f"{host}'s"
    return f"{host} '{clitic}"


def attach_punctuation(text: str) -> str:
    """Written-English spacing: no space before ``.,;:?!)``, none after ``(``, and double quotes
    against the words they enclose (``said : " We`` -> ``said: "We``).

    A quote with a space on one side only already faces one way and is kept; one with spaces on
    both sides opens when an even number of quotes comes before it in the line, else closes.
    Clitics follow IAM in both styles: a possessive ``'s`` joins its word (``Lloyd 's`` ->
    ``Lloyd's``), contractions stand apart (``I'm`` -> ``I 'm``; ``'s`` after a pronoun is
    is/has: ``it 's``), ``n't`` is left alone.
    """
    text = _SPACE_AFTER_OPENER.sub("", _SPACE_BEFORE_CLOSER.sub("", text))
    if "'" in text:
        text = _CLITIC.sub(_space_clitic, text)
    if '"' not in text:
        return text
    drop: set[int] = set()  # indices of spaces to remove
    last = len(text) - 1
    quotes = 0
    for i, ch in enumerate(text):
        if ch != '"':
            continue
        before = i > 0 and text[i - 1] == " "
        after = i < last and text[i + 1] == " "
        if before and after:
            drop.add(i + 1 if quotes % 2 == 0 else i - 1)
        elif i == 0 and after:
            drop.add(i + 1)  # a line that starts with a quote opens it
        elif i == last and before:
            drop.add(i - 1)  # and one that ends with a quote closes it
        quotes += 1
    return "".join(ch for i, ch in enumerate(text) if i not in drop)


def split_punctuation(text: str) -> str:
    """IAM ``lines.txt`` spacing: ``.,;:?!()"`` and ``...`` as words of their own (``Mr. Foot's
    "view" , he`` -> ``Mr. Foot's " view " , he``); abbreviations such as ``Mr.`` keep their dot,
    and word-internal marks (``3.5``, ``U.S.``) are left alone."""
    words: list[str] = []
    for word in attach_punctuation(text).split():
        # peel marks off both ends; what is left in the middle is word-internal
        lead: list[str] = []
        while (m := _SPLIT_MARK.match(word)) and m.end() < len(word):
            lead.append(m.group(0))
            word = word[m.end() :]
        trail: list[str] = []
        while True:
            m = _TRAILING_MARK.search(word)
            if m is None or m.start() == 0:
                break
            core = word[: m.start()]
            if m.group(0) == "." and keeps_final_dot(core):
                break  # "Mr." and "U.S." keep their final dot
            trail.insert(0, m.group(0))
            word = core
        words += lead + [word] + trail
    return " ".join(words)


PUNCTUATION_FIXES = {"attach": attach_punctuation, "split": split_punctuation}
PUNCTUATION_STYLES = (*PUNCTUATION_FIXES, "as-decoded")


class PunctuationDecoder:
    """Wraps another decoder and gives its text one punctuation style (see the module doc)."""

    def __init__(self, inner: Decoder, style: str = "attach") -> None:
        if style not in PUNCTUATION_FIXES:
            raise OptionsError(
                f"punctuation style {style!r}: must be one of {', '.join(PUNCTUATION_FIXES)}"
            )
        self.inner = inner
        self.style = style
        self._fix = PUNCTUATION_FIXES[style]

    def decode(self, logprobs: np.ndarray) -> DecodeResult:
        """``logprobs``: float32 (T, C) log-softmax of one line."""
        return self.correct_result(self.inner.decode(logprobs))

    def correct_result(self, result: DecodeResult) -> DecodeResult:
        text = self._fix(result.text)
        return dataclasses.replace(result, text=text, words=realign_words(text, result.words))


@dataclass(frozen=True)
class DecodeOptions:
    """How to turn the recogniser's output into text.

    ``lm``: ``"default"`` (the shipped LM; ignored by the greedy decoder), ``"none"`` or a path.
    ``alpha``/``beta``/``beam_width``/``unk_offset`` only apply to ``decoder="beam"``;
    ``workers``: processes that run the beam search of large batches, 0 = in the calling
    process; None (auto) is 0 here and, in the transcribe pipeline, one process beside the
    recogniser when there are two or more cores, none with ``--workers 0``
    (docs/benchmarks.md, "Speed against Tesseract"). ``punctuation``: the spacing style of the
    output text (:data:`PUNCTUATION_STYLES`; see the module doc).
    """

    decoder: str = "beam"
    lm: str = "default"
    # tuned with --punctuation attach on testset_v renderings, confirmed on the alt renderer's
    # (benchmarks/results/v8-decode-val-attach*.json, v8-decode-val_alt-attach.json)
    alpha: float = 0.4
    beta: float = 2.0
    beam_width: int = 25
    spell: bool = False
    workers: int | None = None
    unk_offset: float = -10.0
    punctuation: str = "attach"  # measured on testset_v renderings: docs/benchmarks.md
    # beam pruning (pyctcdecode's defaults): characters scoring below token_min_logp in a
    # frame are not tried (the frame's best always is); beams below the best by
    # beam_prune_logp are dropped. -4 decoded 1.25-1.5x faster at the same line CER but cost
    # 0.15 pt CER / 1.2 pt WER on 24 pages; -6 for beam_prune_logp cost CER
    # (docs/benchmarks.md "Speed against Tesseract").
    token_min_logp: float = -5.0
    beam_prune_logp: float = -10.0

    def __post_init__(self) -> None:
        if self.decoder not in DECODERS:
            raise OptionsError(f"--decoder {self.decoder}: must be one of {', '.join(DECODERS)}")
        if self.punctuation not in PUNCTUATION_STYLES:
            raise OptionsError(
                f"--punctuation {self.punctuation}: must be one of {', '.join(PUNCTUATION_STYLES)}"
            )
        if not str(self.lm).strip():
            raise OptionsError("--lm: empty; use 'default', 'none' or a file")
        if not (math.isfinite(self.alpha) and self.alpha >= 0):
            raise OptionsError(f"--alpha {self.alpha}: must be a finite number >= 0")
        if not math.isfinite(self.beta):
            raise OptionsError(f"--beta {self.beta}: must be a finite number")
        if not math.isfinite(self.unk_offset) or self.unk_offset > 0:
            raise OptionsError(f"unk_offset {self.unk_offset}: must be a finite number <= 0")
        if self.beam_width < 1:
            raise OptionsError(f"--beam-width {self.beam_width}: must be at least 1")
        for name in ("token_min_logp", "beam_prune_logp"):
            value = getattr(self, name)
            if not math.isfinite(value) or value >= 0:
                raise OptionsError(f"{name} {value}: must be a finite number < 0")
        if self.workers is not None and self.workers < 0:
            raise OptionsError(
                f"decode workers {self.workers}: must be 0 (in this process) or more"
            )
        if self.decoder == "greedy":
            if self.lm not in ("default", "none"):
                raise OptionsError(
                    f"--decoder greedy conflicts with --lm {self.lm}: only the beam decoder uses "
                    "a language model"
                )
            defaults = DecodeOptions()
            for name in ("alpha", "beta", "beam_width"):
                if getattr(self, name) != getattr(defaults, name):
                    flag = "--" + name.replace("_", "-")
                    raise OptionsError(
                        f"--decoder greedy conflicts with {flag} {getattr(self, name)}: "
                        "it only applies to --decoder beam"
                    )

    def lm_path(self, model: str = "default") -> Path | None:
        """The LM file these options select for ``model`` (a shipped model's name or a checkpoint
        path; ``lm="default"`` is that model's own shipped LM), not checked for existence, or
        None."""
        if self.decoder == "greedy" or self.lm == "none":
            return None
        if self.lm == "default":
            from htrbatch.assets import model_lm_path

            return model_lm_path(model)
        return Path(self.lm).expanduser()


def build_decoder(
    options: DecodeOptions, labels: Sequence[str], blank: int = 0, *, model: str = "default"
) -> Decoder:
    """The decoder ``options`` describe for a recogniser with charset ``labels``; ``model`` (a
    shipped model's name or a checkpoint path) picks what ``--lm default`` means."""
    lm_path = options.lm_path(model)
    unigrams: list[str] | None = None
    if lm_path is not None:
        if not lm_path.is_file():
            hint = " (use --lm none to decode without one)" if options.lm == "default" else ""
            raise LanguageModelError(f"{lm_path}: language model file not found{hint}")
        if options.lm == "default":
            unigrams_file = unigrams_path_for(lm_path)
            if not unigrams_file.is_file():
                raise LanguageModelError(f"{unigrams_file}: unigram list of the shipped LM missing")
            unigrams = read_unigrams(unigrams_file)
    decoder: Decoder
    if options.decoder == "greedy":
        decoder = GreedyDecoder(labels, blank)
    else:
        decoder = BeamDecoder(
            labels,
            blank,
            lm_path,
            alpha=options.alpha,
            beta=options.beta,
            beam_width=options.beam_width,
            unigrams=unigrams,
            unk_offset=options.unk_offset,
            workers=options.workers or 0,
            token_min_logp=options.token_min_logp,
            beam_prune_logp=options.beam_prune_logp,
        )
    if options.spell:
        lexicon: Collection[str] = ()
        if lm_path is not None:
            lexicon = unigrams if unigrams is not None else _lm_unigrams(lm_path)
        decoder = SpellingDecoder(decoder, lexicon=lexicon)
    if options.punctuation != "as-decoded":
        # outermost: spelling works on the words as decoded, the style applies to the final text
        decoder = PunctuationDecoder(decoder, options.punctuation)
    return decoder


def beam_search_of(decoder: Decoder) -> BeamDecoder | None:
    """The beam decoder inside ``decoder`` (under spelling and punctuation fixes), if any."""
    while isinstance(decoder, (SpellingDecoder, PunctuationDecoder)):
        decoder = decoder.inner
    return decoder if isinstance(decoder, BeamDecoder) else None


def decode_batch(decoder: Decoder, logprobs_list: Sequence[np.ndarray]) -> list[DecodeResult]:
    """Decode many lines, each float32 (T_i, C); beam search may use worker processes."""
    if isinstance(decoder, (SpellingDecoder, PunctuationDecoder)):
        return [decoder.correct_result(r) for r in decode_batch(decoder.inner, logprobs_list)]
    if isinstance(decoder, BeamDecoder):
        return decoder.decode_many(logprobs_list)
    return [decoder.decode(x) for x in logprobs_list]
