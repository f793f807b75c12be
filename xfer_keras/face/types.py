"""Result objects of face detection: :class:`Face` (one detected face) and :class:`Crop`.

Coordinate convention (both backends): landmark ``(x, y)`` are pixel coordinates with pixel
centres at integers, i.e. the centre of ``image[r, c]`` is ``(x=c, y=r)``. Under this
convention mirroring an image of width ``W`` maps ``x -> W - 1 - x`` (see
:func:`xfer_keras.face.flip_landmarks`). MediaPipe's normalised output is converted with
``x = x_norm * W - 0.5`` so that it follows the same convention as dlib.

Boxes are ``(x0, y0, x1, y1)`` integers with ``x1``/``y1`` exclusive, so
``image[y0:y1, x0:x1]`` is the box; they are clamped to ``0 <= x0 < x1 <= W``,
``0 <= y0 < y1 <= H``. Landmarks are *not* clamped: MediaPipe may place points outside the image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xfer_keras.errors import InputShapeError

__all__ = ["Face", "Crop", "N_DLIB", "N_MESH", "N_MESH_IRIS", "DETECTORS"]

DETECTORS = ("dlib-hog", "mediapipe-face-detector", "mediapipe-landmarker")

N_DLIB = 68  # iBUG 300-W layout (dlib's shape_predictor_68_face_landmarks)
N_MESH = 468  # MediaPipe face mesh without the iris points
N_MESH_IRIS = 478  # MediaPipe FaceLandmarker output: 468 mesh + 5 right-iris + 5 left-iris


@dataclass
class Face:
    """One face found in an image (see the module doc for the coordinate convention).

    ``landmarks`` is ``(L, 2)`` float32 pixel ``x, y``: ``L = 68`` (iBUG order) for dlib,
    ``L = 478`` (468 mesh + 10 iris) for MediaPipe. ``landmarks_z`` (MediaPipe only) is the
    relative depth of each point in pixel-like units (``z_norm * W``; smaller = nearer the camera).
    ``blendshapes`` (MediaPipe only) maps the 52 blendshape names (including ``_neutral``) to
    scores in [0, 1]. ``score`` is the detector's confidence (dlib: SVM margin; MediaPipe's face
    detector: probability; the FaceLandmarker gives none).
    ``image_size`` is ``(W, H)`` of the image the face was found in.
    ``detector`` names what found the box (:data:`DETECTORS`): ``"dlib-hog"`` (dlib's frontal
    HOG), ``"mediapipe-face-detector"`` (the BlazeFace detector inside ``face_landmarker.task``,
    dlib's fallback) or ``"mediapipe-landmarker"`` (the FaceLandmarker's own landmarks' box).
    ``landmarker`` names what gave the points: ``"dlib-68"`` (dlib's predictor), ``"mesh-68"``
    (the face mesh's 68, where dlib's did not fit the face) or ``"mesh"`` (MediaPipe).
    """

    box: tuple[int, int, int, int]
    landmarks: np.ndarray
    backend: str
    score: float | None = None
    landmarks_z: np.ndarray | None = None
    blendshapes: dict[str, float] | None = None
    image_size: tuple[int, int] | None = None
    detector: str | None = None
    landmarker: str | None = None

    def __post_init__(self):
        if self.detector is None:  # what each backend uses when nothing else is said
            self.detector = "dlib-hog" if self.backend == "dlib" else "mediapipe-landmarker"
        if self.landmarker is None:
            self.landmarker = "dlib-68" if self.backend == "dlib" else "mesh"

    @property
    def mesh468(self) -> np.ndarray:
        """The 468 face-mesh points ``(468, 2)`` (MediaPipe only; what the EMO nets use)."""
        if self.landmarks.shape[0] < N_MESH:
            raise InputShapeError(
                f"mesh468 needs MediaPipe landmarks (478 points); this {self.backend} face has "
                f"{self.landmarks.shape[0]}"
            )
        return self.landmarks[:N_MESH]

    @property
    def area(self) -> int:
        """Box area in pixels (used to pick the largest face)."""
        x0, y0, x1, y1 = self.box
        return max(0, x1 - x0) * max(0, y1 - y0)

    @property
    def n_landmarks(self) -> int:
        return int(self.landmarks.shape[0])

    def to_dict(self, decimals: int = 2) -> dict:
        """JSON-ready dict: ``box``, ``backend``, ``detector``, ``landmarker``, ``landmarks`` (rounded),
        ``blendshapes``, ``score``, and ``image_size`` ``[W, H]`` when known."""
        landmarks = np.round(self.landmarks.astype(np.float64), decimals).tolist()
        blendshapes = None
        if self.blendshapes is not None:
            blendshapes = {k: round(float(v), 6) for k, v in self.blendshapes.items()}
        return {
            "box": [int(v) for v in self.box],
            "backend": self.backend,
            "detector": self.detector,
            "landmarker": self.landmarker,
            "landmarks": landmarks,
            "blendshapes": blendshapes,
            "score": None if self.score is None else round(float(self.score), 4),
            "image_size": None if self.image_size is None else [int(v) for v in self.image_size],
        }


@dataclass
class Crop:
    """A square face crop.

    ``image`` is ``(size, size, 3)`` uint8, padded (black by default) where the square leaves the
    original image. ``landmarks`` are the face's landmarks in crop pixel coordinates (same
    pixel-centre convention). ``box`` is the square ``(x0, y0, x1, y1)`` in original image
    coordinates (may extend beyond the image; for a rotated crop, the square's bounding box).
    ``scale`` is crop pixels per original pixel. Without ``matrix`` the crop is axis-aligned and
    ``x_crop = (x - x0 + 0.5) * scale - 0.5``; ``matrix`` (2x3, original -> crop pixels) is set
    for crops aligned by a similarity transform (rotated so the eyes are level).
    """

    image: np.ndarray
    landmarks: np.ndarray
    box: tuple[int, int, int, int]
    scale: float
    matrix: np.ndarray | None = None

    def _affine(self) -> np.ndarray:
        if self.matrix is not None:
            return np.asarray(self.matrix, dtype=np.float64)
        x0, y0 = (float(v) for v in self.box[:2])
        s = float(self.scale)
        return np.array([[s, 0.0, (0.5 - x0) * s - 0.5], [0.0, s, (0.5 - y0) * s - 0.5]])

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """Map original-image points ``(..., 2)`` into crop coordinates."""
        points = np.asarray(points, dtype=np.float64)
        m = self._affine()
        return (points @ m[:, :2].T + m[:, 2]).astype(np.float32)

    def to_original(self, points: np.ndarray) -> np.ndarray:
        """Map crop points ``(..., 2)`` back into original-image coordinates."""
        points = np.asarray(points, dtype=np.float64)
        m = self._affine()
        return ((points - m[:, 2]) @ np.linalg.inv(m[:, :2]).T).astype(np.float32)
