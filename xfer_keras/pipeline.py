"""XFERa end to end: image -> :class:`~xfer_keras.explanation.Explanation`.

    from xfer_keras.pipeline import XferaPipeline
    with XferaPipeline() as pipe:                       # default model, blendshape AUs, template
        exp = pipe.explain("face.jpg")
    print(exp.emotion, exp.confidence_level, exp.explanation)

Stages (each timed in ``Explanation.timings``, seconds):

``load``       read the image (any format :func:`xfer_keras.face.load_image` takes)
``detect``     dlib HOG face detection (the paper's detector)
``landmarks``  dlib's 68 iBUG points, and the square crop (``crop_size``, 224 as in the paper)
               with the landmarks mapped into it
``classify``   :class:`~xfer_keras.models.classifier.EmotionClassifier` probabilities
``gradcam``    Grad-CAM of the predicted class, at crop resolution
``hot``        hot landmarks (threshold ``mean + k * std`` over the face, k = 1)
``aus``        the AU source (blendshapes: MediaPipe FaceLandmarker on the image; OpenFace: CSV or
               binary)
``fusion``     Algorithm 1's fusion (70 % hot landmarks, source thresholds, prototype matching)
``narrate``    template (offline, default) or an OpenAI-compatible LLM (falls back to the template)
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from xfer_keras.emotions import canonical_emotion
from xfer_keras.errors import NoFaceError, XferError
from xfer_keras.explain import facs
from xfer_keras.explain.aus import AUSource, AUSourceError, make_au_source
from xfer_keras.explain.fusion import ACTIVATION_RATIO, WEIGHT, FusionResult, fuse
from xfer_keras.explain.hot_landmarks import find_hot_landmarks
from xfer_keras.explanation import Explanation
from xfer_keras.narrate.llm import make_narrator
from xfer_keras.narrate.template import NarrationInput

DEFAULT_MARGIN = 0.1  # the paper crops the detected face region; see docs/xfera.md
STAGES = ("load", "detect", "landmarks", "classify", "gradcam", "hot", "aus", "fusion", "narrate")


def narration_input(fusion: FusionResult) -> NarrationInput:
    """What the narrators get from a fusion result (descriptions, not codes)."""
    return NarrationInput(
        emotion=fusion.emotion,
        hot_descriptions=fusion.hot_descriptions(),
        matching_descriptions=[facs.describe_au(a) for a in fusion.matching_aus],
        missing_descriptions=[facs.describe_au(a) for a in fusion.missing_aus],
        typical_descriptions=[facs.describe_au(a) for a in fusion.variant],
        confidence_level=fusion.confidence_level,
        atypical_hot_descriptions=[facs.describe_au(a) for a in fusion.hot_aus
                                   if a not in set(facs.expected_aus(fusion.emotion))],
    )


class _Prepared:
    """Per-image state between the per-image and the batched stages."""

    def __init__(self, name, rgb, path, crop, face_box, timings):
        self.name, self.rgb, self.path, self.crop, self.face_box = name, rgb, path, crop, face_box
        self.timings = timings


class XferaPipeline:
    """Grad-CAM + hot landmarks + Action Units + fusion + narration, for one or many images.

    ``classifier``: an :class:`EmotionClassifier` (default: ``EmotionClassifier.load(model_path)``,
    which raises :class:`~xfer_keras.errors.ModelFileError` when the model file is missing).
    ``au_source``: ``"blendshapes"`` (default), ``"blendshapes:naive"``, ``"openface:CSV"``,
    ``"openface"`` or an :class:`AUSource`. ``narrator``: ``"template"`` (default), ``"openai"``,
    ``"openai:MODEL"`` or a narrator object (``run(NarrationInput) -> Narration``).
    ``margin``: the crop's margin around the dlib box (None: the classifier config's
    ``extra["crop_margin"]`` when present, else 0.1). ``detector`` / ``mesh_detector`` /
    ``gradcam`` can be injected (tests, reuse).
    """

    def __init__(self, classifier=None, model_path=None, au_source="blendshapes", narrator="template",
                 k: float = 1.0, region: str = "hull", activation_ratio: float = ACTIVATION_RATIO,
                 weight: float = WEIGHT, crop_size: int = 224, margin: float | None = None,
                 gradcam_method: str = "gradcam", gradcam_layer: str | None = None,
                 detector=None, mesh_detector=None, gradcam=None, narrator_options: dict | None = None):
        if classifier is None:
            from xfer_keras.models.classifier import EmotionClassifier

            classifier = EmotionClassifier.load(model_path)
        self.classifier = classifier
        self.au_source: AUSource = make_au_source(au_source)
        self.narrator = make_narrator(narrator, **(narrator_options or {}))
        self.k, self.region = float(k), region
        self.activation_ratio, self.weight = float(activation_ratio), float(weight)
        if margin is None:  # the framing the model was trained on, when its config says so
            extra = getattr(getattr(classifier, "config", None), "extra", None) or {}
            margin = extra.get("crop_margin", DEFAULT_MARGIN)
        self.crop_size, self.margin = int(crop_size), float(margin)
        self._gradcam = gradcam
        self.gradcam_method, self.gradcam_layer = gradcam_method, gradcam_layer
        self._own = []
        if detector is None:
            from xfer_keras.face import LandmarkDetector

            detector = LandmarkDetector("dlib")
            self._own.append(detector)
        self.detector = detector
        if mesh_detector is None and self.au_source.needs_blendshapes:
            from xfer_keras.face import LandmarkDetector

            mesh_detector = LandmarkDetector("mediapipe")
            self._own.append(mesh_detector)
        self.mesh_detector = mesh_detector

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        for detector in self._own:
            detector.close()

    def __enter__(self) -> "XferaPipeline":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def gradcam(self):
        if self._gradcam is None:
            from xfer_keras.explain.gradcam import GradCAM

            self._gradcam = GradCAM(self.classifier, layer=self.gradcam_layer, method=self.gradcam_method)
        return self._gradcam

    @property
    def model_name(self) -> str:
        config = getattr(self.classifier, "config", None)
        name = getattr(config, "architecture", None) if config is not None else None
        return str(name or getattr(getattr(self.classifier, "model", None), "name", "model"))

    # ------------------------------------------------------------------ stages
    def _prepare(self, image, name: str | None) -> _Prepared:
        from xfer_keras.face import crop_face, load_image

        timings: dict[str, float] = {}
        path = None
        if isinstance(image, (str, Path)):
            path = Path(image)
            name = name or str(image)
        name = name or "image"
        t0 = time.perf_counter()
        rgb = load_image(image, source=name)
        timings["load"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        face = self.detector.detect_one(rgb, source=name)
        elapsed = time.perf_counter() - t0
        split = getattr(self.detector, "last_timing", {}) or {}
        if "detect_ms" in split and "landmarks_ms" in split:
            timings["detect"] = split["detect_ms"] / 1000.0
            timings["landmarks"] = max(elapsed - timings["detect"], 0.0)
        else:
            timings["detect"], timings["landmarks"] = elapsed, 0.0
        if len(face.landmarks) != 68:
            raise XferError(f"{name}: the hot-landmark step needs the 68 dlib landmarks, got "
                            f"{len(face.landmarks)} ({face.backend})")
        t0 = time.perf_counter()
        crop = crop_face(rgb, face, size=self.crop_size, margin=self.margin)
        timings["landmarks"] += time.perf_counter() - t0
        return _Prepared(name, rgb, path, crop, list(face.box), timings)

    def _classify(self, prepared: list[_Prepared]):
        crops = np.stack([p.crop.image for p in prepared])
        t0 = time.perf_counter()
        probs = np.asarray(self.classifier.predict_proba(crops), dtype=np.float64)
        t_classify = (time.perf_counter() - t0) / len(prepared)
        targets = probs.argmax(axis=1)
        t0 = time.perf_counter()
        heatmaps = np.asarray(self.gradcam.explain(crops, targets=targets), dtype=np.float32)
        t_gradcam = (time.perf_counter() - t0) / len(prepared)
        for p in prepared:
            p.timings["classify"], p.timings["gradcam"] = t_classify, t_gradcam
        return probs, targets, heatmaps

    def _finish(self, p: _Prepared, probs: np.ndarray, target: int, heatmap: np.ndarray) -> Explanation:
        timings, notes = p.timings, []
        class_names = [canonical_emotion(c) for c in self.classifier.class_names]
        emotion = class_names[int(target)]
        t0 = time.perf_counter()
        hot = find_hot_landmarks(heatmap, p.crop.landmarks, k=self.k, region=self.region,
                                 crop_shape=p.crop.image.shape[:2])
        timings["hot"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        reading = None
        try:
            face = None
            if self.au_source.needs_blendshapes:
                face = self.mesh_detector.detect_one(p.rgb, source=p.name)
            reading = self.au_source.read(image=p.rgb, face=face, path=p.path)
        except (AUSourceError, NoFaceError) as error:
            notes.append(f"AU source {self.au_source.name} gave no reading: {error}")
        timings["aus"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        fusion = fuse(emotion, float(probs[int(target)]), hot, reading,
                      activation_ratio=self.activation_ratio, weight=self.weight)
        timings["fusion"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        if hasattr(self.narrator, "run"):
            narration = self.narrator.run(narration_input(fusion))
            text, narrator, fallback = narration.text, narration.narrator, narration.fallback_reason
        else:
            text, narrator, fallback = self.narrator.narrate(narration_input(fusion)), "custom", None
        timings["narrate"] = time.perf_counter() - t0
        return Explanation(
            image=p.name,
            emotion=emotion,
            probabilities={c: round(float(v), 6) for c, v in zip(class_names, probs)},
            confidence_level=fusion.confidence_level,
            confidence_score=round(float(fusion.confidence_score), 6),
            hot_landmarks=hot.indices,
            heat_threshold=float(hot.threshold),
            aus={e.label: e.to_dict() for e in fusion.evidence},
            matching_aus=[facs.au_label(a) for a in fusion.matching_aus],
            missing_aus=[facs.au_label(a) for a in fusion.missing_aus],
            hot_aus=[facs.au_label(a) for a in fusion.hot_aus],
            scores=fusion.scores,
            explanation=text,
            narrator=narrator,
            narrator_fallback=fallback,
            au_source=reading.source if reading is not None else self.au_source.name,
            au_scale=list(reading.scale) if reading is not None else list(self.au_source.scale),
            model=self.model_name,
            face_box=[int(v) for v in p.crop.box],
            landmarks=np.asarray(p.crop.landmarks, dtype=np.float32),
            variant=[facs.au_label(a) for a in fusion.variant],
            k=self.k,
            activation_ratio=self.activation_ratio,
            timings=dict(timings),
            notes=notes + fusion.notes,
            crop=p.crop.image,
            heatmap=np.asarray(heatmap, dtype=np.float32),
        )

    # ------------------------------------------------------------------ public
    def explain(self, image, name: str | None = None) -> Explanation:
        """Explain one image (path, array or PIL image). Raises XferError subclasses."""
        prepared = self._prepare(image, name)
        probs, targets, heatmaps = self._classify([prepared])
        return self._finish(prepared, probs[0], int(targets[0]), heatmaps[0])

    def explain_many(self, images: Iterable, names: Iterable[str] | None = None,
                     batch_size: int = 8) -> list[Explanation | XferError]:
        """Explain many images, classifying and Grad-CAM-ing ``batch_size`` crops at a time.

        Returns one item per input: an :class:`Explanation`, or the :class:`XferError` that
        stopped that image (bad file, no face...), so one bad file never stops a batch.
        """
        images = list(images)
        names = list(names) if names is not None else [None] * len(images)
        out: list = [None] * len(images)
        for start in range(0, len(images), max(1, int(batch_size))):
            chunk = []
            for i in range(start, min(start + batch_size, len(images))):
                try:
                    chunk.append((i, self._prepare(images[i], names[i])))
                except XferError as error:
                    out[i] = error
            if not chunk:
                continue
            probs, targets, heatmaps = self._classify([p for _, p in chunk])
            for j, (i, prepared) in enumerate(chunk):
                try:
                    out[i] = self._finish(prepared, probs[j], int(targets[j]), heatmaps[j])
                except XferError as error:
                    out[i] = error
        return out


def explain_image(image, **kwargs) -> Explanation:
    """One-shot convenience: ``XferaPipeline(**kwargs).explain(image)``."""
    with XferaPipeline(**kwargs) as pipe:
        return pipe.explain(image)
