"""The fused classify + Grad-CAM function as a LiteRT (TFLite) model: exported once with
TensorFlow, run without it.

>>> from xfer_keras.explain.litert_gradcam import LiteRTGradCAM, litert_model_for
>>> path = litert_model_for(clf)                   # cached; exports with TensorFlow if missing
>>> probs, cams, targets = LiteRTGradCAM(path)(x, out_hw=(224, 224))   # as FusedGradCAM

Why: importing TensorFlow takes about 5 s of a one-image ``python -m xfer_keras explain`` on a
2-core CPU, far more than the explanation. The LiteRT runtime (``ai-edge-litert``) imports in
0.2 s and runs the same graph with XNNPACK.

What is exported is :class:`~xfer_keras.explain.cam_maps.FusedCAM`'s own traced
function (forward pass, mirror view, prior correction, gradients at the Grad-CAM layer, map,
resize, min-max scaling), so both engines compute one function; tests hold the LiteRT engine to
tf-keras-vis within 1e-4 on real CK+ crops. Two things make it convertible to builtin TFLite
ops only (no TensorFlow "flex" ops, which would need TensorFlow at run time again):

* the batch is fixed at one image: with a dynamic batch, the gradients of broadcasting ops need
  ``BroadcastGradientArgs``, which has no TFLite kernel; a batch is run image by image (the net
  is small: about 6 ms per image with its mirror on 2 cores, the same as the traced TensorFlow
  function per image in a batch of 8);
* while tracing, the ReLU gradient is written as ``where(relu(x) > 0, g, 0)``, which is what
  TensorFlow's ``ReluGrad`` kernel computes, because ``ReluGrad`` has no TFLite kernel either.
  The swap is undone as soon as the function is traced.

Exported files live in ``$XFER_CACHE_DIR/litert/``, named by the model file's sha256, the layer,
the mirror flag, the prior correction, the TensorFlow version and :data:`EXPORT_VERSION`, and are
written atomically; ``python -m xfer_keras fetch-models`` exports the default model's up front.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from pathlib import Path

import numpy as np

from xfer_keras.atomic import atomic_write_bytes
from xfer_keras.config import cache_dir
from xfer_keras.errors import ModelFileError

#: bump when the exported graph changes, so stale cached files are not used
EXPORT_VERSION = 1


def litert_available() -> bool:
    """True when the LiteRT runtime (``ai-edge-litert``) can be imported."""
    import importlib.util

    return importlib.util.find_spec("ai_edge_litert") is not None


_SHA_CACHE: dict[tuple, str] = {}


def _model_sha256(path: Path) -> str:
    """sha256 of a model file, memoised per (path, size, mtime)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _SHA_CACHE:
        from xfer_keras.assets import sha256_of

        _SHA_CACHE[key] = sha256_of(path)
    return _SHA_CACHE[key]


def export_key(model_file, layer: str, mirror: bool, class_weights, method: str = "gradcam") -> str:
    """The cache name of an export: what changes the exported function changes the name.
    ``layer``: one layer name, or several joined by ``+`` (a fused map)."""
    weights = None if class_weights is None else [round(float(w), 9) for w in class_weights]
    spec = {"model": _model_sha256(Path(model_file)), "layer": layer, "mirror": bool(mirror),
            "class_weights": weights, "version": EXPORT_VERSION}
    if method != "gradcam":
        spec["method"] = method
    blob = json.dumps(spec, sort_keys=True).encode()
    kind = "" if method == "gradcam" else f"{method}-"
    return f"{Path(model_file).stem}-{kind}{layer}-{hashlib.sha256(blob).hexdigest()[:16]}"


def cached_litert_path(clf, layer: str | None = None, method: str = "gradcam") -> Path | None:
    """Where ``clf``'s export of ``method`` at ``layer`` (default: its Grad-CAM layer; several
    as ``"bam2,bam3"``) is (or would be) cached; None for a classifier that was not loaded from
    a file (nothing to name the export by)."""
    from xfer_keras.explain.cam_maps import parse_layers

    if getattr(clf, "model_file", None) is None:
        return None
    layers = "+".join(parse_layers(layer or clf.gradcam_layer))
    key = export_key(clf.model_file, layers, bool(clf.config.tta_flip), clf.class_weights(),
                     method)
    return cache_dir() / "litert" / f"{key}.tflite"


def litert_model_for(clf, layer: str | None = None, export: bool = True,
                     method: str = "gradcam") -> Path:
    """The cached LiteRT file of ``clf`` (an :class:`EmotionClassifier` loaded from a file) for
    ``method`` at ``layer`` (default: Grad-CAM at its Grad-CAM layer; any
    :class:`~xfer_keras.explain.cam_maps.FusedCAM` method and layers), exporting it with
    TensorFlow when missing and ``export``. The export is checked against TensorFlow before it
    is cached (maps within 1e-4; Grad-CAM++'s, whose alpha magnifies float rounding, 5e-3).
    Raises ModelFileError when it is missing and not exported."""
    path = cached_litert_path(clf, layer, method)
    if path is None:
        raise ModelFileError("the LiteRT engine needs a classifier loaded from a .keras file")
    if path.is_file():
        return path
    if not export:
        raise ModelFileError(f"no LiteRT export of {clf.model_file} at {path}")
    from xfer_keras.explain.cam_maps import FusedCAM, parse_layers

    fused = FusedCAM(clf.model, parse_layers(layer or clf.gradcam_layer), method,
                     mirror=bool(clf.config.tta_flip), class_weights=clf.class_weights())
    blob = export_fused(fused)
    check_export(fused, blob, atol_maps=5e-3 if method == "gradcam++" else 1e-4)
    atomic_write_bytes(path, blob)
    return path


