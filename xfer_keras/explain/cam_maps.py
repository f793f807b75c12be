"""Class activation maps at any layers, fused with the classifier's forward pass: Grad-CAM,
Grad-CAM++, LayerCAM, HiResCAM, and a fusion of several layers; plus image-gradient maps
(Integrated Gradients, SmoothGrad).

>>> from xfer_keras.explain.cam_maps import FusedCAM
>>> cam = FusedCAM(model, layers=("bam1", "bam2"), method="layercam", mirror=True)
>>> probs, maps, targets = cam(x, targets=None, out_hw=(224, 224))   # x: preprocessed inputs

:class:`FusedCAM` is :class:`~xfer_keras.explain.fast_gradcam.FusedGradCAM` generalised: one
traced function does the forward pass (with the mirror view and the prior correction), takes the
gradients of the explained logit at every requested layer, and turns each layer's activations
``A`` and gradients ``G`` into a map:

* ``gradcam``: ``relu(sum_c mean_hw(G_c) A_c)`` (Selvaraju et al. 2017);
* ``gradcam++``: channel weights ``sum_hw(alpha relu(G_c))`` with
  ``alpha = G^2 / (2 G^2 + sum_hw(A) G^3)``, normalised to sum 1 over the cells
  (Chattopadhay et al. 2018, the exponential-score form, as tf-keras-vis);
* ``layercam``: ``relu(sum_c relu(G_c) A_c)`` per cell (Jiang et al. 2021);
* ``hirescam``: ``relu(sum_c G_c A_c)`` per cell (Draelos & Carin 2020).

Each layer's map is resized to the output size and min-max scaled to ``[0, 1]``; with several
layers the maps are averaged and scaled again (the *fusion*). With one layer and ``gradcam`` the
result is FusedGradCAM's (FusedGradCAM is that case). :func:`xfer_keras.explain.litert_gradcam.
litert_model_for` exports any of them to LiteRT. The model is only called, never changed.

:func:`gradient_maps` gives Integrated Gradients (the project's engine,
:mod:`xfer_keras.explain.integrated_gradients`, black baseline) and SmoothGrad maps over the
model input, as ``|attribution|`` summed over channels, resized to the crop and scaled.
"""

from __future__ import annotations

import numpy as np

#: the gradient CAM methods :class:`FusedCAM` computes
CAM_METHODS = ("gradcam", "gradcam++", "layercam", "hirescam")


def fast_engine_supports(model) -> bool:
    """True when the score (a pre-softmax logit) can be read off ``model`` without cloning it."""
    names = {layer.name for layer in model.layers}
    if "logits" in names:
        return True
    activation = getattr(model.layers[-1], "activation", None)
    return getattr(activation, "__name__", "linear") == "linear"


def parse_layers(layer) -> tuple[str, ...]:
    """``"bam1,bam2"``, ``"bam1+bam2"``, ``("bam1", "bam2")`` or ``"bam3"`` -> a tuple of names."""
    if isinstance(layer, str):
        names = [p.strip() for p in layer.replace("+", ",").split(",")]
    else:
        names = [str(p).strip() for p in layer]
    names = [n for n in names if n]
    if not names:
        raise ValueError(f"no layer named in {layer!r}")
    return tuple(names)


def _scale01(maps):
    """Per-map min-max scaling of ``(N, H, W)`` tensors (a flat map becomes zeros)."""
    import tensorflow as tf

    lo = tf.reduce_min(maps, axis=[1, 2], keepdims=True)
    hi = tf.reduce_max(maps, axis=[1, 2], keepdims=True)
    span = hi - lo
    flat = span <= 1e-12
    return tf.where(flat, tf.zeros_like(maps), (maps - lo) / tf.where(flat, tf.ones_like(span), span))


