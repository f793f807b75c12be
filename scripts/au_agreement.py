"""Agreement of the MediaPipe AU sources with FACS codes on CK+ peak frames (naive vs calibrated vs learned).

    XFER_DATA_DIR=../shared/data python scripts/au_agreement.py [--write]

Data (research licence, never shipped): the FACS AU codes of all 327 labelled CK+ peaks
(``ckplus_facs/ckplus_peak_facs_emotion.csv``), blendshapes measured by MediaPipe on

* ``ckplus48``: the peak frame of all 327 sequences (48x48 crops, upscaled x4 - MediaPipe finds
  every face; their blendshapes correlate 0.9+ with the full frames' for the main AUs), 118 subjects;
* ``ckplus_sequences``: the full-resolution peak (last) frame of the 40 shared sequences
  (10 subjects), and their first (neutral) frame for the neutral-referenced reading.

Three detectors: ``naive`` (max of an AU's blendshapes >= 0.2), ``calibrated`` (logistic
regression per AU on a few blendshapes) and ``learned`` (logistic regression per AU on the mesh
geometry of :mod:`xfer_keras.face.geometry`, :mod:`xfer_keras.xfera.aus.learned`); the learned one
is also read against each of the 40 sequences' neutral first frame.

Validation is leave-one-subject-out (LOSO): for each subject, the calibrated per-AU logistic
regressions are fitted on every other subject's frames (both sets) and predict that subject's
frames; each AU's probability threshold is tuned for F1 inside the training subjects only
(subject-grouped 5-fold, nested), and an AU whose out-of-fold predictions there agree with
the codes little better than chance (Cohen's kappa below ``MIN_KAPPA``) is not measured
(predicted absent); the learned detector is validated the same way (standardisation fitted on
the training subjects too). Mean F1 is over the AUs with at least 5 positives in the set (an AU
not measured counts 0). ``--write`` refits on everything and writes the parameters (no data) to
``xfer_keras/xfera/aus/_calibration.py`` and ``xfer_keras/xfera/aus/_learned.py``.
"""

from __future__ import annotations

import argparse
import pprint
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import xfer_keras  # noqa: E402,F401  (environment before TensorFlow/mediapipe)
from xfer_keras import config  # noqa: E402
from xfer_keras.xfera.aus.blendshapes import (  # noqa: E402
    CALIBRATION_FEATURES, MIN_KAPPA, NAIVE_THRESHOLD, fit_calibration, loso_presence, naive_intensities,
)
from xfer_keras.xfera.aus.learned import (  # noqa: E402
    DEFAULT_C, DEFAULT_FEATURE_SET, FEATURE_SETS, face_features, fit_learned, loso_learned,
)

CALIBRATION_PY = REPO / "xfer_keras/xfera/aus/_calibration.py"
LEARNED_PY = REPO / "xfer_keras/xfera/aus/_learned.py"
MIN_SET_POSITIVES = 5
UPSCALE = 192


