"""Names a package exports without importing their modules until first use, so that importing
one light submodule never pays for the heavy ones beside it."""

from __future__ import annotations

import importlib


def lazy_exports(package: str, names: dict[str, str]):
    """A module ``__getattr__`` for ``package`` that imports ``names[name]`` (a module) on first
    access of ``name`` and returns its attribute of that name."""

    def __getattr__(name):
        if name in names:
            return getattr(importlib.import_module(names[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
