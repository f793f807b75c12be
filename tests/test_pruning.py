"""Landmark pruning: K lists, selections, deletion curves, and no test leakage in the ranking."""

from __future__ import annotations

import numpy as np
import pytest

import xfer_keras  # noqa: F401
import keras
import tensorflow as tf

from xfer_keras.data import planted_sequences
from xfer_keras.explain import global_ig as global_ig_module
from xfer_keras.training.pruning import (
    PAPER_KS, default_ks, deletion_area, deletion_curve, pruning_experiment, select_columns,
)

PLANTED = (1, 6, 11)


def test_default_ks():
    assert default_ks(468, quick=False) == (468, 234, 128, 64, 32, 16) == PAPER_KS[468]
    assert default_ks(68, quick=False)[0] == 68 and len(default_ks(68, quick=False)) == 6
    assert default_ks(468, quick=True) == (468, 64, 16)
    assert default_ks(40, quick=False) == (40, 20, 10, 5)


def test_select_columns():
    ranking = np.array([7, 3, 9, 0, 1, 2, 4, 5, 6, 8])
    np.testing.assert_array_equal(select_columns(ranking, 3, "ig"), [3, 7, 9])
    a = select_columns(ranking, 4, "random", seed=[1, 2])
    np.testing.assert_array_equal(a, select_columns(ranking, 4, "random", seed=[1, 2]))
    assert len(set(a.tolist())) == 4 and a.max() < 10
    with pytest.raises(ValueError):
        select_columns(ranking, 11, "ig")
    with pytest.raises(ValueError):
        select_columns(ranking, 2, "best")


def planted_logit_model(input_shape, planted, gain=4.0, bias=6.0):
    """P(is emotion) = softmax of a logit that reads only the planted landmarks' y drift."""
    mask = np.zeros(input_shape[2], np.float32)
    mask[list(planted)] = 1.0

    def logit(z):
        drift = z[:, -1, 1, :, 0] - z[:, 0, 1, :, 0]  # (N, L)
        s = gain * tf.reduce_sum(drift * mask, axis=1, keepdims=True) - bias
        return tf.concat([-s / 2, s / 2], axis=1)

    inp = keras.Input(input_shape)
    out = keras.layers.Softmax()(keras.layers.Lambda(logit)(inp))
    return keras.Model(inp, out)


def test_deletion_curve_ranking_beats_random():
    data = planted_sequences(n=40, n_frames=5, n_landmarks=16, planted=PLANTED, seed=4)
    model = planted_logit_model(data.input_shape, PLANTED)
    y = data.binary_labels("happiness")
    ranking = np.array(list(PLANTED) + [c for c in range(16) if c not in PLANTED])
    curve = deletion_curve(model, data.X, ranking, y=y, n_random=8, seed=0)
    assert set(curve["order"]) == {"ranking", "random"}
    assert {"n_removed", "fraction_removed", "score", "accuracy"} <= set(curve)
    full = curve[(curve["order"] == "ranking") & (curve["n_removed"] == 0)]["score"].item()
    assert full > 0.9
    after3 = curve[(curve["order"] == "ranking") & (curve["n_removed"] == 3)]["score"].item()
    assert after3 < 0.5  # the three planted landmarks carry the whole signal
    area = deletion_area(curve).set_index("order")
    assert area.loc["ranking", "area_mean"] < area.loc["random", "area_mean"] - 2 * area.loc["random", "area_std"]
    with pytest.raises(ValueError):
        deletion_curve(model, data.X, ranking[:5], y=y)


def test_deletion_curve_zero_baseline_removes_everything():
    data = planted_sequences(n=20, n_frames=4, n_landmarks=8, planted=(2,), seed=5)
    model = planted_logit_model(data.input_shape, (2,))
    curve = deletion_curve(model, data.X, np.arange(8), baseline="zeros", steps=[0, 8], n_random=1)
    end = curve[curve["n_removed"] == 8]["score"]
    np.testing.assert_allclose(end, 1 / (1 + np.exp(6.0)), rtol=1e-4)  # logit = -bias


@pytest.fixture(scope="module")
def experiment():
    """A tiny pruning run on planted data, with a spy on every dataset the ranking sees."""
    data = planted_sequences(n=48, n_frames=5, n_landmarks=16, planted=PLANTED, seed=6, n_subjects=8)
    seen: list[set] = []
    original = global_ig_module.global_ig

    def spy(models, dataset, *args, **kwargs):
        seen.append(set(dataset.ids))
        return original(models, dataset, *args, **kwargs)

    global_ig_module.global_ig = spy
    try:
        result = pruning_experiment(
            data, ks=(16, 3), emotions=["happiness"], variants=["t-emo"], n_runs=2, epochs=1,
            patience=1, ig_n_steps=4, deletion_random=2, progress=False)
    finally:
        global_ig_module.global_ig = original
    return data, result, seen


def test_ranking_never_sees_test_samples(experiment):
    from xfer_keras.emotions import EMOTIONS6
    from xfer_keras.training.emo import subject_splits

    data, result, seen = experiment
    assert len(seen) == 2  # re-ranked inside every run
    labels6 = np.array([e if e in EMOTIONS6 else "other" for e in data.emotions])
    for run, ids in enumerate(seen):
        (train, test), = subject_splits(data.subjects, "grouped", run, labels=labels6, test_size=0.2)
        assert ids == set(data.ids[train])  # exactly the run's training part
        assert not ids & set(data.ids[test])
        assert not result.rankings[(run, 0, "t-emo")].seen_ids & set(data.ids[test])
    assert (result.leakage["overlap"] == 0).all() and len(result.leakage) == 2


def test_pruning_tables(experiment):
    data, result, _ = experiment
    runs = result.runs
    assert len(runs) == 2 * (1 + 2)  # runs x (all + K=3 x {ig, random})
    assert set(runs["selection"]) == {"all", "ig", "random"}
    assert {"accuracy", "balanced_accuracy", "roc_auc", "majority_baseline"} <= set(runs)
    for selection in ("ig", "random"):
        table = result.table("t-emo", selection)
        assert list(table.columns) == [16, 3] and list(table.index) == ["Happiness"]
        assert "±" in table.iloc[0, 0]
    assert result.difference("t-emo").shape == (1, 1)
    sel = result.selections
    assert len(sel) == 4 and all(len(x) == 3 for x in sel["landmarks"])
    assert not result.deletion_summary().empty
    text = result.report()
    assert "Table 6" in text and "leakage check: 0" in text


def test_full_landmark_column_is_a_run_protocol_run(experiment):
    """Same partition, seeds and recipe: the K = L rows equal run_protocol's for that seed."""
    from xfer_keras.training.emo import run_protocol

    data, result, _ = experiment
    proto = run_protocol(data, emotions=["happiness"], variants=["t-emo"], n_runs=1, epochs=1,
                         patience=1, seed=0, progress=False).runs.iloc[0]
    ours = result.runs[(result.runs["selection"] == "all") & (result.runs["run"] == 0)].iloc[0]
    for column in ("n_train", "n_test", "n_pos_test", "majority_baseline", "accuracy"):
        assert ours[column] == proto[column], column
    assert abs(ours["roc_auc"] - proto["roc_auc"]) < 1e-6 or (np.isnan(ours["roc_auc"]) and np.isnan(proto["roc_auc"]))
