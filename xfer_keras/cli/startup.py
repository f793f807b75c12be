"""Command-line start-up: import Keras and MediaPipe without extras no command needs (and no
TensorFlow at all when the LiteRT engine runs), and warm dlib meanwhile.

Measured on the 2-core CPU (``benchmarks/pipeline_latency.py``, "cold start"): nearly all of a
one-image ``python -m xfer_keras explain`` is start-up, and most of that is ``import keras``
(TensorFlow). Some of it serves nothing we run:

* Keras imports scikit-learn (for its ``keras.wrappers`` estimators; pulls SciPy) and pandas
  (only to slice DataFrames given to ``fit``), each inside ``try/except ImportError``;
* Keras (``keras.visualization``) and MediaPipe (``vision.drawing_utils``) import
  ``matplotlib.pyplot`` for plotting helpers we never call;
* MediaPipe imports TensorFlow, when it is installed, for API-doc decorators. With the LiteRT
  engine (:mod:`xfer_keras.explain.litert_gradcam`; :func:`litert_ready` says whether a run will
  use it) nothing else needs TensorFlow, and its import is most of the start-up.

:func:`import_lean` hides those from Keras (it takes its own "not installed" path) and gives
MediaPipe, which imports ``matplotlib.pyplot`` unguarded, a lazy module
(``importlib.util.LazyLoader``: executed at its first attribute access, if any; a second
``import`` statement also loads it, so Keras gets the hidden form). When the block ends the
marks are gone, so a later ``import sklearn`` or ``import pandas`` by our code works as usual. Only the command line does this,
never ``import xfer_keras``: a library user's process keeps Keras' full behaviour.

:func:`preload_dlib_in_background` loads the 68-point shape predictor and the HOG detector on
a thread while the main thread imports TensorFlow: both are native code that spends part of its
time outside the interpreter lock (file reads, deserialisation).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading

#: what each import can go without: packages to hide (it takes its own "not installed" path) and
#: modules to load lazily (it imports them unconditionally but never uses them at start-up)
LEAN = {
    "keras": {"hidden": ("sklearn", "pandas", "matplotlib"), "lazy": ()},
    # MediaPipe imports TensorFlow (when installed) only for API-doc decorators, inside
    # try/except; hidden, it takes its no-op path and a LiteRT run never loads TensorFlow
    "mediapipe": {"hidden": ("tensorflow",), "lazy": ("matplotlib.pyplot",)},
}
#: submodules imported inside the same block, since they import the hidden packages too
LEAN_ALSO = {
    "mediapipe": ("mediapipe.tasks.python.vision", "mediapipe.tasks.python.core.base_options"),
}


class _LazyFinder(importlib.abc.MetaPathFinder):
    """Finds ``names`` with the normal finders and defers executing them (LazyLoader)."""

    def __init__(self, names):
        self.names = set(names)

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.names:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


@contextlib.contextmanager
def lean_imports(hidden=(), lazy=()):
    """Within the block ``hidden`` packages (not yet imported) raise ImportError and ``lazy``
    modules load lazily; both effects on the import system end with the block."""
    marked = [name for name in hidden if name not in sys.modules]
    for name in marked:
        sys.modules[name] = None  # "import name" now raises ImportError
    finder = _LazyFinder(lazy) if lazy else None
    if finder is not None:
        sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        if finder is not None:
            sys.meta_path.remove(finder)
        for name in marked:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


def import_lean(*modules: str) -> None:
    """Import ``modules`` (``"keras"``, ``"mediapipe"``), each inside :func:`lean_imports` with
    its :data:`LEAN` entry; those already imported are skipped (nothing is hidden from them)."""
    for name in modules:
        if name in sys.modules:
            continue
        with lean_imports(**LEAN.get(name, {})):
            try:
                importlib.import_module(name)
                for also in LEAN_ALSO.get(name, ()):
                    importlib.import_module(also)
            except ImportError:  # optional backends (mediapipe) fail later with our message
                pass


def litert_ready(model_path=None, method: str = "gradcam", engine: str = "auto",
                 layer: str | None = None) -> bool:
    """Whether an ``explain`` run will use the LiteRT engine without exporting (so without
    TensorFlow): Grad-CAM, engine ``auto`` or ``litert``, the runtime installed and the model's
    export in the cache. Reads only the model file's config and hash; False on any problem (the
    command then reports it with its usual message)."""
    if method != "gradcam" or engine not in ("auto", "litert"):
        return False
    try:
        from xfer_keras.explain import litert_gradcam
        from xfer_keras.models.classifier import EmotionClassifier

        if not litert_gradcam.litert_available():
            return False
        clf = EmotionClassifier.load(model_path, lazy=True)
        path = litert_gradcam.cached_litert_path(clf, layer)
        return path is not None and path.is_file()
    except Exception:  # noqa: BLE001  (the command's own run reports problems)
        return False


_PRELOAD: threading.Thread | None = None


def preload_dlib_in_background() -> threading.Thread:
    """Start loading dlib's shape predictor and one HOG face detector on a daemon thread (once
    per process).

    The detector module picks them up: ``shared_predictor`` holds a lock, so a concurrent first
    use waits for the load, and the first dlib backend takes the detector made ahead. Errors are
    left for the real first use to raise with its usual message.
    """
    global _PRELOAD
    if _PRELOAD is not None:
        return _PRELOAD

    def load():
        try:
            from xfer_keras.face import detector

            detector.shared_predictor()
            detector._make_spare_frontal_detector()
        except Exception:  # noqa: BLE001  (reported by the real first use)
            pass

    _PRELOAD = threading.Thread(target=load, name="xfer-dlib-preload", daemon=True)
    _PRELOAD.start()
    return _PRELOAD
