"""Face detection and landmarks behind one API, with two backends created lazily.

* ``"dlib"``: HOG frontal-face detector + the 68-point iBUG shape predictor from
  ``face_recognition_models``. For speed the detector runs on a copy whose longer side is
  ``detect_size`` pixels (default 320; HOG cost grows with the pixel count), and the landmarks are
  then predicted at full resolution in the rescaled box. When nothing is found on the small copy
  (small faces in a large image) the detector retries at full resolution; images smaller than
  ``detect_size`` are enlarged instead, at most 2x (dlib's HOG window is 80x80 pixels, so a 48x48
  FER2013 face needs it; more would only cost time).
  Policies "all" and "error" must count every face, so they never shrink the image below
  ``MAX_DETECT_SIZE`` (very large photos are downscaled to that longer side, for detection only).
  ``detect_size=None`` always detects at full resolution.
  **Fallback** (``fallback="mediapipe"``): when the HOG detector finds nothing (profile, strong
  tilt, dark or small faces), the boxes come from MediaPipe's BlazeFace face detector, the one
  packed inside ``face_landmarker.task`` (read from the bundle, no extra download), each kept
  only when the face mesh confirms it (:class:`FaceVerifier`). dlib's 68-point predictor runs in
  that box (a tilted face, roll from the detector's eye keypoints, rotated upright for it); where
  its points stray from the mesh's (:func:`fitted_68`: a turned head, a face cut by the edge),
  the mesh's 68 points are used instead, read off by the derived correspondence
  (:func:`~xfer_keras.face.topology.mesh_to_68`). ``Face.landmarker`` says which. When
  BlazeFace finds nothing either (also in tiles, :func:`tile_windows`), the face mesh looks at
  the image inside a black border (:meth:`FaceVerifier.padded_face`: a face filling the frame or
  cut by its edge). With policy "all", faces the fallback sees that no HOG box overlaps are added
  too. ``Face.detector`` records who found each.
* ``"mediapipe"``: MediaPipe Tasks FaceLandmarker (478 points + 52 blendshapes). It holds native
  resources: use :class:`LandmarkDetector` as a context manager (or call ``close()``); detectors
  still open at interpreter exit are closed by an ``atexit`` hook so no traceback is printed.

Neither dlib nor mediapipe (which imports TensorFlow) is imported before the first detector of
that backend is created. A :class:`LandmarkDetector` is reusable across calls but not
thread-safe: use one per thread (dlib releases the GIL, so a thread pool of dlib detectors scales
with cores; the heavy 68-point model file is loaded once and shared, read-only).
"""

from __future__ import annotations

import atexit
import math
import threading
import weakref

import numpy as np

from xfer_keras.errors import MultipleFacesError, NoFaceError, XferError
from xfer_keras.face.image import describe_source, load_image, to_gray
from xfer_keras.face.topology import mesh_to_68
from xfer_keras.face.types import Face

__all__ = [
    "BACKENDS",
    "POLICIES",
    "FALLBACKS",
    "FaceVerifier",
    "LandmarkDetector",
    "detect_faces",
    "detect_face",
    "clamp_box",
]

BACKENDS = ("mediapipe", "dlib")
POLICIES = ("largest", "all", "error")
FALLBACKS = ("mediapipe", None)
DEFAULT_DETECT_SIZE = 320
MAX_DETECT_SIZE = 1600  # exhaustive detection never runs HOG on a longer side than this
# Measured on the 40 CK+ peak frames (both detectors find every face): dlib's HOG box is
# BlazeFace's box scaled by 1.04 (sd 0.06) with its centre 0.045 box heights higher (sd 0.036).
# The fallback maps BlazeFace boxes this way so that dlib's predictor sees the framing it expects.
BLAZEFACE_TO_HOG = {"dx": 0.0, "dy": -0.045, "scale": 1.04}
UPRIGHT_ROLL_DEG = 10.0  # tilts above this are rotated upright for the 68-point predictor
#: A fallback box is kept only when MediaPipe's face mesh finds a face in a crop around it: the
#: crop adds this share of the box on every side and is scaled to ``VERIFY_SIDE`` pixels.
VERIFY_MARGIN = 0.5
VERIFY_SIDE = 256
#: a fallback face takes the mesh's 68 points when dlib's stray from them by more than this many
#: outer inter-ocular distances on average: four times the two shapes' mean distance on frontal
#: CK+ faces (0.023, ``scripts/derive_mesh_to_68.py``); dlib's fit of a cut or turned face
#: strays by ~0.4 (``benchmarks/face_detection.py --landmarks``)
MESH_OVER_DLIB = 0.1
#: when neither HOG nor BlazeFace (whole image, tiles) finds a face, the face mesh looks at the
#: image with a black border of this share of its longer side on every side
#: (:meth:`FaceVerifier.padded_face`); chosen over 0.25 on the tune half of
#: ``benchmarks/face_detection.py`` (0.25 found a few more faces but boxed cartoon frames)
PAD_SHARE = 0.5
#: the fallback's tiles when BlazeFace finds nothing in the whole image (:func:`tile_windows`):
#: windows of a half, a quarter and an eighth of the longer side, at least 128 px (BlazeFace's
#: input), overlapping by a quarter; each size is tried only when the larger found nothing. The
#: eighth and the 128 px floor were chosen on the tune half of ``benchmarks/face_detection.py``
#: (faces 40 px tall in a 1280x960 photo)
TILE_FRACTIONS = (0.5, 0.25, 0.125)
TILE_MIN_SIDE = 128
TILE_OVERLAP = 0.25


