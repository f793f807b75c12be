"""XFERa end to end: image -> :class:`~xfer_keras.xfera.explanation.Explanation`.

    from xfer_keras.xfera.pipeline import XferaPipeline
    with XferaPipeline() as pipe:                       # default model, blendshape AUs, template
        exp = pipe.explain("face.jpg")
    print(exp.emotion, exp.confidence_level, exp.explanation)

Stages (each timed in ``Explanation.timings``, seconds):

``load``       read the image (any format :func:`xfer_keras.face.load_image` takes)
``detect``     dlib HOG face detection (the paper's detector); when it finds nothing, MediaPipe's
               face detector gives the box (``Explanation.detector`` says which found the face)
``landmarks``  dlib's 68 iBUG points, and the square crop (``crop_size``, 224 as in the paper)
               with the landmarks mapped into it
``mesh``       MediaPipe FaceLandmarker on the image, once per image (only when the AU source
               needs blendshapes); each face takes the mesh face that overlaps it most
``model``      the fused Grad-CAM engine (default; LiteRT, or TensorFlow's traced function):
               probabilities, explained class and Grad-CAM map from one forward pass
               (preprocessing included), per batch / batch size
``classify``   reference engine (``gradcam_engine="tf-keras-vis"`` or a method other than
               Grad-CAM) only: :class:`~xfer_keras.models.classifier.EmotionClassifier` probabilities
``gradcam``    reference engine only: tf-keras-vis map of the predicted class, at crop resolution
``hot``        hot landmarks (threshold ``mean + k * std`` over the face, k = 1)
``aus``        the AU source's reading (blendshapes of the mesh face; OpenFace: CSV or binary)
``fusion``     Algorithm 1's fusion (70 % hot landmarks, source thresholds, prototype matching)
``narrate``    template (offline, default) or an OpenAI-compatible LLM (falls back to the template)

:meth:`XferaPipeline.explain_many` reads and detects the next images on background threads
(``prepare_workers``, each with its own detectors) while the main thread runs the model on the
current batch: dlib, MediaPipe, image decoding and TensorFlow all release the GIL. The stages
hold NumPy's OpenBLAS at one thread (:mod:`xfer_keras.blas`): its spinning workers would take a
core from that work.
``faces="all"`` explains every face of an image (one Explanation each, largest first, with its
``face_index`` and box); ``given_faces`` explains faces found elsewhere (the video tracker's).
:meth:`XferaPipeline.explain_video` explains a video or a folder of frames
(:mod:`xfer_keras.video`).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import wait
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from xfer_keras.blas import one_blas_thread
from xfer_keras.emotions import canonical_emotion
from xfer_keras.errors import AUSourceError, NoFaceError, OptionError, XferError
from xfer_keras.explain.gradcam import FUSED_ENGINES
from xfer_keras.face.detector import box_iou, fitted_68, holds_a_face_centre
from xfer_keras.face.topology import mesh_to_68
from xfer_keras.narrate.llm import make_narrator
from xfer_keras.narrate.template import NarrationInput
from xfer_keras.xfera import facs
from xfer_keras.xfera.aus import AUSource, make_au_source
from xfer_keras.xfera.explanation import Explanation
from xfer_keras.xfera.fusion import ACTIVATION_RATIO, FusionResult, WEIGHT, fuse
from xfer_keras.xfera.hot_landmarks import find_hot_landmarks
from xfer_keras.xfera.video.explain import FACE_POLICIES

DEFAULT_MARGIN = 0.1  # the paper crops the detected face region; see docs/xfera.md
STAGES = ("load", "detect", "landmarks", "mesh", "model", "classify", "gradcam", "hot", "aus",
          "fusion", "narrate")


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


@dataclass
class _ImageWork:
    """Per-image state: the decoded image and what was found in it (shared by its faces)."""

    name: str
    rgb: np.ndarray
    path: Path | None
    timings: dict = field(default_factory=dict)
    mesh_faces: list = field(default_factory=list)  # MediaPipe faces, largest first
    mesh_error: XferError | None = None              # why there are none (NoFaceError...)
    mesh_ran: bool = False                           # whether the face mesh looked at it
    mesh_future: object = None  # the mesh still running on the mesh thread (single images)

    def wait_mesh(self) -> None:
        """Take the mesh result from the mesh thread, when it ran there."""
        future, self.mesh_future = self.mesh_future, None
        if future is not None:
            self.mesh_faces, self.mesh_error, self.timings["mesh"] = future.result()


@dataclass
class _FaceWork:
    """Per-face state between the per-image and the batched stages (one per face of an image)."""

    image: _ImageWork
    face: object          # the dlib Face (68 points)
    crop: object          # its Crop (image, landmarks in crop pixels, box)
    timings: dict = field(default_factory=dict)
    index: int = 0        # 0 = the largest face of its image

    @property
    def name(self) -> str:
        return self.image.name

    def mesh_face(self):
        """The mesh face overlapping this face most (None when none overlaps it)."""
        best, best_iou = None, 0.0
        for candidate in self.image.mesh_faces:
            iou = box_iou(self.face.box, candidate.box)
            if iou > best_iou:
                best, best_iou = candidate, iou
        return best

    def fit_to_mesh(self) -> bool:
        """Where dlib's 68 points do not fit this face (a turned head, a face cut by the edge:
        :func:`~xfer_keras.face.detector.fitted_68`), take the 68 points of the whole image's
        mesh face that overlaps it instead, mapped into the crop; True when it did. The crop
        itself is kept."""
        if getattr(self.face, "landmarker", None) != "dlib-68":  # our detector's dlib points only
            return False
        mesh = self.mesh_face()
        if mesh is None or not holds_a_face_centre(self.face.box, [mesh]):
            return False
        points, landmarker = fitted_68(self.face.landmarks, mesh_to_68(mesh.landmarks))
        if landmarker != "mesh-68":
            return False
        self.crop = replace(self.crop, landmarks=self.crop.to_crop(points))
        self.face = replace(self.face, landmarks=points, landmarker=landmarker)
        return True

    def verified(self) -> bool | None:
        """Whether the face mesh confirms this face: the fallback's boxes were confirmed by the
        mesh in the detector (BlazeFace's on their own crop, the mesh's own on the bordered
        image); a dlib HOG box needs a mesh face of the whole image whose centre lies inside it.
        None when no mesh ran (an AU source without blendshapes)."""
        if getattr(self.face, "detector", None) in ("mediapipe-face-detector",
                                                    "mediapipe-landmarker"):
            return True
        if not self.image.mesh_ran:
            return None
        return holds_a_face_centre(self.face.box, self.image.mesh_faces)


CONFIDENCE_ORDER = ("Low", "Medium", "High")


def _cap_confidence(fusion: FusionResult, cap: str, reason: str) -> FusionResult:
    """``fusion`` with its confidence level at most ``cap`` (a note says why when it lowers it)."""
    from dataclasses import replace

    if CONFIDENCE_ORDER.index(fusion.confidence_level) <= CONFIDENCE_ORDER.index(cap):
        return fusion
    return replace(fusion, confidence_level=cap, notes=[*fusion.notes, reason])


def _run_mesh(mesh_detector, rgb: np.ndarray, name: str):
    """``(mesh faces, the NoFaceError or None, seconds)`` of one image."""
    t0 = time.perf_counter()
    try:
        found, error = mesh_detector.detect(rgb, source=name, policy="all"), None
    except NoFaceError as err:
        found, error = [], err
    return found, error, time.perf_counter() - t0


class XferaPipeline:
    """Grad-CAM + hot landmarks + Action Units + fusion + narration, for one or many images.

    ``classifier``: an :class:`EmotionClassifier` (default: ``EmotionClassifier.load(model_path)``,
    which raises :class:`~xfer_keras.errors.ModelFileError` when the model file is missing).
    ``au_source``: ``"blendshapes"`` (default), ``"blendshapes:naive"``, ``"openface:CSV"``,
    ``"openface"`` or an :class:`AUSource`. ``narrator``: ``"template"`` (default), ``"openai"``,
    ``"openai:MODEL"`` or a narrator object (``run(NarrationInput) -> Narration``).
    ``margin``: the crop's margin around the dlib box (None: frame faces as the classifier
    says, :meth:`EmotionClassifier.crop_options`: by the eyes like its training images, or
    its box margin, else 0.1). ``gradcam_engine``: ``"auto"`` (Grad-CAM through LiteRT
    for a model loaded from a file, :mod:`xfer_keras.explain.litert_gradcam`, so TensorFlow is
    never imported; else the traced TensorFlow function), ``"litert"``, ``"fast"`` or
    ``"tf-keras-vis"`` (the reference; also used for ``gradcam_method`` ``"gradcam++"``,
    ``"scorecam"``, ``"layercam"``). ``prepare_workers``:
    background threads reading and detecting images in :meth:`explain_many` (None: 2 on a
    machine with 2 or more cores; 0: all in the calling thread; always 0 when a detector is
    injected, since detectors are not thread-safe). ``detector`` / ``mesh_detector`` /
    ``gradcam`` can be injected (tests, reuse). ``fallback``: the default detector's fallback
    when dlib's HOG finds no face (``"mediapipe"``, default; None: HOG only).
    """

    def __init__(self, classifier=None, model_path=None, au_source="blendshapes", narrator="template",
                 k: float = 1.0, region: str = "hull", activation_ratio: float = ACTIVATION_RATIO,
                 weight: float = WEIGHT, crop_size: int = 224, margin: float | None = None,
                 gradcam_method: str = "gradcam", gradcam_layer: str | None = None,
                 detector=None, mesh_detector=None, gradcam=None, narrator_options: dict | None = None,
                 gradcam_engine: str = "auto", prepare_workers: int | None = None,
                 fallback: str | None = "mediapipe"):
        if classifier is None:
            from xfer_keras.models.classifier import EmotionClassifier

            # the Keras model (TensorFlow) loads only if an engine needs it: LiteRT does not
            classifier = EmotionClassifier.load(model_path, lazy=True)
        self.classifier = classifier
        self.au_source: AUSource = make_au_source(au_source)
        self.narrator = make_narrator(narrator, **(narrator_options or {}))
        self.k, self.region = float(k), region
        self.activation_ratio, self.weight = float(activation_ratio), float(weight)
        # frame faces as the model was trained, unless a margin is given
        if margin is not None:
            self.crop_options = {"margin": float(margin)}
        elif hasattr(classifier, "crop_options"):
            self.crop_options = classifier.crop_options()
        else:
            self.crop_options = {"margin": DEFAULT_MARGIN}
        self.crop_size = int(crop_size)
        self._gradcam = gradcam
        self.gradcam_method, self.gradcam_layer = gradcam_method, gradcam_layer
        self.gradcam_engine = gradcam_engine
        self._own = []
        self._own_lock = threading.Lock()
        self._verifier, self._verify_lock = None, threading.Lock()
        self._local = threading.local()
        self._workers = None
        self._mesh_worker = None
        injected = detector is not None or mesh_detector is not None
        if prepare_workers is None:
            prepare_workers = min(2, os.cpu_count() or 1) if (os.cpu_count() or 1) > 1 else 0
        self.prepare_workers = 0 if injected else max(0, int(prepare_workers))
        if detector is None:
            from xfer_keras.face import LandmarkDetector

            detector = LandmarkDetector("dlib", fallback=fallback)
            self._own.append(detector)
        self.detector = detector
        if mesh_detector is None and self.au_source.needs_blendshapes:
            from xfer_keras.face import LandmarkDetector

            mesh_detector = LandmarkDetector("mediapipe")
            self._own.append(mesh_detector)
        self.mesh_detector = mesh_detector

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        for attr in ("_workers", "_mesh_worker"):
            workers = getattr(self, attr)
            setattr(self, attr, None)
            if workers is not None:
                workers.shutdown(wait=True, cancel_futures=True)
        with self._own_lock:
            own, self._own = self._own, []
        for detector in own:
            detector.close()

    def __enter__(self) -> "XferaPipeline":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def gradcam(self):
        if self._gradcam is None:
            from xfer_keras.explain.gradcam import GradCAM

            self._gradcam = GradCAM(self.classifier, layer=self.gradcam_layer,
                                    method=self.gradcam_method, engine=self.gradcam_engine)
        return self._gradcam

    @property
    def model_name(self) -> str:
        config = getattr(self.classifier, "config", None)
        name = getattr(config, "architecture", None) if config is not None else None
        return str(name or getattr(getattr(self.classifier, "model", None), "name", "model"))

    # ------------------------------------------------------------------ stages
    def _thread_detectors(self):
        """A worker thread's own (detector, mesh_detector), made like the pipeline's on first use
        and closed with the pipeline (detectors are not thread-safe)."""
        detectors = getattr(self._local, "detectors", None)
        if detectors is None:
            from xfer_keras.face import LandmarkDetector

            detector = LandmarkDetector(self.detector.backend, detect_size=self.detector.detect_size,
                                        upsample=self.detector.upsample,
                                        fallback=getattr(self.detector, "fallback", None),
                                        max_faces=self.detector.max_faces)
            mesh = None
            if self.mesh_detector is not None:
                mesh = LandmarkDetector(self.mesh_detector.backend,
                                        model_path=self.mesh_detector.model_path,
                                        max_faces=self.mesh_detector.max_faces,
                                        min_confidence=self.mesh_detector.min_confidence)
            with self._own_lock:
                self._own.extend(d for d in (detector, mesh) if d is not None)
            detectors = self._local.detectors = (detector, mesh)
        return detectors

    @one_blas_thread()
    def _prepare(self, image, name: str | None, detectors=None, faces: str = "largest",
                 given_face=None, mesh_async: bool = False) -> list[_FaceWork]:
        """Read ``image``, find its face (``faces="largest"``) or every face (``"all"``; dlib,
        68 points), or take ``given_face``, and crop it; run the mesh once when the AU source
        needs blendshapes. Raises XferError subclasses (bad file, no face).

        ``mesh_async`` (one image at a time, on a multi-core machine): the mesh, which needs only
        the image, runs on the mesh thread while dlib, the crop and the model run here;
        ``_finish`` takes its result (``_ImageWork.wait_mesh``)."""
        from xfer_keras.face import load_image

        detector, mesh_detector = detectors or (self.detector, self.mesh_detector)
        path = None
        if isinstance(image, (str, Path)):
            path = Path(image)
            name = name or str(image)
        name = name or "image"
        work = _ImageWork(name=name, rgb=None, path=path)
        timings = work.timings
        t0 = time.perf_counter()
        work.rgb = rgb = load_image(image, source=name)
        timings["load"] = time.perf_counter() - t0
        need_mesh = self.au_source.needs_blendshapes and mesh_detector is not None
        work.mesh_ran = need_mesh
        if need_mesh and mesh_async:
            work.mesh_future = self._mesh_thread(mesh_detector).submit(_run_mesh, mesh_detector,
                                                                       rgb, name)
            try:
                return self._detect_and_crop(work, detector, faces, given_face)
            except BaseException:  # no face...: the mesh detector is free again before we leave
                wait([work.mesh_future])
                raise
        found = self._detect_and_crop(work, detector, faces, given_face)
        if need_mesh:
            work.mesh_faces, work.mesh_error, timings["mesh"] = _run_mesh(mesh_detector, rgb, name)
        return found

    def _detect_and_crop(self, work: _ImageWork, detector, faces: str, given_face) -> list[_FaceWork]:
        """dlib's faces of ``work`` (or the given one), their 68 points and crops."""
        from xfer_keras.face import crop_face

        rgb, name, timings = work.rgb, work.name, work.timings
        t0 = time.perf_counter()
        if given_face is not None:
            found = [given_face]
        else:
            found = detector.detect(rgb, source=name, policy="all" if faces == "all" else "largest")
        elapsed = time.perf_counter() - t0
        split = getattr(detector, "last_timing", {}) or {}
        if given_face is not None:
            timings["detect"], timings["landmarks"] = 0.0, 0.0  # found by the caller
        elif "detect_ms" in split and "landmarks_ms" in split:
            timings["detect"] = split["detect_ms"] / 1000.0
            timings["landmarks"] = max(elapsed - timings["detect"], 0.0)
        else:
            timings["detect"], timings["landmarks"] = elapsed, 0.0
        for face in found:
            if len(face.landmarks) != 68:
                raise XferError(f"{name}: the hot-landmark step needs the 68 dlib landmarks, got "
                                f"{len(face.landmarks)} ({face.backend})")
        t0 = time.perf_counter()
        crops = [crop_face(rgb, face, size=self.crop_size, **self.crop_options) for face in found]
        timings["landmarks"] += time.perf_counter() - t0
        return [_FaceWork(image=work, face=face, crop=crop, index=k)
                for k, (face, crop) in enumerate(zip(found, crops))]

    @one_blas_thread()
    def _classify(self, faces: list[_FaceWork]):
        """Probabilities, explained classes and heatmaps of a batch of faces."""
        crops = np.stack([f.crop.image for f in faces])
        gradcam = self.gradcam
        t0 = time.perf_counter()
        if getattr(gradcam, "engine", None) in FUSED_ENGINES:
            probs, heatmaps, targets = gradcam.classify_and_explain(crops)
            split = {"model": (time.perf_counter() - t0) / len(faces)}
        else:
            probs = np.asarray(self.classifier.predict_proba(crops), dtype=np.float64)
            t_classify = (time.perf_counter() - t0) / len(faces)
            targets = probs.argmax(axis=1)
            t0 = time.perf_counter()
            heatmaps = gradcam.explain(crops, targets=targets)
            split = {"classify": t_classify, "gradcam": (time.perf_counter() - t0) / len(faces)}
        for f in faces:
            f.timings.update(split)
        return (np.asarray(probs, dtype=np.float64), np.asarray(targets, dtype=int),
                np.asarray(heatmaps, dtype=np.float32))

    @one_blas_thread()
    def _finish(self, p: _FaceWork, probs: np.ndarray, target: int, heatmap: np.ndarray) -> Explanation:
        p.image.wait_mesh()
        timings, notes = {**p.image.timings, **p.timings}, []
        if p.fit_to_mesh():
            notes.append("dlib's 68 landmarks did not fit this face (turned or cut by the edge): "
                         "the face mesh's 68 points are used")
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
                if p.image.mesh_error is not None:
                    raise p.image.mesh_error
                face = p.mesh_face()
                if face is None:
                    raise NoFaceError(f"{p.name}: no MediaPipe face overlaps the detected face")
            reading = self.au_source.read(image=p.image.rgb, face=face, path=p.image.path)
        except (AUSourceError, NoFaceError) as error:
            notes.append(f"AU source {self.au_source.name} gave no reading: {error}")
        timings["aus"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        fusion = fuse(emotion, float(probs[int(target)]), hot, reading,
                      activation_ratio=self.activation_ratio, weight=self.weight)
        verified = p.verified()
        if verified is False:  # the whole image's mesh missed it: look again on a crop around it
            verified = self._confirm_on_crop(p.image.rgb, p.face.box)
        if verified is False:
            fusion = _cap_confidence(fusion, "Medium", (
                f"the face mesh did not confirm this face (found by {p.face.detector}"
                + (f", score {p.face.score:.2f}" if p.face.score is not None else "")
                + "): a weak detection, so the confidence level is at most Medium"))
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
            face_index=int(p.index),
            detected_box=[int(v) for v in p.face.box],
            detector=getattr(p.face, "detector", None),
            detection_score=None if p.face.score is None else round(float(p.face.score), 4),
            face_verified=verified,
            landmarks=np.asarray(p.crop.landmarks, dtype=np.float32),
            variant=[facs.au_label(a) for a in fusion.variant],
            k=self.k,
            activation_ratio=self.activation_ratio,
            timings=dict(timings),
            notes=notes + fusion.notes,
            crop=p.crop.image,
            heatmap=np.asarray(heatmap, dtype=np.float32),
        )

    def _confirm_on_crop(self, rgb: np.ndarray, box) -> bool:
        """:class:`~xfer_keras.face.FaceVerifier` on a crop around ``box`` (one verifier, made
        on first use, shared under a lock: a face the whole image's mesh misses is rare)."""
        with self._verify_lock:
            if self._verifier is None:
                from xfer_keras.face import FaceVerifier

                self._verifier = FaceVerifier()
                with self._own_lock:
                    self._own.append(self._verifier)
            return bool(self._verifier.confirms(rgb, box))

    # ------------------------------------------------------------------ public
    def explain(self, image, name: str | None = None) -> Explanation:
        """Explain one image (path, array or PIL image). Raises XferError subclasses."""
        faces = self._prepare(image, name, mesh_async=self.prepare_workers > 0)
        probs, targets, heatmaps = self._classify(faces)
        return self._finish(faces[0], probs[0], int(targets[0]), heatmaps[0])

    def explain_many(self, images: Iterable, names: Iterable[str] | None = None,
                     batch_size: int = 8, faces: str = "largest",
                     given_faces: Iterable | None = None) -> list[Explanation | XferError]:
        """Explain many images, classifying and Grad-CAM-ing ``batch_size`` crops at a time.

        Returns one item per input (``faces="largest"``) or per face (``"all"``: every face of
        each image, largest first, ``Explanation.face_index`` 0, 1, ...): an
        :class:`Explanation`, or the :class:`XferError` that stopped that image (bad file, no
        face...), so one bad file never stops a batch. ``given_faces``: one
        :class:`~xfer_keras.face.Face` (68 points) per image to explain instead of detecting.
        """
        return [result for _, result in self.iter_explain(images, names, batch_size, faces, given_faces)]

    def iter_explain(self, images: Iterable, names: Iterable[str] | None = None,
                     batch_size: int = 8, faces: str = "largest",
                     given_faces: Iterable | None = None) -> Iterator[tuple[int, Explanation | XferError]]:
        """:meth:`explain_many` as a stream: ``(input index, Explanation or XferError)`` in input
        order (several per index with ``faces="all"``), each batch as soon as it is done, so a
        caller can write results while the next images are read and detected, and need not hold
        them all (folders of thousands)."""
        if faces not in FACE_POLICIES:
            raise OptionError(f"faces must be one of {FACE_POLICIES}, got {faces!r}")
        images = list(images)
        names = list(names) if names is not None else [None] * len(images)
        given = list(given_faces) if given_faces is not None else None
        if given is not None and len(given) != len(images):
            raise ValueError(f"given_faces has {len(given)} faces for {len(images)} images")
        batch_size = max(1, int(batch_size))
        batch: list[tuple[int, _FaceWork]] = []
        stream = self._prepared_stream(images, names, lookahead=2 * batch_size, faces=faces,
                                       given=given)
        for i, item in stream:
            if isinstance(item, XferError):
                if not batch:
                    yield i, item
                    continue
                batch.append((i, item))  # keep input order: yielded after the batch before it
                continue
            batch.extend((i, f) for f in item)  # one face ("largest", given) or every face ("all")
            if sum(isinstance(f, _FaceWork) for _, f in batch) >= batch_size:
                yield from self._run_batch(batch)
                batch = []
        if batch:
            yield from self._run_batch(batch)

    def _run_batch(self, batch: list[tuple[int, "_FaceWork | XferError"]]):
        faces = [f for _, f in batch if isinstance(f, _FaceWork)]
        probs, targets, heatmaps = self._classify(faces) if faces else (None, None, None)
        j = 0
        for i, face in batch:
            if not isinstance(face, _FaceWork):
                yield i, face
                continue
            try:
                result = self._finish(face, probs[j], int(targets[j]), heatmaps[j])
            except XferError as error:
                result = error
            j += 1
            yield i, result

    def _mesh_thread(self, mesh_detector):
        """The one thread that runs the pipeline's own mesh detector for single images. It
        opens the detector before this thread goes on: MediaPipe imports TensorFlow's modules
        as it opens, and this thread may import Keras (which imports them too) for the model;
        two threads importing the same modules at once fail on a fresh cache."""
        if self._mesh_worker is None:
            from concurrent.futures import ThreadPoolExecutor

            self._mesh_worker = ThreadPoolExecutor(1, thread_name_prefix="xfer-mesh")
            if hasattr(mesh_detector, "open"):
                self._mesh_worker.submit(mesh_detector.open).result()
        return self._mesh_worker

    def _pool(self):
        """The worker threads of :meth:`_prepared_stream` (made once, stopped by :meth:`close`)."""
        if self._workers is None:
            from concurrent.futures import ThreadPoolExecutor

            self._workers = ThreadPoolExecutor(self.prepare_workers, thread_name_prefix="xfer-prepare")
        return self._workers

    def _prepared_stream(self, images: list, names: list, lookahead: int, faces: str = "largest",
                         given: list | None = None) -> Iterator[tuple[int, list[_FaceWork] | XferError]]:
        """``(index, faces or the error)`` in input order; with ``prepare_workers`` the next
        ``lookahead`` images are read and detected on worker threads meanwhile."""
        def prepare(i, in_worker=False):
            try:
                return self._prepare(images[i], names[i], self._thread_detectors() if in_worker else None,
                                     faces=faces, given_face=None if given is None else given[i],
                                     mesh_async=not in_worker and self.prepare_workers > 0)
            except XferError as error:
                return error

        if self.prepare_workers == 0 or len(images) < 2:
            for i in range(len(images)):
                yield i, prepare(i)
            return
        from collections import deque

        pool, pending, ahead = self._pool(), deque(), iter(range(len(images)))
        try:
            for i in ahead:
                pending.append((i, pool.submit(prepare, i, True)))
                if len(pending) >= lookahead:
                    break
            while pending:
                i, future = pending.popleft()
                nxt = next(ahead, None)
                if nxt is not None:
                    pending.append((nxt, pool.submit(prepare, nxt, True)))
                yield i, future.result()
        finally:  # a caller that stops early: drop what was queued
            for _, future in pending:
                future.cancel()


    def explain_video(self, source, every: int | None = None, fps: float | None = None,
                      start: float | None = None, end: float | None = None, faces: str = "largest",
                      **options):
        """Explain a video file (anything OpenCV decodes) or a folder of frames.

        Samples ``every`` N frames or ``fps`` per second (default 5 per second) between
        ``start`` and ``end`` seconds, follows the main face (``faces="largest"``) or every face
        (``"all"``), and returns a :class:`~xfer_keras.xfera.video.VideoExplanation` (``.frames``
        DataFrame, ``.segments``, ``to_json``, ``to_html``, ``save``). ``options`` go to
        :func:`xfer_keras.xfera.video.explain.explain_video` (``smooth_s``, ``batch_size``,
        ``frames_fps``, ``progress``...). Raises VideoReadError, NoFaceError (no face at all).
        """
        from xfer_keras.video.reader import Sampling
        from xfer_keras.xfera.video.explain import explain_video

        return explain_video(self, source, Sampling(every=every, fps=fps, start=start, end=end),
                             faces=faces, **options)


def explain_image(image, **kwargs) -> Explanation:
    """One-shot convenience: ``XferaPipeline(**kwargs).explain(image)``."""
    with XferaPipeline(**kwargs) as pipe:
        return pipe.explain(image)
