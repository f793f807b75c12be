"""Register xfer-keras' custom Keras layers as soon as Keras is imported, without importing it.

A ``.keras`` file of ours names ``xfer_keras>BAM``; Keras resolves that only when the class is
registered. ``import xfer_keras`` calls :func:`register_when_keras_loads`: when Keras is already
imported the layers are registered now, otherwise a one-shot import hook registers them right
after Keras finishes loading. So ``import xfer_keras; keras.saving.load_model(path)`` works, and
``import xfer_keras`` alone stays light (no TensorFlow at import time).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys

#: modules whose import registers custom objects with Keras
CUSTOM_OBJECT_MODULES = ("xfer_keras.models.bam",)


def _register() -> None:
    for name in CUSTOM_OBJECT_MODULES:
        importlib.import_module(name)


class _AfterKerasLoads(importlib.abc.MetaPathFinder):
    """Finds ``keras`` with the normal finders and runs :func:`_register` after it executes."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras":
            return None
        sys.meta_path.remove(self)  # one shot; also keeps the lookup below from recursing
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            _register()

        spec.loader.exec_module = exec_module
        return spec


def register_when_keras_loads() -> None:
    """Register the custom layers now if Keras is loaded, else right after it loads."""
    if "keras" in sys.modules:
        _register()
    elif not any(isinstance(f, _AfterKerasLoads) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterKerasLoads())
