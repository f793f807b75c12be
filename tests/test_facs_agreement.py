"""Explanations against FACS codes: the shares are what their definitions say."""

import math

from factories import make_explanation
from xfer_keras.evaluation.facs_agreement import agreement, heat_activated_aus, summarise
from xfer_keras.xfera import facs


def _explanation_hot_on(aus, hot_aus, expected=(6, 12)):
    """An explanation whose hot landmarks are exactly the regions of ``aus``."""
    hot = sorted({i for au in aus for i in facs.au_landmarks(au)})
    evidence = {facs.au_label(au): {"au": au, "expected": au in expected}
                for au in set(aus) | set(hot_aus) | set(expected)}
    return make_explanation(hot_landmarks=hot, hot_aus=[facs.au_label(a) for a in hot_aus],
                            aus=evidence)


def test_heat_activation_follows_the_fusion_rule():
    region = facs.au_landmarks(12)
    partial = region[: int(len(region) * 0.7) - 1]  # below 70 %: not activated
    assert 12 in heat_activated_aus(make_explanation(hot_landmarks=list(region)))
    assert 12 not in heat_activated_aus(make_explanation(hot_landmarks=list(partial)))


def test_a_focus_on_the_coded_movements_agrees_fully():
    exp = _explanation_hot_on([12], hot_aus=[12])
    row = agreement(exp, coded_aus=["AU12"])
    assert row["focus_recall"] == 1.0
    assert row["hot_precision"] == 1.0
    assert row["typical_named"] == row["typical_coded_named"] == 1.0
    # every activated AU shares AU12's landmarks, so the precision counts AU12 among them
    activated = heat_activated_aus(exp)
    assert math.isclose(row["focus_precision"], 1 / len(activated))


def test_a_focus_elsewhere_is_counted_against_the_explanation():
    exp = _explanation_hot_on([4], hot_aus=[4])   # brow lowerer, not typical of happiness
    row = agreement(exp, coded_aus=[6, 12])
    assert row["focus_recall"] == 0.0
    assert row["hot_precision"] == 0.0
    assert row["typical_named"] == 0.0 and row["typical_coded_named"] == 0.0
    # a typical AU named that the coder did not see: typical, but not coded
    row = agreement(_explanation_hot_on([12], hot_aus=[12]), coded_aus=[6])
    assert row["typical_named"] == 1.0 and row["typical_coded_named"] == 0.0


def test_shares_without_a_denominator_are_nan_and_left_out_of_the_means():
    row = agreement(_explanation_hot_on([], hot_aus=[]), coded_aus=[])
    assert math.isnan(row["focus_recall"]) and math.isnan(row["hot_precision"])
    good = dict(agreement(_explanation_hot_on([12], hot_aus=[12]), coded_aus=[12]), correct=True)
    summary = summarise([dict(row, correct=False), good])
    assert summary["n"] == 2 and summary["n_correct"] == 1
    assert summary["all"]["focus_recall"] == 1.0          # the NaN row is left out
    assert summary["all"]["typical_named"] == 0.5
    assert summary["correct"]["typical_named"] == 1.0


def test_the_whole_text_counts_matching_aus_outside_the_focus():
    """A smile whose focus is on the brows (AU4 hot) but whose text also names the present,
    typical AU12 (matching, out of focus): the focus part names no coded typical AU, the whole
    text does; of the two AUs it names, one was coded."""
    from factories import make_explanation as make

    hot = sorted(facs.au_landmarks(4))
    evidence = {facs.au_label(au): {"au": au, "expected": au in (6, 12)} for au in (4, 6, 12)}
    exp = make(hot_landmarks=hot, hot_aus=["AU04"], matching_aus=["AU12"], aus=evidence)
    row = agreement(exp, coded_aus=[12])
    assert row["typical_coded_named"] == 0.0
    assert row["text_typical_coded_named"] == 1.0
    assert row["text_named_precision"] == 0.5
