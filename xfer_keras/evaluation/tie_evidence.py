"""The evidence step 3 of the model-selection rule weighs when two models tie on both posed dev
sets (:func:`xfer_keras.evaluation.model_selection.break_posed_tie`): in-domain validation, capture
robustness and Grad-CAM localisation, gathered the same way for every model."""

from __future__ import annotations

from pathlib import Path


def validation_split(cache: str | Path | None) -> tuple:
    """``(uint8 images, {label set: (indices, labels)})``: the FER2013 validation split of the
    training script once, with the images each label set scores: ``"ferplus"`` (FER+ majority,
    images without one left out) and ``"fer2013"`` (FER2013's own labels, every image)."""
    import numpy as np

    from xfer_keras.data.ferplus import majority_labels, read_ferplus_votes
    from xfer_keras.training.fer2013_arrays import load_fer2013_arrays

    data = load_fer2013_arrays(48, 1, Path(cache) if cache else None)
    labels, kept = majority_labels(read_ferplus_votes(), data.rel_val)
    return data.x_val, {"ferplus": (np.flatnonzero(kept), labels[kept]),
                        "fer2013": (np.arange(len(data.x_val)), np.asarray(data.y_val))}


def validation_sets(cache: str | Path | None) -> dict:
    """The split of :func:`validation_split` keyed by label set, each ``(uint8 images,
    labels)``."""
    x, subsets = validation_split(cache)
    return {name: (x[index], labels) for name, (index, labels) in subsets.items()}


def validation_correctness(clf, sets: dict, main_labels: str) -> dict:
    """Per-image correctness of each head of ``clf`` (its own probabilities, at its mirror
    setting, no prior correction) against the labels it learned, keyed by label set: the main
    head's (``main_labels``), and a ``"fer2013"`` head FER2013's; so only like heads compare."""
    from xfer_keras.models.classifier import EmotionClassifier

    raw = EmotionClassifier(clf.model, {**clf.config.to_dict(), "prior_correction": None})
    views = {main_labels: raw, **{h: raw.with_head(h) for h in raw.heads if h in sets}}
    return {labels: view.predict_proba(sets[labels][0]).argmax(1) == sets[labels][1]
            for labels, view in views.items()}


class TieEvidence:
    """The dev evidence of :func:`~xfer_keras.evaluation.model_selection.break_posed_tie` for a
    model at its chosen settings: per-image correctness on the FER2013 validation split of each
    head against the labels it learned (FER+ majority or FER2013's, keyed by label set; the
    heads' own probabilities), mean balanced accuracy over the capture changes of the CK+
    full-res dev photos (its framing and prior correction), and whether its Grad-CAM meets the
    goals at the layer :func:`~xfer_keras.evaluation.localisation.choose_layer` picks. The
    validation arrays and the changed photos are prepared once, for every model."""

    def __init__(self, cache: str | Path | None, frame, full):
        from xfer_keras.emotions import EMOTIONS7
        from xfer_keras.evaluation.dev_sets import shifted_face_sets
        from xfer_keras.face import LandmarkDetector

        self.val = validation_sets(cache)
        with LandmarkDetector("dlib", fallback="mediapipe") as detector:
            self.changed = [faces for name, faces in shifted_face_sets(frame, detector=detector)
                            if name != "as captured"]
        self.peaks = full.subset(full.labels != EMOTIONS7.index("neutral"))

    def of(self, row: dict) -> dict:
        """The evidence for one model's best row (``"model"``, ``"crop"``, ``"power"``, ...)."""
        import numpy as np

        from xfer_keras.evaluation.localisation import choose_layer, layer_localisation, meets_goals
        from xfer_keras.models.classifier import EmotionClassifier

        clf = EmotionClassifier.load(row["model"])
        validation = validation_correctness(clf, self.val, row["labels"])
        clf.config.prior_correction = None
        if row["power"]:
            clf.config.prior_correction = {"prior": row["prior"], "power": row["power"]}
        capture = float(np.mean([faces.score(clf.predict_proba, 224, **row["crop"])
                                 ["balanced_accuracy"] for faces in self.changed]))
        scores = layer_localisation(clf, self.peaks.face_crops(224, **row["crop"]))
        return {"validation": validation, "capture_balanced": capture,
                "gradcam_meets_goals": meets_goals(scores[choose_layer(scores)])}
