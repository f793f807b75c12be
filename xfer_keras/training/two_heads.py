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


def fit_head_on_frozen_trunk(classifier, x_train, targets, name: str, labels: str, *,
                             l2: float = 1e-4, class_weight_power: float = 0.5, x_val=None,
                             y_val=None, targets_about: str = "labels") -> dict:
    """Fit (or refit) the extra head ``name`` on the classifier's frozen pooled features and store
    it in ``classifier.config.extra["heads"][name]``; the trunk and the classifier's own output
    are unchanged, so its main answers, Grad-CAM and speed are too.

    A head trained with the trunk fits features seen through dropout and augmentation; the
    finished trunk's clean features deserve their own fit. Softmax regression on the features of
    each training image and its mirror (the views the classifier averages), toward ``targets``
    (class indices, or distributions: e.g. labels blended with teachers' answers,
    ``targets_about`` says which), each image weighted by its target's class weight (inverse
    frequency ** ``class_weight_power``, as training weights the heads), plus ``l2 / 2 *
    |kernel|^2``. The problem is convex and solved to convergence by L-BFGS from the stored head:
    one answer, no epoch count, no seed, nothing chosen on validation (``x_val``/``y_val``, if
    given, are only scored before and after, both views averaged). Returns the fit's record
    (also stored as ``extra["head_<name>_fit"]``)."""
    import keras
    from scipy.optimize import minimize
    from scipy.special import log_softmax, softmax

    from xfer_keras.models.heads import head_spec, pooled_features

    features = keras.Model(classifier.model.input, pooled_features(classifier.model))

    def pooled(x):  # (2, N, D): each image, then its mirror
        x = classifier.preprocess(x)
        return np.stack([np.asarray(features.predict(view, batch_size=512, verbose=0),
                                    np.float64) for view in (x, x[:, :, ::-1])])

    k = len(classifier.class_names)
    y = np.asarray(targets)
    y = np.eye(k)[y.astype(int)] if y.ndim == 1 else y.astype(np.float64)
    if y.shape != (len(x_train), k):
        raise ValueError(f"targets {np.shape(targets)} do not fit {len(x_train)} images and "
                         f"{k} classes")
    y = y / y.sum(1, keepdims=True)
    f_train = pooled(x_train)
    f_train = f_train.reshape(-1, f_train.shape[-1])
    y2 = np.concatenate([y, y])
    prior = np.maximum(y2.mean(0), 1e-12)
    class_weight = prior ** -class_weight_power
    sample_weight = y2 @ class_weight
    sample_weight = sample_weight / sample_weight.sum()
    stored = (classifier.config.extra.get("heads") or {}).get(name)
    start = ([np.asarray(stored["kernel"]), np.asarray(stored["bias"])] if stored else
             [np.asarray(w) for w in classifier.model.get_layer("logits").get_weights()])
    d = start[0].shape[0]

    def unpack(theta):
        return theta[:d * k].reshape(d, k), theta[d * k:]

    def loss_and_grad(theta):
        kernel, bias = unpack(theta)
        log_p = log_softmax(f_train @ kernel + bias, axis=1)
        loss = -(sample_weight[:, None] * y2 * log_p).sum() + l2 / 2 * (kernel ** 2).sum()
        g = sample_weight[:, None] * (np.exp(log_p) - y2)
        return loss, np.concatenate([(f_train.T @ g + l2 * kernel).ravel(), g.sum(0)])

    def accuracy(head):
        if x_val is None:
            return None
        probs = softmax(f_val @ head[0] + head[1], axis=-1).mean(0)  # both views averaged
        return float((probs.argmax(1) == np.asarray(y_val)).mean())

    f_val = pooled(x_val) if x_val is not None else None
    before = accuracy(start)
    result = minimize(loss_and_grad, np.concatenate([start[0].ravel(), start[1]]), jac=True,
                      method="L-BFGS-B", options={"maxiter": 5000})
    kernel, bias = unpack(result.x)
    heads = dict(classifier.config.extra.get("heads") or {})
    heads[name] = head_spec(kernel, bias, labels)
    classifier.config.extra["heads"] = heads
    record = {"method": "softmax regression on the frozen pooled features (image + mirror), "
                        "class-weighted, L2, solved by L-BFGS from the stored head",
              "targets": targets_about, "l2": float(l2),
              "class_weight_power": float(class_weight_power),
              "n_train_images": int(len(x_train)), "iterations": int(result.nit),
              "converged": bool(result.success), "final_loss": float(result.fun),
              "val_accuracy_before": before, "val_accuracy_after": accuracy((kernel, bias)),
              "n_val_images": None if x_val is None else int(len(x_val))}
    classifier.config.extra[f"head_{name}_fit"] = record
    return record
