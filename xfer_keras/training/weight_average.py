"""Weight averaging ("model soup"): one network whose weights are the mean of several.

Networks fine-tuned from the same weights usually sit in one basin of the loss, so the mean of
their weights is a network too, often better than each (Wortsman et al. 2022, "Model soups";
Izmailov et al. 2018, SWA), and unlike a mean of their answers it costs one forward pass, so the
pipeline's latency and Grad-CAM are those of a single model. Networks trained from different
initialisations do not average (their units are permuted); :func:`average_classifiers` cannot
tell and leaves that to the validation check that must follow, but it refuses members whose
layers, weight shapes or heads differ.

Everything averages, batch-norm statistics included (members this close share their feature
statistics); :func:`recompute_batchnorm` re-estimates them from images when they do not.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np


class IncompatibleMembersError(ValueError):
    """The members cannot be combined: for an average, they differ in layers, weight shapes or
    extra heads; for a join (:mod:`xfer_keras.models.ensemble`), in inputs, classes, heads or
    Grad-CAM layer."""


def float32_layer(layer, name: str | None = None):
    """A new, unbuilt layer of ``layer``'s class and config under the float32 policy (renamed to
    ``name`` if given). Layers it builds inside itself (BAM's gates) take the global policy:
    set it to float32 around the call that builds it."""
    config = layer.get_config()
    if name is not None:
        config["name"] = name
    if "dtype" in config:
        config["dtype"] = "float32"
    return layer.__class__.from_config(config)


def float32_clone(model):
    """A new model of the same graph with every layer under the float32 policy and no weights
    set: a checkpoint written during mixed-precision training computes in bf16, which the
    package's oneDNN cap cannot run on CPU (its variables are float32 already)."""
    import keras

    # layers built inside a layer (BAM's gates) take the global policy, not their parent's
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        return keras.models.clone_model(model, clone_function=float32_layer)
    finally:
        keras.mixed_precision.set_global_policy(previous)


def member_weights(n: int, weights=None) -> np.ndarray:
    """The members' shares: ``weights`` (default: equal) scaled to sum to 1. Raises ValueError
    for the wrong count, a negative weight or a zero sum."""
    weights = np.full(n, 1.0 / n) if weights is None else np.asarray(weights, np.float64)
    if weights.shape != (n,) or (weights < 0).any() or weights.sum() <= 0:
        raise ValueError(f"weights must be {n} non-negative numbers, got {weights}")
    return weights / weights.sum()


def _signature(model) -> list:
    return [(w.path, tuple(w.shape)) for w in model.weights]


def file_record(clf) -> dict:
    """A member's file name and sha256 for a combined model's record (``file`` None in memory)."""
    from xfer_keras.assets import sha256_of

    path = getattr(clf, "model_file", None)
    if path is None or not Path(path).is_file():
        return {"file": None}
    return {"file": Path(path).name, "sha256": sha256_of(path)}


def average_classifiers(members, weights=None):
    """A new :class:`~xfer_keras.models.classifier.EmotionClassifier` whose every weight (trunk,
    batch-norm statistics, each stored extra head) is the weighted mean of the members'. The
    members are not changed; the config is a copy of the first member's, with the mean heads and
    ``extra["weight_average"]`` (the members' files, sha256 and weights) for the model card.
    The average computes in float32 whatever the members' precision policy."""
    from xfer_keras.models.classifier import EmotionClassifier

    members = list(members)
    if len(members) < 2:
        raise IncompatibleMembersError(f"averaging needs at least two members, got {len(members)}")
    weights = member_weights(len(members), weights)
    first = members[0]
    signature = _signature(first.model)
    heads = sorted((first.config.extra.get("heads") or {}))
    for index, other in enumerate(members[1:], start=1):
        if _signature(other.model) != signature:
            raise IncompatibleMembersError(
                f"member {index} ({other.model.name}) has other layers or weight shapes than "
                f"member 0 ({first.model.name})")
        if sorted((other.config.extra.get("heads") or {})) != heads:
            raise IncompatibleMembersError(f"member {index} has heads "
                                           f"{sorted(other.config.extra.get('heads') or {})}, "
                                           f"member 0 {heads}")
    mean = [sum(w * np.asarray(v, np.float64) for w, v in zip(weights, values))
            for values in zip(*(m.model.get_weights() for m in members))]
    model = float32_clone(first.model)
    model.set_weights([m.astype(np.float32) for m in mean])
    config = copy.deepcopy(first.config)
    for name in heads:
        specs = [m.config.extra["heads"][name] for m in members]
        for key in ("kernel", "bias"):
            config.extra["heads"][name][key] = sum(
                w * np.asarray(s[key], np.float64) for w, s in zip(weights, specs)
            ).astype(np.float32).tolist()
    config.extra["weight_average"] = {
        "members": [file_record(m) for m in members], "weights": weights.tolist(),
        "batchnorm": "averaged"}
    return EmotionClassifier(model, config)


def recompute_batchnorm(clf, images, batch_size: int = 256) -> None:
    """Re-estimate every batch-norm layer's moving statistics of ``clf`` (in place: call it on
    an average, never on a user's model) as the plain mean over ``images`` (the training arrays:
    0-255, the model's input size, no blur), batch by batch."""
    import keras

    from xfer_keras.models.classifier import apply_preprocessing

    layers = [layer for layer in clf.model._flatten_layers(include_self=False)
              if isinstance(layer, keras.layers.BatchNormalization)]
    if not layers:
        return
    saved = [layer.momentum for layer in layers]
    # training=True below moves only these statistics (in this package's networks dropout comes
    # after the last batch-norm layer, so it cannot reach them; no optimizer step runs)
    for layer in layers:
        layer.moving_mean.assign(np.zeros(layer.moving_mean.shape, np.float32))
        layer.moving_variance.assign(np.ones(layer.moving_variance.shape, np.float32))
    try:
        for step, start in enumerate(range(0, len(images), batch_size)):
            for layer in layers:  # cumulative mean: new = old * k/(k+1) + batch / (k+1)
                layer.momentum = step / (step + 1.0)
            batch = np.asarray(images[start:start + batch_size], np.float32)
            clf.model(apply_preprocessing(batch, clf.preprocessing).astype(np.float32),
                      training=True)
    finally:
        for layer, momentum in zip(layers, saved):
            layer.momentum = momentum
    clf.config.extra.setdefault("weight_average", {})["batchnorm"] = \
        f"recomputed on {len(images)} images"