@contextlib.contextmanager
def _relu_gradient_without_relugrad():
    """Within the block, TensorFlow differentiates ReLU as ``where(y > 0, g, 0)`` (the same
    values as its ``ReluGrad`` kernel, in TFLite builtin ops)."""
    import tensorflow as tf
    from tensorflow.python.framework import ops, registry

    def relu_grad(op, grad):
        return tf.where(op.outputs[0] > 0, grad, tf.zeros_like(grad))

    table = ops._gradient_registry._registry  # noqa: SLF001  (no public way to swap one)
    original = table["Relu"]
    table["Relu"] = dict(original, **{registry._TYPE_TAG: relu_grad})  # noqa: SLF001
    try:
        yield
    finally:
        table["Relu"] = original


def export_fused(fused) -> bytes:
    """The TFLite flatbuffer of a :class:`~xfer_keras.explain.cam_maps.FusedCAM`'s function at
    batch 1, builtin ops only."""
    import tensorflow as tf

    shape = [1, *fused.model.input_shape[1:]]
    signature = [tf.TensorSpec(shape, tf.float32, name="x"),
                 tf.TensorSpec([1], tf.int32, name="targets"),
                 tf.TensorSpec([2], tf.int32, name="out_hw")]
    function = tf.function(fused._graph, input_signature=signature)  # noqa: SLF001
    with _relu_gradient_without_relugrad():
        concrete = function.get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], fused)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter.convert()


def check_export(fused, blob: bytes, atol_probs: float = 1e-5, atol_maps: float = 1e-4) -> None:
    """Run the exported flatbuffer and the TensorFlow function on the same probe inputs (seeded
    noise, one per class as target, and the predicted class); raise ModelFileError when they
    differ, so a bad conversion is never cached."""
    import tempfile

    rng = np.random.default_rng(0)
    n_classes = int(fused.model.output_shape[-1])
    x = rng.uniform(0.0, 1.0, (n_classes + 1, *fused.model.input_shape[1:])).astype(np.float32)
    targets = np.array([-1, *range(n_classes)], np.int32)
    want = fused(x, targets, out_hw=(56, 56))
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "probe.tflite"
        probe.write_bytes(blob)
        got = LiteRTGradCAM(probe, num_threads=1)(x, targets, out_hw=(56, 56))
    gaps = [float(np.abs(a - b).max()) for a, b in zip(want[:2], got[:2])]
    if gaps[0] > atol_probs or gaps[1] > atol_maps or not np.array_equal(want[2], got[2]):
        raise ModelFileError(f"the LiteRT export differs from TensorFlow (probabilities by "
                             f"{gaps[0]:.2g}, maps by {gaps[1]:.2g}); not cached")


class LiteRTGradCAM:
    """:class:`~xfer_keras.explain.fast_gradcam.FusedGradCAM`'s call, run by LiteRT from an
    exported file; no TensorFlow. ``num_threads``: XNNPACK threads (default: the CPU count).
    Calls are serialised (one interpreter)."""

    def __init__(self, path, num_threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(path)
        try:
            self._interpreter = Interpreter(model_path=str(self.path),
                                            num_threads=num_threads or os.cpu_count() or 1)
        except (ValueError, RuntimeError) as error:
            raise ModelFileError(f"{self.path}: not a readable LiteRT model ({error})") from error
        inputs = {d["name"]: d for d in self._interpreter.get_input_details()}
        try:
            self._x, self._t, self._hw = (inputs[k]["index"] for k in ("x", "targets", "out_hw"))
        except KeyError as error:
            raise ModelFileError(f"{self.path}: not an exported xfer-keras Grad-CAM "
                                 f"(inputs {sorted(inputs)})") from error
        self.input_shape = tuple(int(v) for v in inputs["x"]["shape"])
        # (probabilities, maps, targets), told apart by rank: (1, K), (1, H, W), (1,)
        by_rank = {len(d["shape"]): d["index"] for d in self._interpreter.get_output_details()}
        if sorted(by_rank) != [1, 2, 3]:
            raise ModelFileError(f"{self.path}: not an exported xfer-keras Grad-CAM (outputs "
                                 f"of ranks {sorted(by_rank)})")
        self._outputs = [by_rank[2], by_rank[3], by_rank[1]]
        self._interpreter.allocate_tensors()
        self._lock = threading.Lock()
        self.calls = 0

    def __call__(self, x, targets=None, out_hw=None, batch_size: int = 64):
        """``(probs (N, K), cams (N, H, W) in [0, 1], targets (N,))`` as FusedGradCAM
        (``batch_size`` is accepted for the same signature; images run one by one)."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.ndim == len(self.input_shape) - 1:
            x = x[None]
        if tuple(x.shape[1:]) != self.input_shape[1:]:
            from xfer_keras.errors import InputShapeError

            raise InputShapeError(f"inputs must be (N, {', '.join(map(str, self.input_shape[1:]))})"
                                  f", got {x.shape}")
        n = len(x)
        t = np.full(n, -1, np.int32) if targets is None else np.asarray(targets, np.int32).reshape(n)
        hw = np.asarray(out_hw if out_hw is not None else x.shape[1:3], np.int32)
        probs, cams, chosen = [], [], []
        run = self._interpreter
        with self._lock:
            for i in range(n):
                self.calls += 1
                run.set_tensor(self._x, x[i:i + 1])
                run.set_tensor(self._t, t[i:i + 1])
                run.set_tensor(self._hw, hw)
                run.invoke()
                p, c, k = (run.get_tensor(index) for index in self._outputs)
                probs.append(p.copy())
                cams.append(c.copy())
                chosen.append(k.copy())
        return (np.concatenate(probs).astype(np.float32), np.concatenate(cams).astype(np.float32),
                np.concatenate(chosen).astype(int))