def cam_of(method: str, feats, grads):
    """The ``(N, h, w)`` map of one layer from its activations and gradients ``(N, h, w, C)``."""
    import tensorflow as tf

    if method == "gradcam":
        weights = tf.reduce_mean(grads, axis=[1, 2], keepdims=True)
        return tf.nn.relu(tf.reduce_sum(feats * weights, axis=-1))
    if method == "gradcam++":
        g2 = tf.square(grads)
        g3 = g2 * grads
        total = tf.reduce_sum(feats, axis=[1, 2], keepdims=True)
        denom = 2.0 * g2 + total * g3 + tf.cast(g2 == 0.0, g2.dtype)
        alpha = g2 / denom
        norm = tf.reduce_sum(alpha, axis=[1, 2], keepdims=True)
        alpha = alpha / (norm + tf.cast(norm == 0.0, norm.dtype))
        weights = tf.reduce_sum(alpha * tf.nn.relu(grads), axis=[1, 2], keepdims=True)
        return tf.nn.relu(tf.reduce_sum(feats * weights, axis=-1))
    if method == "layercam":
        return tf.nn.relu(tf.reduce_sum(feats * tf.nn.relu(grads), axis=-1))
    if method == "hirescam":
        return tf.nn.relu(tf.reduce_sum(feats * grads, axis=-1))
    raise ValueError(f"method must be one of {CAM_METHODS}, got {method!r}")