def clamp_box(x0: float, y0: float, x1: float, y1: float, width: int, height: int):
    """Round a float box outwards and clamp it to the image; ``x1``/``y1`` exclusive.

    A box lying wholly outside the image is clamped to a 1-pixel box on the nearest border.
    """
    ix0 = int(np.clip(np.floor(x0), 0, width - 1))
    iy0 = int(np.clip(np.floor(y0), 0, height - 1))
    ix1 = int(np.clip(np.ceil(x1), ix0 + 1, width))
    iy1 = int(np.clip(np.ceil(y1), iy0 + 1, height))
    return ix0, iy0, ix1, iy1


# ----------------------------------------------------------------------------------------- dlib
_PREDICTOR = None
_PREDICTOR_LOCK = threading.Lock()


def _predictor_path():
    """face-recognition-models' 68-point predictor file, found without importing the package
    (its ``__init__`` imports ``pkg_resources``: a few hundred ms of start-up)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("face_recognition_models")
    if spec is not None and spec.origin:
        path = Path(spec.origin).parent / "models" / "shape_predictor_68_face_landmarks.dat"
        if path.is_file():
            return path
    try:
        import face_recognition_models

        return Path(face_recognition_models.pose_predictor_model_location())
    except ImportError as error:
        raise XferError(
            "the dlib backend needs the face-recognition-models package "
            "(pip install face-recognition-models)"
        ) from error


def shared_predictor():
    """The 68-point shape predictor, loaded once per process (prediction is read-only)."""
    global _PREDICTOR
    with _PREDICTOR_LOCK:
        if _PREDICTOR is None:
            import dlib

            _PREDICTOR = dlib.shape_predictor(str(_predictor_path()))
    return _PREDICTOR


_SPARE_FRONTAL = []  # a HOG detector made ahead of time (xfer_keras.cli.startup), handed out once


def _make_spare_frontal_detector():
    """Make one dlib HOG face detector ahead of time for the next backend to take."""
    import dlib

    with _PREDICTOR_LOCK:
        if not _SPARE_FRONTAL:
            _SPARE_FRONTAL.append(dlib.get_frontal_face_detector())


def _take_frontal_detector(dlib):
    """The detector made ahead of time, else a new one (each backend owns its own)."""
    with _PREDICTOR_LOCK:
        if _SPARE_FRONTAL:
            return _SPARE_FRONTAL.pop()
    return dlib.get_frontal_face_detector()


def tile_windows(height: int, width: int, fractions=TILE_FRACTIONS, min_side: int = TILE_MIN_SIDE,
                 overlap: float = TILE_OVERLAP) -> list[tuple[int, int, int]]:
    """Square windows ``(x, y, side)`` over an image: for each fraction, windows of that share of
    the longer side (at least ``min_side`` px, at most the shorter side), overlapping by
    ``overlap`` and reaching every edge."""
    out = []
    for fraction in fractions:
        side = min(int(round(max(height, width) * fraction)), height, width)
        if side < min_side:
            continue
        stride = max(1, int(side * (1.0 - overlap)))

        def starts(extent):
            values = list(range(0, extent - side + 1, stride))
            if values[-1] + side < extent:
                values.append(extent - side)
            return values

        out.extend((x, y, side) for y in starts(height) for x in starts(width))
    return out


class FaceVerifier:
    """Confirms a face box with MediaPipe's face mesh: run on a crop around the box (scaled to
    :data:`VERIFY_SIDE`), the FaceLandmarker must find a face whose centre lies inside the box.
    BlazeFace and dlib's HOG also box letters, clouds, textures and cartoon faces
    (``benchmarks/face_detection.py``); the mesh's own face-presence check refuses most of them,
    and on a crop it also sees faces too small for a mesh of the whole image. One per thread;
    the mesh model loads on the first call."""

    def __init__(self, model_path=None, min_confidence: float = 0.5):
        self._args = (model_path, min_confidence)
        self._mesh = None

    def close(self) -> None:
        mesh, self._mesh = self._mesh, None
        if mesh is not None:
            mesh.close()

    def confirms(self, rgb: np.ndarray, box) -> bool:
        return self.mesh_face(rgb, box) is not None

    def padded_face(self, rgb: np.ndarray) -> Face | None:
        """The mesh's face in the whole image bordered with black on every side by
        :data:`PAD_SHARE` of its longer side, landmarks in ``rgb``'s pixels, or None. A face that
        fills the frame (a tight crop) or is cut by its edge leaves a detector no context around
        it; with the border, the mesh's own detector finds many of them."""
        import cv2

        height, width = rgb.shape[:2]
        pad = int(round(PAD_SHARE * max(height, width)))
        padded = cv2.copyMakeBorder(np.ascontiguousarray(rgb), pad, pad, pad, pad,
                                    cv2.BORDER_CONSTANT, value=(0, 0, 0))
        scale = min(1.0, VERIFY_SIDE / max(padded.shape[:2]))
        if scale < 1.0:
            padded = cv2.resize(padded, (max(1, round(padded.shape[1] * scale)),
                                         max(1, round(padded.shape[0] * scale))),
                                interpolation=cv2.INTER_AREA)
        faces, _ = self._mesh_backend().detect(np.ascontiguousarray(padded), 1)
        if not faces:
            return None
        face = _into_image(faces[0], scale, -pad, -pad, width, height)
        (x0, y0), (x1, y1) = face.landmarks.min(axis=0), face.landmarks.max(axis=0) + 1.0
        if not (0 <= (x0 + x1) / 2 < width and 0 <= (y0 + y1) / 2 < height):
            return None  # its centre in the border: not a face of this image
        return face

    def mesh_face(self, rgb: np.ndarray, box) -> Face | None:
        """The mesh's face that confirms ``box``, its landmarks in ``rgb``'s pixels, or None."""
        import cv2

        height, width = rgb.shape[:2]
        x0, y0, x1, y1 = box
        pad = VERIFY_MARGIN * max(x1 - x0, y1 - y0)
        left, top = int(max(0, x0 - pad)), int(max(0, y0 - pad))
        right, bottom = int(min(width, x1 + pad)), int(min(height, y1 + pad))
        if right - left < 8 or bottom - top < 8:
            return None
        scale = VERIFY_SIDE / max(right - left, bottom - top)
        size = (max(1, round((right - left) * scale)), max(1, round((bottom - top) * scale)))
        crop = cv2.resize(np.ascontiguousarray(rgb[top:bottom, left:right]), size,
                          interpolation=cv2.INTER_LINEAR)
        faces, _ = self._mesh_backend().detect(crop, 1)
        # the box in the scaled crop's pixels, where the mesh's faces are
        in_crop = ((x0 - left) * scale, (y0 - top) * scale, (x1 - left) * scale, (y1 - top) * scale)
        if not holds_a_face_centre(in_crop, faces[:1]):
            return None
        return _into_image(faces[0], scale, left, top, width, height)

    def _mesh_backend(self) -> "_MediaPipeBackend":
        if self._mesh is None:
            model_path, min_confidence = self._args
            self._mesh = _MediaPipeBackend(model_path, 1, min_confidence)
        return self._mesh


