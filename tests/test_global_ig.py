"""Global IG (paper §3.3): planted landmarks are recovered; result object; baseline rules."""

from __future__ import annotations

import numpy as np
import pytest

import xfer_keras  # noqa: F401
import keras

from xfer_keras.data import planted_sequences
from xfer_keras.explain.global_ig import (
    GlobalIGResult, alpha_curve, global_ig, landmark_mask, typical_samples,
)

PLANTED = (1, 5, 8, 13, 17, 22, 26, 30, 33, 38)


def _emo_net(input_shape, seed=0):
    try:
        from xfer_keras.models.emo_net import build_emo_net
        return build_emo_net(input_shape, seed=seed)
    except ImportError:  # pragma: no cover - before the EMO module exists
        P, C, L, _ = input_shape
        inp = keras.Input(input_shape)
        x = keras.layers.TimeDistributed(keras.layers.Conv2D(32, (C, 1), activation="relu"))(inp)
        x = keras.layers.TimeDistributed(keras.layers.Flatten())(x)
        x = keras.layers.Dense(64, activation="relu")(keras.layers.LSTM(64)(x))
        return keras.Model(inp, keras.layers.Dense(2, activation="softmax")(x))


@pytest.fixture(scope="module")
def data():
    return planted_sequences(n=120, n_frames=6, n_landmarks=40, planted=PLANTED, seed=3)


@pytest.fixture(scope="module")
def model(data):
    keras.utils.set_random_seed(0)
    m = _emo_net(data.input_shape)
    m.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
    y = data.binary_labels("happiness")
    m.fit(data.X, y, epochs=20, batch_size=16, verbose=0)
    assert m.evaluate(data.X, y, verbose=0)[1] > 0.9
    return m


@pytest.fixture(scope="module")
def result(model, data):
    return global_ig({"happiness": model}, data, n_steps=16)


def test_planted_landmarks_are_recovered(result):
    top = set(result.top_k("happiness", len(PLANTED)).tolist())
    recovered = len(top & set(PLANTED)) / len(PLANTED)
    assert recovered >= 0.9, result.ranking_table(len(PLANTED))


@pytest.mark.parametrize("rule", ["medoid", "least_target"])
def test_other_baseline_rules_recover_too(model, data, rule):
    res = global_ig({"happiness": model}, data, baseline_rule=rule, n_steps=8, max_samples=12)
    assert len(set(res.top_k("happiness", 10).tolist()) & set(PLANTED)) >= 9
    assert {b["rule"] for b in res.baselines["happiness"]} == {rule}


def test_five_baselines_one_per_other_emotion(result, data):
    bases = result.baselines["happiness"]
    assert [b["emotion"] for b in bases] == ["anger", "disgust", "fear", "sadness", "surprise"]
    for b in bases:
        position = int(np.flatnonzero(data.ids == b["id"])[0])
        assert data.emotions[position] == b["emotion"]
    assert result.per_baseline["happiness"].shape == (5, data.n_landmarks)
    np.testing.assert_allclose(result.per_baseline["happiness"].mean(axis=0), result.scores["happiness"])
    # explained samples are exactly the training samples of the emotion
    assert result.sample_ids["happiness"] == data.ids[data.emotions == "happiness"].tolist()
    assert result.seen_ids <= set(data.ids)
    d = result.diagnostics["happiness"]
    assert d["mean_score_input"] > 0.8 and d["mean_score_baseline"] < 0.2


def test_result_tables_and_json_roundtrip(result, data, tmp_path):
    frame = result.to_dataframe()
    assert len(frame) == data.n_landmarks
    assert set(frame["rank"]) == set(range(1, data.n_landmarks + 1))
    top1 = frame.loc[frame["rank"] == 1, "column"].item()
    assert top1 == result.ranking("happiness")[0]
    table = result.ranking_table(5)
    assert table.shape == (5, 1) and list(table.columns) == ["happiness"]
    result.to_json(tmp_path / "g.json")
    back = GlobalIGResult.from_json(tmp_path / "g.json")
    np.testing.assert_array_equal(back.ranking("happiness"), result.ranking("happiness"))
    assert back.meta["method"] == "riemann_right"


def test_top_k_maps_columns_to_topology_ids(model, data):
    # a pruned dataset keeps its topology ids: columns 0..19 are landmarks 20..39
    half = data.select_landmarks(np.arange(20, 40))
    keras.utils.set_random_seed(1)
    m = _emo_net(half.input_shape)
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    res = global_ig({"happiness": m}, half, n_steps=4, max_samples=4)
    columns = res.top_k("happiness", 5)
    np.testing.assert_array_equal(res.top_k("happiness", 5, ids=True), columns + 20)
    with pytest.raises(ValueError):
        res.top_k("happiness", 21)


def test_typical_samples_confidence_rule(model, data):
    models = {e: model for e in ("anger", "happiness")}  # one model standing in for two emotions
    chosen = typical_samples(data, models, rule="confidence")
    p = model.predict(data.X, verbose=0)[:, 1]
    for e in ("anger", "happiness"):
        positions = np.flatnonzero(data.emotions == e)
        assert chosen[e] == (int(positions[np.argmax(p[positions])]), "confidence")
    assert chosen["fear"][1] == "medoid"  # no model: falls back to the medoid
    with pytest.raises(ValueError):
        typical_samples(data, models, rule="nearest")


def test_landmark_mask_shape_and_values():
    a = np.zeros((2, 3, 2, 5, 1))
    a[1, :, :, 4, 0] = -1.0
    mask = landmark_mask(a)
    assert mask.shape == (2, 5)
    assert mask[1, 4] == 6.0 and mask.sum() == 6.0


def test_alpha_curve_figure2_data(model, data):
    pos = int(np.flatnonzero(data.emotions == "happiness")[0])
    neg = data.ids[np.flatnonzero(data.emotions == "sadness")[0]]
    curve = alpha_curve(model, data, pos, neg, n_alphas=21)
    assert len(curve) == 21 and curve["alpha"].iloc[0] == 0.0 and curve["alpha"].iloc[-1] == 1.0
    assert curve["probability"].iloc[0] < 0.5 < curve["probability"].iloc[-1]
