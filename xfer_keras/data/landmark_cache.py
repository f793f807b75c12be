"""Per-frame landmark extraction with an on-disk cache.

Detecting the 684 shared CK+ frames costs ~12-25 s with dlib (2 threads) and ~20 s with
MediaPipe on 2 CPU cores; the cache makes every later call (tests, notebooks, EMO nets, IG)
take about half a second.

Cache layout: ``<cache_dir()>/landmarks/<backend>/<version>/<k[:2]>/<k>.npz`` where ``k`` is
the sha256 of the image file's *bytes* (so copies and moved data folders still hit) and
``version`` = :data:`CACHE_VERSION` + the detector library's version + a short hash of
``xfer_keras/face/detector.py`` (a changed detector never serves stale landmarks). Each entry
holds the detector's full output for one frame (pixel landmarks, MediaPipe depth and
blendshapes, box, image size) or the "no face" verdict. Entries are written atomically
(temporary file + ``os.replace``); an unreadable or inconsistent entry is recomputed and
rewritten, never fatal. Bump :data:`CACHE_VERSION` when the cached content changes.
"""

from __future__ import annotations

import hashlib
import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from xfer_keras import config
from xfer_keras.atomic import atomic_path
from xfer_keras.errors import ImageReadError, NoFaceError

#: Bump to invalidate every cached landmark (e.g. when the face module's detection changes).
CACHE_VERSION = "v1"
BACKENDS = ("mediapipe", "dlib")


@dataclass
class FrameLandmarks:
    """Detector output for one frame (``landmarks`` is None when no face was found)."""

    landmarks: np.ndarray | None  #: (L, 2) float32 pixels; L = 68 (dlib) or 478 (mediapipe)
    width: int
    height: int
    box: np.ndarray | None = None  #: (4,) x0, y0, x1, y1 pixels
    z: np.ndarray | None = None  #: (L,) MediaPipe relative depth (pixel-like units, z_norm * W)
    blendshapes: dict[str, float] | None = None
    error: str | None = None  #: why no face was found
    from_cache: bool = field(default=False, compare=False)

    @property
    def found(self) -> bool:
        return self.landmarks is not None


def _library_version(backend: str) -> str:
    """Detector library version (from package metadata: importing mediapipe loads TensorFlow)
    plus a short hash of the face module's detector source, so a changed detection never
    serves stale landmarks."""
    from importlib import metadata

    names = {"mediapipe": ("mediapipe",), "dlib": ("dlib-bin", "dlib")}[backend]
    version = "unknown"
    for name in names:
        try:
            version = metadata.version(name)
            break
        except metadata.PackageNotFoundError:
            continue
    digest = ""
    source = Path(__file__).resolve().parents[1] / "face" / "detector.py"
    if source.is_file():
        digest = "-" + hashlib.sha256(source.read_bytes()).hexdigest()[:8]
    return f"{backend}{version}{digest}"


def _check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    return backend


class LandmarkCache:
    """On-disk cache of :class:`FrameLandmarks`, keyed by image content, backend and version."""

    _hashes: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> sha256, per process

    def __init__(self, backend: str = "mediapipe", root: str | os.PathLike | None = None,
                 version: str | None = None):
        self.backend = _check_backend(backend)
        self.version = version or f"{CACHE_VERSION}-{_library_version(backend)}"
        base = Path(root).expanduser() if root is not None else config.cache_dir() / "landmarks"
        self.root = base / backend / self.version

    def __repr__(self) -> str:
        return f"LandmarkCache({self.backend!r}, root={str(self.root)!r})"

    # ---------------------------------------------------------------- keys
    @classmethod
    def content_key(cls, path: str | os.PathLike) -> str:
        """sha256 of the file's bytes (memoised per process by path, size and mtime)."""
        path = Path(path)
        try:
            stat = path.stat()
            memo = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
            key = cls._hashes.get(memo)
            if key is None:
                key = hashlib.sha256(path.read_bytes()).hexdigest()
                cls._hashes[memo] = key
        except OSError as error:
            raise ImageReadError(f"cannot read image {path}: {error}") from error
        return key

    def entry_path(self, path: str | os.PathLike) -> Path:
        key = self.content_key(path)
        return self.root / key[:2] / f"{key}.npz"

    # ---------------------------------------------------------------- read / write
    def get(self, path: str | os.PathLike) -> FrameLandmarks | None:
        """The cached entry for image ``path``, or None (missing or corrupt: recompute it)."""
        entry = self.entry_path(path)
        if not entry.is_file():
            return None
        try:
            with np.load(entry, allow_pickle=False) as data:
                return self._decode(data)
        except Exception as error:  # corrupt / truncated / foreign file: recompute
            warnings.warn(f"ignoring unreadable landmark cache entry {entry}: {error}",
                          RuntimeWarning, stacklevel=2)
            return None

    def put(self, path: str | os.PathLike, frame: FrameLandmarks) -> Path:
        """Store ``frame`` for image ``path`` atomically; returns the entry's path."""
        entry = self.entry_path(path)
        with atomic_path(entry, suffix=".tmp") as tmp, open(tmp, "wb") as handle:
            np.savez(handle, **self._encode(frame))
        return entry

    def clear(self) -> None:
        """Delete this backend/version's entries."""
        import shutil

        shutil.rmtree(self.root, ignore_errors=True)

    @staticmethod
    def _encode(frame: FrameLandmarks) -> dict:
        out = {"size": np.array([frame.width, frame.height], dtype=np.int64),
               "error": np.array(frame.error or "")}
        if frame.landmarks is not None:
            out["landmarks"] = np.asarray(frame.landmarks, dtype=np.float32)
        if frame.box is not None:
            out["box"] = np.asarray(frame.box, dtype=np.float32)
        if frame.z is not None:
            out["z"] = np.asarray(frame.z, dtype=np.float32)
        if frame.blendshapes:
            out["blend_names"] = np.array(list(frame.blendshapes), dtype=str)
            out["blend_values"] = np.array(list(frame.blendshapes.values()), dtype=np.float32)
        return out

    def _decode(self, data) -> FrameLandmarks:
        width, height = (int(v) for v in data["size"])
        landmarks = data["landmarks"] if "landmarks" in data else None
        error = str(data["error"]) or None
        if landmarks is None and error is None:
            raise ValueError("entry has neither landmarks nor an error")
        if landmarks is not None:
            expected = 68 if self.backend == "dlib" else None
            if landmarks.ndim != 2 or landmarks.shape[1] != 2 or (
                    expected and landmarks.shape[0] != expected) or not np.isfinite(landmarks).all():
                raise ValueError(f"bad landmark array {landmarks.shape}")
        z = data["z"] if "z" in data else None
        if z is not None and (landmarks is None or z.shape != landmarks.shape[:1]):
            raise ValueError("depth does not match the landmarks")
        blend = None
        if "blend_names" in data:
            blend = dict(zip(data["blend_names"].tolist(), data["blend_values"].astype(float).tolist()))
        return FrameLandmarks(landmarks=landmarks, width=width, height=height,
                              box=data["box"] if "box" in data else None, z=z,
                              blendshapes=blend, error=error, from_cache=True)


