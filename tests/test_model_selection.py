"""The dev-set rule (:mod:`xfer_keras.training.model_selection`): settings by CK+ full-res with
exact ties to CK+48; between models, a CK+ full-res difference one photo could make is a tie
that CK+48 decides, and a tied challenger replaces the incumbent only beyond subject noise."""

from pathlib import Path

import numpy as np
import pytest

from xfer_keras.training.model_selection import (best_settings, choose_model, one_photo_margin,
                                                 subject_bootstrap_gain)


def _row(model, full, ck48, power=0.75):
    return {"model": model, "power": power, "ckplus_fullres": {"balanced_accuracy": full},
            "ckplus48": {"balanced_accuracy": ck48}}


def test_one_photo_margin_is_the_weight_of_a_photo_of_the_smallest_class():
    # the CK+ full-res dev frames: 40 neutral onsets, peaks of 27/27/24/15/15/12 frames
    labels = np.repeat(np.arange(7), [40, 27, 27, 24, 15, 15, 12])
    margin = one_photo_margin(labels)
    assert margin == pytest.approx(1 / (7 * 12))
    # it is the largest change of balanced accuracy that flipping one photo can make
    from xfer_keras.training.dev_sets import balanced_accuracy

    changes = []
    for i in range(len(labels)):
        pred = labels.copy()
        pred[i] = (labels[i] + 1) % 7
        changes.append(1.0 - balanced_accuracy(labels, pred))
    assert max(changes) == pytest.approx(margin)
    with pytest.raises(ValueError):
        one_photo_margin([])


def test_settings_follow_full_res_and_ck48_only_breaks_exact_ties():
    rows = [_row("m", 0.954, 0.908, 0.5), _row("m", 0.954, 0.922, 0.75),
            _row("m", 0.947, 0.950, 1.0)]
    assert best_settings(rows)["power"] == 0.75  # not 1.0: CK+48 rewards more correction
    with pytest.raises(ValueError):
        best_settings([])


def test_models_within_one_photo_tie_and_ck48_decides():
    margin = 1 / 84
    shipped, close, worse = (_row("shipped", 0.9537, 0.920), _row("close", 0.9520, 0.933),
                             _row("worse", 0.9300, 0.990))
    assert choose_model([shipped, close], margin)["model"] == "close"
    assert choose_model([shipped, worse], margin)["model"] == "shipped"  # beyond the margin
    assert choose_model([shipped, close, worse], margin)["model"] == "close"
    assert choose_model([shipped, close], 0.0)["model"] == "shipped"  # the one-photo-blind rule
    twin = _row("twin", 0.9537, 0.920)
    assert choose_model([shipped, twin], margin)["model"] == "shipped"  # incumbent keeps ties
    assert choose_model([twin, shipped], margin)["model"] == "twin"
    with pytest.raises(ValueError):
        choose_model([], margin)
    with pytest.raises(ValueError):
        choose_model([shipped], -0.1)


def _ck48_world(n_subjects=48, per_subject=9, seed=3):
    rng = np.random.default_rng(seed)
    subjects = np.repeat(np.arange(n_subjects), per_subject)
    labels = rng.integers(0, 6, len(subjects))
    return rng, labels, subjects


def _answers(rng, labels, accuracy):
    wrong = rng.random(len(labels)) > accuracy
    return np.where(wrong, (labels + 1 + rng.integers(0, 5, len(labels))) % 6, labels)


def test_subject_bootstrap_gain_brackets_the_gain_and_widens_with_fewer_subjects():
    rng, labels, subjects = _ck48_world()
    old = _answers(rng, labels, 0.90)
    same = subject_bootstrap_gain(labels, old, old, subjects)
    assert same == (0.0, 0.0)
    better = np.where(rng.random(len(labels)) < 0.7, labels, old)  # fixes 70 % of the errors
    low, high = subject_bootstrap_gain(labels, better, old, subjects)
    assert 0 < low < high  # a clear gain stays clear
    # the same few crops right: no longer clear
    slightly = old.copy()
    slightly[np.flatnonzero(old != labels)[:3]] = labels[old != labels][:3]
    low3, high3 = subject_bootstrap_gain(labels, slightly, old, subjects)
    assert low3 <= 0 < high3
    assert subject_bootstrap_gain(labels, better, old, subjects, seed=0) == (low, high)
    with pytest.raises(ValueError):
        subject_bootstrap_gain(labels, better[:-1], old, subjects)


def test_a_tied_challenger_needs_a_clear_ck48_gain():
    rng, labels, subjects = _ck48_world()
    old = _answers(rng, labels, 0.90)
    slightly = old.copy()
    slightly[np.flatnonzero(old != labels)[:3]] = labels[old != labels][:3]
    clearly = np.where(rng.random(len(labels)) < 0.7, labels, old)
    from xfer_keras.training.dev_sets import balanced_accuracy

    def row(model, full, pred):
        r = _row(model, full, balanced_accuracy(labels, pred))
        r["ckplus48_pred"] = pred
        return r

    shipped = row("shipped", 0.9537, old)
    chosen = choose_model([shipped, row("slightly", 0.9520, slightly)], 1 / 84, labels, subjects)
    assert chosen["model"] == "shipped" and chosen["challenger"] == "slightly"
    low, high = chosen["ckplus48_gain_interval"]
    assert low <= 0 < high
    chosen = choose_model([shipped, row("clearly", 0.9520, clearly)], 1 / 84, labels, subjects)
    assert chosen["model"] == "clearly" and chosen["ckplus48_gain_interval"][0] > 0
    # beaten beyond the margin on CK+ full-res, the incumbent is out without a test
    chosen = choose_model([shipped, row("better", 0.99, slightly)], 1 / 84, labels, subjects)
    assert chosen["model"] == "better" and "ckplus48_gain_interval" not in chosen


def test_the_chooser_reproduces_the_shipped_settings_on_real_frames(ckplus_dir,
                                                                    shipped_classifier, tmp_path):
    """Known answer, end to end on the real dev sets: with the class mix its prior correction
    was chosen with, ``choose_image_settings.py`` picks the shipped model's own framing (box,
    no margin) and power (0.75), and as the only model it is the incumbent that stays."""
    import importlib.util
    import json

    from xfer_keras.models.classifier import EmotionClassifier

    spec = importlib.util.spec_from_file_location(
        "choose_image_settings", Path(__file__).resolve().parents[1] / "scripts" /
        "choose_image_settings.py")
    chooser = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(chooser)
    clf = shipped_classifier
    mix = clf.config.prior_correction["prior"]
    copy = tmp_path / "shipped.keras"
    EmotionClassifier(clf.model, dict(clf.config.to_dict(),
                                      extra=dict(clf.config.extra,
                                                 training_class_mix=mix))).save(copy)
    out = tmp_path / "choice.json"
    assert chooser.main([str(copy), "--json", str(out), "--cache", ""]) == 0
    choice = json.loads(out.read_text())
    assert choice["tie_margin"] == pytest.approx(1 / 84)  # the real label counts
    best = choice["best"]
    assert best["model"] == str(copy) and "ckplus48_gain_interval" not in best
    assert (best["framing"], best["power"]) == ("box, margin 0.0", clf.config.prior_correction[
        "power"]) == ("box, margin 0.0", 0.75)
    assert best["ckplus_fullres"]["balanced_accuracy"] > 0.94
    assert len(best["ckplus48_pred"]) == best["ckplus48"]["n"]
