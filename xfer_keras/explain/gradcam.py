"""Grad-CAM (fast engine or tf-keras-vis), Grad-CAM++, ScoreCAM and LayerCAM (tf-keras-vis),
HiResCAM and multi-layer fusions (CAM engine), batched, never mutating the model.

>>> from xfer_keras.explain.gradcam import GradCAM
>>> cams = GradCAM(clf).explain(crops)               # (N, S, S) in [0, 1] at crop resolution
>>> probs, cams, targets = GradCAM(clf).classify_and_explain(crops)   # one forward pass
>>> cams = GradCAM(clf, method="gradcam++", layer="bam2").explain(crops, targets=[3, 3])
>>> cams = GradCAM(clf, method="layercam", layer="bam1,bam2", engine="cam").explain(crops)

* ``engine``: ``"fast"`` (:mod:`xfer_keras.explain.fast_gradcam`: classify and Grad-CAM in one
  traced function, equal to tf-keras-vis' Grad-CAM within 1e-4, tested on CK+), ``"litert"``
  (:mod:`xfer_keras.explain.litert_gradcam`: that function exported once and run by LiteRT,
  without TensorFlow; same test), ``"tf-keras-vis"`` (the reference; methods ``gradcam``,
  ``gradcam++``, ``scorecam``, ``layercam``), or ``"cam"`` / ``"cam-litert"``
  (:class:`~xfer_keras.explain.cam_maps.FusedCAM`: classify and ``gradcam``, ``gradcam++``,
  ``layercam`` or ``hirescam`` at one layer or several in one traced function, by TensorFlow or
  exported to LiteRT). ``"auto"`` (default), for ``method="gradcam"`` at one layer and a model
  that allows it (a ``logits`` layer or a linear output): LiteRT for a classifier loaded from a
  file when ``ai-edge-litert`` is installed (falling back, with a warning, when the export
  fails), else the fast engine; for ``hirescam`` or several layers: ``cam-litert`` likewise,
  else ``cam``; for the other methods: tf-keras-vis.
* ``layer``: one layer name, or several (``"bam1,bam2"``, CAM engines only): the map is the mean
  of the layers' min-max scaled maps at the crop resolution, scaled again.

* Given an :class:`~xfer_keras.models.classifier.EmotionClassifier`, ``explain`` takes raw
  uint8 RGB crops (any size), preprocesses them, and returns heatmaps at the crops' resolution.
  Given a bare ``keras.Model``, it takes model inputs as they are.
* The score is the pre-softmax logit of the target class when the model has a ``logits``
  layer (all registry models): a view model ``inputs -> logits`` shares the layers, nothing is
  cloned or changed. Otherwise, when the output layer has a softmax activation,
  tf-keras-vis' ``ReplaceToLinear`` is applied **to a clone** (tf-keras-vis clones whenever a
  modifier is given), and the caller's model is left as it was.
* The layer defaults to ``clf.gradcam_layer`` (or
  :func:`~xfer_keras.models.registry.default_gradcam_layer`: the deepest stage output with at
  least 7x7 cells, so small inputs do not get a 2x2 map).
* ``targets=None`` explains the predicted class; an int explains that class for all images;
  a sequence gives one class per image; class names are accepted too.
* A classifier with ``tta_flip`` (mirror averaging) predicts from both views, so its heatmap is
  the mean of both views' maps, the mirror's flipped back: mirroring a crop mirrors its map.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

METHODS = ("gradcam", "gradcam++", "scorecam", "layercam", "hirescam")
ENGINES = ("auto", "litert", "fast", "tf-keras-vis", "cam", "cam-litert")
#: engines that classify and explain in one pass (the same function, LiteRT or TensorFlow)
FUSED_ENGINES = ("litert", "fast", "cam", "cam-litert")
#: engines of :class:`~xfer_keras.explain.cam_maps.FusedCAM` and the methods they compute
CAM_ENGINES = ("cam", "cam-litert")
CAM_ENGINE_METHODS = ("gradcam", "gradcam++", "layercam", "hirescam")


def method_needs_reference(method: str) -> bool:
    """Only Grad-CAM has a fused engine; the other methods run through tf-keras-vis."""
    return method != "gradcam"


class GradCAM:
    """Grad-CAM / Grad-CAM++ / ScoreCAM / LayerCAM / HiResCAM explainer for an EmotionClassifier
    or a Keras model; ``engine`` picks the fast fused Grad-CAM, the CAM engine or tf-keras-vis
    (see the module notes)."""

    def __init__(self, clf_or_model, layer: str | None = None, method: str = "gradcam",
                 batch_size: int = 32, engine: str = "auto"):
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
        self.method = method
        self.batch_size = int(batch_size)
        if hasattr(clf_or_model, "config") and hasattr(clf_or_model, "preprocess"):
            self.classifier = clf_or_model  # its Keras model is read only when an engine needs it
            self._model = None
            default_layer = clf_or_model.gradcam_layer
        else:
            import keras

            if not isinstance(clf_or_model, keras.Model):
                raise TypeError("GradCAM needs an EmotionClassifier or a keras.Model, got "
                                f"{type(clf_or_model).__name__}")
            from xfer_keras.models.registry import default_gradcam_layer

            self.classifier = None
            self._model = clf_or_model
            default_layer = default_gradcam_layer(clf_or_model)
        if layer is not None and not isinstance(layer, str):
            layer = ",".join(layer)
        self.layer = layer or default_layer
        self._visualizer = None
        self._fused = None
        self._litert_path = None
        self.engine = self._resolve_engine(engine)
        if self.engine != "litert" or self.classifier.model_loaded:
            for name in self.layers:  # ValueError early for an unknown layer name
                self.model.get_layer(name)

    @property
    def layers(self) -> tuple[str, ...]:
        """The layer names the maps come from (one, or several for a fusion)."""
        from xfer_keras.explain.cam_maps import parse_layers

        return parse_layers(self.layer)

    @property
    def model(self):
        """The Keras model explained (a lazily loaded classifier's model loads here)."""
        return self._model if self._model is not None else self.classifier.model

    def _resolve_engine(self, engine: str) -> str:
        """``auto``: LiteRT for Grad-CAM of a classifier loaded from a file (when the runtime is
        installed and the model can be exported), else the traced TensorFlow function, else
        tf-keras-vis. An explicit engine that cannot run raises ValueError."""
        from xfer_keras.explain import litert_gradcam
        from xfer_keras.explain.cam_maps import fast_engine_supports

        from_file = self.classifier is not None and getattr(self.classifier, "model_file", None) is not None
        several = len(self.layers) > 1
        if engine in CAM_ENGINES or (engine == "auto" and (self.method == "hirescam" or several)):
            return self._resolve_cam_engine(engine, from_file)
        if several:
            raise ValueError(f"several layers ({self.layer!r}) need engine 'cam' or 'cam-litert'")
        if self.method == "hirescam":
            raise ValueError(f"hirescam runs on engine 'cam' or 'cam-litert', not {engine!r}")
        if engine in ("fast", "litert") and method_needs_reference(self.method):
            raise ValueError(f"the {engine} engine does Grad-CAM only (method {self.method!r}); "
                             "use engine='tf-keras-vis'")
        if engine == "litert":
            if not from_file:
                raise ValueError("the litert engine needs an EmotionClassifier loaded from a "
                                 ".keras file (EmotionClassifier.load)")
            if not litert_gradcam.litert_available():
                raise ValueError("the litert engine needs the LiteRT runtime: pip install "
                                 "ai-edge-litert")
            self._litert_path = litert_gradcam.litert_model_for(self.classifier, self.layer)
            return "litert"
        if engine != "auto":
            if engine == "fast" and not fast_engine_supports(self.model):
                raise ValueError("the fast engine does Grad-CAM of models with a 'logits' layer "
                                 f"or a linear output (model {self.model.name}); use "
                                 "engine='tf-keras-vis'")
            return engine
        if method_needs_reference(self.method):
            return "tf-keras-vis"
        if from_file and litert_gradcam.litert_available():
            cached = litert_gradcam.cached_litert_path(self.classifier, self.layer)
            if cached.is_file() or fast_engine_supports(self.model):
                try:
                    self._litert_path = litert_gradcam.litert_model_for(self.classifier, self.layer)
                    return "litert"
                except Exception as error:  # noqa: BLE001  (an op TFLite lacks, a mismatch...)
                    import warnings

                    warnings.warn(f"no LiteRT export of {self.classifier.model_file.name} "
                                  f"({str(error).splitlines()[0][:200]}); using the TensorFlow "
                                  "engine", RuntimeWarning, stacklevel=3)
        return "fast" if fast_engine_supports(self.model) else "tf-keras-vis"

    def _resolve_cam_engine(self, engine: str, from_file: bool) -> str:
        """``cam`` (TensorFlow), or ``cam-litert`` (the same function exported; ``auto`` takes it
        for a classifier loaded from a file when LiteRT is installed and the export works)."""
        from xfer_keras.explain import litert_gradcam
        from xfer_keras.explain.cam_maps import fast_engine_supports

        if self.method not in CAM_ENGINE_METHODS:
            raise ValueError(f"the CAM engines compute {CAM_ENGINE_METHODS}, not {self.method!r}")
        if engine == "cam" or (engine == "auto" and not (from_file and litert_gradcam.litert_available())):
            if not fast_engine_supports(self.model):
                raise ValueError("the CAM engine needs a model with a 'logits' layer or a linear "
                                 f"output (model {self.model.name})")
            return "cam"
        if engine == "cam-litert" and not from_file:
            raise ValueError("the cam-litert engine needs an EmotionClassifier loaded from a "
                             ".keras file (EmotionClassifier.load)")
        if engine == "cam-litert" and not litert_gradcam.litert_available():
            raise ValueError("the cam-litert engine needs the LiteRT runtime: pip install "
                             "ai-edge-litert")
        try:
            self._litert_path = litert_gradcam.litert_model_for(self.classifier, self.layer,
                                                                method=self.method)
            return "cam-litert"
        except Exception as error:  # noqa: BLE001  (an op TFLite lacks, a mismatch...)
            if engine == "cam-litert":
                raise
            import warnings

            warnings.warn(f"no LiteRT export of {self.method} at {self.layer} "
                          f"({str(error).splitlines()[0][:200]}); using the TensorFlow engine",
                          RuntimeWarning, stacklevel=3)
            return "cam"

    @property
    def mirror(self) -> bool:
        """Whether maps average each input and its mirror image (a ``tta_flip`` classifier)."""
        return self.classifier is not None and bool(getattr(self.classifier.config, "tta_flip", False))

    def _fused_engine(self):
        if self._fused is None and self.engine in ("litert", "cam-litert"):
            from xfer_keras.explain.litert_gradcam import LiteRTGradCAM

            self._fused = LiteRTGradCAM(self._litert_path)
        if self._fused is None:  # "fast" (Grad-CAM at one layer) or "cam"
            from xfer_keras.explain.cam_maps import FusedCAM

            weights = None if self.classifier is None else self.classifier.class_weights()
            self._fused = FusedCAM(self.model, self.layers, self.method, mirror=self.mirror,
                                   class_weights=weights)
        return self._fused

    @property
    def class_names(self) -> tuple | None:
        return None if self.classifier is None else self.classifier.class_names

    def _build(self):
        if self._visualizer is not None:
            return self._visualizer
        import keras
        from tf_keras_vis.gradcam import Gradcam
        from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus

        from tf_keras_vis.layercam import Layercam
        from tf_keras_vis.scorecam import Scorecam

        cls = {"gradcam": Gradcam, "gradcam++": GradcamPlusPlus, "scorecam": Scorecam,
               "layercam": Layercam}[self.method]
        names = [layer.name for layer in self.model.layers]
        if "logits" in names:
            view = keras.Model(self.model.input, self.model.get_layer("logits").output,
                               name=self.model.name + "_logits_view")
            self._visualizer = cls(view, model_modifier=None, clone=False)
        else:
            from tf_keras_vis.utils.model_modifiers import ReplaceToLinear

            last = self.model.layers[-1]
            softmax = getattr(getattr(last, "activation", None), "__name__", "") == "softmax"
            if softmax:  # tf-keras-vis clones the model before modifying it
                self._visualizer = cls(self.model, model_modifier=ReplaceToLinear(), clone=True)
            else:
                self._visualizer = cls(self.model, model_modifier=None, clone=False)
        return self._visualizer

    def _targets(self, targets, probs_fn, n: int) -> np.ndarray:
        if targets is None:
            return np.asarray(probs_fn(), dtype=int)
        if isinstance(targets, (str, int, np.integer)):
            targets = [targets] * n
        out = []
        for t in targets:
            if isinstance(t, str):
                if self.class_names is None:
                    raise ValueError("class-name targets need an EmotionClassifier")
                from xfer_keras.emotions import canonical_emotion

                t = list(self.class_names).index(canonical_emotion(t))
            out.append(int(t))
        if len(out) != n:
            raise ValueError(f"got {len(out)} targets for {n} inputs")
        return np.asarray(out, dtype=int)

    def explain(self, crops_or_inputs, targets: int | str | Sequence | None = None,
                return_targets: bool = False):
        """Heatmaps ``(N, H, W)`` float32 in ``[0, 1]`` at the crop (or input) resolution.

        With ``return_targets=True`` also returns the explained class indices ``(N,)``.
        """
        if self.engine in FUSED_ENGINES:
            _, cams, target_idx = self.classify_and_explain(crops_or_inputs, targets)
            return (cams, target_idx) if return_targets else cams
        x, out_hw = self._inputs(crops_or_inputs)
        target_idx = self._targets(targets, lambda: self._probs_of_inputs(x).argmax(1), len(x))
        cams = self._reference_maps(x, target_idx, out_hw)
        return (cams, target_idx) if return_targets else cams

    __call__ = explain

    def classify_and_explain(self, crops_or_inputs, targets: int | str | Sequence | None = None):
        """``(probs (N, K), heatmaps (N, H, W) in [0, 1], targets (N,))``: the classifier's
        probabilities (mirror averaging included) and the maps of the explained classes.

        The fast engine gets all three from one traced forward pass; tf-keras-vis runs the
        classifier, then the explainer.
        """
        x, out_hw = self._inputs(crops_or_inputs)
        n = len(x)
        if self.engine in FUSED_ENGINES:
            given = None if targets is None else self._targets(targets, None, n)
            return self._fused_engine()(x, given, out_hw=out_hw, batch_size=self.batch_size)
        probs = self._probs_of_inputs(x)
        target_idx = self._targets(targets, lambda: probs.argmax(1), n)
        return probs, self._reference_maps(x, target_idx, out_hw), target_idx

    def _reference_maps(self, x: np.ndarray, target_idx: np.ndarray, out_hw) -> np.ndarray:
        """tf-keras-vis maps (mirror-averaged for a ``tta_flip`` classifier), resized, in [0, 1]."""
        cams = self._maps(x, target_idx)
        if self.mirror:
            cams = 0.5 * (cams + self._maps(x[:, :, ::-1], target_idx)[:, :, ::-1])
        return _normalize(_resize_maps(np.maximum(cams, 0.0), out_hw))

    def _inputs(self, crops_or_inputs):
        """Model inputs (preprocessed when there is a classifier) and the maps' ``(H, W)``."""
        raw = np.asarray(crops_or_inputs)
        if self.classifier is not None:
            if raw.ndim == 3 and raw.shape[-1] in (1, 3) and raw.shape[0] > 4:
                raw = raw[None]
            return self.classifier.preprocess(raw), raw.shape[1:3]
        x = raw.astype(np.float32)
        if x.ndim == len(self.model.input_shape) - 1:
            x = x[None]
        return x, x.shape[1:3]

    def _probs_of_inputs(self, x: np.ndarray) -> np.ndarray:
        if self.classifier is not None:  # its own prediction (mirror averaging included)
            return self.classifier.proba_of_inputs(x, self.batch_size)
        return np.concatenate([np.asarray(self.model(x[i:i + self.batch_size], training=False))
                               for i in range(0, len(x), self.batch_size)]).astype(np.float32)

    def _maps(self, x: np.ndarray, target_idx: np.ndarray) -> np.ndarray:
        """Raw (not yet rectified or resized) maps ``(N, h, w)`` at the layer's resolution."""
        from tf_keras_vis.utils.scores import CategoricalScore

        visualizer = self._build()
        cams = []
        for start in range(0, len(x), self.batch_size):
            chunk = np.ascontiguousarray(x[start:start + self.batch_size])
            score = CategoricalScore(target_idx[start:start + self.batch_size].tolist())
            extra = {"batch_size": self.batch_size} if self.method == "scorecam" else {}
            cam = visualizer(score, chunk, penultimate_layer=self.layer,
                             seek_penultimate_conv_layer=False, expand_cam=False,
                             normalize_cam=False, **extra)
            cams.append(np.asarray(cam, dtype=np.float32).reshape(len(chunk), *cam.shape[1:3]))
        return np.concatenate(cams)


def _resize_maps(maps: np.ndarray, hw) -> np.ndarray:
    """Bilinear resize of ``(N, h, w)`` maps to ``(N, H, W)``."""
    import tensorflow as tf

    if tuple(maps.shape[1:3]) == tuple(hw):
        return maps.astype(np.float32)
    out = tf.image.resize(maps[..., None], tuple(int(v) for v in hw), method="bilinear")
    return np.asarray(out)[..., 0].astype(np.float32)


def _normalize(maps: np.ndarray) -> np.ndarray:
    """Per-map min-max scaling to ``[0, 1]`` (a flat map becomes all zeros)."""
    lo = maps.min(axis=(1, 2), keepdims=True)
    hi = maps.max(axis=(1, 2), keepdims=True)
    span = hi - lo
    return np.where(span > 1e-12, (maps - lo) / np.where(span > 1e-12, span, 1.0),
                    0.0).astype(np.float32)
