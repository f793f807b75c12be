"""Environment-driven settings: where data and caches live, and the run profile.

* ``XFER_DATA_DIR``  - root of the datasets (CK+, FER2013, ...). No default: readers raise
  :class:`~xfer_keras.errors.DataNotFoundError` with a hint when it is unset.
* ``XFER_CACHE_DIR`` - model files and landmark caches (default ``~/.cache/xfer_keras``).
* ``XFER_PROFILE``   - ``quick`` (CI: small data, few epochs, few IG steps) or ``full``
  (the papers' settings). Default ``full``; notebooks and CI set ``quick``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeVar

from xfer_keras.errors import DataNotFoundError

PROFILES = ("quick", "full")
T = TypeVar("T")


def data_dir(required: bool = True) -> Path | None:
    """The dataset root from ``XFER_DATA_DIR``; raises (or returns None) when missing."""
    value = os.environ.get("XFER_DATA_DIR")
    if value and Path(value).expanduser().is_dir():
        return Path(value).expanduser().resolve()
    if not required:
        return None
    hint = f" ({value!r} is not a folder)" if value else ""
    raise DataNotFoundError(
        f"XFER_DATA_DIR is not set to a dataset folder{hint}; see data/README.md for how to "
        "obtain CK+ / FER2013 and set XFER_DATA_DIR to their parent folder."
    )


def dataset_dir(name: str, root: str | os.PathLike | None = None) -> Path:
    """Folder of one dataset (e.g. ``"ckplus_sequences"``).

    ``root`` may be the dataset folder itself or its parent; without it, ``XFER_DATA_DIR/name``.
    """
    if root is None:
        path = data_dir() / name
    else:
        root = Path(root).expanduser()
        path = root / name if (root / name).is_dir() else root
    if not path.is_dir():
        raise DataNotFoundError(f"dataset folder not found: {path}")
    return path


def cache_dir() -> Path:
    """Writable cache folder (models, landmark caches); created on first use."""
    path = Path(os.environ.get("XFER_CACHE_DIR", "~/.cache/xfer_keras")).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def profile() -> str:
    """The run profile, ``"quick"`` or ``"full"`` (from ``XFER_PROFILE``)."""
    value = os.environ.get("XFER_PROFILE", "full").strip().lower()
    if value not in PROFILES:
        raise ValueError(f"XFER_PROFILE must be one of {PROFILES}, got {value!r}")
    return value


def is_quick() -> bool:
    """True under the quick (CI) profile."""
    return profile() == "quick"


def pick(quick: T, full: T) -> T:
    """Choose a setting by profile: ``epochs = pick(quick=2, full=100)``."""
    return quick if is_quick() else full
