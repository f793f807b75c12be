"""Out-of-domain dev sets for image-model choices, scored through the whole pipeline.

The default model is judged on posed faces from datasets it never saw, so its settings (label
set, crop framing) are chosen on our own out-of-domain dev sets, never on FER2013 test:

* :func:`ckplus_peak_frames` - the last ``n_last`` frames of the 40 full-resolution CK+
  sequences (640x490 lab photos);
* :func:`ckplus_onset_frames` - the first (neutral) frame of each of those sequences;
* :func:`ckplus48_frame` - CK+48 (48x48 crops of the last 3 frames of 327 sequences), no contempt,
  without the subjects a model trained on (:func:`ckplus48_training_subjects` picks a seeded
  share of CK+48's subjects, never those of the full-resolution sequences, as posed training
  faces; :func:`trained_subjects` reads them back from a model's config);
* :func:`ckplus_fullres_dev_frames` - both together (peaks, then onsets), optionally only the
  first ``n`` sequences;
* :class:`FaceSet` - images with their dlib faces detected once (the pipeline's detector), so
  several framings and models are scored on the same detections; a face the detector misses
  counts as a wrong answer, as it would for a user;
* :func:`shifted_face_sets` / :func:`summarise_shifts` - the same photos changed as another
  capture set-up might deliver them (:mod:`xfer_keras.data.capture_shifts`), and how much of a
  model's accuracy survives (``benchmarks/capture_robustness.py``, notebook 05).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from xfer_keras.emotions import EMOTIONS7


def ckplus_peak_frames(n_last: int = 3, root=None) -> pd.DataFrame:
    """``[path, emotion, subject, sequence]`` of the last ``n_last`` frames of every CK+
    sequence (six emotions; contempt is not among our classes)."""
    from xfer_keras.data.ckplus import load_ckplus_sequences

    rows = [(str(path), record.emotion, record.subject, record.sequence)
            for record in load_ckplus_sequences(root)
            for path in record.frame_paths[-n_last:]]
    return pd.DataFrame(rows, columns=["path", "emotion", "subject", "sequence"])


def ckplus_onset_frames(root=None) -> pd.DataFrame:
    """``[path, emotion, subject, sequence]`` of the first frame of every CK+ sequence, labelled
    ``neutral``: CK+ sequences start at a neutral face, so these give the dev sets the neutral
    class the peak frames and CK+48 lack (a choice scored without them would reward never
    answering neutral)."""
    from xfer_keras.data.ckplus import load_ckplus_sequences

    rows = [(str(record.frame_paths[0]), "neutral", record.subject, record.sequence)
            for record in load_ckplus_sequences(root) if len(record.frame_paths) > 1]
    return pd.DataFrame(rows, columns=["path", "emotion", "subject", "sequence"])


def ckplus_fullres_dev_frames(n_sequences: int | None = None, root=None) -> pd.DataFrame:
    """:func:`ckplus_peak_frames` (last 3) then :func:`ckplus_onset_frames`: the CK+
    full-resolution dev photos (160). ``n_sequences``: only the first N sequences (by subject and
    sequence), peaks and onsets alike (quick runs)."""
    peaks, onsets = ckplus_peak_frames(3, root), ckplus_onset_frames(root)
    if n_sequences is not None:
        keys = set(sorted(set(zip(onsets["subject"], onsets["sequence"])))[:n_sequences])
        peaks, onsets = (f[[k in keys for k in zip(f["subject"], f["sequence"])]]
                         for f in (peaks, onsets))
    return pd.concat([peaks, onsets], ignore_index=True)


def ckplus48_frame(root=None, exclude_subjects=()) -> pd.DataFrame:
    """CK+48 as ``[path, emotion, subject]`` without contempt, without the subjects in
    ``exclude_subjects`` (those a model trained on: :func:`trained_subjects`)."""
    from pathlib import Path

    from xfer_keras.config import dataset_dir
    from xfer_keras.data.image_folders import list_image_folder

    frame = list_image_folder(dataset_dir("ckplus48", root))
    frame["subject"] = [Path(path).name.split("_")[0] for path in frame["path"]]
    excluded = frame["subject"].isin(set(exclude_subjects))
    return frame[~excluded].reset_index(drop=True)


def ckplus48_training_subjects(share: float = 0.6, seed: int = 0, root=None) -> list[str]:
    """A seeded ``share`` of CK+48's subjects to train on posed faces (sorted IDs).

    The subjects of the full-resolution sequences (the whole-pipeline dev set) are never among
    them, and every subject left out stays a CK+48 dev subject: the split is by person, so no
    face a model trained on is scored."""
    if not 0.0 <= share < 1.0:
        raise ValueError(f"share must be in [0, 1), got {share}")
    frame = ckplus48_frame(root)
    pool = sorted(set(frame["subject"]) - set(ckplus_fullres_subjects(root)))
    order = np.random.default_rng(seed).permutation(len(pool))
    return sorted(pool[i] for i in order[:round(share * len(pool))])


def ckplus_fullres_subjects(root=None) -> list[str]:
    """The subjects of the 40 full-resolution CK+ sequences (from CK+48's ``labels.csv`` flag
    when present, else from the sequences themselves)."""
    from xfer_keras.config import dataset_dir

    labels = dataset_dir("ckplus48", root) / "labels.csv"
    if labels.is_file():
        table = pd.read_csv(labels, dtype=str)
        if "in_ckplus_sequences_subset" in table:
            return sorted(set(table.loc[table["in_ckplus_sequences_subset"] == "1", "subject"]))
    from xfer_keras.data.ckplus import load_ckplus_sequences

    return sorted({record.subject for record in load_ckplus_sequences(root)})


def trained_subjects(classifier) -> list[str]:
    """The CK+ subjects a classifier saw in training (``config.extra["posed_training"]``):
    they are left out wherever it is scored."""
    record = classifier.config.extra.get("posed_training") or {}
    return sorted(record.get("subjects", ()))


@dataclass
class FaceSet:
    """Images, labels and the face dlib found in each (None: missed), detected once."""

    paths: list
    labels: np.ndarray
    faces: list = field(default_factory=list)
    images: list = field(default_factory=list)

    @classmethod
    def detect(cls, frame: pd.DataFrame, detector=None, transform=None) -> "FaceSet":
        """Detect with ``detector`` (default: the pipeline's, dlib with the MediaPipe fallback).

        ``transform``: applied to each loaded RGB image before detection (e.g. a
        :mod:`xfer_keras.data.capture_shifts` shift); the set keeps the transformed images."""
        from xfer_keras.data.image_folders import encode_labels
        from xfer_keras.errors import NoFaceError
        from xfer_keras.face import LandmarkDetector, load_image

        own = detector is None
        detector = detector or LandmarkDetector("dlib", fallback="mediapipe")
        faces, images = [], []
        try:
            for path in frame["path"]:
                rgb = load_image(path)
                if transform is not None:
                    rgb = transform(rgb)
                try:
                    faces.append(detector.detect_one(rgb, source=str(path)))
                except NoFaceError:
                    faces.append(None)
                images.append(rgb)
        finally:
            if own:
                detector.close()
        return cls(list(frame["path"]), encode_labels(frame["emotion"]), faces, images)

    @property
    def found(self) -> np.ndarray:
        return np.array([f is not None for f in self.faces])

    def face_crops(self, size: int = 224, framing=None, margin: float = 0.1,
                   level_eyes: bool = False) -> list:
        """:class:`~xfer_keras.face.types.Crop` objects (image + landmarks) of the found faces
        (``crop_face``'s framing options, as ``EmotionClassifier.crop_options`` gives them)."""
        from xfer_keras.face import crop_face

        return [crop_face(image, face, size=size, margin=margin, framing=framing,
                          level_eyes=level_eyes)
                for image, face in zip(self.images, self.faces) if face is not None]

    def crops(self, size: int = 224, framing=None, margin: float = 0.1,
              level_eyes: bool = False) -> np.ndarray:
        """uint8 ``(n_found, size, size, 3)`` crops of the found faces."""
        return np.stack([c.image for c in self.face_crops(size, framing, margin, level_eyes)])

    def score(self, predict_proba, size: int = 224, framing=None, margin: float = 0.1,
              level_eyes: bool = False) -> dict:
        """Accuracy and macro F1 over ALL images (a missed face is wrong), per-class F1."""
        return score_predictions(self.labels, self.predictions(
            predict_proba(self.crops(size, framing, margin, level_eyes))
            if self.found.any() else None))

    def predictions(self, probs_of_found) -> np.ndarray:
        """Class indices for ALL images from the probabilities of the found faces (-1: missed)."""
        pred = np.full(len(self.labels), -1)
        if probs_of_found is not None and len(probs_of_found):
            pred[self.found] = np.asarray(probs_of_found).argmax(1)
        return pred

    def subset(self, mask) -> "FaceSet":
        """The images where ``mask`` is true (detections kept)."""
        keep = np.flatnonzero(mask)
        return FaceSet([self.paths[i] for i in keep], self.labels[keep],
                       [self.faces[i] for i in keep], [self.images[i] for i in keep])


def balanced_accuracy(labels: np.ndarray, pred: np.ndarray) -> float:
    """Mean recall over the classes present in ``labels`` (-1, no face, is wrong): the accuracy
    a set with equally many faces of each class would give."""
    labels, pred = np.asarray(labels), np.asarray(pred)
    return float(np.mean([(pred[labels == k] == k).mean() for k in np.unique(labels)]))


def score_predictions(labels: np.ndarray, pred: np.ndarray) -> dict:
    """Accuracy, macro F1 over the classes present in ``labels``, per-class F1 (a prediction of
    -1, no face, is wrong for every class)."""
    from xfer_keras.training.image import per_class_table

    labels, pred = np.asarray(labels), np.asarray(pred)
    table, _ = per_class_table(labels, np.where(pred < 0, len(EMOTIONS7), pred),
                               EMOTIONS7 + ("no face",))
    present = [EMOTIONS7[i] for i in sorted(set(labels.tolist()))]
    return {"accuracy": float((pred == labels).mean()),
            "balanced_accuracy": balanced_accuracy(labels, pred),
            "macro_f1": float(table.loc[present, "f1"].mean()),
            "f1": {name: float(table.loc[name, "f1"]) for name in present},
            "n": int(len(labels)), "faces_found": int((pred >= 0).sum())}


def shifted_face_sets(frame: pd.DataFrame, shifts=None, detector=None):
    """Yield ``(shift name, FaceSet)``: the photos of ``frame`` as captured, then changed by each
    named shift (default: all of :data:`~xfer_keras.data.capture_shifts.CAPTURE_SHIFTS`), faces
    detected anew on every changed photo (the detector is part of what a change can break)."""
    from xfer_keras.data.capture_shifts import CAPTURE_SHIFTS

    names = ["as captured"] + [s for s in (shifts or CAPTURE_SHIFTS) if s != "as captured"]
    unknown = [s for s in names if s not in CAPTURE_SHIFTS]
    if unknown:
        raise KeyError(f"unknown capture shifts {unknown}; known: {', '.join(CAPTURE_SHIFTS)}")
    for name in names:
        yield name, FaceSet.detect(frame, detector=detector, transform=CAPTURE_SHIFTS[name])


def summarise_shifts(rows: list[dict]) -> dict:
    """Per model, over ``rows`` (``{"shift", "model", "accuracy", "balanced_accuracy", ...}``):
    the as-captured accuracy, the mean accuracy and balanced accuracy over the changed photos,
    the share of the as-captured accuracy kept, and the worst shift."""
    out = {}
    for r in rows:
        if r["shift"] == "as captured":
            out[r["model"]] = {"as_captured": r["accuracy"]}
    for model, summary in out.items():
        mine = [r for r in rows if r["model"] == model and r["shift"] != "as captured"]
        if not mine:
            continue
        acc = float(np.mean([r["accuracy"] for r in mine]))
        worst = min(mine, key=lambda r: r["accuracy"])
        summary.update(mean_accuracy=acc,
                       mean_balanced_accuracy=float(np.mean([r["balanced_accuracy"]
                                                             for r in mine])),
                       kept=acc / summary["as_captured"] if summary["as_captured"] else math.nan,
                       worst_shift=worst["shift"], worst_accuracy=worst["accuracy"])
    return out