def prf(y_true, y_pred) -> tuple[float, float, float]:
    y_true, y_pred = np.asarray(y_true, bool), np.asarray(y_pred, bool)
    tp = float((y_true & y_pred).sum())
    precision = tp / y_pred.sum() if y_pred.sum() else 0.0
    recall = tp / y_true.sum() if y_true.sum() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def measure(root: Path):
    """MediaPipe faces + FACS labels of the CK+ peaks: (faces, meta, labels, neutral faces,
    neutral meta). ``faces`` are ``(landmarks, landmarks_z, blendshapes)``."""
    import pandas as pd
    from PIL import Image

    from xfer_keras.errors import NoFaceError
    from xfer_keras.face import LandmarkDetector, load_image

    facs = pd.read_csv(root / "ckplus_facs/ckplus_peak_facs_emotion.csv", dtype={"sequence": str})
    facs = facs.set_index(["subject", "sequence"])
    items = []  # (set, subject, sequence, kind, path)
    labels48 = pd.read_csv(root / "ckplus48/labels.csv", dtype={"sequence": str})
    peaks48 = labels48[labels48["frame"] == labels48["sequence_last_frame"]]
    for row in peaks48.itertuples():
        items.append(("ckplus48", row.subject, row.sequence, "48", root / "ckplus48" / row.path))
    seqs = pd.read_csv(root / "ckplus_sequences/sequences.csv", dtype=str)
    for row in seqs.itertuples():
        folder = root / "ckplus_sequences" / row.frames_dir
        items.append(("sequences40", row.subject, row.sequence, "full", folder / getattr(row, "_7")))
        items.append(("neutral40", row.subject, row.sequence, "full", folder / getattr(row, "_6")))
    faces, keep, neutral_faces, neutral_keep = [], [], [], []
    with LandmarkDetector("mediapipe") as detector:
        for set_name, subject, sequence, kind, path in items:
            image = load_image(path)
            if kind == "48":
                image = np.asarray(Image.fromarray(image).resize((UPSCALE, UPSCALE), Image.BICUBIC))
            try:
                face = detector.detect_one(image, source=str(path))
            except NoFaceError:
                print(f"  no face: {path}", file=sys.stderr)
                continue
            found = (face.landmarks, face.landmarks_z, face.blendshapes)
            if set_name == "neutral40":
                neutral_faces.append(found)
                neutral_keep.append((subject, sequence))
            else:
                faces.append(found)
                keep.append((set_name, subject, sequence))
    meta = pd.DataFrame(keep, columns=["set", "subject", "sequence"])
    neutral_meta = pd.DataFrame(neutral_keep, columns=["subject", "sequence"])
    labels = facs.loc[list(zip(meta.subject, meta.sequence))].reset_index(drop=True)
    return faces, meta, labels, neutral_faces, neutral_meta


