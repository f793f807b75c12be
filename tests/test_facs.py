"""FACS tables: the paper's Table 2 converted once to 0-based indices, prototypes, matching."""

import pytest

from xfer_keras.xfera import facs

# Table 2 of the XFERa paper, typed again from the paper (1-based), one line per AU.
PAPER_TABLE2 = """
4: 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29
5: 37, 38, 39, 40, 43, 44, 45, 46
7: 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48
23: 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68
9: 28, 29, 30, 31, 32, 33, 34, 35, 36
15: 49, 50, 54, 55, 56, 61, 60, 65
17: 8, 9, 10, 56, 57, 58, 59, 60
1: 18, 19, 20, 21, 22, 23, 24, 25, 26, 27
2: 18, 19, 20, 21, 22, 23, 24, 25, 26, 27
20: 7, 8, 9, 10, 11, 49, 55, 56, 57, 58, 59, 60
26: 49, 50, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68
6: 37, 40, 41, 42, 43, 46, 47, 48
12: 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68
"""
PAPER_EMOTIONS = {"anger": {4, 5, 7, 23}, "disgust": {9, 15, 17}, "fear": {1, 2, 4, 5, 7, 20, 26},
                  "happiness": {6, 12}, "sadness": {1, 4, 15}, "surprise": {1, 2, 5, 26}}


def _paper():
    out = {}
    for line in PAPER_TABLE2.strip().splitlines():
        au, indices = line.split(":")
        out[int(au)] = sorted(int(i) for i in indices.split(","))
    return out


def test_table2_converted_to_zero_based_once():
    paper = _paper()
    assert set(facs.AU_LANDMARKS_TABLE2) == set(paper)
    for au, one_based in paper.items():
        assert list(facs.AU_LANDMARKS_TABLE2[au]) == [i - 1 for i in one_based], au
        assert list(facs.au_landmarks(au)) == [i - 1 for i in one_based]
    # every index is a valid 0-based dlib-68 index
    for indices in facs.AU_LANDMARKS.values():
        assert all(0 <= i < 68 for i in indices)


def test_table2_emotions_and_spot_values():
    assert {e: set(a) for e, a in facs.TABLE2_AUS.items() if e != "neutral"} == PAPER_EMOTIONS
    assert facs.TABLE2_AUS["neutral"] == ()
    # AU6 (cheek raiser): paper 37, 40, 41, 42, 43, 46, 47, 48 -> eye corners / lower lids
    assert facs.au_landmarks(6) == (36, 39, 40, 41, 42, 45, 46, 47)
    assert facs.au_landmarks("AU09")[0] == 27  # nose bridge, paper's landmark 28
    assert facs.au_landmarks(99) == ()


def test_au_labels_and_parsing():
    assert facs.au_label(6) == "AU06" and facs.au_label(12) == "AU12"
    for text in ("AU06", "AU6", " AU06_r", "6", "au06_c"):
        assert facs.parse_au(text) == 6
    with pytest.raises(ValueError):
        facs.parse_au("cheek")
    assert facs.describe_au(6) == "the lifting of the cheek"
    assert facs.describe_au("AU12") == "the pulling of the lip corner"
    for au in facs.AU_LANDMARKS:
        assert facs.describe_au(au) and au in facs.AU_NAMES


def test_prototypes_have_anger_groups_down_to_restrained_anger():
    anger = facs.EMOTION_PROTOTYPES["anger"]
    assert frozenset({17, 24}) in anger  # restrained anger
    assert frozenset({4, 5, 7, 10, 22, 23, 25}) in anger and frozenset({4, 5, 7, 10, 22, 23, 26}) in anger
    assert set(facs.EMOTION_PROTOTYPES) >= {"anger", "disgust", "fear", "happiness", "sadness",
                                            "surprise", "neutral"}
    for emotion, variants in facs.EMOTION_PROTOTYPES.items():
        for variant in variants:
            assert all(au in facs.AU_NAMES for au in variant), (emotion, variant)
            assert all(facs.au_landmarks(au) for au in variant), (emotion, variant)


def test_match_prototype_figure1_and_variants():
    m = facs.match_prototype("happy", [6, 12, 25])
    assert m.emotion == "happiness" and m.matching == (6, 12) and m.missing == () and m.coverage == 1
    m = facs.match_prototype("happiness", [12])
    assert m.matching == (12,) and m.missing == ()
    m = facs.match_prototype("happiness", [])
    assert m.matching == () and m.missing == (12,) and m.coverage == 0
    m = facs.match_prototype("anger", ["AU17", "AU24"])
    assert m.variant == (17, 24) and m.missing == ()
    m = facs.match_prototype("surprise", [1, 2, 5, 27])
    assert m.variant == (1, 2, 5, 27) and m.coverage == 1
    m = facs.match_prototype("neutral", [12])
    assert m.variant == () and m.matching == () and m.missing == () and m.coverage == 1.0
    assert set(facs.expected_aus("sadness")) >= {1, 4, 15}