def _into_image(face: Face, scale: float, left: float, top: float, width: int,
                height: int) -> Face:
    """``face``, found in a copy of an image cut at ``(left, top)`` (negative: bordered) and
    scaled by ``scale``, moved into the image's pixels (pixel centres: ``(u + 0.5) / s - 0.5``)."""
    face.landmarks = ((face.landmarks + 0.5) / np.float32(scale) - 0.5
                      + np.array([left, top], np.float32)).astype(np.float32)
    if face.landmarks_z is not None:
        face.landmarks_z = (face.landmarks_z / np.float32(scale)).astype(np.float32)
    face.box = clamp_box(*face.landmarks.min(axis=0), *(face.landmarks.max(axis=0) + 1.0),
                         width, height)
    face.image_size = (width, height)
    return face


class _DlibBackend:
    name = "dlib"

    def __init__(self, detect_size: int | None = DEFAULT_DETECT_SIZE, upsample: int = 0,
                 fallback: str | None = None, model_path=None, min_confidence: float = 0.5):
        try:
            import dlib
        except ImportError as error:
            raise XferError("the dlib backend needs dlib (pip install dlib-bin)") from error
        self._dlib = dlib
        self._detector = _take_frontal_detector(dlib)
        self._predictor = shared_predictor()
        self.detect_size = detect_size
        self.upsample = upsample
        self.fallback = fallback
        self._fallback_args = (model_path, min_confidence)
        self._blazeface = None
        self._verifier = None
        self.last_timing: dict[str, float] = {}

    def close(self) -> None:
        for name in ("_blazeface", "_verifier"):
            model = getattr(self, name)
            setattr(self, name, None)
            if model is not None:
                model.close()

    def _fallback_boxes(self, rgb: np.ndarray, tiles: bool = False, known=()):
        """BlazeFace's boxes that overlap no ``known`` box (IoU < 0.3) and that the face mesh
        confirms, ``(box, score, roll, detector, mesh face)`` (:meth:`FaceVerifier.mesh_face`);
        the overlap is tested first, so no mesh runs for a face already found. ``tiles``: when
        BlazeFace finds no face in the whole image, look again in overlapping tiles
        (:func:`tile_windows`), the larger tiles first: it sees an image at 128 px, where a face
        a tenth of its height is a dozen pixels."""
        if self._blazeface is None:
            self._blazeface = _BlazeFaceDetector(*self._fallback_args)
        found = self._confirmed(rgb, [item for item in self._blazeface.boxes(rgb)
                                      if all(box_iou(item[0], k[0]) < 0.3 for k in known)])
        if found or not tiles:
            return found
        for fraction in TILE_FRACTIONS:  # larger tiles first; smaller ones only if they found none
            candidates = []
            for x, y, side in tile_windows(*rgb.shape[:2], fractions=(fraction,)):
                tile = np.ascontiguousarray(rgb[y:y + side, x:x + side])
                for (x0, y0, x1, y1), score, roll, detector in self._blazeface.boxes(tile):
                    candidates.append(((x0 + x, y0 + y, x1 + x, y1 + y), score, roll, detector))
            candidates.sort(key=lambda item: -(item[1] or 0.0))
            kept = []
            for item in candidates:  # one box per face: the best-scoring of those that overlap
                if all(box_iou(item[0], other[0]) < 0.3 for other in kept):
                    kept.append(item)
            found = self._confirmed(rgb, kept)
            if found:
                return found
        return []

    def _verifier_for_fallback(self) -> "FaceVerifier":
        if self._verifier is None:
            self._verifier = FaceVerifier(*self._fallback_args)
        return self._verifier

    def _confirmed(self, rgb: np.ndarray, items):
        """``items`` whose box the face mesh confirms, each with the mesh's face appended."""
        verifier = self._verifier_for_fallback()
        out = []
        for item in items:
            mesh = verifier.mesh_face(rgb, item[0])
            if mesh is not None:
                out.append((*item, mesh))
        return out

    def boxes(self, gray: np.ndarray, exhaustive: bool = False):
        """Face boxes ``((x0, y0, x1, y1) float full-res, score)``, largest first.

        ``exhaustive``: detect at full resolution (every face counts: policies "all"/"error");
        otherwise on the ``detect_size`` copy first (policy "largest").
        """
        height, width = gray.shape
        cap = min(1.0, MAX_DETECT_SIZE / max(height, width))  # very large photos: downscaled
        scale = cap
        if self.detect_size:
            scale = min(self.detect_size / max(height, width), 2.0)  # enlarge at most 2x
            if exhaustive:
                scale = max(scale, cap)  # enlarge small images, shrink only very large ones
            if 0.95 < scale < 1.05:
                scale = 1.0
        if scale == 1.0:
            found = self._run(gray, 1.0)
        else:
            import cv2

            small = cv2.resize(
                gray,
                (max(1, round(width * scale)), max(1, round(height * scale))),
                interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
            )
            found = self._run(small, scale)
            if not found and scale < cap:  # small faces in a large image: full resolution
                found = self.boxes(gray, exhaustive=True) if cap < 1.0 else self._run(gray, 1.0)
        return sorted(found, key=lambda item: -_area(item[0]))

    def _run(self, image: np.ndarray, scale: float):
        rects, scores, _ = self._detector.run(image, self.upsample, 0.0)
        out = []
        for rect, score in zip(rects, scores):
            # dlib rectangles are inclusive: right/bottom are the last pixel inside
            box = (
                (rect.left() + 0.5) / scale - 0.5,
                (rect.top() + 0.5) / scale - 0.5,
                (rect.right() + 1.5) / scale - 0.5,
                (rect.bottom() + 1.5) / scale - 0.5,
            )
            out.append((box, float(score)))
        return out

    def landmarks(self, gray: np.ndarray, box, roll_deg: float = 0.0) -> np.ndarray:
        """68 points in ``box``; a face tilted by ``roll_deg`` is first rotated upright."""
        if abs(roll_deg) > UPRIGHT_ROLL_DEG:
            return self._upright_landmarks(gray, box, roll_deg)
        x0, y0, x1, y1 = box
        rect = self._dlib.rectangle(
            int(round(x0)), int(round(y0)), int(round(x1)) - 1, int(round(y1)) - 1
        )
        shape = self._predictor(gray, rect)
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)

    def _upright_landmarks(self, gray: np.ndarray, box, roll_deg: float) -> np.ndarray:
        import cv2

        x0, y0, x1, y1 = box
        centre = ((x0 + x1) / 2.0, (y0 + y1) / 2.0)
        matrix = cv2.getRotationMatrix2D(centre, roll_deg, 1.0)  # undoes the tilt
        height, width = gray.shape
        upright = cv2.warpAffine(gray, matrix, (width, height), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_REPLICATE)
        points = self.landmarks(upright, box, 0.0).astype(np.float64)
        inverse = cv2.invertAffineTransform(matrix)
        return (points @ inverse[:, :2].T + inverse[:, 2]).astype(np.float32)

    def detect(self, rgb: np.ndarray, limit: int, exhaustive: bool = False):
        import time

        height, width = rgb.shape[:2]
        start = time.perf_counter()
        gray = to_gray(rgb)
        found = [(box, score, 0.0, "dlib-hog", None) for box, score in self.boxes(gray, exhaustive)]
        if self.fallback and (not found or exhaustive):
            extra = self._fallback_boxes(rgb, tiles=not found, known=found)
            found = sorted(found + extra, key=lambda item: -_area(item[0]))
        if self.fallback and not found:  # last: the mesh on the image with a border around it
            mesh = self._verifier_for_fallback().padded_face(rgb)
            if mesh is not None:
                found = [(mesh.box, None, 0.0, "mediapipe-landmarker", mesh)]
        middle = time.perf_counter()
        faces = []
        for box, score, roll, detector, mesh in found[:limit]:
            points, landmarker = self.landmarks(gray, box, roll), "dlib-68"
            if mesh is not None:
                points, landmarker = fitted_68(points, mesh_to_68(mesh.landmarks))
            faces.append(
                Face(
                    box=clamp_box(*box, width, height),
                    landmarks=points,
                    backend=self.name,
                    score=score,
                    image_size=(width, height),
                    detector=detector,
                    landmarker=landmarker,
                )
            )
        end = time.perf_counter()
        self.last_timing = {"detect_ms": 1e3 * (middle - start), "landmarks_ms": 1e3 * (end - middle)}
        return faces, len(found)


