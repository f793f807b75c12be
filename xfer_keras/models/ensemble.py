"""Join independently trained classifiers side by side: one flat graph, their mean logit.

>>> from xfer_keras.models.ensemble import join_classifiers
>>> joined = join_classifiers([clf_a, clf_b])        # an EmotionClassifier
>>> joined.save("joined.keras")                       # one .keras file, loads like any other

Why: two nets trained from different starts often answer better together than either alone
(where their errors differ; a partner much weaker than the other adds nothing, see
``docs/image_model.md``, session 26), but their weights cannot be averaged
(:mod:`~xfer_keras.training.weight_average` needs one start: the units of separate runs are
permuted). Joining keeps every member whole and
costs one forward pass per member. The joined model is still *one* classifier to the rest of the
package, so nothing downstream changes:

* **One flat graph.** Each member's layers are copied (weights included, float32, names prefixed
  ``m1_``, ``m2_``, ...) onto one shared input; nothing is nested, so every layer is a node of the
  top-level graph, as in :mod:`~xfer_keras.models.resnet_bam`.
* **One Grad-CAM layer.** The members' Grad-CAM layers (all of one resolution) are concatenated
  into one layer named as theirs (``bam3``), and each member's deeper layers read its own channels
  back through a :class:`ChannelSlice`. Grad-CAM at the joined layer is
  ``relu(sum over all members' channels of mean-gradient x activation)`` of the joined logit:
  the sum of the members' maps before the ReLU, each weighted by its share of the logit.
* **One head.** ``logits`` is a ``Dense`` on the members' concatenated pooled features whose
  kernel stacks ``w_k x kernel_k`` and whose bias is ``sum w_k x bias_k``: exactly the weighted
  mean of the members' logits. Extra heads (:mod:`~xfer_keras.models.heads`, e.g. ``fer2013``)
  are stacked the same way, so ``with_head`` works unchanged.

The members must share input size, channels, preprocessing, class names and extra heads, and each
must have a ``logits`` layer and the Grad-CAM layer; the config is the first member's (framing,
mirror averaging and prior correction are re-chosen for the joined model by
``scripts/choose_image_settings.py``), with ``extra["ensemble"]`` naming the members and the
posed training subjects of all of them.
"""

from __future__ import annotations

import copy
from pathlib import Path

import keras
import numpy as np

from xfer_keras.training.weight_average import (IncompatibleMembersError, file_record,
                                                float32_layer, member_weights)


@keras.saving.register_keras_serializable(package="xfer_keras")
class ChannelSlice(keras.layers.Layer):
    """Channels ``start:stop`` of the last axis: a joined model's member reads its own part of
    the joined Grad-CAM layer."""

    def __init__(self, start: int, stop: int, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= int(start) < int(stop):
            raise ValueError(f"need 0 <= start < stop, got {start}:{stop}")
        self.start, self.stop = int(start), int(stop)

    def call(self, x):
        # a split, not x[..., start:stop]: the gradient of a split is a concatenation, which
        # LiteRT runs (the Grad-CAM export), while that of a strided slice is not a LiteRT op
        channels = int(x.shape[-1])
        if self.stop > channels:
            raise ValueError(f"channels {self.start}:{self.stop} of a tensor with {channels}")
        cuts = [c for c in (self.start, self.stop) if 0 < c < channels]
        parts = keras.ops.split(x, cuts, axis=-1) if cuts else [x]
        return parts[1 if self.start > 0 else 0]

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.stop - self.start)

    def get_config(self):
        return {**super().get_config(), "start": self.start, "stop": self.stop}


def _copy_graph(model, tensors: dict, prefix: str, hold: str | None = None):
    """Call a renamed float32 copy of each layer of ``model`` (a functional model whose layers
    are each called once) on the new tensors in ``tensors`` (``id(old tensor) -> new tensor``),
    in graph order, and copy its weights. Layers whose inputs are not (yet) mapped wait; the
    output of layer ``hold`` is returned instead of being mapped, so its successors wait for the
    caller to map it. The ``logits`` and ``predictions`` layers are left out (the joined model
    has its own head). Returns the new tensor of ``hold`` (None without one)."""
    held = None
    for depth in sorted(model._nodes_by_depth, reverse=True):
        for node in model._nodes_by_depth[depth]:
            layer = node.operation
            if isinstance(layer, keras.layers.InputLayer) or layer.name in ("logits", "predictions"):
                continue
            if id(node.outputs[0]) in tensors or any(
                    id(t) not in tensors for t in node.arguments.keras_tensors):
                continue  # done before, or waits for a held tensor
            if len(layer._inbound_nodes) != 1:
                raise IncompatibleMembersError(f"layer {layer.name!r} is called more than once; "
                                               "only plain graphs can be joined")
            twin = float32_layer(layer, prefix + layer.name)
            swap = lambda t: tensors[id(t)] if isinstance(t, keras.KerasTensor) else t  # noqa: E731
            out = twin(*keras.tree.map_structure(swap, node.arguments.args),
                       **keras.tree.map_structure(swap, node.arguments.kwargs))
            twin.set_weights(layer.get_weights())
            if layer.name == hold:
                held = out
                continue
            for old, new in zip(node.outputs, keras.tree.flatten(out)):
                tensors[id(old)] = new
    return held


