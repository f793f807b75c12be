"""Model files, resolved offline-first and never at import time.

Shipped artefacts (the image emotion model, the six EMO nets) come with the package:
:func:`shipped_path` finds them in the installed package (``pip install .`` copies
``saved_models/`` into it) or in the checkout's ``saved_models/``, unless an environment
variable points elsewhere. Downloaded files (:data:`ASSETS`) are resolved in this order:
explicit path -> environment variable -> cache dir (``XFER_CACHE_DIR``) -> download from the
official URL, sha256-verified and written atomically (a half-written file never appears under
its final name). ``python -m xfer_keras fetch-models`` (:mod:`xfer_keras.cli.fetch_models`)
resolves them all up front.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from xfer_keras.atomic import atomic_path
from xfer_keras.config import cache_dir
from xfer_keras.errors import ModelFileError


@dataclass(frozen=True)
class Asset:
    """A model file we know how to find and verify."""

    name: str
    filename: str
    url: str | None
    sha256: str | None
    env_var: str
    description: str


ASSETS: dict[str, Asset] = {
    "face_landmarker": Asset(
        name="face_landmarker",
        filename="face_landmarker.task",
        url=(
            "https://storage.googleapis.com/mediapipe-models/face_landmarker/"
            "face_landmarker/float16/1/face_landmarker.task"
        ),
        sha256="64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff",
        env_var="XFER_FACE_LANDMARKER",
        description="MediaPipe FaceLandmarker (478 points + 52 blendshapes)",
    ),
}


def shipped_dir() -> Path:
    """The folder of the shipped artefacts: ``xfer_keras/saved_models`` in an installed package,
    else ``saved_models/`` of the checkout the package runs from."""
    package = Path(__file__).resolve().parent
    installed = package / "saved_models"
    return installed if installed.is_dir() else package.parent / "saved_models"


def shipped_path(name: str, env_var: str | None = None, path: str | os.PathLike | None = None,
                 what: str = "model") -> Path:
    """``path``, else ``$env_var``, else the shipped artefact ``name`` (a file or a folder in
    :func:`shipped_dir`); ModelFileError when the one chosen does not exist."""
    for candidate, origin in ((path, "path"), (os.environ.get(env_var) if env_var else None,
                                               env_var)):
        if candidate:
            candidate = Path(candidate).expanduser()
            if not candidate.exists():
                raise ModelFileError(f"{origin} points at {candidate}, which does not exist")
            return candidate
    shipped = shipped_dir() / name
    if not shipped.exists():
        hint = f" or set {env_var}" if env_var else ""
        raise ModelFileError(f"the shipped {what} is not at {shipped}; pass a path{hint}")
    return shipped


def sha256_of(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _verify(path: Path, asset: Asset) -> Path:
    if asset.sha256 and sha256_of(path) != asset.sha256:
        raise ModelFileError(
            f"{path}: sha256 does not match the official {asset.filename} "
            f"(expected {asset.sha256}); delete it or point {asset.env_var} at a good copy"
        )
    return path


def download(url: str, dest: Path, sha256: str | None = None, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` atomically, checking ``sha256`` before the final rename."""
    try:
        with atomic_path(dest) as tmp, open(tmp, "wb") as out:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                while block := response.read(1 << 20):
                    out.write(block)
            out.flush()
            if sha256 and sha256_of(tmp) != sha256:
                raise ModelFileError(f"downloaded {url} but its sha256 is not {sha256}")
    except ModelFileError:
        raise
    except OSError as error:
        raise ModelFileError(f"could not download {url} to {dest}: {error}") from error
    return dest


def resolve(name: str, path: str | os.PathLike | None = None, allow_download: bool = True) -> Path:
    """Local path of model file ``name`` (see the module doc for the search order)."""
    if name not in ASSETS:
        raise ModelFileError(f"unknown model file {name!r}; known: {sorted(ASSETS)}")
    asset = ASSETS[name]
    for candidate, origin in ((path, "path"), (os.environ.get(asset.env_var), asset.env_var)):
        if candidate:
            candidate = Path(candidate).expanduser()
            if not candidate.is_file():
                raise ModelFileError(f"{origin} points at {candidate}, which is not a file")
            return candidate  # the user's own file: their choice, not checksummed
    cached = cache_dir() / asset.filename
    if cached.is_file():
        return _verify(cached, asset)
    if not allow_download or not asset.url:
        raise ModelFileError(
            f"{asset.description} not found: pass a path, set {asset.env_var}, or place "
            f"{asset.filename} in {cache_dir()}"
        )
    try:
        return download(asset.url, cached, asset.sha256)
    except ModelFileError as error:
        raise ModelFileError(
            f"{error}. Offline? Pass a path, set {asset.env_var}, or place {asset.filename} "
            f"in {cache_dir()}"
        ) from error
