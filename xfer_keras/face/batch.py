"""Many images at once: a thread pool with one :class:`LandmarkDetector` per worker thread.

dlib releases the GIL during detection and MediaPipe runs its graph in native code, so threads
scale with cores (see ``benchmarks/landmarks_speed.py``). Results come back in input order.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable, Iterator

from xfer_keras.errors import XferError
from xfer_keras.face.detector import LandmarkDetector
from xfer_keras.face.types import Face

__all__ = ["detect_many", "iter_detect", "default_workers"]


def default_workers() -> int:
    """Worker threads for batch detection: the CPU count, at most 8."""
    return max(1, min(8, os.cpu_count() or 1))


def iter_detect(
    images: Iterable, backend: str = "mediapipe", workers: int | None = None, **detector_kwargs
) -> Iterator[tuple[int, list[Face] | Exception]]:
    """Yield ``(index, faces)`` or ``(index, error)`` for each image, in input order.

    ``images``: anything :func:`~xfer_keras.face.load_image` reads (paths are named in errors).
    Errors that concern one image (:class:`~xfer_keras.errors.XferError`, ``OSError``) are
    yielded, not raised, so the caller decides whether to stop; other exceptions propagate.
    ``detector_kwargs`` go to :class:`LandmarkDetector` (``policy``, ``model_path``, ...).
    """
    images = list(images)
    workers = max(1, min(workers or default_workers(), len(images) or 1))
    local = threading.local()
    opened: list[LandmarkDetector] = []
    lock = threading.Lock()

    def detector() -> LandmarkDetector:
        if not hasattr(local, "detector"):
            local.detector = LandmarkDetector(backend, **detector_kwargs)
            with lock:
                opened.append(local.detector)
        return local.detector

    def work(image):
        source = str(image) if isinstance(image, (str, os.PathLike)) else None
        try:
            return detector().detect(image, source=source)
        except (XferError, OSError) as error:
            return error

    try:
        if workers == 1:
            for index, image in enumerate(images):
                yield index, work(image)
        else:
            pool = ThreadPoolExecutor(workers, thread_name_prefix="xfer-face")
            try:
                yield from enumerate(pool.map(work, images))
            finally:  # a consumer that stops early cancels the images not yet started
                pool.shutdown(wait=True, cancel_futures=True)
    finally:
        for item in opened:
            item.close()


def detect_many(
    images: Iterable, backend: str = "mediapipe", workers: int | None = None,
    skip_errors: bool = False, **detector_kwargs,
) -> list[list[Face] | Exception]:
    """Faces of every image, in input order (see :func:`iter_detect`).

    With ``skip_errors=False`` the first failing image (in input order) raises its error;
    with ``skip_errors=True`` its entry is the exception instead.
    """
    results = []
    for _, result in iter_detect(images, backend, workers, **detector_kwargs):
        if isinstance(result, Exception) and not skip_errors:
            raise result
        results.append(result)
    return results
