"""Weight averaging: the mean of the members' weights, heads included; members untouched; a
known batch-norm re-estimate; members that cannot be averaged refused."""

import numpy as np
import pytest

import xfer_keras  # noqa: F401  (environment before Keras)


def _classifier(seed: int, width: int = 4, heads: bool = True):
    import keras

    from xfer_keras.models.classifier import EmotionClassifier

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(keras.layers.ReLU(name="relu")(x))
    logits = keras.layers.Dense(7, name="logits")(x)
    model = keras.Model(inputs, keras.layers.Activation("softmax", name="predictions")(logits))
    rng = np.random.default_rng(seed)
    model.get_layer("bn").set_weights([rng.uniform(0.5, 2, width), rng.normal(size=width),
                                       rng.normal(size=width), rng.uniform(0.5, 2, width)])
    extra = {"heads": {"fer2013": {"kernel": rng.normal(size=(width, 7)).tolist(),
                                   "bias": rng.normal(size=7).tolist(),
                                   "labels": "fer2013"}}} if heads else {}
    return EmotionClassifier(model, {"input_size": 8, "channels": 1, "preprocessing": "unit",
                                     "extra": extra})


def _images(n=16, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 8, 8, 1)).astype(np.uint8)


def test_the_average_holds_the_mean_of_every_weight_and_head_and_leaves_the_members_alone():
    from xfer_keras.training.weight_average import average_classifiers

    a, b = _classifier(0), _classifier(1)
    before = [w.copy() for w in a.model.get_weights()], [w.copy() for w in b.model.get_weights()]
    soup = average_classifiers([a, b], weights=[3, 1])
    for got, wa, wb in zip(soup.model.get_weights(), *before):
        np.testing.assert_allclose(got, 0.75 * wa + 0.25 * wb, rtol=1e-5, atol=1e-6)
    for name in ("kernel", "bias"):
        np.testing.assert_allclose(soup.config.extra["heads"]["fer2013"][name],
                                   0.75 * np.asarray(a.config.extra["heads"]["fer2013"][name])
                                   + 0.25 * np.asarray(b.config.extra["heads"]["fer2013"][name]),
                                   rtol=1e-5, atol=1e-6)
    for member, weights in zip((a, b), before):  # untouched, and not sharing the soup's layers
        for got, want in zip(member.model.get_weights(), weights):
            np.testing.assert_array_equal(got, want)
    assert soup.model is not a.model and "weight_average" not in a.config.extra
    assert soup.config.extra["weight_average"]["weights"] == [0.75, 0.25]
    # a member averaged with itself answers as the member does, on both heads
    x = _images()
    same = average_classifiers([a, a])
    np.testing.assert_allclose(same.predict_proba(x), a.predict_proba(x), atol=1e-5)
    np.testing.assert_allclose(same.with_head("fer2013").predict_proba(x),
                               a.with_head("fer2013").predict_proba(x), atol=1e-5)


def test_the_average_round_trips_through_a_keras_file(tmp_path):
    from xfer_keras.models.classifier import EmotionClassifier
    from xfer_keras.training.weight_average import average_classifiers

    a_path, b_path = tmp_path / "a.keras", tmp_path / "b.keras"
    _classifier(0).save(a_path)
    _classifier(1).save(b_path)
    soup = average_classifiers([EmotionClassifier.load(a_path), EmotionClassifier.load(b_path)])
    soup.save(tmp_path / "soup.keras")
    back = EmotionClassifier.load(tmp_path / "soup.keras")
    x = _images()
    np.testing.assert_allclose(back.predict_proba(x), soup.predict_proba(x), atol=1e-6)
    members = back.config.extra["weight_average"]["members"]
    assert [m["file"] for m in members] == ["a.keras", "b.keras"]
    assert all(len(m["sha256"]) == 64 for m in members)


def test_members_that_cannot_be_averaged_are_refused():
    from xfer_keras.training.weight_average import IncompatibleMembersError, average_classifiers

    with pytest.raises(IncompatibleMembersError, match="weight shapes"):
        average_classifiers([_classifier(0), _classifier(1, width=6)])
    with pytest.raises(IncompatibleMembersError, match="heads"):
        average_classifiers([_classifier(0), _classifier(1, heads=False)])
    with pytest.raises(IncompatibleMembersError, match="two members"):
        average_classifiers([_classifier(0)])
    with pytest.raises(ValueError, match="non-negative"):
        average_classifiers([_classifier(0), _classifier(1)], weights=[1, -1])


def test_recomputed_batchnorm_statistics_are_the_mean_over_the_images():
    import keras

    from xfer_keras.training.weight_average import average_classifiers, recompute_batchnorm

    soup = average_classifiers([_classifier(0), _classifier(1)])
    x = _images(n=24, seed=3)
    conv = keras.Model(soup.model.input, soup.model.get_layer("conv").output)
    features = np.asarray(conv(x.astype(np.float32) / 255.0))  # "unit" scaling
    momentum = soup.model.get_layer("bn").momentum
    recompute_batchnorm(soup, x, batch_size=8)  # 3 equal batches: the mean of means is the mean
    bn = soup.model.get_layer("bn")
    np.testing.assert_allclose(np.asarray(bn.moving_mean), features.mean(axis=(0, 1, 2)),
                               rtol=1e-4, atol=1e-5)
    batch_vars = [features[i:i + 8].var(axis=(0, 1, 2)) for i in (0, 8, 16)]
    np.testing.assert_allclose(np.asarray(bn.moving_variance), np.mean(batch_vars, axis=0),
                               rtol=1e-3, atol=1e-5)
    assert bn.momentum == momentum
    assert soup.config.extra["weight_average"]["batchnorm"] == "recomputed on 24 images"


