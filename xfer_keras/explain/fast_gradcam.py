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

from xfer_keras.explain.cam_maps import FusedCAM, fast_engine_supports

__all__ = ["FusedGradCAM", "fast_engine_supports"]


class FusedGradCAM(FusedCAM):
    """Probabilities, targets and Grad-CAM maps of a batch from one traced forward pass: the
    one-layer ``gradcam`` case of :class:`~xfer_keras.explain.cam_maps.FusedCAM`.

    ``model``: a Keras model (never changed). ``layer``: the Grad-CAM layer name. ``mirror``:
    also run each input's horizontal mirror image and average (the ``tta_flip`` classifiers).
    ``class_weights``: the classifier's prior correction (probabilities times these weights,
    renormalised, before the argmax; the explained logit, and so the map, is unchanged by it).
    Called as ``fused(x, targets=None, out_hw=None, batch_size=64)`` -> ``(probs (N, K)
    float32, cams (N, H, W) float32 in [0, 1], targets (N,) int)``.
    """

    def __init__(self, model, layer: str, mirror: bool = False, class_weights=None):
        super().__init__(model, (layer,), "gradcam", mirror=mirror, class_weights=class_weights)
        self.layer = layer
