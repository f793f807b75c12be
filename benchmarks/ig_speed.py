"""How fast is our Integrated Gradients, and how far from the physical floor?

Prints, for an EMO net on landmark sequences (default N=8 videos of (10, 2, 468, 1), m=50):

* batched   - ``xfer_keras.explain.integrated_gradients`` (traced, interpolation points in chunks
              of ``internal_batch_size``);
* naive     - a Python loop over the m steps, one eager ``GradientTape`` per step (the usual
              tutorial code);
* loop+tf.function - the same loop, but each step a traced function (a fairer naive);
* floor     - one traced forward+backward pass on the N inputs, times m (IG needs m gradients
              per sample, so this is what any IG must pay), and one pass on all N*m points.

Timings are medians of ``--repeats`` warm runs (tracing excluded, reported separately).
Benchmarks print, tests assert: nothing here decides a test.

    python benchmarks/ig_speed.py [--n 8] [--steps 50] [--landmarks 468] [--frames 10]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))
import xfer_keras  # noqa: E402,F401  (environment before TensorFlow)
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from xfer_keras.explain.integrated_gradients import (  # noqa: E402
    approximation_parameters, integrated_gradients,
)


def build_model(input_shape):
    try:
        from xfer_keras.models.emo_net import build_emo_net
        return build_emo_net(input_shape, seed=0), "EMO net (T-EMO, 32 filters, LSTM 64, FC1 64)"
    except ImportError:  # pragma: no cover
        P, C, L, _ = input_shape
        inp = keras.Input(input_shape)
        x = keras.layers.TimeDistributed(keras.layers.Conv2D(32, (C, 1), activation="relu"))(inp)
        x = keras.layers.TimeDistributed(keras.layers.Flatten())(x)
        x = keras.layers.Dense(64, activation="relu")(keras.layers.LSTM(64)(x))
        return keras.Model(inp, keras.layers.Dense(2, activation="softmax")(x)), "Conv2D-LSTM stand-in"


CPU = {}  # label -> median process CPU seconds (wall time is noisy on a shared machine)


def timed(fn, repeats, label=None):
    times, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    if label:
        CPU[label] = float(np.median(cpu))
    return float(np.median(times))


def naive_eager(model, x, xb, alphas, weights, target=1):
    total = np.zeros_like(x)
    for a, w in zip(alphas, weights):
        z = tf.constant(xb + a * (x - xb))
        with tf.GradientTape() as tape:
            tape.watch(z)
            s = model(z, training=False)[:, target]
        total += w * tape.gradient(s, z).numpy()
    return total * (x - xb)


def make_traced_step(model, target=1):
    @tf.function(reduce_retracing=True)
    def step(z):
        with tf.GradientTape() as tape:
            tape.watch(z)
            s = model(z, training=False)[:, target]
        return tape.gradient(s, z)
    return step


def naive_traced(step, x, xb, alphas, weights):
    total = np.zeros_like(x)
    for a, w in zip(alphas, weights):
        total += w * step(tf.constant(xb + a * (x - xb))).numpy()
    return total * (x - xb)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=8, help="samples explained")
    ap.add_argument("--steps", type=int, default=50, help="interpolation steps m")
    ap.add_argument("--landmarks", type=int, default=468)
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--batch", type=int, default=None, help="internal_batch_size (default: auto)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--method", default="riemann_right")
    args = ap.parse_args(argv)

    shape = (args.frames, 2, args.landmarks, 1)
    model, name = build_model(shape)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.n, *shape)).astype(np.float32)
    xb = np.zeros_like(x)
    alphas, weights = approximation_parameters(args.method, args.steps)
    alphas, weights = alphas.astype(np.float32), weights.astype(np.float32)

    def batched():
        return integrated_gradients(model, x, xb, target=1, n_steps=args.steps, method=args.method,
                                    internal_batch_size=args.batch)

    t0, c0 = time.perf_counter(), time.process_time()
    ref = batched()
    first_call = time.perf_counter() - t0
    CPU["first"] = time.process_time() - c0
    t_batched = timed(batched, args.repeats, "batched")

    t_naive = timed(lambda: naive_eager(model, x, xb, alphas, weights), args.repeats, "naive")
    step = make_traced_step(model)
    step(tf.constant(x))
    t_loop_traced = timed(lambda: naive_traced(step, x, xb, alphas, weights), args.repeats, "loop")
    diff = np.abs(naive_traced(step, x, xb, alphas, weights) - ref).max()

    zn = tf.constant(x)
    zall = tf.constant(np.repeat(x, args.steps, axis=0))
    step(zall)  # trace the big shape too
    t_fb = timed(lambda: step(zn).numpy(), max(5, args.repeats), "fb")
    t_fb_all = timed(lambda: step(zall).numpy(), args.repeats, "fb_all")

    points = args.n * args.steps
    print(f"model: {name}; input {shape}; N={args.n} samples, m={args.steps} steps "
          f"({points} interpolation points), method={args.method}, "
          f"internal_batch_size={args.batch or 'auto'}; TF {tf.__version__}, "
          f"{os.cpu_count()} CPU(s){', GPU' if tf.config.list_physical_devices('GPU') else ''}")
    print(f"{'variant':44s} {'wall s':>8s} {'x floor':>8s} {'CPU s':>8s} {'x floor':>8s} {'CPU ms/pt':>9s}")
    floor, cfloor = t_fb * args.steps, CPU["fb"] * args.steps
    rows = [
        ("batched (ours, warm)", t_batched, CPU["batched"]),
        ("batched (ours, first call incl. tracing)", first_call, CPU["first"]),
        ("naive: Python loop, eager tape per step", t_naive, CPU["naive"]),
        ("Python loop, traced step per alpha", t_loop_traced, CPU["loop"]),
        ("floor: 1 fwd+bwd on N inputs x m", floor, cfloor),
        ("one fwd+bwd on all N*m points at once", t_fb_all, CPU["fb_all"]),
    ]
    for label, t, c in rows:
        print(f"{label:44s} {t:8.3f} {t / floor:8.2f} {c:8.3f} {c / cfloor:8.2f} {1000 * c / points:9.3f}")
    print(f"speed-up of batched over naive eager loop: {t_naive / t_batched:.1f}x wall, "
          f"{CPU['naive'] / CPU['batched']:.1f}x CPU; over traced loop: "
          f"{t_loop_traced / t_batched:.1f}x wall, {CPU['loop'] / CPU['batched']:.1f}x CPU")
    print(f"IG cost (batched) = {t_batched / floor:.2f} x wall, {CPU['batched'] / cfloor:.2f} x CPU "
          "of (one forward+backward pass on the N inputs x n_steps)")
    print(f"max |batched - loop| = {diff:.2e}")


if __name__ == "__main__":
    main()