class FusedCAM:
    """Probabilities, targets and CAM maps (``method`` at ``layers``, fused when several) of a
    batch from one traced forward pass. Called as ``cam(x, targets=None, out_hw=None,
    batch_size=64)`` -> ``(probs (N, K), maps (N, H, W) in [0, 1], targets (N,))``."""

    def __init__(self, model, layers, method: str = "gradcam", mirror: bool = False,
                 class_weights=None):
        import keras
        import tensorflow as tf

        if method not in CAM_METHODS:
            raise ValueError(f"method must be one of {CAM_METHODS}, got {method!r}")
        if not fast_engine_supports(model):
            raise ValueError(f"{model.name}: the fused engines need a 'logits' layer or a "
                             "linear output; use engine='tf-keras-vis'")
        self.model, self.method, self.mirror = model, method, bool(mirror)
        self.layers = parse_layers(layers)
        self.class_weights = (None if class_weights is None else
                              tf.constant(np.asarray(class_weights, np.float32)[None]))
        names = {lyr.name for lyr in model.layers}
        logits = model.get_layer("logits").output if "logits" in names else model.output
        feats = [model.get_layer(name).output for name in self.layers]
        self._sub = keras.Model(model.input, [*feats, logits, model.output],
                                name=f"{model.name}_fused_cam")
        shape = [None, *model.input_shape[1:]]
        signature = [tf.TensorSpec(shape, tf.float32), tf.TensorSpec([None], tf.int32),
                     tf.TensorSpec([2], tf.int32)]
        self._run = tf.function(self._graph, input_signature=signature, reduce_retracing=True)
        self.calls = 0

    def _graph(self, x, targets, out_hw):
        import tensorflow as tf

        x = tf.convert_to_tensor(x)
        n = tf.shape(x)[0]
        views = tf.concat([x, tf.reverse(x, axis=[2])], axis=0) if self.mirror else x
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(views)
            *feats, logits, probs = self._sub(views, training=False)
            if self.mirror:
                probs = 0.5 * (probs[:n] + probs[n:])
            if self.class_weights is not None:
                probs = probs * self.class_weights
                probs = probs / tf.reduce_sum(probs, axis=1, keepdims=True)
            chosen = tf.where(targets < 0, tf.cast(tf.argmax(probs, axis=1), tf.int32), targets)
            view_targets = tf.concat([chosen, chosen], axis=0) if self.mirror else chosen
            score = tf.gather(logits, view_targets, axis=1, batch_dims=1)
        grads = tape.gradient(score, feats)
        maps = []
        for a, g in zip(feats, grads):
            cams = cam_of(self.method, a, g)
            if self.mirror:
                cams = 0.5 * (cams[:n] + tf.reverse(cams[n:], axis=[2]))
            cams = tf.image.resize(cams[..., None], out_hw, method="bilinear")[..., 0]
            maps.append(_scale01(cams))
        fused = maps[0] if len(maps) == 1 else _scale01(tf.add_n(maps) / float(len(maps)))
        return probs, fused, chosen

    def __call__(self, x, targets=None, out_hw=None, batch_size: int = 64):
        """``(probs (N, K), maps (N, H, W) in [0, 1], targets (N,))``; ``targets``: None (the
        predicted class) or one int per input (negative: the predicted class); ``out_hw``: the
        maps' size (default: the inputs')."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        n = len(x)
        t = np.full(n, -1, np.int32) if targets is None else np.asarray(targets, np.int32).reshape(n)
        hw = np.asarray(out_hw if out_hw is not None else x.shape[1:3], np.int32)
        probs, cams, chosen = [], [], []
        for start in range(0, n, max(1, int(batch_size))):
            self.calls += 1
            run = self._graph if self.calls == 1 else self._run  # eager first call: fast_gradcam's notes
            p, c, k = run(x[start:start + batch_size], t[start:start + batch_size], hw)
            probs.append(p.numpy())
            cams.append(c.numpy())
            chosen.append(k.numpy())
        return (np.concatenate(probs).astype(np.float32), np.concatenate(cams).astype(np.float32),
                np.concatenate(chosen).astype(int))


# --------------------------------------------------------------------------- image gradients
def _logits_model(model):
    import keras

    names = {layer.name for layer in model.layers}
    if "logits" in names:
        return keras.Model(model.input, model.get_layer("logits").output,
                           name=model.name + "_logits_view")
    return model


class GradientMaps:
    """Integrated Gradients and SmoothGrad maps of a classifier's model input.

    ``method``: ``"ig"`` (the project's IG engine, ``n_steps`` Gauss-Legendre points, a black
    image as baseline) or ``"smoothgrad"`` (the mean gradient over ``n_samples`` copies of the
    input with Gaussian noise of ``noise`` times the input range; Smilkov et al. 2017). A
    ``tta_flip`` classifier's map is the mean over both views, the mirror's flipped back. The map
    is ``|attribution|`` summed over channels, lightly smoothed (a 3x3 box at the model's
    resolution), resized to the crop and min-max scaled."""

    def __init__(self, clf, method: str = "ig", n_steps: int = 32, n_samples: int = 32,
                 noise: float = 0.15, seed: int = 0):
        if method not in ("ig", "smoothgrad"):
            raise ValueError(f"method must be 'ig' or 'smoothgrad', got {method!r}")
        self.clf, self.method = clf, method
        self.n_steps, self.n_samples, self.noise = int(n_steps), int(n_samples), float(noise)
        self.seed = int(seed)
        self._view = None
        self._grad = None

    def _grad_fn(self):
        import tensorflow as tf

        if self._grad is None:
            view = self._view

            @tf.function(reduce_retracing=True)
            def grad(z, t):
                with tf.GradientTape() as tape:
                    tape.watch(z)
                    s = tf.gather(view(z, training=False), t, axis=1, batch_dims=1)
                return tape.gradient(s, z)

            self._grad = grad
        return self._grad

    def _attributions(self, x: np.ndarray, targets: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        if self.method == "ig":
            from xfer_keras.explain.integrated_gradients import integrated_gradients

            return integrated_gradients(self._view, x, baselines=None, target=targets,
                                        n_steps=self.n_steps)
        rng = np.random.default_rng(self.seed)
        span = float(x.max() - x.min()) or 1.0
        grad = self._grad_fn()
        out = np.zeros_like(x)
        for i in range(len(x)):
            noisy = x[i][None] + rng.normal(0.0, self.noise * span,
                                            (self.n_samples, *x.shape[1:])).astype(np.float32)
            g = grad(tf.constant(noisy), tf.constant(np.full(self.n_samples, targets[i], np.int32)))
            out[i] = np.asarray(g).mean(axis=0)
        return out

    def __call__(self, crops, targets=None) -> tuple[np.ndarray, np.ndarray]:
        """``(maps (N, H, W) in [0, 1], targets (N,))`` of raw uint8 crops ``(N, H, W, 3)``."""
        import cv2

        crops = np.asarray(crops)
        if self._view is None:
            self._view = _logits_model(self.clf.model)
        x = self.clf.preprocess(crops).astype(np.float32)
        if targets is None:
            targets = self.clf.proba_of_inputs(x).argmax(1)
        targets = np.asarray(targets, np.int32).reshape(len(x))
        attr = np.abs(self._attributions(x, targets)).sum(axis=-1)
        if getattr(self.clf.config, "tta_flip", False):
            flipped = np.abs(self._attributions(x[:, :, ::-1].copy(), targets)).sum(axis=-1)
            attr = 0.5 * (attr + flipped[:, :, ::-1])
        h, w = crops.shape[1:3]
        maps = np.stack([cv2.resize(cv2.blur(a.astype(np.float32), (3, 3)), (w, h),
                                    interpolation=cv2.INTER_LINEAR) for a in attr])
        lo = maps.min(axis=(1, 2), keepdims=True)
        span = maps.max(axis=(1, 2), keepdims=True) - lo
        maps = np.where(span > 1e-12, (maps - lo) / np.where(span > 1e-12, span, 1.0), 0.0)
        return maps.astype(np.float32), targets.astype(int)