def test_an_average_of_mixed_precision_checkpoints_computes_in_float32():
    import keras

    from xfer_keras.training.weight_average import average_classifiers, float32_clone

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        a, b = _classifier(0), _classifier(1)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert a.model.get_layer("conv").compute_dtype == "bfloat16"
    soup = average_classifiers([a, b])
    assert {layer.compute_dtype for layer in soup.model.layers} == {"float32"}
    clone = float32_clone(a.model)
    clone.set_weights(a.model.get_weights())
    assert clone.get_layer("conv").compute_dtype == "float32"
    keras.mixed_precision.set_global_policy("mixed_bfloat16")  # as in a bf16 training process
    try:
        from xfer_keras.models.registry import create

        nested = create("tiny_bam", input_size=48, channels=1)  # BAM builds layers inside it
        nested_clone = float32_clone(nested)
        assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"  # restored
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert {layer.compute_dtype for layer in nested._flatten_layers()} >= {"bfloat16"}
    assert {layer.compute_dtype for layer in nested_clone._flatten_layers()} == {"float32"}
    x = _images().astype(np.float32) / 255.0  # (the bf16 member itself cannot run here)
    np.testing.assert_allclose(np.asarray(clone(x)),
                               np.asarray(average_classifiers([a, a]).model(x)), atol=1e-6)


def test_snapshots_are_written_every_n_epochs_and_average_back(tmp_path):
    from xfer_keras.models.classifier import EmotionClassifier
    from xfer_keras.training.image import Snapshots
    from xfer_keras.training.weight_average import average_classifiers

    clf = _classifier(0)
    callback = Snapshots(clf, tmp_path / "snaps", every=2)
    for epoch in range(5):
        clf.model.get_layer("logits").bias.assign(np.full(7, float(epoch), np.float32))
        callback.on_epoch_end(epoch)
    files = sorted(p.name for p in (tmp_path / "snaps").iterdir())
    assert files == ["epoch_002.keras", "epoch_004.keras"]
    assert "snapshot_epoch" not in clf.config.extra
    snaps = [EmotionClassifier.load(tmp_path / "snaps" / name) for name in files]
    assert [s.config.extra["snapshot_epoch"] for s in snaps] == [2, 4]
    soup = average_classifiers(snaps)  # the biases were 1 and 3
    np.testing.assert_allclose(np.asarray(soup.model.get_layer("logits").bias), 2.0)
    with pytest.raises(ValueError, match="every"):
        Snapshots(clf, tmp_path, every=0)


def test_the_script_writes_the_average_and_scores_it_beside_the_members(tmp_path, monkeypatch,
                                                                      capsys):
    import importlib.util

    from pathlib import Path

    from xfer_keras.models.classifier import EmotionClassifier
    from xfer_keras.training import tie_evidence

    script_path = Path(__file__).resolve().parents[1] / "scripts" / "average_weights.py"
    spec = importlib.util.spec_from_file_location("average_weights", script_path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    x = _images(n=12, seed=5)
    labels = np.arange(12) % 7
    monkeypatch.setattr(tie_evidence, "validation_sets",
                        lambda cache: {"ferplus": (x, labels), "fer2013": (x, labels)})
    paths = [tmp_path / "a.keras", tmp_path / "b.keras"]
    for seed, path in enumerate(paths):
        _classifier(seed).save(path)
    out = tmp_path / "soup.keras"
    assert script.main([*map(str, paths), "--out", str(out), "--mirror", "on",
                        "--score-members", "--compare", str(paths[0])]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  ")]
    assert len(lines) == 4 and lines[-1].startswith(f"  average of 2 -> {out}:")
    assert all("fer2013 " in line and "(n=12)" in line for line in lines)
    assert lines[0].split(":", 1)[1] == lines[2].split(":", 1)[1]  # member a == compared a
    soup = EmotionClassifier.load(out)
    assert soup.config.tta_flip and len(soup.config.extra["weight_average"]["members"]) == 2
    with pytest.raises(SystemExit):
        script.main([str(paths[0]), "--out", str(out)])
    # --join: members from different starts side by side, the mean logit, scored the same way
    joined_path = tmp_path / "joined.keras"
    assert script.main([*map(str, paths), "--join", "--out", str(joined_path)]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  ")]
    assert len(lines) == 1 and lines[0].startswith(f"  join of 2 -> {joined_path}:")
    joined = EmotionClassifier.load(joined_path)
    assert len(joined.config.extra["ensemble"]["members"]) == 2
    assert "weight_average" not in joined.config.extra
    with pytest.raises(SystemExit):
        script.main([*map(str, paths), "--join", "--recompute-bn", "--out", str(joined_path)])
