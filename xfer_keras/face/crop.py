"""Square face crops of any size, with landmarks mapped into the crop.

Two ways to frame a face:

* around the detector's box (:func:`square_box`: centred, ``margin`` on each side), optionally
  turned about its centre so the eyes are level (``level_eyes``);
* like the images a model was trained on (:class:`Framing`): a similarity transform of the 68
  landmarks that puts the eyes and mouth where they sit in the training crops, optionally
  rotating so the eyes are level. :data:`FRAMINGS` holds framings measured from data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from xfer_keras.errors import InputShapeError
from xfer_keras.face.image import load_image
from xfer_keras.face.types import Crop, Face

__all__ = ["FRAMINGS", "Framing", "crop_face", "eye_angle", "get_framing", "level_box_matrix",
           "square_box"]

# dlib / iBUG-68 index ranges
_EYE_A, _EYE_B, _MOUTH = slice(36, 42), slice(42, 48), slice(48, 68)


@dataclass(frozen=True)
class Framing:
    """Where a face sits in a model's training crops, as fractions of the crop side.

    ``eye_center``: midpoint of the two eye centres ``(x, y)``; ``eye_distance``: distance
    between the eye centres; ``eye_mouth``: eye midpoint to mouth centre. The crop's scale is
    the mean of the two distance ratios (robust to yaw, which shrinks the eye distance, and to
    pitch, which shrinks the eye-mouth distance). ``rotate``: level the eyes.
    """

    eye_center: tuple[float, float]
    eye_distance: float
    eye_mouth: float
    rotate: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


# FER2013 (sharp train copy): medians over the 1,081 of 1,500 faces dlib finds in 4x-upscaled
# images. FER2013 faces are cut by a face detector and not aligned.
FRAMINGS = {
    "fer2013": Framing(eye_center=(0.5, 0.395), eye_distance=0.364, eye_mouth=0.396),
    "fer2013_upright": Framing(eye_center=(0.5, 0.395), eye_distance=0.364, eye_mouth=0.396,
                               rotate=False),
}


def get_framing(framing) -> Framing | None:
    """A :class:`Framing` from a name in :data:`FRAMINGS`, a dict, a Framing, or None."""
    if framing is None or isinstance(framing, Framing):
        return framing
    if isinstance(framing, dict):
        return Framing(**{**framing, "eye_center": tuple(framing["eye_center"])})
    if framing not in FRAMINGS:
        raise ValueError(f"unknown framing {framing!r}; known: {sorted(FRAMINGS)}")
    return FRAMINGS[framing]


def framing_matrix(landmarks: np.ndarray, framing: Framing, size: int) -> np.ndarray:
    """2x3 similarity matrix (original -> crop pixels) that frames 68 landmarks as ``framing``."""
    points = np.asarray(landmarks, dtype=np.float64)
    if points.shape != (68, 2):
        raise InputShapeError(f"framing needs the 68 dlib landmarks, got shape {points.shape}")
    eye_a, eye_b = points[_EYE_A].mean(0), points[_EYE_B].mean(0)
    mid, mouth = (eye_a + eye_b) / 2.0, points[_MOUTH].mean(0)
    eye_distance = max(np.linalg.norm(eye_b - eye_a), 1e-6)
    eye_mouth = max(np.linalg.norm(mouth - mid), 1e-6)
    scale = size * 0.5 * (framing.eye_distance / eye_distance + framing.eye_mouth / eye_mouth)
    angle = eye_angle(points) if framing.rotate else 0.0
    target = np.asarray(framing.eye_center, dtype=np.float64) * size - 0.5
    return _similarity(angle, scale, mid, target)


def _similarity(angle: float, scale: float, source, target) -> np.ndarray:
    """2x3 matrix that turns by ``-angle`` (radians), scales by ``scale`` and maps the point
    ``source`` onto ``target``."""
    cos, sin = np.cos(-angle) * scale, np.sin(-angle) * scale
    linear = np.array([[cos, -sin], [sin, cos]])
    return np.hstack([linear, (np.asarray(target) - linear @ np.asarray(source))[:, None]])


def eye_angle(landmarks: np.ndarray) -> float:
    """Angle of the line from the first eye to the second (radians; 0 when level)."""
    points = np.asarray(landmarks, dtype=np.float64)
    if points.shape != (68, 2):
        raise InputShapeError(f"levelling the eyes needs the 68 dlib landmarks, got shape "
                              f"{points.shape}")
    eye_a, eye_b = points[_EYE_A].mean(0), points[_EYE_B].mean(0)
    return float(np.arctan2(*(eye_b - eye_a)[::-1]))


def level_box_matrix(square, landmarks: np.ndarray, size: int) -> np.ndarray:
    """2x3 matrix (original -> crop pixels) of the square ``(x0, y0, x1, y1)`` turned about its
    centre so the eyes are level; for level eyes it is exactly the axis-aligned box crop."""
    x0, y0, x1, _ = (float(v) for v in square)
    side = x1 - x0
    centre = np.array([x0 + side / 2.0 - 0.5, y0 + side / 2.0 - 0.5])
    return _similarity(eye_angle(landmarks), size / side, centre, np.full(2, size / 2.0 - 0.5))


def _aligned_crop(rgb, face: Face, size: int, framing: Framing, pad_value) -> Crop:
    return _warped_crop(rgb, face, size, framing_matrix(face.landmarks, framing, size), pad_value)


def _warped_crop(rgb, face: Face, size: int, matrix: np.ndarray, pad_value) -> Crop:
    import cv2

    scale = float(np.hypot(*matrix[0, :2]))
    source, to_source = rgb, np.eye(3)
    if scale < 0.5:  # shrink first (area filter), so the warp does not alias
        factor = 2.0 * scale
        source = cv2.resize(rgb, (max(1, round(rgb.shape[1] * factor)),
                                  max(1, round(rgb.shape[0] * factor))),
                            interpolation=cv2.INTER_AREA)
        fx, fy = source.shape[1] / rgb.shape[1], source.shape[0] / rgb.shape[0]
        to_source = np.array([[fx, 0, 0.5 * fx - 0.5], [0, fy, 0.5 * fy - 0.5], [0, 0, 1]])
    warp = (np.vstack([matrix, [0, 0, 1]]) @ np.linalg.inv(to_source))[:2]
    border = tuple(int(v) for v in np.broadcast_to(np.asarray(pad_value), (3,)))
    image = cv2.warpAffine(source, warp, (size, size), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=border)
    crop = Crop(image=np.ascontiguousarray(image), landmarks=None, box=(0, 0, 1, 1),
                scale=scale, matrix=matrix)
    corners = crop.to_original(np.array([[-0.5, -0.5], [size - 0.5, -0.5],
                                         [-0.5, size - 0.5], [size - 0.5, size - 0.5]]))
    x0, y0 = np.floor(corners.min(0)).astype(int)
    x1, y1 = np.ceil(corners.max(0)).astype(int)
    crop.box = (int(x0), int(y0), int(x1), int(y1))
    crop.landmarks = crop.to_crop(face.landmarks)
    return crop


def square_box(box, margin: float = 0.25) -> tuple[int, int, int, int]:
    """Integer square ``(x0, y0, x1, y1)`` centred on ``box``, side ``max(w, h) * (1 + 2*margin)``.

    ``margin`` is the fraction of the face box's longer side added on *each* side. The square may
    extend beyond the image (``crop_face`` pads there).
    """
    x0, y0, x1, y1 = (float(v) for v in box)
    side = max(x1 - x0, y1 - y0) * (1.0 + 2.0 * margin)
    side = max(1, int(round(side)))
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    sx0 = int(round(cx - side / 2.0))
    sy0 = int(round(cy - side / 2.0))
    return sx0, sy0, sx0 + side, sy0 + side


def crop_face(
    image, face: Face, size: int = 224, margin: float = 0.25, pad_value: int | tuple = 0,
    box=None, framing=None, level_eyes: bool = False,
) -> Crop:
    """Square ``size x size`` crop around ``face.box`` (see :func:`square_box`), resized, or
    framed like a model's training images (``framing``: a :class:`Framing` or a name in
    :data:`FRAMINGS`; needs the 68 dlib landmarks; ``margin`` and ``box`` are then unused).

    ``level_eyes`` (box crops): the same square turned about its centre so the eyes are level
    (needs the 68 dlib landmarks), so a tilted head reaches the model upright.

    ``image`` is anything :func:`~xfer_keras.face.load_image` reads (the image the face was found
    in). Where the square leaves the image the crop is filled with ``pad_value``. The returned
    :class:`~xfer_keras.face.Crop` holds ``face.landmarks`` mapped to crop pixels
    (``x_crop = (x - x0 + 0.5) * scale - 0.5``, exact for the resize used). ``box`` overrides the
    face box (e.g. a box from landmarks).
    """
    import cv2

    if int(size) < 1:
        raise ValueError(f"crop size must be >= 1, got {size}")
    size = int(size)
    rgb = load_image(image)
    framing = get_framing(framing)
    if framing is not None:
        return _aligned_crop(rgb, face, size, framing, pad_value)
    height, width = rgb.shape[:2]
    sx0, sy0, sx1, sy1 = square_box(face.box if box is None else box, margin)
    if level_eyes:
        matrix = level_box_matrix((sx0, sy0, sx1, sy1), face.landmarks, size)
        return _warped_crop(rgb, face, size, matrix, pad_value)
    side = sx1 - sx0
    # the part of the square inside the image, pasted into a padded canvas
    canvas = np.empty((side, side, 3), dtype=np.uint8)
    canvas[...] = np.asarray(pad_value, dtype=np.uint8)
    ix0, iy0 = max(sx0, 0), max(sy0, 0)
    ix1, iy1 = min(sx1, width), min(sy1, height)
    if ix1 > ix0 and iy1 > iy0:
        canvas[iy0 - sy0 : iy1 - sy0, ix0 - sx0 : ix1 - sx0] = rgb[iy0:iy1, ix0:ix1]
    if side != size:
        interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
        canvas = cv2.resize(canvas, (size, size), interpolation=interpolation)
    scale = size / side
    crop = Crop(image=np.ascontiguousarray(canvas), landmarks=None, box=(sx0, sy0, sx1, sy1), scale=scale)
    crop.landmarks = crop.to_crop(face.landmarks)
    return crop
