"""Hot landmarks: which of the 68 face landmarks fall on strongly activated Grad-CAM pixels.

XFERa (Algorithm 1, lines 8-16): the Grad-CAM heatmap is aligned with the face crop (resized to
the crop's resolution), a dynamic threshold ``mean + k * std`` is computed over the face region
(``k = 1`` in the paper), and a landmark is *hot* when the heatmap value at its pixel is
``>= threshold``. An overlay shows hot landmarks red and cold ones blue.

Shapes: ``heatmap`` is ``(H, W)`` float in [0, 1]; ``landmarks`` are ``(68, 2)`` pixel ``x, y``
in the **crop's** coordinates (as :func:`xfer_keras.face.crop_face` returns them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from xfer_keras.errors import InputShapeError

HOT_COLOR = (255, 0, 0)    # red (RGB)
COLD_COLOR = (0, 0, 255)   # blue (RGB)
REGIONS = ("hull", "box", "all")


@dataclass
class HotLandmarks:
    """Result of :func:`find_hot_landmarks` (all indices 0-based)."""

    values: np.ndarray          # (L,) heatmap value at each landmark (0 when outside the crop)
    hot: np.ndarray             # (L,) bool
    threshold: float            # mean + k * std over the face region
    mean: float
    std: float
    k: float
    region: str
    inside: np.ndarray = field(default=None)  # (L,) bool: landmark within the heatmap

    @property
    def indices(self) -> list[int]:
        """0-based indices of the hot landmarks (ascending)."""
        return [int(i) for i in np.flatnonzero(self.hot)]

    @property
    def cold_indices(self) -> list[int]:
        return [int(i) for i in np.flatnonzero(~self.hot)]

    def to_dict(self) -> dict:
        return {
            "hot_landmarks": self.indices,
            "threshold": float(self.threshold),
            "mean": float(self.mean),
            "std": float(self.std),
            "k": float(self.k),
            "region": self.region,
            "values": [round(float(v), 6) for v in self.values],
        }


def align_heatmap(heatmap: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize a ``(h, w)`` heatmap to ``shape = (H, W)`` (bilinear), as float32 in [0, 1]."""
    heatmap = np.asarray(heatmap, dtype=np.float32)
    if heatmap.ndim == 3 and heatmap.shape[-1] == 1:
        heatmap = heatmap[..., 0]
    if heatmap.ndim != 2:
        raise InputShapeError(f"heatmap must be (H, W), got shape {heatmap.shape}")
    if not np.all(np.isfinite(heatmap)):
        heatmap = np.nan_to_num(heatmap, nan=0.0, posinf=1.0, neginf=0.0)
    height, width = int(shape[0]), int(shape[1])
    if heatmap.shape != (height, width):
        import cv2

        heatmap = cv2.resize(heatmap, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.clip(heatmap, 0.0, 1.0).astype(np.float32)


def _check_landmarks(landmarks) -> np.ndarray:
    landmarks = np.asarray(landmarks, dtype=np.float32)
    if landmarks.ndim != 2 or landmarks.shape[1] != 2 or len(landmarks) == 0:
        raise InputShapeError(f"landmarks must be (L, 2) pixel x, y, got shape {landmarks.shape}")
    return landmarks


def face_region_mask(landmarks: np.ndarray, shape: tuple[int, int], region: str = "hull") -> np.ndarray:
    """Boolean ``(H, W)`` mask of the face region the threshold is computed over.

    ``"hull"``: convex hull of the landmarks (default); ``"box"``: their bounding box;
    ``"all"``: the whole heatmap. Falls back to the whole heatmap when the region is empty.
    """
    if region not in REGIONS:
        raise ValueError(f"region must be one of {REGIONS}, got {region!r}")
    height, width = int(shape[0]), int(shape[1])
    mask = np.zeros((height, width), dtype=bool)
    if region == "all":
        mask[:] = True
        return mask
    points = _check_landmarks(landmarks)
    if region == "box":
        x0, y0 = np.floor(points.min(axis=0)).astype(int)
        x1, y1 = np.ceil(points.max(axis=0)).astype(int)
        mask[max(y0, 0): max(min(y1 + 1, height), 0), max(x0, 0): max(min(x1 + 1, width), 0)] = True
    else:
        import cv2

        hull = cv2.convexHull(np.round(points).astype(np.int32))
        canvas = np.zeros((height, width), dtype=np.uint8)
        cv2.fillConvexPoly(canvas, hull, 1)
        mask = canvas.astype(bool)
    if not mask.any():
        mask[:] = True
    return mask


def sample_heatmap(heatmap: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Heatmap value at each landmark's pixel (nearest pixel, as ``get_pixel`` in Algorithm 1).

    Returns ``(values, inside)``; landmarks outside the heatmap get value 0 and ``inside=False``.
    """
    points = _check_landmarks(landmarks)
    height, width = heatmap.shape
    finite = np.isfinite(points).all(axis=1)
    safe = np.clip(np.where(finite[:, None], points, -1.0), -1.0, 1e9)
    cols = np.round(safe[:, 0]).astype(np.int64)
    rows = np.round(safe[:, 1]).astype(np.int64)
    inside = finite & (cols >= 0) & (cols < width) & (rows >= 0) & (rows < height)
    values = np.zeros(len(points), dtype=np.float32)
    values[inside] = heatmap[rows[inside], cols[inside]]
    return values, inside


def find_hot_landmarks(
    heatmap: np.ndarray,
    landmarks: np.ndarray,
    k: float = 1.0,
    region: str = "hull",
    crop_shape: tuple[int, int] | None = None,
) -> HotLandmarks:
    """Hot landmarks of one face (Algorithm 1, lines 8-16).

    ``heatmap`` is resized to ``crop_shape`` (``(H, W)`` of the crop the landmarks refer to) when
    given; the threshold is ``mean + k * std`` of the heatmap over the face ``region``.
    """
    if crop_shape is not None:
        heatmap = align_heatmap(heatmap, crop_shape)
    else:
        heatmap = align_heatmap(heatmap, np.shape(heatmap)[:2])
    mask = face_region_mask(landmarks, heatmap.shape, region)
    face_values = heatmap[mask]
    mean, std = float(face_values.mean()), float(face_values.std())
    threshold = mean + float(k) * std
    values, inside = sample_heatmap(heatmap, landmarks)
    # a flat heatmap (std 0) has no salient landmark: nothing is hotter than its surroundings
    hot = inside & (values >= threshold) & (std > 1e-6)
    return HotLandmarks(values=values, hot=hot, threshold=threshold, mean=mean, std=std,
                        k=float(k), region=region, inside=inside)


def colorize_heatmap(heatmap: np.ndarray) -> np.ndarray:
    """``(H, W)`` in [0, 1] -> ``(H, W, 3)`` uint8 RGB (jet colormap)."""
    import cv2

    scaled = np.uint8(np.clip(np.asarray(heatmap, dtype=np.float32), 0, 1) * 255)
    return cv2.applyColorMap(scaled, cv2.COLORMAP_JET)[..., ::-1].copy()


def heatmap_overlay(image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Blend a heatmap (resized to the image) over an RGB uint8 image."""
    image = _as_rgb_uint8(image)
    colored = colorize_heatmap(align_heatmap(heatmap, image.shape[:2]))
    blended = (1 - alpha) * image.astype(np.float32) + alpha * colored.astype(np.float32)
    return np.clip(blended, 0, 255).astype(np.uint8)


def landmark_overlay(
    image: np.ndarray,
    landmarks: np.ndarray,
    hot: np.ndarray,
    heatmap: np.ndarray | None = None,
    alpha: float = 0.45,
    radius: int | None = None,
) -> np.ndarray:
    """The paper's overlay: (optional heatmap blended in and) hot landmarks red, cold blue."""
    import cv2

    base = heatmap_overlay(image, heatmap, alpha) if heatmap is not None else _as_rgb_uint8(image)
    out = np.ascontiguousarray(base.copy())
    points = _check_landmarks(landmarks)
    hot = np.asarray(hot, dtype=bool)
    if radius is None:
        radius = max(1, int(round(min(out.shape[:2]) / 112)))
    for (x, y), is_hot in zip(points, hot):
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        cv2.circle(out, (int(round(x)), int(round(y))), radius,
                   HOT_COLOR if is_hot else COLD_COLOR, thickness=-1, lineType=cv2.LINE_AA)
    return out


def _as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    if image.ndim != 3 or image.shape[-1] not in (1, 3, 4):
        raise InputShapeError(f"image must be (H, W[, 3]), got shape {image.shape}")
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    if image.shape[-1] == 4:
        image = image[..., :3]
    if image.dtype != np.uint8:
        scale = 255.0 if image.dtype.kind == "f" and image.max(initial=0) <= 1.0 else 1.0
        image = np.clip(image.astype(np.float32) * scale, 0, 255).astype(np.uint8)
    return image
