"""The fuller landmark-pruning experiment on the 40 shared CK+ sequences (paper Tables 6-7).

Runs :func:`xfer_keras.training.pruning.pruning_experiment` one (run, variant) at a time and
saves after each, so a long run that is stopped still leaves complete tables for what finished:

    nice -n 10 python scripts/full_pruning.py --runs 3 --out outputs/pruning_full

Prints the paper-style tables (IG selection and the random control), IG - random differences,
the deletion-curve summary and the leakage check. Notebook 04 runs the quick version.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import xfer_keras  # noqa: E402,F401

import pandas as pd  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--variants", nargs="+", default=["t-emo", "r-emo"])
    ap.add_argument("--ks", type=int, nargs="+", default=None, help="default: the paper's")
    ap.add_argument("--emotions", nargs="+", default=None)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--patience", type=int, default=8)
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--backend", default="mediapipe")
    ap.add_argument("--flip", action="store_true", help="append mirrored sequences (paper)")
    ap.add_argument("--ig-steps", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="outputs/pruning_full")
    args = ap.parse_args(argv)

    os.environ.setdefault("XFER_DATA_DIR", str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    from xfer_keras.data import load_ckplus_dataset
    from xfer_keras.emotions import EMOTIONS6
    from xfer_keras.training.emo import ProtocolResult
    from xfer_keras.training.pruning import PruningResult, default_ks, pruning_experiment

    ds = load_ckplus_dataset(backend=args.backend, n_frames=args.frames, flip=args.flip, progress=False)
    print("dataset:", ds.summary(), flush=True)
    ks = tuple(args.ks or default_ks(ds.n_landmarks, quick=False))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    parts: list[PruningResult] = []
    start = time.time()
    emotions = args.emotions or list(EMOTIONS6)
    for run in range(args.runs):
        for variant in args.variants:
            for emotion in emotions:  # one emotion at a time: same partition and seeds as all at once
                t0 = time.time()
                part = pruning_experiment(
                    ds, ks=ks, emotions=[emotion], variants=[variant], n_runs=1,
                    epochs=args.epochs, patience=args.patience, seed=args.seed + run,
                    ig_n_steps=args.ig_steps, deletion_random=10, progress=False)
                for frame in (part.protocol.runs, part.selections, part.leakage, part.deletion):
                    if not frame.empty:
                        frame["run"] = run
                parts.append(part)
                merged = PruningResult(
                    protocol=ProtocolResult.concat([p.protocol for p in parts]),
                    selections=pd.concat([p.selections for p in parts], ignore_index=True),
                    leakage=pd.concat([p.leakage for p in parts], ignore_index=True),
                    deletion=pd.concat([p.deletion for p in parts], ignore_index=True),
                    meta={**part.meta, "n_runs": run + 1, "emotions": emotions})
                merged.to_csv(out)
                print(f"##### run {run + 1}/{args.runs} {variant} {emotion} done "
                      f"({time.time() - t0:.0f} s; total {time.time() - start:.0f} s)", flush=True)
            print(merged.report(), flush=True)
    print("\n===== FINAL =====")
    print(merged.report(), flush=True)

if __name__ == "__main__":
    main()
