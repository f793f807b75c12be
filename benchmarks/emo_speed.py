"""R-EMO vs T-EMO cost on this CPU: parameters, seconds per training epoch, inference speed.

    python benchmarks/emo_speed.py                 # L = 468 (MediaPipe) and 68 (dlib), P = 10
    python benchmarks/emo_speed.py --landmarks 68 --epochs 10 --repeats 5

The paper's argument for R-EMO is a cheaper training (random, frozen convolution kernels).
This prints what that buys here: trainable / non-trainable parameters, the median seconds per
epoch of the paper's recipe (Adam, batch 16, 36 training sequences as in a CK+ training part;
tracing excluded) and inference sequences per second (batch 64, compiled). Data are random
tensors of the CK+ shapes (only shapes matter for speed). Benchmarks print; tests assert:
nothing here judges a timing. The 1-minute load average is printed because other processes
on a shared machine change every number.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import xfer_keras  # noqa: E402,F401  (environment before TensorFlow)


def measure(n_landmarks: int, variant: str, n_frames: int, epochs: int, repeats: int,
            n_train: int, n_infer: int) -> dict:
    import numpy as np

    from xfer_keras.models.emo_net import build_emo_net, count_params
    from xfer_keras.training.emo_fit import fit_emo_net

    rng = np.random.default_rng(0)
    shape = (n_frames, 2, n_landmarks, 1)
    X = rng.normal(size=(n_train, *shape)).astype("float32")
    y = (np.arange(n_train) % 5 == 0).astype("int32")  # 1 in 5 positive, as one-vs-rest on CK+
    model = build_emo_net(shape, variant, seed=0)
    params = count_params(model)
    fit_emo_net(model, X, y, epochs=1, validation_fraction=0, seed=0)  # compile + trace
    per_epoch = []
    for r in range(repeats):
        res = fit_emo_net(model, X, y, epochs=epochs, patience=epochs, validation_fraction=0,
                          seed=r, compile=False)
        per_epoch.append(res.seconds_per_epoch)
    Xi = rng.normal(size=(n_infer, *shape)).astype("float32")
    model.predict(Xi[:64], batch_size=64, verbose=0)  # trace
    speeds = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict(Xi, batch_size=64, verbose=0)
        speeds.append(n_infer / (time.perf_counter() - start))
    return {"L": n_landmarks, "variant": variant.upper(), "trainable": params["trainable"],
            "non_trainable": params["non_trainable"],
            "s_per_epoch": statistics.median(per_epoch),
            "infer_seq_per_s": statistics.median(speeds)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="R-EMO vs T-EMO speed")
    p.add_argument("--landmarks", type=int, nargs="+", default=[468, 68])
    p.add_argument("--frames", type=int, default=10)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--n-train", type=int, default=36)
    p.add_argument("--n-infer", type=int, default=256)
    args = p.parse_args(argv)

    import pandas as pd

    rows = []
    for n_landmarks in args.landmarks:
        for variant in ("t-emo", "r-emo"):
            rows.append(measure(n_landmarks, variant, args.frames, args.epochs, args.repeats,
                                args.n_train, args.n_infer))
            print(f"  done L={n_landmarks} {variant}  (load avg {os.getloadavg()[0]:.1f})",
                  flush=True)
    table = pd.DataFrame(rows)
    t = table[table.variant == "T-EMO"].set_index("L")["s_per_epoch"]
    table["epoch_time_vs_T-EMO"] = [row.s_per_epoch / t[row.L] for row in table.itertuples()]
    print(f"\nEMO nets, P={args.frames}, batch 16, {args.n_train} training sequences, "
          f"median of {args.repeats} x {args.epochs} epochs; {os.cpu_count()} CPUs, "
          f"load avg {os.getloadavg()[0]:.1f}")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
