"""Speed of the BAM image models on this CPU, and what the oneDNN ISA cap costs.

    python benchmarks/image_model_speed.py                      # ISA/precision options table
    python benchmarks/image_model_speed.py --arch resnet_bam_wide --rounds 1   # of another net
    python benchmarks/image_model_speed.py --models resnet_small_bam,resnet50_bam --steps 5
                                             # build / inference / train / Grad-CAM per model

``import xfer_keras`` caps oneDNN at AVX2 (``ONEDNN_MAX_CPU_ISA``) because TensorFlow's oneDNN
kernels once crashed on gradients of 1x1 stride-2 convolutions with few channels. Each option
runs in fresh subprocesses (the cap is read when TensorFlow loads): a crash probe (the
gradients of several few-channel 1x1 stride-2 convs, the regression test's model among them),
and, in another process, train and inference images/s of ``--arch`` (batch 128 at 48 px). Options: ISA caps
AVX2 / AVX512_CORE / AVX512_CORE_BF16 / no cap, oneDNN off, XLA ``jit_compile``, bf16 mixed
precision under the BF16 cap and under the AMX cap (this CPU's tile units), and Keras on JAX
(float32 and mixed bf16; what ``--input-pipeline layers`` trains with where TensorFlow is
absent). ``--options`` picks some of them. Rows are measured
in rounds (every option once per round) so that a change in the
machine's load hits all options alike; the median over rounds is printed with the load average.
Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

OPTIONS = {  # name -> (environment, jit_compile, mixed_bfloat16)
    "AVX2 cap (shipped default)": ({"ONEDNN_MAX_CPU_ISA": "AVX2"}, False, False),
    "AVX512_CORE cap": ({"ONEDNN_MAX_CPU_ISA": "AVX512_CORE"}, False, False),
    "AVX512_CORE_BF16 cap": ({"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_BF16"}, False, False),
    "no cap (ALL)": ({"ONEDNN_MAX_CPU_ISA": "ALL"}, False, False),
    "oneDNN off": ({"ONEDNN_MAX_CPU_ISA": "ALL", "TF_ENABLE_ONEDNN_OPTS": "0"}, False, False),
    "AVX2 + XLA jit_compile": ({"ONEDNN_MAX_CPU_ISA": "AVX2"}, True, False),
    "AVX512_CORE_BF16 + mixed bf16": ({"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_BF16"}, False, True),
    "AVX512_CORE_AMX + mixed bf16": ({"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_AMX"}, False, True),
    # Keras on JAX (XLA's CPU kernels, no oneDNN), as on the GPU machines without TensorFlow
    "JAX backend": ({"KERAS_BACKEND": "jax"}, False, False),
    "JAX backend + mixed bf16": ({"KERAS_BACKEND": "jax"}, False, True),
}


DEFAULT_SIZES = {"resnet_small_bam": 48, "resnet_bam_wide": 48, "tiny_bam": 64,
                 "resnet50_bam": 48}


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



def model_table(models: str, size, steps: int) -> None:
    import xfer_keras  # noqa: F401  (sets ONEDNN_MAX_CPU_ISA before TensorFlow)

    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; "
          f"ONEDNN_MAX_CPU_ISA={os.environ.get('ONEDNN_MAX_CPU_ISA', 'AVX2 (xfer_keras default)')}")
    print("| model | input | params | build s | infer img/s | train img/s (batch) | "
          "Grad-CAM ms/img (layer) |")
    print("|---|---|---|---|---|---|---|")
    for name in models.split(","):
        r = bench(name, size or DEFAULT_SIZES.get(name, 224), steps)
        print(f"| {r['model']} | {r['size']} | {r['params']:,} | {r['build_s']:.1f} | "
              f"{r['infer_ips']:.0f} | {r['train_ips']:.0f} ({r['batch']}) | "
              f"{r['gradcam_ms']:.1f} ({r['gradcam_layer']}) |", flush=True)


def crash_probe() -> str:
    """Train tiny nets whose only downsampling is a 1x1 stride-2 conv with few channels."""
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    for size, c_in, c_mid, c_out, batch in ((16, 3, 8, 4, 8), (16, 1, 2, 1, 1), (48, 1, 4, 8, 32),
                                            (7, 2, 2, 2, 3), (24, 32, 32, 64, 16)):
        inputs = keras.Input((size, size, c_in))
        x = keras.layers.Conv2D(c_mid, 3, padding="same", activation="relu")(inputs)
        x = keras.layers.Conv2D(c_out, 1, strides=2)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.GlobalAveragePooling2D()(x)
        model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))
        model.compile("adam", "sparse_categorical_crossentropy")
        X = rng.normal(size=(4 * batch, size, size, c_in)).astype("float32")
        loss = model.fit(X, np.arange(4 * batch) % 2, batch_size=batch, epochs=1,
                         verbose=0).history["loss"][-1]
        if not np.isfinite(loss):
            return f"non-finite loss at {size}x{size}x{c_in}->{c_out}"
    return "ok"


def child(option: str, steps: int, arch: str = "resnet_small_bam") -> dict:
    """Run in the subprocess: the probe, then train / inference speed of ``arch`` (48x48 gray)."""
    _, jit, mixed = OPTIONS[option]
    import xfer_keras  # noqa: F401  (keeps the caller's ONEDNN_MAX_CPU_ISA)
    import keras
    import numpy as np

    from xfer_keras.models.registry import create

    if arch == "probe":
        return {"probe": crash_probe()}
    if mixed:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    model = create(arch, input_size=48)
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", jit_compile=jit)
    batch = 128
    x = np.random.default_rng(0).uniform(size=(batch, 48, 48, 1)).astype("float32")
    y = np.arange(batch) % 7
    for _ in range(3):
        model.train_on_batch(x, y)
    t0 = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    train_ips = steps * batch / (time.perf_counter() - t0)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        infer = tf.function(lambda z: model(z, training=False), jit_compile=jit)
    else:  # jitted by Keras
        infer = model.predict_on_batch
    infer(x)
    t0 = time.perf_counter()
    for _ in range(steps):
        infer(x)
    infer_ips = steps * batch / (time.perf_counter() - t0)
    return {"train_ips": train_ips, "infer_ips": infer_ips}


def _child_process(option: str, steps: int, arch: str) -> dict | int:
    env = {**os.environ, **OPTIONS[option][0], "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, __file__, "--child", option, "--steps", str(steps),
                           "--arch", arch],
                          env=env, capture_output=True, text=True, timeout=900)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if proc.returncode == 0 and lines else proc.returncode


def run_option(option: str, steps: int, arch: str = "resnet_small_bam") -> dict:
    """The crash probe and the speed of ``arch``, each in its own fresh process (a probe that
    crashes says nothing about whether ``arch`` itself trains under that option)."""
    probe = _child_process(option, steps, "probe")
    speed = _child_process(option, steps, arch)
    nan = float("nan")
    return {"probe": probe["probe"] if isinstance(probe, dict) else f"CRASHED (exit code {probe})",
            **(speed if isinstance(speed, dict) else
               {"train_ips": nan, "infer_ips": nan, "crashed": speed})}


def isa_table(rounds: int, steps: int, arch: str = "resnet_small_bam",
              options=tuple(OPTIONS)) -> None:
    results = {name: [] for name in options}
    loads = []
    for _ in range(rounds):
        for name in options:
            loads.append(os.getloadavg()[0])
            results[name].append(run_option(name, steps, arch))
    print(f"load average during the runs: {min(loads):.1f}-{max(loads):.1f} on "
          f"{os.cpu_count()} CPUs; {arch}; median of {rounds} round(s), {steps} steps of batch 128")
    print("| option | 1x1 stride-2 gradient probe | train img/s | inference img/s |")
    print("|---|---|---|---|")
    for name, runs in results.items():
        train = statistics.median(r["train_ips"] for r in runs)
        infer = statistics.median(r["infer_ips"] for r in runs)
        probes = sorted({r["probe"] for r in runs})
        crashed = sorted({f"{arch} CRASHED ({r['crashed']})" for r in runs if "crashed" in r})
        print(f"| {name} | {', '.join(probes)} | {train:.0f} | {infer:.0f} |"
              + (f" {', '.join(crashed)}" if crashed else ""), flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--models", default=None,
                        help="instead of the ISA table: build / inference / train / Grad-CAM "
                             "speed of these registry models (e.g. tiny_bam,resnet50_bam)")
    parser.add_argument("--size", type=int, default=None, help="input size for --models")
    parser.add_argument("--arch", default="resnet_small_bam",
                        help="registry model of the ISA table (48x48 gray), e.g. resnet_bam_wide")
    parser.add_argument("--options", default=None,
                        help="comma-separated option names of the ISA table (default: all)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    options = tuple(OPTIONS)
    if args.options:
        options = tuple(name.strip() for name in args.options.split(","))
        unknown = [name for name in options if name not in OPTIONS]
        if unknown:
            parser.error(f"unknown options {unknown}; known: {list(OPTIONS)}")
    if args.child:
        print(json.dumps(child(args.child, args.steps, args.arch)), flush=True)
    elif args.models:
        model_table(args.models, args.size, args.steps)
    else:
        isa_table(args.rounds, args.steps, args.arch, options)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
