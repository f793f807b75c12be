"""The EMO protocol: subject-grouped runs, honest metrics, result tables, tuning on training only."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from xfer_keras.data import planted_sequences
from xfer_keras.training.emo import ProtocolResult, run_protocol, subject_splits
from xfer_keras.training.emo_fit import validation_indices
from xfer_keras.training.metrics import binary_metrics, majority_baseline

SMALL = {"filters": 4, "lstm_units": 8, "fc1_units": 8}
EMOTIONS = ("happiness", "sadness")


@pytest.fixture(scope="module")
def dataset():
    return planted_sequences(n=48, n_frames=4, n_landmarks=10, planted=(1, 5), n_subjects=8, seed=1)


@pytest.fixture(scope="module")
def result(dataset):
    return run_protocol(dataset, emotions=EMOTIONS, n_runs=2, hyperparams=SMALL, epochs=2,
                        progress=False, tag={"selection": "all"})


def test_metrics_expose_the_majority_trap():
    y = np.array([0] * 9 + [1])
    always_no = np.zeros(10)
    m = binary_metrics(y, always_no)
    assert m["accuracy"] == 0.9 and m["balanced_accuracy"] == 0.5 and m["f1"] == 0.0
    assert majority_baseline(y, y) == 0.9
    assert np.isnan(binary_metrics(np.zeros(4), np.full(4, 0.2))["roc_auc"])  # one class: undefined


@pytest.mark.parametrize("split", ["grouped", "kfold", "loso"])
def test_splits_never_share_a_subject(dataset, split):
    folds = subject_splits(dataset.subjects, split, seed=3, labels=dataset.emotions)
    assert len(folds) == {"grouped": 1, "kfold": 5, "loso": 8}[split]
    for train, test in folds:
        assert not set(dataset.subjects[train]) & set(dataset.subjects[test])
    if split != "grouped":  # every sample tested exactly once
        assert np.array_equal(np.sort(np.concatenate([te for _, te in folds])), np.arange(len(dataset)))


def test_validation_part_is_stratified_and_disjoint():
    y = np.array([0] * 30 + [1] * 6)
    fit, val = validation_indices(y, 0.1, seed=0)
    assert not set(fit) & set(val) and len(fit) + len(val) == 36
    assert set(y[val]) == {0, 1}


def test_runs_table_has_every_metric_and_the_baseline(result, dataset):
    runs = result.runs
    assert len(runs) == 2 * 2 * len(EMOTIONS)  # runs x variants x emotions
    for column in ["emotion", "variant", "run", "seed", "accuracy", "balanced_accuracy", "f1",
                   "roc_auc", "majority_baseline", "n_train", "n_test", "fit_seconds",
                   "n_landmarks", "selection"]:
        assert column in runs.columns, column
    assert set(runs["seed"]) == {0, 1} and (runs["n_landmarks"] == 10).all()
    assert runs[["accuracy", "balanced_accuracy", "f1", "majority_baseline"]].apply(
        lambda c: c.between(0, 1)).all().all()
    assert (runs["n_train"] + runs["n_test"] == len(dataset)).all()
    # run r is tested on the subject-grouped partition drawn with seed r
    for run in (0, 1):
        _, test = subject_splits(dataset.subjects, "grouped", seed=run, labels=dataset.emotions)[0]
        tested = result.predictions.query("run == @run and variant == 't-emo'")["id"]
        assert sorted(tested) == sorted(dataset.ids[test])


def test_summary_paper_table_and_ensemble(result, tmp_path):
    summary = result.summary()
    assert {"accuracy_mean", "accuracy_std", "majority_baseline_mean", "n_runs"} <= set(summary.columns)
    table = result.paper_table("accuracy", "t-emo")
    assert list(table.index) == ["Happiness", "Sadness"] and list(table.columns) == [10]
    assert all("±" in cell for cell in table[10])
    assert len(result.ensemble) == 4 and result.ensemble["accuracy"].between(0, 1).all()
    text = result.report()
    assert "T-EMO" in text and "R-EMO" in text and "majority_baseline" in text and "ensemble" in text
    paths = result.to_csv(tmp_path / "runs.csv")
    assert len(paths) == 3 and len(pd.read_csv(paths[0])) == len(result.runs)
    again = ProtocolResult.read_csv(paths[0])
    assert again.tag_columns == result.tag_columns == ("n_landmarks", "selection")
    assert again.report() == text


def test_concat_makes_landmark_count_columns(result, dataset):
    smaller = dataset.select_landmarks([1, 5, 7])
    other = run_protocol(smaller, emotions=["happiness"], variants=["t-emo"], n_runs=1,
                         hyperparams=SMALL, epochs=1, progress=False)
    both = ProtocolResult.concat([result, other])
    table = both.paper_table("balanced_accuracy", "t-emo")
    assert list(table.columns) == [10, 3]
    assert table.loc["Sadness", 3] == "n/a"  # not run with 3 landmarks


def test_pooled_net_trains_like_a_freshly_built_one(dataset):
    from xfer_keras.models.emo_net import build_emo_net
    from xfer_keras.training.emo import _predict_positive
    from xfer_keras.training.emo_fit import NetPool, fit_emo_net

    y = dataset.binary_labels("happiness")
    pool = NetPool()
    outputs = []
    for seed in (5, 6, 5):  # the second use of seed 5 reuses the net trained with seed 6
        net = pool.get(dataset.input_shape, "t-emo", SMALL, seed)
        fit_emo_net(net, dataset.X, y, epochs=2, seed=seed, compile=False)
        outputs.append(_predict_positive(net, dataset.X))
    fresh = build_emo_net(dataset.input_shape, seed=5, **SMALL)
    fit_emo_net(fresh, dataset.X, y, epochs=2, seed=5)
    np.testing.assert_array_equal(outputs[0], outputs[2])
    np.testing.assert_allclose(outputs[0], _predict_positive(fresh, dataset.X), atol=1e-6)


def test_tuner_sees_only_the_training_part(dataset, tmp_path, monkeypatch):
    import keras_tuner

    from xfer_keras.training.tuning import hyperparams_table, tune_emotions

    seen = []
    original = keras_tuner.GridSearch.search

    def spy(self, x, y, validation_data=None, **kwargs):
        seen.append(len(x) + len(validation_data[0]))
        return original(self, x, y, validation_data=validation_data, **kwargs)

    monkeypatch.setattr(keras_tuner.GridSearch, "search", spy)  # our GridSearch subclasses it
    train, _ = subject_splits(dataset.subjects, "grouped", seed=0)[0]
    grid = {"filters": (2, 4), "lstm_units": (4,), "fc1_units": (4,)}
    tuned = tune_emotions(dataset, ["happiness"], train_idx=train, grid=grid, epochs=1,
                          directory=tmp_path, progress=False)
    assert seen == [len(train)]
    assert tuned.loc[0, "filters"] in (2, 4)
    assert list(hyperparams_table(tuned).columns) == [
        "Convolutional Filters (F)", "LSTM Units (Q)", "FC1 Neurons (R)"]
    assert any(Path(tmp_path).iterdir())  # tuner state went where it was told
