"""CTC decoders on hand-made log-probability matrices, spell correction, decode options."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from htrbatch.assets import default_lm_path
from htrbatch.decode import (
    MIN_POOL_BATCH,
    BeamDecoder,
    DecodeOptions,
    DecodeResult,
    GreedyDecoder,
    PunctuationDecoder,
    SpellingDecoder,
    attach_punctuation,
    build_decoder,
    decode_batch,
    split_punctuation,
)
from htrbatch.errors import HtrError, LanguageModelError, OptionsError
from htrbatch.lm import build_lm

LABELS = ["", " "] + list("abcdehiklmnorstuMG.,'0123456789")


def frames(*rows: str | dict[str, float], p: float = 0.9) -> np.ndarray:
    """(T, C) float32 log-probs; a row is a label ("" = blank) given ``p``, or {label: prob}."""
    x = np.zeros((len(rows), len(LABELS)))
    for t, row in enumerate(rows):
        probs = {row: p} if isinstance(row, str) else row
        rest = (1.0 - sum(probs.values())) / (len(LABELS) - len(probs))
        x[t] = rest
        for label, q in probs.items():
            x[t, LABELS.index(label)] = q
    return np.log(x).astype(np.float32)


def spell_out(text: str, p: float = 0.95) -> np.ndarray:
    """Each character for one frame followed by a blank frame."""
    return frames(*[r for ch in text for r in (ch, "")], p=p)


class Fixed:
    """A decoder stub that always returns the same result."""

    def __init__(self, text: str, confidence: float = 0.8) -> None:
        self.result = DecodeResult(text, confidence)

    def decode(self, logprobs: np.ndarray) -> DecodeResult:
        return self.result


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("lm")
    lines = ["the cat sat on the mat", "a cat sat", "the cat is here", "the rat sat on a mat"]
    text = folder / "text.txt"
    text.write_text("\n".join(lines * 20) + "\n", encoding="utf-8")
    return build_lm([text], folder / "tiny.arpa", order=3, backend="python").path


# --- greedy ------------------------------------------------------------------------------


def test_greedy_collapses_repeats_and_drops_blanks() -> None:
    greedy = GreedyDecoder(LABELS, blank=0)
    assert greedy.decode(frames("a", "a", "b", "b", "b")).text == "ab"
    assert greedy.decode(frames("a", "", "a")).text == "aa"  # blank between repeats keeps both
    assert greedy.decode(frames("", "a", "", "", "b", "", "")).text == "ab"
    assert greedy.decode(frames(" ", "a", " ", " ", "", " ", "b", " ")).text == "a b"
    assert greedy.decode(frames("", "", "")).text == ""
    assert greedy.decode(np.zeros((0, len(LABELS)), np.float32)) == DecodeResult("", 1.0)


def test_greedy_confidence_in_unit_range_and_ordered() -> None:
    greedy = GreedyDecoder(LABELS)
    sure = greedy.decode(spell_out("the cat", p=0.99)).confidence
    unsure = greedy.decode(spell_out("the cat", p=0.5)).confidence
    assert 0.0 <= unsure < sure <= 1.0
    assert sure > 0.95
    assert 0.0 <= greedy.decode(spell_out("a", p=0.04)).confidence < 0.1


def test_decoders_reject_mismatched_input() -> None:
    with pytest.raises(HtrError, match=rf"\(T, {len(LABELS)}\)"):
        GreedyDecoder(LABELS).decode(np.zeros((4, 5), np.float32))
    with pytest.raises(OptionsError, match="repeated"):
        GreedyDecoder(["", "a", "a"])
    with pytest.raises(OptionsError, match="blank index 5"):
        GreedyDecoder(["", "a"], blank=5)


# --- beam ----------------------------------------------------------------------------------


def test_beam_without_lm_equals_greedy_on_peaked_matrix() -> None:
    greedy, beam = GreedyDecoder(LABELS), BeamDecoder(LABELS, 0, None, beam_width=10)
    rng = np.random.default_rng(0)
    for _ in range(5):
        text = "".join(rng.choice(list("abcdeMG.,0129 "), size=12))
        x = spell_out(text, p=0.9)
        g, b = greedy.decode(x), beam.decode(x)
        assert b.text == g.text == " ".join(text.split())
        # the beam sums alignments, the greedy path is one of them
        assert g.confidence - 1e-6 <= b.confidence <= 1.0
    assert beam.decode(np.zeros((0, len(LABELS)), np.float32)) == DecodeResult("", 1.0)


def test_lm_moves_an_ambiguous_word_to_a_known_one(tiny_lm: Path) -> None:
    # "the c?t": the recogniser slightly prefers "u" over "a"
    x = spell_out("the c", p=0.95)
    x = np.concatenate([x, frames({"u": 0.5, "a": 0.45}, "", "t", "", p=0.95)])
    assert GreedyDecoder(LABELS).decode(x).text == "the cut"
    assert BeamDecoder(LABELS, 0, None).decode(x).text == "the cut"
    with_lm = BeamDecoder(LABELS, 0, tiny_lm, alpha=0.5, beta=1.0)
    result = with_lm.decode(x)
    assert result.text == "the cat"
    assert 0.0 < result.confidence < 1.0
    via_options = build_decoder(DecodeOptions(lm=str(tiny_lm)), LABELS, 0)
    assert via_options.decode(x).text == "the cat"


def test_beam_decoder_pickles_with_its_lm(tiny_lm: Path) -> None:
    beam = BeamDecoder(LABELS, 0, tiny_lm)
    x = spell_out("the cat sat")
    assert pickle.loads(pickle.dumps(beam)).decode(x) == beam.decode(x)


def test_decode_batch_with_worker_pool_matches_serial(tiny_lm: Path) -> None:
    texts = ["the cat", "a mat", "", "the rat sat", "cats", "on the mat", "is", "here", "a"]
    xs = [spell_out(t) for t in texts]
    xs[2] = np.zeros((0, len(LABELS)), np.float32)
    assert len(xs) >= MIN_POOL_BATCH
    serial = build_decoder(DecodeOptions(lm=str(tiny_lm)), LABELS, 0)
    pooled = build_decoder(
        DecodeOptions(lm=str(tiny_lm), workers=2, punctuation="as-decoded"), LABELS, 0
    )
    try:
        got = decode_batch(pooled, xs)
        assert pooled._pool is not None  # the pool path really ran
    finally:
        pooled.close()
    assert got == [serial.decode(x) for x in xs]
    assert [r.text for r in got][:4] == ["the cat", "a mat", "", "the rat sat"]


def test_beam_refuses_labels_pyctcdecode_would_rewrite() -> None:
    with pytest.raises(OptionsError, match="'\\|'"):
        BeamDecoder(["", "a", "|"], 0, None)


# --- spelling ------------------------------------------------------------------------------


def test_spelling_fixes_plain_words_only() -> None:
    text = "Tomorow we recieve 1961 3rd don't , . Gaitskel NATO tomorow. mcDonald xy"
    spelled = SpellingDecoder(Fixed(text, 0.7), lexicon={"Gaitskel"})
    result = spelled.decode(np.zeros((1, len(LABELS)), np.float32))
    assert result.text == (
        "Tomorrow we receive 1961 3rd don't , . Gaitskel NATO tomorrow. mcDonald xy"
    )
    assert result.confidence == 0.7
    # words the lexicon knows are never touched, whatever their case
    keep = SpellingDecoder(Fixed("recieve Recieve"), lexicon={"recieve"})
    assert keep.decode(np.zeros((1, 1))).text == "recieve Recieve"
    batch = decode_batch(spelled, [np.zeros((1, len(LABELS)), np.float32)] * 2)
    assert [r.text for r in batch] == [result.text] * 2


# --- punctuation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decoded", "attached", "split"),
    [
        ("Pilcher . But", "Pilcher. But", "Pilcher . But"),
        ("resolution. Mr. Foot", "resolution. Mr. Foot", "resolution . Mr. Foot"),
        ('said : " We say', 'said: "We say', 'said : " We say'),
        ('" I have', '"I have', '" I have'),
        ('the end . "', 'the end."', 'the end . "'),
        ('x " y " z " w', 'x "y" z "w', 'x " y " z " w'),
        ('to "prop up" an', 'to "prop up" an', 'to " prop up " an'),
        ("a ( b ) c ?", "a (b) c?", "a ( b ) c ?"),
        ("Foot's view , said...", "Foot's view, said...", "Foot's view , said ..."),
        ("Mr. Lloyd 's view ; it's", "Mr. Lloyd's view; it 's", "Mr. Lloyd's view ; it 's"),
        ("I'm sure you 'll , don't", "I 'm sure you 'll, don't", "I 'm sure you 'll , don't"),
        ("'s ma'am rock'n'roll", "'s ma'am rock'n'roll", "'s ma'am rock'n'roll"),
        ("the U.S. and 3.5 .", "the U.S. and 3.5.", "the U.S. and 3.5 ."),
        ("out-", "out-", "out-"),
        ('"', '"', '"'),
        ("", "", ""),
    ],
)
def test_punctuation_styles(decoded: str, attached: str, split: str) -> None:
    assert attach_punctuation(decoded) == attached
    assert split_punctuation(decoded) == split
    # each style is a fixed point of itself and the two convert into each other
    assert attach_punctuation(attached) == attached == attach_punctuation(split)
    assert split_punctuation(split) == split == split_punctuation(attached)


def test_reference_punctuation_style_counts_word_final_marks() -> None:
    from htrbatch.evaluate import reference_punctuation_style

    iam = ["turn down the resolution . Mr. Foot's line , he said :"] * 10
    written = ["turn down the resolution. Mr. Foot's line, he said:"] * 10
    assert reference_punctuation_style(iam) == "split"
    assert reference_punctuation_style(written) == "attach"
    # nine marks (the dot inside "3.5" is none) are too few to go by
    assert reference_punctuation_style(["Mr. Foot paid 3.5 , then."] * 3) is None


def test_punctuation_decoder_wraps_the_decoder_it_is_given() -> None:
    x = spell_out("Ma , Mr. Go .")
    greedy = GreedyDecoder(LABELS)
    assert greedy.decode(x).text == "Ma , Mr. Go ."
    attached = build_decoder(DecodeOptions(decoder="greedy"), LABELS, 0)  # the default style
    assert isinstance(attached, PunctuationDecoder) and attached.inner.__class__ is GreedyDecoder
    got = attached.decode(x)
    assert (got.text, got.confidence) == ("Ma, Mr. Go.", greedy.decode(x).confidence)
    assert [w.text for w in got.words] == ["Ma,", "Mr.", "Go."]  # the words follow the text
    split = build_decoder(DecodeOptions(punctuation="split", lm="none"), LABELS, 0)
    assert [r.text for r in decode_batch(split, [x, spell_out("Ma, Go.")])] == [
        "Ma , Mr. Go .",
        "Ma , Go .",
    ]
    spelled = build_decoder(DecodeOptions(decoder="greedy", spell=True), LABELS, 0)
    assert isinstance(spelled, PunctuationDecoder) and isinstance(spelled.inner, SpellingDecoder)
    with pytest.raises(OptionsError, match="'tight'"):
        PunctuationDecoder(greedy, "tight")


# --- options ---------------------------------------------------------------------------------


def test_option_conflicts_and_bad_values_raise() -> None:
    with pytest.raises(OptionsError, match="--decoder greedy.*--lm /x/lm.arpa"):
        DecodeOptions(decoder="greedy", lm="/x/lm.arpa")
    with pytest.raises(OptionsError, match="--decoder greedy.*--beam-width 50"):
        DecodeOptions(decoder="greedy", beam_width=50)
    with pytest.raises(OptionsError, match="--decoder viterbi"):
        DecodeOptions(decoder="viterbi")
    with pytest.raises(OptionsError, match="--alpha -1"):
        DecodeOptions(alpha=-1.0)
    with pytest.raises(OptionsError, match="--beam-width 0"):
        DecodeOptions(beam_width=0)
    with pytest.raises(OptionsError, match="decode workers -1"):
        DecodeOptions(workers=-1)
    with pytest.raises(OptionsError, match="--punctuation spaced.*attach, split, as-decoded"):
        DecodeOptions(punctuation="spaced")
    # the default LM is not an explicit choice: greedy simply ignores it
    raw = build_decoder(DecodeOptions(decoder="greedy", punctuation="as-decoded"), LABELS, 0)
    assert isinstance(raw, GreedyDecoder)
    assert DecodeOptions(decoder="greedy", lm="none").lm_path() is None


def test_missing_or_broken_lm_raises_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(LanguageModelError, match="missing.arpa"):
        build_decoder(DecodeOptions(lm=str(tmp_path / "missing.arpa")), LABELS, 0)
    junk = tmp_path / "junk.arpa"
    junk.write_text("not a language model\n", encoding="utf-8")
    with pytest.raises(LanguageModelError, match="junk.arpa"):
        build_decoder(DecodeOptions(lm=str(junk)), LABELS, 0)


def test_default_lm_loads_and_decodes() -> None:
    assert default_lm_path().is_file(), "run benchmarks/build_lm.py to build the shipped LM"
    decoder = build_decoder(DecodeOptions(spell=True), LABELS, 0)
    assert isinstance(decoder, PunctuationDecoder) and decoder.style == "attach"
    speller = decoder.inner
    assert isinstance(speller, SpellingDecoder) and isinstance(speller.inner, BeamDecoder)
    assert "Labour" in speller.lexicon
    x = spell_out("Mr . Gaitskell")
    assert speller.decode(x).text == "Mr . Gaitskell"
    assert decoder.decode(x).text == "Mr. Gaitskell"
