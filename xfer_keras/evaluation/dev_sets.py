"""Out-of-domain dev sets for image-model choices, scored through the whole pipeline.

The default model is judged on posed faces from datasets it never saw, so its settings (label
set, crop framing) are chosen on our own dev sets (the CK+ frames of
:mod:`xfer_keras.data.ckplus_frames`), never on FER2013 test:

* :class:`FaceSet` - images with their dlib faces detected once (the pipeline's detector), so
  several framings and models are scored on the same detections; a face the detector misses
  counts as a wrong answer, as it would for a user;
* :func:`shifted_face_sets` / :func:`summarise_shifts` - the same photos changed as another
  capture set-up might deliver them (:mod:`xfer_keras.evaluation.capture_shifts`), and how much of a
  model's accuracy survives (``benchmarks/capture_robustness.py``, notebook 05).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from xfer_keras.emotions import EMOTIONS7


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
        :mod:`xfer_keras.evaluation.capture_shifts` shift); the set keeps the transformed images."""
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
    named shift (default: all of :data:`~xfer_keras.evaluation.capture_shifts.CAPTURE_SHIFTS`), faces
    detected anew on every changed photo (the detector is part of what a change can break)."""
    from xfer_keras.evaluation.capture_shifts import CAPTURE_SHIFTS

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