def fitted_68(dlib_points: np.ndarray, mesh_points: np.ndarray):
    """``(points, "dlib-68" | "mesh-68")``: dlib's 68 points for a face, unless they stray from
    the mesh's 68 (:func:`~xfer_keras.face.topology.mesh_to_68`) by more than
    :data:`MESH_OVER_DLIB` outer inter-ocular distances on average: then dlib's model has not
    fitted the face (a turned head, a face cut by the image edge) and the mesh, which follows the
    pose, gives them. Where both fit, dlib's points are kept: Table 2's regions are defined on
    them."""
    dlib_points = np.asarray(dlib_points, dtype=np.float32)
    mesh_points = np.asarray(mesh_points, dtype=np.float32)
    iod = float(np.linalg.norm(mesh_points[36] - mesh_points[45]))
    apart = float(np.linalg.norm(dlib_points - mesh_points, axis=1).mean()) / max(iod, 1e-6)
    return (mesh_points, "mesh-68") if apart > MESH_OVER_DLIB else (dlib_points, "dlib-68")


def _area(box) -> float:
    x0, y0, x1, y1 = box
    return max(0.0, x1 - x0) * max(0.0, y1 - y0)


def box_iou(a, b) -> float:
    """Intersection over union of two ``(x0, y0, x1, y1)`` boxes (0 when disjoint)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = _area(a) + _area(b) - inter
    return float(inter / union) if union > 0 else 0.0


def holds_a_face_centre(box, faces) -> bool:
    """Whether the centre of any of ``faces`` (objects with a ``box``) lies inside ``box``: how
    a face mesh confirms a detected face."""
    x0, y0, x1, y1 = box
    return any(x0 <= (f.box[0] + f.box[2]) / 2.0 <= x1 and y0 <= (f.box[1] + f.box[3]) / 2.0 <= y1
               for f in faces)


class _BlazeFaceDetector:
    """MediaPipe's BlazeFace face detector, read from inside ``face_landmarker.task``.

    ``boxes(rgb)`` gives ``(box, score, roll_deg, "mediapipe-face-detector")`` per face, the box
    mapped to dlib's HOG framing (:data:`BLAZEFACE_TO_HOG`) and the roll from the two eye
    keypoints (positive: the face is turned clockwise on screen).
    """

    def __init__(self, model_path=None, min_confidence: float = 0.5):
        import zipfile

        from xfer_keras import assets
        from xfer_keras.errors import ModelFileError

        path = assets.resolve("face_landmarker", path=model_path)
        try:
            with zipfile.ZipFile(path) as bundle:
                model = bundle.read("face_detector.tflite")
        except (OSError, KeyError, zipfile.BadZipFile) as error:
            raise ModelFileError(f"{path}: no face_detector.tflite inside ({error})") from error
        try:
            import mediapipe as mp
            from mediapipe.tasks.python import vision
            from mediapipe.tasks.python.core.base_options import BaseOptions
        except ImportError as error:
            raise XferError("the detector fallback needs mediapipe (pip install mediapipe)") from error
        self._mp = mp
        options = vision.FaceDetectorOptions(
            base_options=BaseOptions(model_asset_buffer=model),
            running_mode=vision.RunningMode.IMAGE,
            min_detection_confidence=min_confidence,
        )
        self._detector = vision.FaceDetector.create_from_options(options)
        _OPEN_LANDMARKERS.add(self)

    def close(self) -> None:
        detector, self._detector = getattr(self, "_detector", None), None
        if detector is not None:
            detector.close()
        _OPEN_LANDMARKERS.discard(self)

    def boxes(self, rgb: np.ndarray):
        height, width = rgb.shape[:2]
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        out = []
        for detection in self._detector.detect(image).detections:
            b = detection.bounding_box
            cx = b.origin_x + b.width / 2.0 + BLAZEFACE_TO_HOG["dx"] * b.width
            cy = b.origin_y + b.height / 2.0 + BLAZEFACE_TO_HOG["dy"] * b.height
            half_w = b.width * BLAZEFACE_TO_HOG["scale"] / 2.0
            half_h = b.height * BLAZEFACE_TO_HOG["scale"] / 2.0
            roll = 0.0
            points = detection.keypoints or []
            if len(points) >= 2:  # 0: right eye (left on screen), 1: left eye
                dx = (points[1].x - points[0].x) * width
                dy = (points[1].y - points[0].y) * height
                roll = math.degrees(math.atan2(dy, dx))
            score = float(detection.categories[0].score) if detection.categories else None
            out.append(((cx - half_w, cy - half_h, cx + half_w, cy + half_h), score, roll,
                        "mediapipe-face-detector"))
        return out


# ------------------------------------------------------------------------------------ mediapipe
_OPEN_LANDMARKERS: "weakref.WeakSet[_MediaPipeBackend]" = weakref.WeakSet()


@atexit.register
def _close_open_landmarkers() -> None:  # an unclosed FaceLandmarker prints a traceback at exit
    for backend in list(_OPEN_LANDMARKERS):
        try:
            backend.close()
        except Exception:
            pass


class _MediaPipeBackend:
    name = "mediapipe"

    def __init__(self, model_path=None, max_faces: int = 4, min_confidence: float = 0.5):
        from xfer_keras import assets

        path = assets.resolve("face_landmarker", path=model_path)
        try:
            import mediapipe as mp
            from mediapipe.tasks.python import vision
            from mediapipe.tasks.python.core.base_options import BaseOptions
        except ImportError as error:
            raise XferError("the mediapipe backend needs mediapipe (pip install mediapipe)") from error
        self._mp = mp
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(path)),
            running_mode=vision.RunningMode.IMAGE,
            num_faces=max_faces,
            min_face_detection_confidence=min_confidence,
            min_face_presence_confidence=min_confidence,
            output_face_blendshapes=True,
        )
        self._landmarker = vision.FaceLandmarker.create_from_options(options)
        self.model_path = path
        self.last_timing: dict[str, float] = {}
        _OPEN_LANDMARKERS.add(self)

    def close(self) -> None:
        landmarker, self._landmarker = getattr(self, "_landmarker", None), None
        if landmarker is not None:
            landmarker.close()
        _OPEN_LANDMARKERS.discard(self)

    def detect(self, rgb: np.ndarray, limit: int, exhaustive: bool = False):
        import time

        if self._landmarker is None:
            raise XferError("this mediapipe LandmarkDetector was closed")
        height, width = rgb.shape[:2]
        start = time.perf_counter()
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=rgb)
        result = self._landmarker.detect(image)
        faces = []
        for index, points in enumerate(result.face_landmarks):
            xyz = np.array([(p.x, p.y, p.z) for p in points], dtype=np.float64)
            landmarks = np.empty((len(points), 2), dtype=np.float32)
            landmarks[:, 0] = xyz[:, 0] * width - 0.5
            landmarks[:, 1] = xyz[:, 1] * height - 0.5
            blendshapes = None
            if result.face_blendshapes and index < len(result.face_blendshapes):
                blendshapes = {
                    c.category_name: float(c.score) for c in result.face_blendshapes[index]
                }
            x0, y0 = landmarks.min(axis=0)
            x1, y1 = landmarks.max(axis=0) + 1.0
            faces.append(
                Face(
                    box=clamp_box(x0, y0, x1, y1, width, height),
                    landmarks=landmarks,
                    backend=self.name,
                    score=None,
                    landmarks_z=(xyz[:, 2] * width).astype(np.float32),
                    blendshapes=blendshapes,
                    image_size=(width, height),
                )
            )
        faces.sort(key=lambda face: -float(np.prod(np.ptp(face.landmarks, axis=0))))  # largest first
        self.last_timing = {"landmarks_ms": 1e3 * (time.perf_counter() - start)}
        return faces[:limit], len(faces)


# ------------------------------------------------------------------------------------ front end
class LandmarkDetector:
    """Find faces and their landmarks; reusable, one per thread; a context manager.

    ``backend``: ``"mediapipe"`` (478 points + blendshapes) or ``"dlib"`` (68 points).
    ``policy`` for images with several faces: ``"largest"`` (default; keep the largest box),
    ``"all"`` (all faces, largest first, at most ``max_faces``) or ``"error"``
    (:class:`~xfer_keras.errors.MultipleFacesError` when more than one face is found).
    ``model_path``: MediaPipe ``.task`` file (default: resolved by :mod:`xfer_keras.assets`).
    ``detect_size``: dlib only, longer side of the copy the HOG detector runs on (None: full size).
    ``upsample``: dlib only, HOG pyramid upsampling (1 finds faces down to ~40 px, 2-3x slower).
    ``fallback``: dlib only, ``"mediapipe"`` to take boxes from MediaPipe's face detector when
    HOG finds none (and, with policy "all", the faces HOG missed); None (default) for HOG alone.

    The backend is created on first use, so constructing a detector is free.
    """

    def __init__(
        self,
        backend: str = "mediapipe",
        model_path=None,
        policy: str = "largest",
        max_faces: int = 4,
        detect_size: int | None = DEFAULT_DETECT_SIZE,
        upsample: int = 0,
        min_confidence: float = 0.5,
        fallback: str | None = None,
    ):
        backend = str(backend).lower()
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        if policy not in POLICIES:
            raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
        if max_faces < 1:
            raise ValueError("max_faces must be >= 1")
        if fallback not in FALLBACKS:
            raise ValueError(f"fallback must be one of {FALLBACKS}, got {fallback!r}")
        if fallback and backend != "dlib":
            raise ValueError("fallback is a dlib option (the mediapipe backend has its own detector)")
        self.fallback = fallback
        self.backend = backend
        self.model_path = model_path
        self.policy = policy
        self.max_faces = int(max_faces)
        self.detect_size = detect_size
        self.upsample = int(upsample)
        self.min_confidence = float(min_confidence)
        self._impl = None

    # -- lifecycle
    def _backend(self):
        if self._impl is None:
            if self.backend == "dlib":
                self._impl = _DlibBackend(self.detect_size, self.upsample, self.fallback,
                                          self.model_path, self.min_confidence)
            else:
                # policy "error" needs to see a second face; "largest" must compare several
                self._impl = _MediaPipeBackend(
                    self.model_path, max(2, self.max_faces), self.min_confidence
                )
        return self._impl

    def open(self) -> "LandmarkDetector":
        """Create the backend now (otherwise on the first ``detect``)."""
        self._backend()
        return self

    def close(self) -> None:
        """Free the backend (MediaPipe's native graph); the detector reopens on next use."""
        impl, self._impl = self._impl, None
        if impl is not None:
            impl.close()

    def __enter__(self) -> "LandmarkDetector":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        fallback = f", fallback={self.fallback!r}" if self.fallback else ""
        return f"LandmarkDetector(backend={self.backend!r}, policy={self.policy!r}{fallback})"

    @property
    def n_landmarks(self) -> int:
        return 68 if self.backend == "dlib" else 478

    @property
    def last_timing(self) -> dict[str, float]:
        """Milliseconds per stage of the last ``detect`` call (``detect_ms``, ``landmarks_ms``)."""
        return dict(self._impl.last_timing) if self._impl is not None else {}

    # -- work
    def detect(self, image, source: str | None = None, policy: str | None = None,
               exhaustive: bool | None = None) -> list[Face]:
        """Faces in ``image`` (anything :func:`load_image` reads), largest first, per the policy.

        ``policy`` overrides the detector's policy for this call. ``exhaustive`` (dlib): False
        detects on the fast ``detect_size`` copy even for policy "all" (video frames), True at
        full resolution; None (default) chooses by policy. Raises ImageReadError (bad
        file), NoFaceError, or MultipleFacesError (policy "error"); every message starts with
        ``source`` (default: the path or the array's shape).
        """
        policy = self.policy if policy is None else policy
        if policy not in POLICIES:
            raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
        name = describe_source(image, source)
        rgb = load_image(image, source=name)
        limit = 1 if policy in ("largest", "error") else self.max_faces
        if exhaustive is None:
            exhaustive = policy != "largest"
        faces, n_found = self._backend().detect(rgb, limit, exhaustive=bool(exhaustive))
        if n_found == 0:
            tried = f"{self.backend} + {self.fallback} fallback" if self.fallback else self.backend
            raise NoFaceError(f"{name}: no face found ({tried})")
        if policy == "error" and n_found > 1:
            raise MultipleFacesError(
                f"{name}: {n_found} faces found ({self.backend}); policy 'error' wants exactly one"
            )
        return faces

    def detect_one(self, image, source: str | None = None, policy: str | None = None) -> Face:
        """One face: the largest (policies "largest" and "all") or the only one ("error")."""
        return self.detect(image, source, policy)[0]

    __call__ = detect


# ------------------------------------------------------------------------- convenience functions
_CACHE = threading.local()


def _cached_detector(backend: str, model_path=None) -> LandmarkDetector:
    """A per-thread detector reused across convenience calls (closed at exit)."""
    cache = getattr(_CACHE, "detectors", None)
    if cache is None:
        cache = _CACHE.detectors = {}
    key = (backend, str(model_path) if model_path else None)
    if key not in cache:
        cache[key] = LandmarkDetector(backend, model_path=model_path)
    return cache[key]


def detect_faces(
    image, backend: str = "mediapipe", policy: str = "largest", model_path=None,
    source: str | None = None,
) -> list[Face]:
    """Faces in ``image`` with a cached per-thread detector (see :class:`LandmarkDetector`)."""
    return _cached_detector(str(backend).lower(), model_path).detect(image, source, policy)


def detect_face(image, backend: str = "mediapipe", model_path=None, source: str | None = None) -> Face:
    """The largest face in ``image`` (NoFaceError when there is none)."""
    return detect_faces(image, backend=backend, policy="largest", model_path=model_path, source=source)[0]
