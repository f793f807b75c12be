"""``EmotionClassifier``: a Keras image model + the config that says how to feed it.

>>> from xfer_keras.models.classifier import EmotionClassifier
>>> clf = EmotionClassifier.load()            # path -> $XFER_EMOTION_MODEL -> saved_models/
>>> probs = clf.predict_proba(crops)          # crops: uint8 (N, S, S, 3) RGB face crops, any S
>>> clf.class_names[probs.argmax(1)[0]]

The config (``input_size``, ``channels`` 1|3, ``preprocessing`` name, ``class_names`` in
``EMOTIONS7`` order, ``gradcam_layer``) is embedded in the ``.keras`` file as
``xfer_config.json`` (Keras ignores the extra zip member), so one file is the whole model.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import zipfile
from pathlib import Path

import numpy as np

from xfer_keras.assets import shipped_dir, shipped_path
from xfer_keras.atomic import atomic_path
from xfer_keras.emotions import EMOTIONS7
from xfer_keras.errors import InputShapeError, ModelFileError
from xfer_keras.models.resize import resize_bilinear

CONFIG_MEMBER = "xfer_config.json"
ENV_VAR = "XFER_EMOTION_MODEL"
DEFAULT_NAME = "emotion_default.keras"  #: the shipped model, in :func:`xfer_keras.assets.shipped_dir`
DEFAULT_MODEL = shipped_dir() / DEFAULT_NAME  #: where it is in this installation

# ITU-R BT.601 luma, as PIL's convert("L") (the gray FER2013 training images)
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)


def apply_preprocessing(x, name: str):
    """Scale float pixels in ``[0, 255]`` (numpy or tensor, channels last) for a model.

    ``unit``: x / 255; ``symmetric``: x / 127.5 - 1; ``caffe``: RGB -> BGR minus the ImageNet
    channel means (keras.applications.resnet50.preprocess_input).
    """
    if name == "unit":
        return x / 255.0
    if name == "symmetric":
        return x / 127.5 - 1.0
    if name == "caffe":
        if x.shape[-1] == 3:
            x = x[..., ::-1]
            return x - _CAFFE_MEAN_BGR
        return x - float(_CAFFE_MEAN_BGR.mean())
    raise ValueError(f"unknown preprocessing {name!r}; known: unit, symmetric, caffe")


@dataclasses.dataclass
class ClassifierConfig:
    """What a caller needs to feed a model and read its output."""

    input_size: int
    channels: int = 3
    preprocessing: str = "unit"
    class_names: tuple = EMOTIONS7
    gradcam_layer: str | None = None
    architecture: str | None = None
    input_blur: float = 0.0  # Gaussian sigma (pixels at input_size) applied after resizing
    tta_flip: bool = False  # average the probabilities of each crop and its mirror image
    # how face crops are cut for this model: a name in xfer_keras.face.FRAMINGS (or a Framing
    # dict) to frame by the eyes and mouth like the training images, else a box margin
    framing: str | dict | None = None
    crop_margin: float = 0.1
    # box crops only: turn the square about its centre so the eyes are level (a tilted head
    # reaches the model upright)
    crop_level_eyes: bool = False
    # divide the probabilities by the training class prior ** power (then renormalise): the
    # Bayes correction from the training label mix to a balanced one, {"prior": [...], "power": p}
    prior_correction: dict | None = None
    extra: dict = dataclasses.field(default_factory=dict)  # training data, metrics, ...

    @classmethod
    def from_any(cls, config) -> "ClassifierConfig":
        if isinstance(config, cls):
            return dataclasses.replace(config)
        if dataclasses.is_dataclass(config):
            config = dataclasses.asdict(config)
        if not isinstance(config, dict):
            raise TypeError(f"config must be a dict or dataclass, got {type(config).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        extra = dict(config.get("extra") or {})
        extra.update({k: v for k, v in config.items() if k not in known})
        kwargs = {k: v for k, v in config.items() if k in known and k != "extra"}
        if "input_size" not in kwargs:
            raise ValueError("classifier config needs input_size")
        kwargs["class_names"] = tuple(kwargs.get("class_names", EMOTIONS7))
        return cls(**kwargs, extra=extra)

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["class_names"] = list(self.class_names)
        return out


def class_weights_of(correction: dict | None, n_classes: int) -> np.ndarray | None:
    """``prior ** -power`` (mean 1) for a ``prior_correction`` config, None when absent or
    ``power`` is 0. Raises ValueError for a prior of the wrong length or with zeros."""
    if not correction or not float(correction.get("power", 0.0)):
        return None
    prior = np.asarray(correction["prior"], np.float64)
    if prior.shape != (n_classes,) or not (prior > 0).all():
        raise ValueError(f"prior_correction needs {n_classes} positive class priors, got {prior}")
    weights = (prior / prior.sum()) ** -float(correction["power"])
    return weights / weights.mean()


class EmotionClassifier:
    """A Keras model with its input config; ``predict_proba`` takes raw uint8 RGB crops."""

    def __init__(self, model, config, model_file=None):
        self.config = ClassifierConfig.from_any(config)
        if self.config.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.config.channels}")
        #: the ``.keras`` file this classifier was loaded from (None when built in memory)
        self.model_file = Path(model_file) if model_file is not None else None
        self._model = None
        self._lock = threading.Lock()
        if model is None and self.model_file is None:
            raise ValueError("EmotionClassifier needs a Keras model or the model file to load")
        if model is not None or not self.config.gradcam_layer:
            self.model = model if model is not None else _load_keras_model(self.model_file)

    @property
    def model(self):
        """The Keras model; a classifier loaded with ``lazy=True`` loads it on first use."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._set_model(_load_keras_model(self.model_file))
        return self._model

    @model.setter
    def model(self, model) -> None:
        self._set_model(model)

    @property
    def model_loaded(self) -> bool:
        """Whether the Keras model is in memory (False until first use after a lazy load)."""
        return self._model is not None

    def _set_model(self, model) -> None:
        n_out = model.output_shape[-1]
        if n_out != len(self.config.class_names):
            raise ValueError(f"model has {n_out} outputs but config names "
                             f"{len(self.config.class_names)} classes")
        if not self.config.gradcam_layer:
            from xfer_keras.models.registry import default_gradcam_layer

            self.config.gradcam_layer = default_gradcam_layer(model)
        self._model = model

    # -- properties the pipeline reads
    @property
    def input_size(self) -> int:
        return int(self.config.input_size)

    @property
    def channels(self) -> int:
        return int(self.config.channels)

    @property
    def class_names(self) -> tuple:
        return tuple(self.config.class_names)

    @property
    def gradcam_layer(self) -> str:
        return str(self.config.gradcam_layer)

    @property
    def preprocessing(self) -> str:
        return self.config.preprocessing

    def crop_options(self) -> dict:
        """``crop_face`` keyword arguments that frame a face as this model was trained
        (``framing`` when the config names one, else ``margin``, and ``level_eyes`` when the
        box crop is levelled)."""
        if self.config.framing:
            return {"framing": self.config.framing}
        options = {"margin": float(self.config.crop_margin)}
        if self.config.crop_level_eyes:
            options["level_eyes"] = True
        return options

    def __repr__(self):
        name = self.config.architecture or (self._model.name if self._model is not None
                                            else self.model_file.name)
        return (f"EmotionClassifier({name}, "
                f"input={self.input_size}x{self.input_size}x{self.channels}, "
                f"preprocessing={self.preprocessing!r}, gradcam_layer={self.gradcam_layer!r})")

    # -- inputs
    def resize(self, crops) -> np.ndarray:
        """uint8/float crops ``(N, S, S, 3|1)`` (or one ``(S, S, 3)``, or gray ``(N, S, S)``)
        -> float32 ``(N, input_size, input_size, channels)`` in ``[0, 255]`` (not scaled)."""
        x = np.asarray(crops)
        if x.ndim == 2:
            x = x[None, ..., None]  # one gray (S, S) crop
        if x.ndim == 3 and x.shape[-1] in (1, 3, 4) and x.shape[0] != 1 and x.shape[0] > 4:
            x = x[None]  # one (S, S, C) crop
        if x.ndim == 3:
            x = x[..., None]  # gray batch (N, S, S)
        if x.ndim != 4 or x.shape[-1] not in (1, 3, 4):
            raise InputShapeError(f"crops must be (N, S, S, 3) RGB uint8, got shape {x.shape}")
        if x.shape[0] == 0:
            raise InputShapeError("crops is empty")
        if x.dtype != np.uint8 and np.issubdtype(x.dtype, np.floating) and x.max() <= 1.0:
            x = x * 255.0  # floats in [0, 1]
        x = x.astype(np.float32)[..., :3]
        if self.channels == 1 and x.shape[-1] == 3:
            x = (x @ _LUMA)[..., None]
        elif self.channels == 3 and x.shape[-1] == 1:
            x = np.repeat(x, 3, axis=-1)
        size = self.input_size
        if x.shape[1:3] != (size, size):
            x = resize_bilinear(x, (size, size), antialias=x.shape[1] > size)
        if self.config.input_blur and self.config.input_blur > 0:
            from xfer_keras.data.blur import gaussian_blur

            x = gaussian_blur(x, float(self.config.input_blur))
        return np.clip(x, 0.0, 255.0).astype(np.float32)

    def preprocess(self, crops) -> np.ndarray:
        """Model input for raw crops: resize, gray if needed, scaling (float32)."""
        return apply_preprocessing(self.resize(crops), self.preprocessing).astype(np.float32)

    def predict_proba(self, crops, batch_size: int = 64) -> np.ndarray:
        """Class probabilities ``(N, len(class_names))`` for raw crops (with ``tta_flip``, the
        mean over each crop and its mirror image: emotions do not change under a mirror)."""
        return self.proba_of_inputs(self.preprocess(crops), batch_size)

    def proba_of_inputs(self, x: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """:meth:`predict_proba` for inputs already through :meth:`preprocess`."""
        out = []
        for start in range(0, len(x), batch_size):
            batch = x[start:start + batch_size]
            probs = np.asarray(self.model(batch, training=False))
            if self.config.tta_flip:
                probs = 0.5 * (probs + np.asarray(self.model(batch[:, :, ::-1], training=False)))
            out.append(probs)
        return self.correct_prior(np.concatenate(out).astype(np.float32))

    def class_weights(self) -> np.ndarray | None:
        """``prior ** -power`` per class (mean 1) from ``prior_correction``; None without one."""
        return class_weights_of(self.config.prior_correction, len(self.class_names))

    def correct_prior(self, probs: np.ndarray) -> np.ndarray:
        """The model's probabilities times :meth:`class_weights`, renormalised (unchanged
        without a ``prior_correction``)."""
        weights = self.class_weights()
        if weights is None:
            return probs
        scaled = np.asarray(probs, np.float64) * weights
        return (scaled / scaled.sum(axis=-1, keepdims=True)).astype(np.float32)

    @property
    def heads(self) -> tuple:
        """Names of the extra output heads stored in the config (:mod:`xfer_keras.models.heads`)."""
        return tuple(self.config.extra.get("heads") or ())

    def with_head(self, name: str) -> "EmotionClassifier":
        """A classifier answering with the extra head ``name`` (e.g. ``"fer2013"``: FER2013's own
        labels) on the same trunk: a view model, no prior correction (the head answers for its
        training mix), same inputs and Grad-CAM layer. Raises KeyError for an unknown head."""
        from xfer_keras.models.heads import head_view

        if name not in self.heads:
            raise KeyError(f"no head {name!r}; this classifier has {list(self.heads) or 'none'}")
        extra = {k: v for k, v in self.config.extra.items() if k != "heads"}
        extra["head"] = name
        config = dict(self.config.to_dict(), prior_correction=None, extra=extra)
        return EmotionClassifier(head_view(self.model, self.config.extra["heads"][name], name),
                                 config)

    def predict(self, crops, batch_size: int = 64) -> list[str]:
        """Predicted emotion names."""
        probs = self.predict_proba(crops, batch_size)
        return [self.class_names[i] for i in probs.argmax(axis=1)]

    # -- files
    def save(self, path) -> Path:
        """Write a ``.keras`` file with the config embedded, atomically (tmp + rename)."""
        path = Path(path).expanduser()
        if path.suffix != ".keras":
            raise ValueError(f"save to a .keras file, got {path}")
        with atomic_path(path, suffix=".tmp.keras") as tmp:
            self.model.save(tmp)
            with zipfile.ZipFile(tmp, "a") as archive:
                archive.writestr(CONFIG_MEMBER, json.dumps(self.config.to_dict(), indent=2))
        return path

    @staticmethod
    def resolve_path(path=None) -> Path:
        """path -> ``$XFER_EMOTION_MODEL`` -> the shipped default model
        (:func:`xfer_keras.assets.shipped_path`); ModelFileError when the one chosen is missing."""
        return shipped_path(DEFAULT_NAME, ENV_VAR, path, what="default emotion model")

    @classmethod
    def load(cls, path=None, config=None, lazy: bool = False) -> "EmotionClassifier":
        """Load a ``.keras`` classifier (config embedded, or a ``<file>.json`` sidecar, or
        ``config``). Raises ``ModelFileError`` when missing or corrupt.

        ``lazy=True`` reads only the config now and loads the Keras model (and so Keras and
        TensorFlow) at the first use of :attr:`model`: the LiteRT engine never needs it, so the
        command line can start without TensorFlow. A corrupt model file then raises at that use.
        """
        path = cls.resolve_path(path)
        try:
            with zipfile.ZipFile(path) as archive:
                embedded = (json.loads(archive.read(CONFIG_MEMBER))
                            if CONFIG_MEMBER in archive.namelist() else None)
        except (zipfile.BadZipFile, OSError, ValueError) as error:
            raise ModelFileError(f"{path}: not a readable .keras file ({error})") from error
        sidecar = path.with_suffix(path.suffix + ".json")
        if config is None:
            config = embedded
        if config is None and sidecar.is_file():
            config = json.loads(sidecar.read_text())
        if config is None or not lazy:
            model = _load_keras_model(path)
            if config is None:
                config = {"input_size": model.input_shape[1], "channels": model.input_shape[-1]}
            return cls(model, config, model_file=path)
        return cls(None, config, model_file=path)


def _load_keras_model(path: Path):
    """The Keras model of a ``.keras`` file; ModelFileError when it cannot be loaded."""
    import keras

    import xfer_keras.models.bam  # noqa: F401  (registers BAM for deserialisation)

    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as error:  # keras raises many types for a bad file
        raise ModelFileError(f"{path}: cannot load the Keras model ({error})") from error
