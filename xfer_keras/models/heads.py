"""Extra output heads: one trunk, a second answer to a second question.

FER2013's folder labels and FER+'s ten-rater votes disagree on a third of FER2013's test images,
so one softmax cannot serve both. A classifier can carry extra heads: a ``Dense`` on the same
pooled features as its own ``logits`` layer, trained together with it
(``scripts/train_default_model.py --second-head fer2013``). The shipped model keeps one output
(the pipeline's head); each extra head's weights live in the config
(``extra["heads"][name] = {"kernel", "bias", "labels"}``, a few thousand numbers), so the
``.keras`` file stays one model and one file. :func:`head_view` rebuilds a head as a view model
that shares the trunk's layers (nothing is copied or changed).
"""

from __future__ import annotations

import numpy as np


def pooled_features(model):
    """The tensor the model's ``logits`` layer reads (the pooled, dropped-out features)."""
    names = {layer.name for layer in model.layers}
    if "logits" not in names:
        raise ValueError(f"{model.name}: extra heads need a 'logits' layer")
    return model.get_layer("logits").input


def training_model(model, name: str, init_from_logits: bool = True, init_spec: dict | None = None):
    """``(two-output model, head Dense layer)``: ``inputs -> concat([model.output, softmax(head)])``
    (N, 2K), for training both heads at once. The head starts from ``init_spec`` (a stored head,
    when training resumes a model that has one), else as a copy of ``logits``."""
    import keras

    logits = model.get_layer("logits")
    head = keras.layers.Dense(logits.units, name=f"logits_{name}")
    probs = keras.layers.Activation("softmax", dtype="float32",
                                    name=f"predictions_{name}")(head(pooled_features(model)))
    if init_spec is not None:
        kernel = np.asarray(init_spec["kernel"], np.float32)
        if kernel.shape != tuple(np.shape(logits.kernel)):
            raise ValueError(f"head {name!r}: stored kernel {kernel.shape} does not fit "
                             f"logits {tuple(np.shape(logits.kernel))}")
        head.set_weights([kernel, np.asarray(init_spec["bias"], np.float32)])
    elif init_from_logits:
        head.set_weights([np.asarray(w) for w in logits.get_weights()])
    joined = keras.layers.Concatenate(dtype="float32", name="heads")([model.output, probs])
    return keras.Model(model.input, joined, name=f"{model.name}_with_{name}"), head


def head_spec(kernel, bias, labels: str) -> dict:
    """A head's kernel and bias as the JSON the config stores (float32 values)."""
    return {"kernel": np.asarray(kernel, np.float32).tolist(),
            "bias": np.asarray(bias, np.float32).tolist(), "labels": labels}


def head_weights(layer, labels: str) -> dict:
    """A Dense layer's weights as the JSON the config stores."""
    return head_spec(*layer.get_weights(), labels)


def head_view(model, spec: dict, name: str):
    """The model with its ``logits`` layer replaced by the stored head ``spec`` (a view: the
    trunk's layers are shared; the new ``logits`` and softmax are new layers)."""
    import keras

    kernel = np.asarray(spec["kernel"], np.float32)
    bias = np.asarray(spec["bias"], np.float32)
    pooled = pooled_features(model)
    if kernel.shape != (int(pooled.shape[-1]), len(bias)):
        raise ValueError(f"head {name!r}: kernel {kernel.shape} does not fit features of width "
                         f"{pooled.shape[-1]}")
    dense = keras.layers.Dense(len(bias), name="logits", dtype="float32")
    logits = dense(pooled)
    dense.set_weights([kernel, bias])
    probs = keras.layers.Activation("softmax", dtype="float32", name="predictions")(logits)
    return keras.Model(model.input, probs, name=f"{model.name}_{name}_head")