def table(title, aus, y, mask, columns, min_positives=MIN_SET_POSITIVES):
    """Lines of one per-AU P/R/F1 table (``columns``: name -> AU -> (N,) bool) and the mean F1
    of each column over the AUs with at least ``min_positives`` positives in ``mask``."""
    names = list(columns)
    lines = [f"== {title}",
             f"{'AU':>5} {'n+':>4} | " + " | ".join(f"{n[:8]:>8} P {'R':>5} {'F1':>5}" for n in names)]
    f1s = {n: [] for n in names}
    scored = []
    for au in aus:
        truth = y[au][mask]
        cells = []
        for n in names:
            p, r, f = prf(truth, columns[n][au][mask])
            cells.append(f"{p:10.2f} {r:5.2f} {f:5.2f}")
            if truth.sum() >= min_positives:
                f1s[n].append(f)
        if truth.sum() >= min_positives:
            scored.append(au)
        lines.append(f"AU{au:02d} {int(truth.sum()):>5} | " + " | ".join(cells))
    means = {n: float(np.mean(f1s[n])) for n in names}
    lines.append(f"mean F1 over {len(scored)} AUs with >= {min_positives} positives: "
                 + " | ".join(f"{n} {means[n]:.3f}" for n in names) + "\n")
    return lines, means


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true",
                        help="refit on all and write _calibration.py and _learned.py")
    parser.add_argument("--C", type=float, default=1.0, help="calibrated mapping's C")
    parser.add_argument("--learned-C", type=float, default=DEFAULT_C, help="learned detector's C")
    parser.add_argument("--features", choices=FEATURE_SETS, default=DEFAULT_FEATURE_SET,
                        help="learned detector's features (default %(default)s)")
    parser.add_argument("--no-neutral-training", dest="neutral_training", action="store_false",
                        help="fit the learned detector on the peaks only (not on the neutral frames too)")
    parser.add_argument("--min-positives", type=int, default=10,
                        help="AUs with fewer positives among the 327 peaks are left out")
    args = parser.parse_args(argv)
    root = config.dataset_dir("ckplus_facs").parent
    start = time.time()
    faces, meta, labels, neutral_faces, neutral_meta = measure(root)
    print(f"measured {len(faces)} CK+ peak frames and {len(neutral_faces)} neutral first frames in "
          f"{time.time() - start:.1f} s ({meta.subject.nunique()} subjects)\n")
    rows = [f[2] for f in faces]
    aus = [au for au in CALIBRATION_FEATURES if labels[f"AU{au}"].sum() >= args.min_positives]
    y = {au: labels[f"AU{au}"].to_numpy().astype(bool) for au in aus}
    groups = meta.subject.to_numpy()
    x = np.array([face_features(*f, feature_set=args.features) for f in faces])
    xn = np.array([face_features(*f, feature_set=args.features) for f in neutral_faces])
    neutral_row = {(s, q): i for i, (s, q) in enumerate(zip(neutral_meta.subject, neutral_meta.sequence))}
    pairs = [(i, xn[neutral_row[(s, q)]]) for i, (t, s, q) in enumerate(zip(meta.set, meta.subject, meta.sequence))
             if t == "sequences40" and (s, q) in neutral_row]

    naive_scores = [naive_intensities(r) for r in rows]
    naive = {au: np.array([n[au] >= NAIVE_THRESHOLD for n in naive_scores]) for au in aus}
    calibrated = loso_presence(rows, y, groups, C=args.C)
    # the neutral first frames: read LOSO by every detector; the learned one also trains on them
    # (every AU absent) unless --no-neutral-training
    neutral_rows = [f[2] for f in neutral_faces]
    neutral_groups = neutral_meta.subject.to_numpy()
    naive_scores_n = [naive_intensities(r) for r in neutral_rows]
    on_neutral = {
        "naive": {au: np.array([n[au] >= NAIVE_THRESHOLD for n in naive_scores_n]) for au in aus},
        "calibrated": loso_presence(rows, y, groups, test_rows=neutral_rows, test_groups=neutral_groups,
                                    C=args.C),
    }
    n_peaks = len(faces)
    if args.neutral_training:
        x_fit = np.vstack([x, xn])
        y_fit = {au: np.concatenate([v, np.zeros(len(xn), dtype=bool)]) for au, v in y.items()}
        groups_fit = np.concatenate([groups, neutral_groups])
        learned_all, learned_neutral = loso_learned(x_fit, y_fit, groups_fit, C=args.learned_C, neutral=pairs,
                                                    neutral_groups=neutral_groups, neutral_x=xn)
        learned = {au: v[:n_peaks] for au, v in learned_all.items()}
        on_neutral["learned"] = {au: v[n_peaks:] for au, v in learned_all.items()}
        learned_neutral = {au: v[:n_peaks] for au, v in learned_neutral.items()}
    else:
        x_fit, y_fit, groups_fit = x, y, groups
        x_both = np.vstack([x, xn])
        y_both = {au: np.concatenate([v, np.zeros(len(xn), dtype=bool)]) for au, v in y.items()}
        learned_all, learned_neutral = loso_learned(
            x_both, y_both, np.concatenate([groups, neutral_groups]), C=args.learned_C, neutral=pairs,
            neutral_groups=neutral_groups, neutral_x=xn, train_rows=n_peaks)
        learned = {au: v[:n_peaks] for au, v in learned_all.items()}
        on_neutral["learned"] = {au: v[n_peaks:] for au, v in learned_all.items()}
        learned_neutral = {au: v[:n_peaks] for au, v in learned_neutral.items()}
    print(f"LOSO in {time.time() - start:.1f} s\n")
    lines, means = [], {}
    for set_name in ("ckplus48", "sequences40"):
        mask = (meta.set == set_name).to_numpy()
        title = {"ckplus48": "327 CK+ peaks (48x48 crops x4), LOSO over subjects",
                 "sequences40": "40 shared CK+ sequences, full-resolution peak frames, LOSO"}[set_name]
        set_lines, means[set_name] = table(
            title, aus, y, mask, {"naive": naive, "calibrated": calibrated, "learned": learned})
        lines += set_lines
    paired = np.zeros(len(faces), dtype=bool)
    paired[[i for i, _ in pairs]] = True
    n_subjects = meta.subject[paired].nunique()
    set_lines, neutral_means = table(
        f"neutral-referenced: the same {int(paired.sum())} sequences ({n_subjects} subjects), peak "
        "read against its own first frame, LOSO", aus, y, paired,
        {"learned": learned, "learned+neutral": learned_neutral})
    lines += set_lines
    n_neutral_subjects = len(set(neutral_groups))
    lines.append(f"== {len(neutral_rows)} neutral first frames of the same sequences ({n_neutral_subjects} "
                 "subjects), LOSO: faces (of " f"{len(neutral_rows)}) on which each AU is called present")
    lines.append(f"{'AU':>5} | " + " ".join(f"{n:>10}" for n in on_neutral))
    for au in aus:
        lines.append(f"AU{au:02d} | " + " ".join(f"{int(v[au].sum()):>10}" for v in on_neutral.values()))
    lines.append("AUs called present per neutral face: " + " | ".join(
        f"{n} {sum(int(v[au].sum()) for au in aus) / len(neutral_rows):.2f}" for n, v in on_neutral.items())
        + "\n")
    better = all(means[s]["learned"] > means[s]["calibrated"] for s in means)
    lines.append("learned vs calibrated mean F1: " + ", ".join(
        f"{s} {means[s]['calibrated']:.3f} -> {means[s]['learned']:.3f}" for s in means)
        + f" ({'learned better on both' if better else 'learned not better on both'})")
    print("\n".join(lines))

    note = (f"fitted by scripts/au_agreement.py on {len(faces)} CK+ peak frames "
            f"({meta.subject.nunique()} subjects)")
    learned_params = fit_learned(x_fit, y_fit, groups_fit, C=args.learned_C, neutral_x=xn, feature_set=args.features,
                                 note=note + (f" and {len(xn)} neutral first frames (every AU absent)"
                                              if args.neutral_training else "")
                                 + ": FACS codes vs MediaPipe mesh geometry")
    for au, v in learned_params["unreliable"].items():
        print(f"learned: AU{int(au):02d} not measured: {v['n_positive']} positives of {v['n']}, "
              f"out-of-fold Cohen's kappa {v['oof_kappa']:.3f} < {MIN_KAPPA}")
    if args.write:
        params = fit_calibration(rows, y, C=args.C, groups=groups,
                                 note=note + ": FACS codes vs MediaPipe blendshapes")
        for name, path, constant, fitted in (("Calibrated blendshape", CALIBRATION_PY, "CALIBRATION", params),
                                             ("Learned mesh-geometry", LEARNED_PY, "LEARNED", learned_params)):
            left_out = ", ".join(f"AU{int(au):02d} (kappa {v['oof_kappa']:.3f})"
                                 for au, v in fitted["unreliable"].items())
            text = (f'"""{name} -> AU parameters, written by ``scripts/au_agreement.py --write``.\n\n'
                    "Parameters only (no data). LOSO agreement at the time of fitting:\n\n"
                    + "\n".join("    " + line for line in lines).rstrip() + "\n\n"
                    + f"    not measured (out-of-fold Cohen's kappa below {MIN_KAPPA}): {left_out or 'none'}"
                    + '\n"""\n\n'
                    f"# fmt: off\n{constant} = " + pprint.pformat(fitted, width=100, sort_dicts=False, compact=True)
                    + "\n")
            path.write_text(text.replace(" \n", "\n"))
            print(f"wrote {path.relative_to(REPO)} ({len(fitted['aus'])} AUs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
