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
    assert np.isclose(np.mean([w[l] for l in labels]), 1.0)


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
    from xfer_keras.report.confusion import plot_confusion

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
