"""Classify and Grad-CAM in one traced TensorFlow function: the fast Grad-CAM engine.

>>> from xfer_keras.explain.fast_gradcam import FusedGradCAM
>>> fused = FusedGradCAM(model, layer="bam2", mirror=True)
>>> probs, cams, targets = fused(x, targets=None, out_hw=(224, 224))   # x: preprocessed inputs

Why: tf-keras-vis (the reference engine, :class:`~xfer_keras.explain.gradcam.GradCAM` with
``engine="tf-keras-vis"``) rebuilds a sub-model and runs eagerly on every call, and the
classifier's probabilities need a second forward pass; on a 48x48 model nearly all of that is
overhead. Here a sub-model ``inputs -> [layer output, logits, probabilities]`` is built once and
one ``tf.function`` with a fixed signature (any batch size, no retracing) does, per call:

1. one forward pass over the crops (and their mirror images when ``mirror``: both views in one
   batch), giving the probabilities (the mean of both views, as
   :meth:`EmotionClassifier.proba_of_inputs`) and the explained class (given, or the argmax);
2. the gradients of that class's logit at the layer; the Grad-CAM map
   ``relu(sum_c mean_hw(grad_c) * A_c)`` of each view, exactly as tf-keras-vis' ``Gradcam``;
3. with ``mirror``, the mean of the two maps, the mirror's flipped back; then bilinear resize to
   the crop resolution and per-map min-max scaling to ``[0, 1]`` (as the reference engine).

The first call runs the same function eagerly and later calls run it traced: tracing costs about
a second on a 2-core CPU, more than one eager call, so explaining a single image from the command
line does not pay for a graph it would use once.

The model must expose a ``logits`` layer (every registry model) or have a linear output; a
softmax output without one is left to the reference engine (which clones and linearises it).
"""

from __future__ import annotations

import numpy as np


def fast_engine_supports(model) -> bool:
    """True when the score (a pre-softmax logit) can be read off ``model`` without cloning it."""
    names = {layer.name for layer in model.layers}
    if "logits" in names:
        return True
    activation = getattr(model.layers[-1], "activation", None)
    return getattr(activation, "__name__", "linear") == "linear"


class FusedGradCAM:
    """Probabilities, targets and Grad-CAM maps of a batch from one traced forward pass.

    ``model``: a Keras model (never changed). ``layer``: the Grad-CAM layer name. ``mirror``:
    also run each input's horizontal mirror image and average (the ``tta_flip`` classifiers).
    ``class_weights``: the classifier's prior correction (probabilities times these weights,
    renormalised, before the argmax; the explained logit, and so the map, is unchanged by it).
    """

    def __init__(self, model, layer: str, mirror: bool = False, class_weights=None):
        import keras
        import tensorflow as tf

        if not fast_engine_supports(model):
            raise ValueError(f"{model.name}: the fast Grad-CAM engine needs a 'logits' layer or a "
                             "linear output; use engine='tf-keras-vis'")
        self.model, self.layer, self.mirror = model, layer, bool(mirror)
        self.class_weights = (None if class_weights is None else
                              tf.constant(np.asarray(class_weights, np.float32)[None]))
        names = {lyr.name for lyr in model.layers}
        logits = model.get_layer("logits").output if "logits" in names else model.output
        self._sub = keras.Model(model.input, [model.get_layer(layer).output, logits, model.output],
                                name=f"{model.name}_fused_gradcam")
        shape = [None, *model.input_shape[1:]]
        signature = [tf.TensorSpec(shape, tf.float32), tf.TensorSpec([None], tf.int32),
                     tf.TensorSpec([2], tf.int32)]
        self._run = tf.function(self._graph, input_signature=signature, reduce_retracing=True)
        self.calls = 0

    def _graph(self, x, targets, out_hw):
        import tensorflow as tf

        x = tf.convert_to_tensor(x)  # the eager first call gets numpy arrays
        n = tf.shape(x)[0]
        views = tf.concat([x, tf.reverse(x, axis=[2])], axis=0) if self.mirror else x
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(views)
            feats, logits, probs = self._sub(views, training=False)
            if self.mirror:
                probs = 0.5 * (probs[:n] + probs[n:])
            if self.class_weights is not None:  # EmotionClassifier.correct_prior
                probs = probs * self.class_weights
                probs = probs / tf.reduce_sum(probs, axis=1, keepdims=True)
            chosen = tf.where(targets < 0, tf.cast(tf.argmax(probs, axis=1), tf.int32), targets)
            view_targets = tf.concat([chosen, chosen], axis=0) if self.mirror else chosen
            score = tf.gather(logits, view_targets, axis=1, batch_dims=1)
        grads = tape.gradient(score, feats)
        weights = tf.reduce_mean(grads, axis=[1, 2], keepdims=True)
        cams = tf.nn.relu(tf.reduce_sum(feats * weights, axis=-1))
        if self.mirror:
            cams = 0.5 * (cams[:n] + tf.reverse(cams[n:], axis=[2]))
        cams = tf.image.resize(cams[..., None], out_hw, method="bilinear")[..., 0]
        lo = tf.reduce_min(cams, axis=[1, 2], keepdims=True)
        hi = tf.reduce_max(cams, axis=[1, 2], keepdims=True)
        span = hi - lo
        flat = span <= 1e-12
        cams = tf.where(flat, tf.zeros_like(cams), (cams - lo) / tf.where(flat, tf.ones_like(span), span))
        return probs, cams, chosen

    def __call__(self, x, targets=None, out_hw=None, batch_size: int = 64):
        """``(probs (N, K) float32, cams (N, H, W) float32 in [0, 1], targets (N,) int)``.

        ``x``: preprocessed model inputs ``(N, h, w, c)``; ``targets``: None (the predicted class)
        or one int per input (negative: the predicted class); ``out_hw``: the maps' size
        (default: the inputs').
        """
        x = np.ascontiguousarray(x, dtype=np.float32)
        n = len(x)
        t = np.full(n, -1, np.int32) if targets is None else np.asarray(targets, np.int32).reshape(n)
        hw = np.asarray(out_hw if out_hw is not None else x.shape[1:3], np.int32)
        probs, cams, chosen = [], [], []
        for start in range(0, n, max(1, int(batch_size))):
            self.calls += 1
            run = self._graph if self.calls == 1 else self._run  # see the module notes
            p, c, k = run(x[start:start + batch_size], t[start:start + batch_size], hw)
            probs.append(p.numpy())
            cams.append(c.numpy())
            chosen.append(k.numpy())
        return (np.concatenate(probs).astype(np.float32), np.concatenate(cams).astype(np.float32),
                np.concatenate(chosen).astype(int))
