"""``python -m xfer_keras fetch-models``: resolve (and if needed download) every model file.

It also exports the default emotion model's classify + Grad-CAM pass to LiteRT once, so that
``explain`` starts without TensorFlow (:mod:`xfer_keras.explain.litert_gradcam`).
"""

from __future__ import annotations

from xfer_keras.assets import ASSETS, resolve
from xfer_keras.errors import ModelFileError


def register(subparsers) -> None:
    """CLI: ``fetch-models`` resolves (and if needed downloads) every model file."""
    parser = subparsers.add_parser("fetch-models", help="download and verify the model files")
    parser.add_argument("--offline", action="store_true", help="never download; only check")
    parser.set_defaults(func=_fetch_models)


def _fetch_models(args) -> int:
    for name in ASSETS:
        print(f"{name}: {resolve(name, allow_download=not args.offline)}")
    print(f"emotion model, LiteRT form: {_default_model_litert()}")
    return 0


def _default_model_litert() -> str:
    """The default emotion model's LiteRT export (:mod:`xfer_keras.explain.litert_gradcam`),
    made now if missing (with TensorFlow, once), so ``explain`` starts without TensorFlow."""
    from xfer_keras.explain import litert_gradcam
    from xfer_keras.models.classifier import EmotionClassifier

    if not litert_gradcam.litert_available():
        return "skipped (pip install ai-edge-litert for the TensorFlow-free engine)"
    try:
        clf = EmotionClassifier.load(lazy=True)
        cached = litert_gradcam.cached_litert_path(clf)
        if cached.is_file():
            return str(cached)
        from xfer_keras.native_logs import native_stderr_silenced

        with native_stderr_silenced():
            return f"{litert_gradcam.litert_model_for(clf)} (exported now)"
    except ModelFileError as error:
        return f"skipped ({error})"
