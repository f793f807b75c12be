"""Image training recipe: a few steps on real FER2013 images, checkpoints, evaluation tables."""

import numpy as np
import pytest

import keras

from xfer_keras.emotions import EMOTIONS7
from xfer_keras.models.classifier import EmotionClassifier
from xfer_keras.models.registry import create, model_config
from xfer_keras.training.image import (PAPER_RECIPE, TrainRecipe, class_weights,
                                       evaluate_classifier, fit_classifier, per_class_table)


def test_paper_recipe():
    assert (PAPER_RECIPE.learning_rate, PAPER_RECIPE.batch_size, PAPER_RECIPE.epochs) == (1e-5, 64, 100)
    assert (PAPER_RECIPE.reduce_lr_factor, PAPER_RECIPE.reduce_lr_patience) == (0.1, 5)


def test_class_weights_favour_rare_classes():
    labels = np.array([0] * 90 + [1] * 10)
    w = class_weights(labels, num_classes=2, power=1.0)
    assert w[1] > w[0]
    assert np.isclose(np.mean([w[label] for label in labels]), 1.0)


def test_per_class_table_matches_sklearn():
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 7, 200), rng.integers(0, 7, 200)
    table, cm = per_class_table(y, p)
    pr, rc, f1, sup = precision_recall_fscore_support(y, p, labels=range(7), zero_division=0)
    np.testing.assert_allclose(table.loc[list(EMOTIONS7), "precision"], pr)
    np.testing.assert_allclose(table.loc[list(EMOTIONS7), "f1"], f1)
    np.testing.assert_array_equal(cm, confusion_matrix(y, p, labels=range(7)))
    assert table.loc["macro avg", "support"] == 200


@pytest.mark.real_data
def test_few_steps_on_real_fer2013(fer2013_dir, tmp_path):
    from xfer_keras.data.image_folders import encode_labels, list_fer2013, load_images
    from xfer_keras.evaluation.confusion import plot_confusion

    train = list_fer2013("train", root=fer2013_dir.parent)
    train = train.groupby("emotion", group_keys=False).head(12).reset_index(drop=True)
    x = load_images(train["path"], size=48, channels=1)
    y = encode_labels(train["emotion"])
    keras.utils.set_random_seed(0)
    model = create("resnet_small_bam", input_size=48, channels=1)
    clf = EmotionClassifier(model, model_config("resnet_small_bam", model=model))
    ckpt = tmp_path / "best.keras"
    recipe = TrainRecipe(learning_rate=1e-3, batch_size=16, epochs=2, early_stopping_patience=0)
    history = fit_classifier(clf, x, y, x[::3], y[::3], recipe=recipe, checkpoint=ckpt,
                             steps_per_epoch=2)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
    assert ckpt.is_file() and not list(tmp_path.glob("*.tmp*"))
    best = EmotionClassifier.load(ckpt)
    assert best.config.extra["best_epoch"] in (1, 2)
    ev = evaluate_classifier(best, x, y, already_resized=True)
    assert 0.0 <= ev.accuracy <= 1.0 and ev.confusion.sum() == len(y)
    assert list(ev.table.index) == list(EMOTIONS7) + ["macro avg"]
    assert "| happiness |" in ev.markdown()
    plot_confusion(ev.confusion, EMOTIONS7, tmp_path / "cm.png", title="test")
    assert (tmp_path / "cm.png").stat().st_size > 1000


def test_strategy_hook_default_strategy(tmp_path):
    import tensorflow as tf

    strategy = tf.distribute.get_strategy()
    with strategy.scope():
        model = create("tiny_bam", input_size=32, channels=1)
    clf = EmotionClassifier(model, model_config("tiny_bam", model=model, input_size=32, channels=1))
    x = np.random.default_rng(0).integers(0, 256, (16, 32, 32, 1), dtype=np.uint8)
    y = np.arange(16) % 7
    h = fit_classifier(clf, x, y, recipe=TrainRecipe(learning_rate=1e-3, batch_size=8, epochs=1,
                                                      early_stopping_patience=0, augment=False),
                       strategy=strategy)
    assert len(h.history["loss"]) == 1


def test_two_head_loss_adds_the_scaled_second_cross_entropy():
    """``w1[c1] * CE1 + s * w2[c2] * CE2`` per sample, with the class weights of each head's
    target class; s = 0 leaves the first head alone."""
    from keras import ops

    from xfer_keras.training.two_heads import joint_targets, two_head_loss

    k = 3
    first = np.array([[0.7, 0.2, 0.1], [0.0, 0.0, 1.0]], np.float32)   # vote distributions
    second = np.array([1, 0])                                           # one-hot labels
    y_true = joint_targets(first, second, k)
    p1 = np.array([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6]], np.float32)
    p2 = np.array([[0.1, 0.8, 0.1], [0.5, 0.25, 0.25]], np.float32)
    y_pred = np.concatenate([p1, p2], axis=1)
    w1, w2 = [1.0, 2.0, 0.5], [1.5, 1.0, 3.0]
    ce1 = -(first * np.log(p1)).sum(1) * np.take(w1, first.argmax(1))
    ce2 = -np.log(p2[np.arange(2), second]) * np.take(w2, second)
    for scale in (1.0, 0.3, 0.0):
        got = ops.convert_to_numpy(two_head_loss(w1, w2, second_scale=scale)(y_true, y_pred))
        np.testing.assert_allclose(got, ce1 + scale * ce2, rtol=1e-5)
