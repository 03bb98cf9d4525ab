from htrbatch.metrics import corpus_rates, line_cer, normalize_text


def test_cer_hand_computed_cases() -> None:
    # kitten -> sitting: 3 edits over 6 reference characters.
    assert line_cer("kitten", "sitting") == 3 / 6
    assert line_cer("abc", "abc") == 0.0
    assert line_cer("abc", "") == 1.0
    assert line_cer("", "") == 0.0
    assert line_cer("", "x") == 1.0


def test_corpus_cer_weights_by_length_not_mean_of_lines() -> None:
    # 1 error in 10 chars + 1 error in 2 chars: corpus 2/12, while the mean of lines would be 0.3.
    r = corpus_rates([("abcdefghij", "abcdefghiX"), ("ab", "aX")])
    assert abs(r.cer - 2 / 12) < 1e-12
    assert r.chars == 12 and r.lines == 2


def test_wer_counts_words() -> None:
    r = corpus_rates([("the cat sat", "the bat sat"), ("on mats", "on mats")])
    assert abs(r.wer - 1 / 5) < 1e-12


def test_normalisation_nfc_and_spaces() -> None:
    assert normalize_text("  a \t b  ") == "a b"
    # e + combining acute equals the precomposed character after NFC.
    assert line_cer("caf\u00e9", "cafe\u0301") == 0.0
    assert line_cer("a  b", "a b") == 0.0
