"""Agreement of the blendshape AU source with FACS codes on CK+ peak frames (naive vs calibrated).

    XFER_DATA_DIR=../shared/data python scripts/au_agreement.py [--write]

Data (research licence, never shipped): the FACS AU codes of all 327 labelled CK+ peaks
(``ckplus_facs/ckplus_peak_facs_emotion.csv``), blendshapes measured by MediaPipe on

* ``ckplus48``: the peak frame of all 327 sequences (48x48 crops, upscaled x4 - MediaPipe finds
  every face; their blendshapes correlate 0.9+ with the full frames' for the main AUs), 118 subjects;
* ``ckplus_sequences``: the full-resolution peak (last) frame of the 40 shared sequences.

Validation is leave-one-subject-out (LOSO): for each subject, the calibrated per-AU logistic
regressions are fitted on every other subject's frames (both sets) and predict that subject's
frames; each AU's probability threshold is tuned for F1 inside the training subjects only
(subject-grouped 5-fold, nested), and an AU whose out-of-fold predictions there agree with
the codes little better than chance (Cohen's kappa below ``MIN_KAPPA``) is not measured
(predicted absent). ``--write`` refits on everything and writes the parameters (no data) to
``xfer_keras/xfera/aus/_calibration.py``.
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

CALIBRATION_PY = REPO / "xfer_keras/xfera/aus/_calibration.py"
UPSCALE = 192


def prf(y_true, y_pred) -> tuple[float, float, float]:
    y_true, y_pred = np.asarray(y_true, bool), np.asarray(y_pred, bool)
    tp = float((y_true & y_pred).sum())
    precision = tp / y_pred.sum() if y_pred.sum() else 0.0
    recall = tp / y_true.sum() if y_true.sum() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def measure(root: Path):
    """Blendshapes + FACS labels of the CK+ peaks: (rows, labels DataFrame, groups, set names)."""
    import pandas as pd
    from PIL import Image

    from xfer_keras.errors import NoFaceError
    from xfer_keras.face import LandmarkDetector, load_image

    facs = pd.read_csv(root / "ckplus_facs/ckplus_peak_facs_emotion.csv", dtype={"sequence": str})
    facs = facs.set_index(["subject", "sequence"])
    items = []  # (set, subject, sequence, image)
    labels48 = pd.read_csv(root / "ckplus48/labels.csv", dtype={"sequence": str})
    peaks48 = labels48[labels48["frame"] == labels48["sequence_last_frame"]]
    for row in peaks48.itertuples():
        items.append(("ckplus48", row.subject, row.sequence, ("48", root / "ckplus48" / row.path)))
    seqs = pd.read_csv(root / "ckplus_sequences/sequences.csv", dtype=str)
    for row in seqs.itertuples():
        path = root / "ckplus_sequences" / row.frames_dir / getattr(row, "_7")
        items.append(("sequences40", row.subject, row.sequence, ("full", path)))
    rows, keep = [], []
    with LandmarkDetector("mediapipe") as detector:
        for set_name, subject, sequence, (kind, path) in items:
            image = load_image(path)
            if kind == "48":
                image = np.asarray(Image.fromarray(image).resize((UPSCALE, UPSCALE), Image.BICUBIC))
            try:
                face = detector.detect_one(image, source=str(path))
            except NoFaceError:
                print(f"  no face: {path}", file=sys.stderr)
                continue
            rows.append(face.blendshapes)
            keep.append((set_name, subject, sequence))
    meta = pd.DataFrame(keep, columns=["set", "subject", "sequence"])
    labels = facs.loc[list(zip(meta.subject, meta.sequence))].reset_index(drop=True)
    return rows, meta, labels


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="refit on all and write _calibration.py")
    parser.add_argument("--C", type=float, default=1.0)
    parser.add_argument("--min-positives", type=int, default=10,
                        help="AUs with fewer positives among the 327 peaks are left out")
    args = parser.parse_args(argv)
    root = config.dataset_dir("ckplus_facs").parent
    start = time.time()
    rows, meta, labels = measure(root)
    print(f"measured blendshapes of {len(rows)} CK+ peak frames in {time.time() - start:.1f} s "
          f"({meta.subject.nunique()} subjects)\n")
    aus = [au for au in CALIBRATION_FEATURES if labels[f"AU{au}"].sum() >= args.min_positives]
    y = {au: labels[f"AU{au}"].to_numpy().astype(bool) for au in aus}
    groups = meta.subject.to_numpy()
    naive = [naive_intensities(r) for r in rows]
    calibrated = loso_presence(rows, y, groups, C=args.C)
    lines = []
    for set_name in ("ckplus48", "sequences40"):
        mask = (meta.set == set_name).to_numpy()
        title = {"ckplus48": "327 CK+ peaks (48x48 crops x4), LOSO over subjects",
                 "sequences40": "40 shared CK+ sequences, full-resolution peak frames, LOSO"}[set_name]
        lines.append(f"== {title}")
        lines.append(f"{'AU':>5} {'n+':>4} | {'naive P':>7} {'R':>5} {'F1':>5} | "
                     f"{'calib P':>7} {'R':>5} {'F1':>5} | {'dF1':>6}")
        f1s = []
        for au in aus:
            truth = y[au][mask]
            pn = np.array([n[au] >= NAIVE_THRESHOLD for n in naive])[mask]
            pc = calibrated[au][mask]
            a, b = prf(truth, pn), prf(truth, pc)
            f1s.append((a[2], b[2], truth.sum() > 0))
            lines.append(f"AU{au:02d} {int(truth.sum()):>5} | {a[0]:7.2f} {a[1]:5.2f} {a[2]:5.2f} | "
                         f"{b[0]:7.2f} {b[1]:5.2f} {b[2]:5.2f} | {b[2] - a[2]:+6.2f}")
        scored = [f for f in f1s if f[2]]
        lines.append(f"mean F1 over {len(scored)} AUs with positives: naive "
                     f"{np.mean([f[0] for f in scored]):.3f} -> calibrated "
                     f"{np.mean([f[1] for f in scored]):.3f}\n")
    print("\n".join(lines))
    if args.write:
        params = fit_calibration(
            rows, y, C=args.C, groups=groups,
            note=(f"fitted by scripts/au_agreement.py on {len(rows)} CK+ peak frames "
                  f"({meta.subject.nunique()} subjects): FACS codes vs MediaPipe blendshapes"),
        )
        left_out = ", ".join(f"AU{int(au):02d} (kappa {v['oof_kappa']:.2f})"
                             for au, v in params["unreliable"].items())
        lines.append(f"not measured (out-of-fold Cohen's kappa below {MIN_KAPPA}): "
                     f"{left_out or 'none'}")
        print(lines[-1])
        text = ('"""Calibrated blendshape -> AU parameters, written by ``scripts/au_agreement.py '
                '--write``.\n\nParameters only (no data). LOSO agreement at the time of fitting:\n\n'
                + "\n".join("    " + line for line in lines).rstrip() + '\n"""\n\n'
                "# fmt: off\nCALIBRATION = " + pprint.pformat(params, width=100, sort_dicts=False) + "\n")
        CALIBRATION_PY.write_text(text)
        print(f"wrote {CALIBRATION_PY.relative_to(REPO)} ({len(params['aus'])} AUs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