def _check(members, layer: str) -> None:
    first = members[0]
    keys = ("input_size", "channels", "preprocessing", "class_names")
    for index, other in enumerate(members[1:], start=1):
        for key in keys:
            if getattr(other.config, key) != getattr(first.config, key):
                raise IncompatibleMembersError(
                    f"member {index} has {key} {getattr(other.config, key)!r}, member 0 "
                    f"{getattr(first.config, key)!r}")
        if sorted(other.heads) != sorted(first.heads):
            raise IncompatibleMembersError(f"member {index} has heads {sorted(other.heads)}, "
                                           f"member 0 {sorted(first.heads)}")
    shapes = set()
    for index, clf in enumerate(members):
        names = {lyr.name for lyr in clf.model.layers}
        if "logits" not in names or layer not in names:
            raise IncompatibleMembersError(f"member {index} ({clf.model.name}) needs a 'logits' "
                                           f"layer and the Grad-CAM layer {layer!r}")
        shapes.add(tuple(clf.model.get_layer(layer).output.shape[1:3]))
    if len(shapes) != 1:
        raise IncompatibleMembersError(f"the members' {layer!r} maps differ in size: {shapes}")


def _stacked(specs, weights) -> tuple[np.ndarray, np.ndarray]:
    """Kernel and bias of one Dense on the members' concatenated features whose output is the
    weighted mean of the members' Dense outputs."""
    kernel = np.concatenate([w * np.asarray(k, np.float64) for w, (k, _) in zip(weights, specs)])
    bias = sum(w * np.asarray(b, np.float64) for w, (_, b) in zip(weights, specs))
    return kernel.astype(np.float32), bias.astype(np.float32)


def _member_record(clf, weight: float) -> dict:
    extra = clf.config.extra
    teacher = (extra.get("distillation") or {}).get("teacher")
    return {**file_record(clf), "weight": float(weight),
            "architecture": clf.config.architecture, "seed": extra.get("seed"),
            "teachers": [Path(t).name for t in teacher.split(" + ")] if teacher else [],
            "best_epoch": extra.get("best_epoch"), "wall_minutes": extra.get("wall_minutes"),
            "best_val_accuracy": extra.get("best_val_accuracy")}


def join_classifiers(members, weights=None, layer: str | None = None):
    """A new :class:`~xfer_keras.models.classifier.EmotionClassifier` answering with the weighted
    mean logit of ``members`` (default: equal weights), Grad-CAM at their joined ``layer``
    (default: the first member's Grad-CAM layer). The members are not changed."""
    from xfer_keras.models.classifier import EmotionClassifier

    members = list(members)
    if len(members) < 2:
        raise IncompatibleMembersError(f"joining needs at least two members, got {len(members)}")
    weights = member_weights(len(members), weights)
    layer = layer or members[0].gradcam_layer
    _check(members, layer)

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")  # BAM builds its gates under it
    try:
        first = members[0].model
        image = keras.Input(shape=first.input_shape[1:], name="image")
        maps = [{id(clf.model.inputs[0]): image} for clf in members]
        parts = [_copy_graph(clf.model, tensors, f"m{k}_", hold=layer)
                 for k, (clf, tensors) in enumerate(zip(members, maps), start=1)]
        joined = keras.layers.Concatenate(name=layer)(parts)
        pooled, stop = [], 0
        for k, (clf, part, tensors) in enumerate(zip(members, parts, maps), start=1):
            start, stop = stop, stop + int(part.shape[-1])
            tensors[id(clf.model.get_layer(layer).output)] = ChannelSlice(
                start, stop, name=f"m{k}_{layer}_channels")(joined)
            _copy_graph(clf.model, tensors, f"m{k}_")
            pooled.append(tensors[id(clf.model.get_layer("logits").input)])
        features = keras.layers.Concatenate(name="joined_features")(pooled)
        dense = keras.layers.Dense(len(members[0].class_names), name="logits")
        logits = dense(features)
        dense.set_weights(list(_stacked(
            [clf.model.get_layer("logits").get_weights() for clf in members], weights)))
        probs = keras.layers.Activation("softmax", dtype="float32", name="predictions")(logits)
        model = keras.Model(image, probs, name=f"joined_{len(members)}")
    finally:
        keras.mixed_precision.set_global_policy(previous)

    config = copy.deepcopy(members[0].config)
    config.gradcam_layer = layer
    for name in members[0].heads:
        specs = [(clf.config.extra["heads"][name]["kernel"], clf.config.extra["heads"][name]["bias"])
                 for clf in members]
        kernel, bias = _stacked(specs, weights)
        config.extra["heads"][name].update(kernel=kernel.tolist(), bias=bias.tolist())
    subjects = sorted(set().union(*(clf.config.extra.get("posed_training", {}).get("subjects", ())
                                    for clf in members)))
    if subjects:
        config.extra["posed_training"] = {
            **config.extra.get("posed_training", {}), "subjects": subjects,
            "rule": "the union of the members' posed training subjects; left out of every "
                    "CK+48 figure of this model"}
    config.extra["ensemble"] = {
        "layer": layer,
        "how": "one flat graph: the members side by side on one input, their Grad-CAM layers "
               f"concatenated as {layer!r}, the weighted mean of their logits (every head)",
        "members": [_member_record(clf, w) for clf, w in zip(members, weights)]}
    config.architecture = " + ".join(str(clf.config.architecture) for clf in members)
    return EmotionClassifier(model, config)
