"""Changes between capture set-ups, applied to whole photos: lighting, resolution, compression,
noise, head roll.

A model tuned on one lab's faces (CK+: one studio, flat light, 640x490 gray) meets other
studios' photos. These functions turn a dev-set photo into what another set-up might deliver, so
that ``benchmarks/capture_robustness.py`` can measure how much of a pipeline's accuracy survives
each change, the detector included, for our model and the peer's in the same run.

Every shift maps an RGB (or gray) uint8 array to a uint8 array of the same number of channels
and is deterministic (noise is seeded by the image's content), so runs are repeatable.
:data:`CAPTURE_SHIFTS` names them; :func:`apply_shift` looks one up.
"""

from __future__ import annotations

import zlib
from typing import Callable

import numpy as np

Shift = Callable[[np.ndarray], np.ndarray]


def _check(image: np.ndarray) -> np.ndarray:
    """``image`` as an array, or ValueError unless it is uint8 ``(H, W[, C])``."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise ValueError(f"a capture shift takes a uint8 (H, W[, C]) image, got "
                         f"{image.dtype} {image.shape}")
    return image


def _as_float(image: np.ndarray) -> np.ndarray:
    return _check(image).astype(np.float32)


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def gamma(value: float) -> Shift:
    """Exposure: ``255 * (x / 255) ** value`` (below 1 brighter, above 1 darker)."""
    def shift(image):
        return _to_uint8(255.0 * (_as_float(image) / 255.0) ** value)
    return shift


def contrast(factor: float) -> Shift:
    """Flat or hard light: intensities scaled by ``factor`` about the image mean."""
    def shift(image):
        x = _as_float(image)
        return _to_uint8((x - x.mean()) * factor + x.mean())
    return shift


def side_light(darkest: float) -> Shift:
    """Light from one side: the left edge multiplied by ``darkest``, rising linearly to 1 at the
    right edge (a key light without fill)."""
    def shift(image):
        x = _as_float(image)
        ramp = np.linspace(darkest, 1.0, x.shape[1], dtype=np.float32)
        return _to_uint8(x * (ramp[None, :, None] if x.ndim == 3 else ramp[None, :]))
    return shift


def downscale(factor: float) -> Shift:
    """A smaller photo (a wider shot or a cheaper camera): the image resized by ``factor``
    (area averaging); the pipeline sees the small image, as it would a user's."""
    def shift(image):
        import cv2

        image = _check(image)
        h, w = image.shape[:2]
        size = (max(1, round(w * factor)), max(1, round(h * factor)))
        return cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return shift


def jpeg(quality: int) -> Shift:
    """JPEG compression at ``quality`` (web uploads, messaging apps)."""
    def shift(image):
        import cv2

        image = _check(image)
        bgr = image[..., ::-1] if image.ndim == 3 else image
        ok, data = cv2.imencode(".jpg", np.ascontiguousarray(bgr),
                                [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        if not ok:
            raise ValueError("JPEG encoding failed")
        out = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        return out[..., ::-1].copy() if image.ndim == 3 else out
    return shift


def sensor_noise(sigma: float) -> Shift:
    """Gaussian sensor noise of ``sigma`` grey levels, the same for the same image."""
    def shift(image):
        x = _as_float(image)
        seed = zlib.crc32(np.ascontiguousarray(image).tobytes())
        return _to_uint8(x + np.random.default_rng(seed).normal(0.0, sigma, x.shape))
    return shift


def roll(degrees: float) -> Shift:
    """In-plane head roll: the photo rotated by ``degrees`` (counter-clockwise) about its
    centre, borders replicated so no black corners hint at the rotation."""
    def shift(image):
        import cv2

        image = _check(image)
        h, w = image.shape[:2]
        matrix = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), degrees, 1.0)
        return cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
    return shift


def mirror(image: np.ndarray) -> np.ndarray:
    """Left-right mirror (a selfie camera): an expression's label does not change."""
    return np.ascontiguousarray(_check(image)[:, ::-1])


def identity(image: np.ndarray) -> np.ndarray:
    """The photo as captured (the reference row)."""
    return _check(image)


CAPTURE_SHIFTS: dict[str, Shift] = {
    "as captured": identity,
    "mirrored": mirror,
    "brighter (gamma 0.5)": gamma(0.5),
    "darker (gamma 2)": gamma(2.0),
    "low contrast (x0.5)": contrast(0.5),
    "high contrast (x1.5)": contrast(1.5),
    "side light (left edge x0.35)": side_light(0.35),
    "small photo (x0.4)": downscale(0.4),
    "tiny photo (x0.25)": downscale(0.25),
    "JPEG quality 15": jpeg(15),
    "sensor noise (sigma 12)": sensor_noise(12.0),
    "head roll 12 degrees": roll(12.0),
}


def apply_shift(name: str, image: np.ndarray) -> np.ndarray:
    """``CAPTURE_SHIFTS[name](image)``; an unknown name raises ``KeyError`` listing the known
    ones (like the model registry)."""
    try:
        shift = CAPTURE_SHIFTS[name]
    except KeyError:
        raise KeyError(f"unknown capture shift {name!r}; known: "
                       f"{', '.join(CAPTURE_SHIFTS)}") from None
    return shift(image)
