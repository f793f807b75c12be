"""Landmark speed on real CK+ frames (640x490 gray): frames/s and ms per stage, per backend.

    python benchmarks/landmarks_speed.py [--frames 120] [--threads N] [--backends dlib mediapipe]

Frames are decoded once up front (decoding is reported separately), then each configuration runs
single-threaded (with ms per stage: HOG detection, 68-point landmarks; MediaPipe's graph is one
stage) and in a thread pool with one detector per thread. dlib is measured three ways:

* ``dlib full+up1``: HOG at full resolution with one pyramid upsampling (the common
  ``detector(img, 1)`` call; the baseline in DESIGN.md);
* ``dlib full``: full resolution, no upsampling (``detect_size=None``);
* ``dlib fast``: the default, HOG on a 320-pixel copy, landmarks at full resolution.

The fast path's landmarks are compared with the full-resolution ones (mean distance / inter-ocular
distance). Timings depend on the machine and its load; a benchmark prints, it never asserts.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
if "XFER_DATA_DIR" not in os.environ and (REPO.parent / "shared/data").is_dir():
    os.environ["XFER_DATA_DIR"] = str(REPO.parent / "shared/data")
if "XFER_FACE_LANDMARKER" not in os.environ and (REPO.parent / "shared/models/face_landmarker.task").is_file():
    os.environ["XFER_FACE_LANDMARKER"] = str(REPO.parent / "shared/models/face_landmarker.task")

import xfer_keras  # noqa: E402,F401  (environment before TensorFlow)
from xfer_keras.config import dataset_dir  # noqa: E402
from xfer_keras.errors import NoFaceError  # noqa: E402
from xfer_keras.face import LandmarkDetector, load_image  # noqa: E402

CONFIGS = {
    "dlib full+up1": dict(backend="dlib", detect_size=None, upsample=1),
    "dlib full": dict(backend="dlib", detect_size=None),
    "dlib fast": dict(backend="dlib"),
    "mediapipe": dict(backend="mediapipe"),
}


def ck_frames(n: int) -> list[Path]:
    root = dataset_dir("ckplus_sequences") / "images"
    frames = sorted(root.glob("*/*/*.png"))
    step = max(1, len(frames) // n)
    return frames[::step][:n]


def run_single(config: dict, images: list[np.ndarray]):
    timings, landmarks = [], []
    with LandmarkDetector(**config) as detector:
        detector.detect(images[0])  # warm-up (creates the backend)
        start = time.perf_counter()
        for image in images:
            try:
                landmarks.append(detector.detect_one(image).landmarks)
            except NoFaceError:
                landmarks.append(None)
            timings.append(detector.last_timing)
        elapsed = time.perf_counter() - start
    stages = {key: float(np.median([t.get(key, 0.0) for t in timings])) for key in timings[0]}
    return len(images) / elapsed, stages, landmarks


def run_threaded(config: dict, images: list[np.ndarray], threads: int) -> float:
    local = threading.local()
    opened = []
    lock = threading.Lock()

    def detector():
        if not hasattr(local, "detector"):
            local.detector = LandmarkDetector(**config).open()
            with lock:
                opened.append(local.detector)
        return local.detector

    def work(image):
        try:
            return detector().detect_one(image)
        except NoFaceError:
            return None

    try:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(work, images[: threads * 2]))  # warm-up: one detector per thread
            start = time.perf_counter()
            list(pool.map(work, images))
            elapsed = time.perf_counter() - start
    finally:
        for item in opened:
            item.close()
    return len(images) / elapsed


def mean_error_iod(a: list, b: list) -> float:
    errors = []
    for x, y in zip(a, b):
        if x is None or y is None:
            continue
        iod = np.linalg.norm(y[36:42].mean(0) - y[42:48].mean(0))
        errors.append(np.linalg.norm(x - y, axis=1).mean() / iod)
    return float(np.mean(errors))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    args = parser.parse_args(argv)

    paths = ck_frames(args.frames)
    start = time.perf_counter()
    images = [load_image(p) for p in paths]
    decode_ms = 1e3 * (time.perf_counter() - start) / len(paths)
    h, w = images[0].shape[:2]
    print(f"{len(images)} CK+ frames {w}x{h}, {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
          f"load average {os.getloadavg()[0]:.1f}; decoding {decode_ms:.1f} ms/frame (not counted below)")
    print(f"{'config':<15} {'1 thread f/s':>13} {'ms/frame':>9} {'detect ms':>10} {'landmarks ms':>13} "
          f"{f'{args.threads} threads f/s':>15}")
    results = {}
    for name in args.configs:
        fps, stages, landmarks = run_single(CONFIGS[name], images)
        threaded = run_threaded(CONFIGS[name], images, args.threads)
        results[name] = landmarks
        detect = stages.get("detect_ms")
        print(f"{name:<15} {fps:>13.1f} {1e3 / fps:>9.1f} {detect if detect is not None else float('nan'):>10.1f} "
              f"{stages.get('landmarks_ms', float('nan')):>13.1f} {threaded:>15.1f}")
    if "dlib fast" in results and "dlib full" in results:
        missing = sum(x is None for x in results["dlib fast"])
        print(f"dlib fast vs full resolution: mean landmark difference "
              f"{mean_error_iod(results['dlib fast'], results['dlib full']):.4f} inter-ocular distances; "
              f"{missing} frames without a face")
    return 0


if __name__ == "__main__":
    from xfer_keras.native_logs import native_stderr_silenced

    with native_stderr_silenced():  # TensorFlow / MediaPipe native log lines
        code = main()
    raise SystemExit(code)
