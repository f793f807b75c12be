"""Build notebooks/02_train_emo_nets.ipynb: ``python scripts/nb_02_train_emo_nets.py``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts.make_notebook import write_notebook  # noqa: E402

INTRO = """R-EMO and T-EMO one-vs-rest nets on CK+ landmark sequences (Di Luzio et al., §3.3-4):
build, train, evaluate with an honest protocol (subject-grouped partitions, several seeds,
balanced accuracy / F1 / ROC-AUC beside accuracy and the majority baseline), grid-search the
layer sizes on training folds only, and combine the six nets into a 6-class predictor.

Quick profile (CI): dlib 68 landmarks, 2 runs, 6 epochs at most. Full profile: both landmark
sets, 10 runs, 100 epochs with early stopping - the paper's Tables 6/7 layout
(`scripts/emo_protocol.py` runs the same from the command line)."""

CELLS = [
    ("md", """
## 1. Data: (N, P, C, L, 1) landmark sequences

The 40 shared CK+ sequences (10 subjects). Without the data (fresh clone), a synthetic set
with a *planted* signal stands in, so the notebook still runs end to end.
"""),
    ("code", """
import numpy as np
import pandas as pd
from xfer_keras.data import load_ckplus_dataset, planted_sequences
from xfer_keras.errors import DataNotFoundError

backends = config.pick(quick=["dlib"], full=["dlib", "mediapipe"])
try:
    datasets = {b: load_ckplus_dataset(b) for b in backends}
except DataNotFoundError as error:
    print("CK+ not available, using planted synthetic sequences:", error)
    datasets = {"synthetic": planted_sequences(n=60, n_frames=8, n_landmarks=40)}
for name, ds in datasets.items():
    print(name, ds.summary())
dataset = next(iter(datasets.values()))
"""),
    ("md", """
## 2. The two nets (Figure 1)

Conv2D over the C x L plane of each frame (kernel (C, 1): one landmark's coordinates per
position) -> BatchNorm -> Flatten -> LSTM -> Dropout -> FC1 -> FC2 (softmax, 2 units).
R-EMO draws the convolution kernels from the seed and freezes them.
"""),
    ("code", """
from xfer_keras.models.emo_net import build_emo_net, count_params, conv_kernel

nets = {v: build_emo_net(dataset.input_shape, v, seed=0) for v in ("t-emo", "r-emo")}
nets["r-emo"].summary()
pd.DataFrame({v: count_params(m) for v, m in nets.items()})
"""),
    ("md", """
## 3. One binary net, one subject-grouped split

`fit_emo_net` follows the paper (Adam 1e-4, batch 16, 10 % of the training part for early
stopping) plus balanced class weights. With 4-9 positives of 40, "always no" already scores
high accuracy: look at balanced accuracy and the baseline too.
"""),
    ("code", """
from xfer_keras.training.emo import subject_splits
from xfer_keras.training.emo_fit import fit_emo_net
from xfer_keras.training.metrics import binary_metrics, majority_baseline

emotion = "happiness"
train, test = subject_splits(dataset.subjects, "grouped", seed=0, labels=dataset.emotions)[0]
y = dataset.binary_labels(emotion)
rows = {}
for variant, model in nets.items():
    before = conv_kernel(model)
    fit = fit_emo_net(model, dataset.X[train], y[train], seed=0)
    p = model.predict(dataset.X[test], verbose=0)[:, 1]
    rows[variant] = {**binary_metrics(y[test], p), "majority_baseline": majority_baseline(y[train], y[test]),
                     "epochs": fit.epochs_run, "s_per_epoch": fit.seconds_per_epoch,
                     "conv kernel changed": not np.array_equal(before, conv_kernel(model))}
pd.DataFrame(rows).T
"""),
    ("md", """
## 4. The protocol: N runs, each with its own seed and subject-grouped partition

Per run, the six one-vs-rest nets of each variant share one partition; their positive
probabilities also make a 6-class ensemble (argmax), evaluated on the same test part.
"""),
    ("code", """
from xfer_keras.training.emo import ProtocolResult, run_protocol

results = {name: run_protocol(ds, tag={"backend": name}) for name, ds in datasets.items()}
result = ProtocolResult.concat(results.values())
print(result.report())
"""),
    ("code", """
# The paper's Tables 6 (T-EMO) and 7 (R-EMO) layout: rows emotions, columns landmark counts.
result.paper_table("accuracy", "t-emo")
"""),
    ("code", """
result.paper_table("balanced_accuracy", "r-emo")
"""),
    ("md", """
## 4b. Beyond the paper: landmark *motion* instead of positions

Each frame minus the sequence's neutral first frame removes who the person is and keeps what
the face does. Same nets, same protocol, same partitions (seeds); compare ROC-AUC and balanced
accuracy with the table above (10-run figures in `docs/emo.md`).
"""),
    ("code", """
motion = {name: ds.relative_to_first_frame() for name, ds in datasets.items()}
motion_result = ProtocolResult.concat(
    [run_protocol(ds, variants=("t-emo",), tag={"backend": name, "input": "motion"})
     for name, ds in motion.items()])
motion_result.summary()
"""),
    ("md", """
## 5. Grid search of (F, Q, R) on a training part only (Tables 1-5 layout)

KerasTuner `GridSearch` over a small grid, validation split inside the training part; the
tuner's files go to the cache folder, never the repository. See `docs/emo_tuning.md` for
spreading the search over machines.
"""),
    ("code", """
from xfer_keras.training.tuning import hyperparams_table, tune_emotions

tune_on = config.pick(quick=["happiness"], full=list(dataset.summary()["per_emotion"]))
tuned = tune_emotions(dataset, tune_on, train_idx=train, epochs=config.pick(quick=2, full=None))
hyperparams_table(tuned)
"""),
    ("md", """
## 6. The 6-class ensemble, saved and reloaded
"""),
    ("code", """
import tempfile
from xfer_keras.models.emo_net import EmoNetEnsemble
from xfer_keras.training.emo import train_ensemble

ensemble = train_ensemble(dataset, "r-emo", train_idx=train, emotions=sorted(set(dataset.emotions)),
                          epochs=config.pick(quick=3, full=None))
with tempfile.TemporaryDirectory() as folder:
    reloaded = EmoNetEnsemble.load(ensemble.save(folder))
    assert np.array_equal(reloaded.predict_proba(dataset.X[test]), ensemble.predict_proba(dataset.X[test]))
pd.DataFrame({"truth": dataset.emotions[test], "predicted": ensemble.predict(dataset.X[test])})
"""),
]

if __name__ == "__main__":
    write_notebook("notebooks/02_train_emo_nets.ipynb", "Train the EMO nets (R-EMO, T-EMO)", CELLS, INTRO)
    print("wrote notebooks/02_train_emo_nets.ipynb")
