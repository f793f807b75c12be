"""Training a classifier's own head and one extra head together (:mod:`xfer_keras.models.heads`).

Targets are the two label sets side by side, ``(N, 2K)``: the first K columns for the
classifier's head (e.g. FER+ vote distributions), the last K for the extra head (e.g. FER2013's
one-hot labels), so the usual augmentation pipeline carries them unchanged. The loss is the sum
of both heads' cross-entropies (the second one scaled by ``second_scale``), each sample weighted
by its class in that head (inverse frequency, softened;
:func:`xfer_keras.training.image.class_weights`). ``accuracy`` (what model
selection monitors) is the mean of both heads' accuracies; ``first_accuracy`` and
``second_accuracy`` are logged too.
"""

from __future__ import annotations

import numpy as np


def joint_targets(first: np.ndarray, second_labels: np.ndarray, k: int) -> np.ndarray:
    """``(N, 2K)`` float32: the first head's (N, K) targets and the second head's one-hot labels."""
    onehot = np.eye(k, dtype=np.float32)[np.asarray(second_labels, int)]
    return np.concatenate([np.asarray(first, np.float32), onehot], axis=1)


def two_head_loss(first_weights, second_weights, second_scale: float = 1.0):
    """Per-sample ``w1[c1] * CE(head 1) + s * w2[c2] * CE(head 2)`` over ``(N, 2K)`` targets and
    predictions (probabilities), in ``keras.ops``. ``second_scale`` (s) below 1 lets the extra
    head's labels pull the shared trunk less."""
    from keras import ops

    w1 = np.asarray(first_weights, np.float32)
    w2 = np.asarray(second_weights, np.float32) * np.float32(second_scale)
    k = len(w1)

    def loss(y_true, y_pred):
        y_true = ops.cast(y_true, "float32")
        y_pred = ops.clip(ops.cast(y_pred, "float32"), 1e-7, 1.0)
        total = 0.0
        for part, weights in ((slice(0, k), w1), (slice(k, 2 * k), w2)):
            t, p = y_true[:, part], y_pred[:, part]
            ce = -ops.sum(t * ops.log(p), axis=1)
            total = total + ce * ops.take(ops.convert_to_tensor(weights), ops.argmax(t, axis=1))
        return total

    return loss


def two_head_metrics(k: int):
    """``accuracy`` (mean of both heads'), ``first_accuracy``, ``second_accuracy``."""
    import keras
    from keras import ops

    def hits(y_true, y_pred, part):
        return ops.cast(ops.argmax(y_true[:, part], axis=1) == ops.argmax(y_pred[:, part], axis=1),
                        "float32")

    def first(y_true, y_pred):
        return hits(y_true, y_pred, slice(0, k))

    def second(y_true, y_pred):
        return hits(y_true, y_pred, slice(k, 2 * k))

    def both(y_true, y_pred):
        return 0.5 * (first(y_true, y_pred) + second(y_true, y_pred))

    return [keras.metrics.MeanMetricWrapper(both, name="accuracy"),
            keras.metrics.MeanMetricWrapper(first, name="first_accuracy"),
            keras.metrics.MeanMetricWrapper(second, name="second_accuracy")]


class HeadIntoConfig:
    """Keras callback factory: after each validation, copy the extra head's weights into the
    classifier's config, so the checkpoint written at that epoch carries them."""

    def __new__(cls, classifier, head_layer, name: str, labels: str):
        import keras

        from xfer_keras.models.heads import head_weights

        class _Callback(keras.callbacks.Callback):
            def on_test_end(self, logs=None):
                heads = dict(classifier.config.extra.get("heads") or {})
                heads[name] = head_weights(head_layer, labels)
                classifier.config.extra["heads"] = heads

        return _Callback()


def fit_head_on_frozen_trunk(classifier, x_train, y_train, x_val, y_val, name: str,
                             labels: str, epochs: int = 80, patience: int = 8, seed: int = 0,
                             batch_size: int = 256) -> dict:
    """Fit an extra head (softmax regression) on the classifier's frozen pooled features and
    store it in ``classifier.config.extra["heads"][name]``; the classifier's own output is
    unchanged. Features of each image and its mirror (the classifier averages both views when
    ``tta_flip``); class-weighted cross-entropy; the head starts as a copy of ``logits``;
    the epoch with the best validation accuracy is kept. Returns the fit's record."""
    import keras

    from xfer_keras.models.heads import head_weights, pooled_features
    from xfer_keras.training.image import class_weights

    features = keras.Model(classifier.model.input, pooled_features(classifier.model))

    def pooled(x, mirror=False):
        x = classifier.preprocess(x)
        return np.asarray(features.predict(x[:, :, ::-1] if mirror else x, batch_size=512,
                                           verbose=0), np.float32)

    f_train = np.concatenate([pooled(x_train), pooled(x_train, mirror=True)])
    y_fit = np.concatenate([y_train, y_train]).astype(int)
    f_val, y_val = pooled(x_val), np.asarray(y_val, int)
    k = len(classifier.class_names)
    keras.utils.set_random_seed(seed)
    head = keras.layers.Dense(k, name=f"logits_{name}")
    model = keras.Sequential([keras.Input((f_train.shape[1],)), head,
                              keras.layers.Activation("softmax")])
    head.set_weights([np.asarray(w) for w in classifier.model.get_layer("logits").get_weights()])
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
    stop = keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=patience,
                                         restore_best_weights=True)
    history = model.fit(f_train, y_fit, validation_data=(f_val, y_val), epochs=epochs,
                        batch_size=batch_size, class_weight=class_weights(y_fit, k, 0.5),
                        callbacks=[stop], verbose=0)
    heads = dict(classifier.config.extra.get("heads") or {})
    heads[name] = head_weights(head, labels)
    classifier.config.extra["heads"] = heads
    record = {"method": "softmax regression on the frozen pooled features (image + mirror)",
              "epochs_run": len(history.history["loss"]),
              "best_val_accuracy": float(max(history.history["val_accuracy"])),
              "n_train_images": int(len(x_train)), "n_val_images": int(len(x_val))}
    classifier.config.extra[f"head_{name}_fit"] = record
    return record