def _as_cache(cache, backend: str) -> LandmarkCache | None:
    if cache is None or cache is False:
        return None
    if isinstance(cache, LandmarkCache):
        if cache.backend != backend:
            raise ValueError(f"cache is for {cache.backend!r}, extraction for {backend!r}")
        return cache
    if cache is True:
        return LandmarkCache(backend)
    return LandmarkCache(backend, root=cache)  # a folder


def detect_frame(detector, path: str | os.PathLike) -> FrameLandmarks:
    """Run ``detector`` (a :class:`xfer_keras.face.LandmarkDetector`) on one image file."""
    from xfer_keras.face import load_image

    image = load_image(path)
    height, width = image.shape[:2]
    try:
        face = detector.detect_one(image, source=str(path))
    except NoFaceError as error:
        return FrameLandmarks(None, width, height, error=str(error) or "no face")
    z = getattr(face, "landmarks_z", None)
    return FrameLandmarks(
        landmarks=np.asarray(face.landmarks, dtype=np.float32), width=width, height=height,
        box=np.asarray(face.box, dtype=np.float32), z=None if z is None else np.asarray(z, np.float32),
        blendshapes=getattr(face, "blendshapes", None),
    )


def default_workers(backend: str) -> int:
    """Detector threads: dlib releases the GIL, so one per core (max 4); MediaPipe runs its own
    threads, so one."""
    return 1 if backend == "mediapipe" else max(1, min(4, os.cpu_count() or 1))


def extract_landmarks(paths: Sequence[str | os.PathLike], backend: str = "mediapipe",
                      cache=True, progress: bool = True, detector=None,
                      desc: str | None = None, workers: int | None = None) -> list[FrameLandmarks]:
    """Landmarks of every image in ``paths`` (in order), from the cache where possible.

    ``cache``: True (default location under ``config.cache_dir()``), False/None (no cache), a
    folder, or a :class:`LandmarkCache`. Frames not in the cache are detected with one
    ``LandmarkDetector(backend)`` per worker thread, reused for all frames (``workers``
    default: :func:`default_workers`; a ``detector`` given is used alone, in this thread),
    with a tqdm progress bar, and stored. A frame without a face gives an entry with
    ``landmarks=None`` (cached too); an unreadable image raises ``ImageReadError``.
    """
    _check_backend(backend)
    store = _as_cache(cache, backend)
    results: list[FrameLandmarks | None] = [store.get(p) if store else None for p in paths]
    todo = [i for i, r in enumerate(results) if r is None]
    if not todo:
        if progress and paths:
            print(f"landmarks ({backend}): {len(paths)} frames from the cache")
        return results  # type: ignore[return-value]

    from tqdm.auto import tqdm

    workers = 1 if detector is not None else (workers or default_workers(backend))
    workers = max(1, min(workers, len(todo)))
    opened: list = []
    local = threading.local()
    lock = threading.Lock()

    def _detector():
        if detector is not None:
            return detector
        if not hasattr(local, "detector"):
            from xfer_keras.face import LandmarkDetector

            local.detector = LandmarkDetector(backend=backend)
            with lock:
                opened.append(local.detector)
        return local.detector

    def _one(i: int) -> int:
        results[i] = detect_frame(_detector(), paths[i])
        if store is not None:
            store.put(paths[i], results[i])
        return i

    bar = tqdm(total=len(todo), desc=desc or f"landmarks ({backend})", unit="frame",
               disable=not progress)
    try:
        if workers == 1:
            for i in todo:
                _one(i)
                bar.update()
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                for _ in pool.map(_one, todo):
                    bar.update()
    finally:
        bar.close()
        for det in opened:
            det.close()
    return results  # type: ignore[return-value]
