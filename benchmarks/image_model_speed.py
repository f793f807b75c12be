"""Speed of the BAM image models on this machine: build, inference, train step, Grad-CAM.

    python benchmarks/image_model_speed.py [--models resnet_small_bam,resnet50_bam] [--steps 5]

Prints one row per (model, input size): build seconds, inference and train-step images per
second (batch 64 at small inputs, 16 at 224), and Grad-CAM milliseconds per image. Timings are
printed, never asserted (a shared CPU makes them noisy: the load average is printed too).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import xfer_keras  # noqa: E402  (sets ONEDNN_MAX_CPU_ISA before TensorFlow)

DEFAULT_SIZES = {"resnet_small_bam": 48, "tiny_bam": 64, "resnet50_bam": 48}


def bench(name: str, size: int, steps: int) -> dict:
    import keras
    import numpy as np

    from xfer_keras.explain.gradcam import GradCAM
    from xfer_keras.models.classifier import EmotionClassifier
    from xfer_keras.models.registry import create, get_spec, model_config

    channels = get_spec(name).channels
    batch = 16 if size >= 160 else 64
    t0 = time.perf_counter()
    model = create(name, input_size=size)
    build_s = time.perf_counter() - t0
    x = np.random.default_rng(0).uniform(size=(batch, size, size, channels)).astype("float32")
    y = np.arange(batch) % 7
    model(x[:2], training=False)
    t0 = time.perf_counter()
    for _ in range(steps):
        model(x, training=False)
    infer_ips = steps * batch / (time.perf_counter() - t0)
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    model.train_on_batch(x, y)
    t0 = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    train_ips = steps * batch / (time.perf_counter() - t0)
    clf = EmotionClassifier(model, model_config(name, input_size=size, model=model))
    crops = (np.random.default_rng(1).uniform(size=(8, 96, 96, 3)) * 255).astype("uint8")
    cam = GradCAM(clf)
    cam.explain(crops[:2])
    t0 = time.perf_counter()
    cam.explain(crops)
    gradcam_ms = 1000 * (time.perf_counter() - t0) / len(crops)
    return {"model": name, "size": size, "params": model.count_params(), "build_s": build_s,
            "infer_ips": infer_ips, "train_ips": train_ips, "batch": batch,
            "gradcam_ms": gradcam_ms, "gradcam_layer": clf.gradcam_layer}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="tiny_bam,resnet_small_bam,resnet50_bam")
    parser.add_argument("--size", type=int, default=None, help="input size for every model")
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print("| model | input | params | build s | infer img/s | train img/s (batch) | "
          "Grad-CAM ms/img (layer) |")
    print("|---|---|---|---|---|---|---|")
    for name in args.models.split(","):
        r = bench(name, args.size or DEFAULT_SIZES.get(name, 224), args.steps)
        print(f"| {r['model']} | {r['size']} | {r['params']:,} | {r['build_s']:.1f} | "
              f"{r['infer_ips']:.0f} | {r['train_ips']:.0f} ({r['batch']}) | "
              f"{r['gradcam_ms']:.1f} ({r['gradcam_layer']}) |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
