"""Run the EMO-net protocol on the 40 shared CK+ sequences and print the paper-style tables.

    nice -n 10 python scripts/emo_protocol.py                      # both backends, profile default
    nice -n 10 python scripts/emo_protocol.py --backend dlib --runs 10 --out outputs/emo
    python scripts/emo_protocol.py --estimate                      # time a few fits, extrapolate
    python scripts/emo_protocol.py --tune-only --backend dlib      # grid search (Tables 1-5 shape)

Every run has its own seed and its own subject-grouped partition; results (one row per
emotion x variant x run) are written to ``<out>/emo_protocol_<backend>.csv`` after each run,
then the tables are printed: accuracy as in the paper's Tables 6/7 (rows emotions, columns
landmark counts), and accuracy beside balanced accuracy, F1, ROC-AUC and the majority-class
baseline. KerasTuner's distributed mode works here unchanged (see docs/emo_tuning.md).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import xfer_keras  # noqa: E402,F401  (environment before TensorFlow)
from xfer_keras import config  # noqa: E402

L_OF = {"mediapipe": 468, "dlib": 68}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backend", nargs="+", default=["dlib", "mediapipe"], choices=sorted(L_OF))
    p.add_argument("--runs", type=int, default=None, help="runs (default: quick 2 / full 10)")
    p.add_argument("--split", default="grouped", choices=["grouped", "kfold", "loso"])
    p.add_argument("--epochs", type=int, default=None, help="max epochs (quick 6 / full 100)")
    p.add_argument("--patience", type=int, default=None, help="early-stopping patience")
    p.add_argument("--variants", nargs="+", default=["t-emo", "r-emo"])
    p.add_argument("--emotions", nargs="+", default=None)
    p.add_argument("--motion", action="store_true",
                   help="input = each frame minus the neutral first frame (not in the paper)")
    p.add_argument("--filters", type=int, default=None)
    p.add_argument("--lstm-units", type=int, default=None)
    p.add_argument("--fc1-units", type=int, default=None)
    p.add_argument("--tune", action="store_true",
                   help="grid-search (F, Q, R) inside every training part (nested; slow)")
    p.add_argument("--tune-only", action="store_true",
                   help="only grid-search on the training part of run 0 and print the table")
    p.add_argument("--tuner-dir", default=None, help="KerasTuner folder (default: cache dir)")
    p.add_argument("--estimate", action="store_true", help="time one run per backend and stop")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="outputs/emo_protocol")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from xfer_keras.data import load_ckplus_dataset
    from xfer_keras.emotions import EMOTIONS6
    from xfer_keras.training.emo import ProtocolResult, run_protocol, subject_splits

    emotions = args.emotions or list(EMOTIONS6)
    hp = {k: v for k, v in {"filters": args.filters, "lstm_units": args.lstm_units,
                            "fc1_units": args.fc1_units}.items() if v is not None} or None
    out = Path(args.out)
    print(f"profile={config.profile()} runs={args.runs or config.pick(2, 10)} split={args.split} "
          f"epochs={args.epochs} patience={args.patience} hyperparams={hp or 'defaults'}", flush=True)
    results = []
    for backend in args.backend:
        dataset = load_ckplus_dataset(backend, progress=False, motion=args.motion)
        print(f"{backend}: {dataset.summary()}", flush=True)
        if args.tune_only:
            from xfer_keras.training.tuning import hyperparams_table, tune_emotions

            train, _ = subject_splits(dataset.subjects, args.split, args.seed,
                                      labels=dataset.emotions)[0]
            tuned = tune_emotions(dataset, emotions, train_idx=train, epochs=args.epochs,
                                  directory=args.tuner_dir, seed=args.seed)
            print(f"\nT-EMO grid search, L={dataset.n_landmarks} (training part of run 0 only)")
            print(hyperparams_table(tuned).to_string())
            continue
        if args.estimate:
            start = time.perf_counter()
            res = run_protocol(dataset, emotions=emotions[:1], variants=args.variants, n_runs=1,
                               split=args.split, hyperparams=hp, epochs=args.epochs,
                               patience=args.patience, seed=args.seed, progress=False)
            wall = time.perf_counter() - start
            n_fits = len(emotions) * len(args.variants) * (args.runs or config.pick(2, 10))
            per_fit = res.runs["fit_seconds"].mean()
            print(res.runs[["emotion", "variant", "epochs", "fit_seconds"]].to_string())
            print(f"{backend}: {wall:.0f} s wall for {len(res.runs)} fits (incl. tracing); "
                  f"~{per_fit:.0f} s per fit -> ~{per_fit * n_fits / 60:.0f} min for {n_fits} fits",
                  flush=True)
            continue
        start = time.perf_counter()
        result = run_protocol(
            dataset, emotions=emotions, variants=args.variants, n_runs=args.runs,
            split=args.split, hyperparams="tune" if args.tune else hp, epochs=args.epochs,
            patience=args.patience, seed=args.seed, tag={"backend": backend, "input": "motion" if args.motion else "positions"},
            tune_kwargs={"directory": args.tuner_dir} if args.tune else None,
            checkpoint=out / f"emo_protocol_{backend}.csv")
        print(f"{backend}: protocol took {(time.perf_counter() - start) / 60:.1f} min", flush=True)
        print(result.report(), flush=True)
        results.append(result)
    if len(results) > 1:
        both = ProtocolResult.concat(results)
        both.to_csv(out / "emo_protocol_all.csv")
        for variant in args.variants:
            print(f"\n== {variant.upper()}: accuracy, both backends (paper's Table {6 if variant == 't-emo' else 7} layout)")
            print(both.paper_table("accuracy", variant).to_string())
            print(f"-- {variant.upper()}: balanced accuracy")
            print(both.paper_table("balanced_accuracy", variant).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
