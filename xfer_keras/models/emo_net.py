"""EMO nets: binary landmark-sequence emotion classifiers (Di Luzio, Rosato, Panella, Fig. 1).

Input ``(N, P, C, L, 1)``: N videos, P frames, C coordinates, L landmarks, one channel.
Per frame (``TimeDistributed`` over the P frames)::

    Conv2D(F filters, ReLU) over the C x L plane -> BatchNormalization -> Flatten
then over the frames::

    LSTM(Q) -> Dropout -> FC1 Dense(R, ReLU) -> FC2 Dense(2, softmax)

Output column 1 is "shows the emotion", column 0 "does not".

* **T-EMO** (``variant="t-emo"``) trains every layer.
* **R-EMO** (``variant="r-emo"``) draws the convolution kernels at random from ``seed`` and
  freezes them (``trainable=False`` on the conv layer, saved with the model): only BN, LSTM and
  the dense layers learn, which is what makes it cheaper to train.

The default kernel is ``(C, 1)``: each filter mixes the coordinates of *one* landmark, so the
per-landmark features (and the Integrated-Gradients attributions built on them) never mix
landmarks that merely sit next to each other in the mesh's index order. Pass
``kernel_size=(2, 2)`` for a kernel that also spans neighbouring indices.

Only stock Keras layers are used, so a ``.keras`` file reloads with plain
``keras.models.load_model`` on any backend. :class:`EmoNetEnsemble` combines the six one-vs-rest
nets into a 6-class predictor (beyond the paper).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

import xfer_keras  # noqa: F401  (environment before TensorFlow)
from xfer_keras.emotions import EMOTIONS6, canonical_emotion
from xfer_keras.errors import InputShapeError

VARIANTS = ("t-emo", "r-emo")
CONV_LAYER = "conv"  #: name of the (TimeDistributed) convolution layer, e.g. for tests and IG


def canonical_variant(variant: str) -> str:
    """``"T-EMO"``, ``"t_emo"``, ``"temo"`` -> ``"t-emo"`` (same for R-EMO)."""
    key = str(variant).strip().lower().replace("_", "-")
    key = {"temo": "t-emo", "remo": "r-emo", "t": "t-emo", "r": "r-emo"}.get(key, key)
    if key not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    return key


@dataclass(frozen=True)
class EmoNetConfig:
    """Everything :func:`build_emo_net` needs; ``build_emo_net(**asdict(cfg))`` rebuilds it."""

    input_shape: tuple[int, int, int, int]
    variant: str = "t-emo"
    filters: int = 32  #: F, convolution filters
    lstm_units: int = 64  #: Q
    fc1_units: int = 64  #: R
    kernel_size: tuple[int, int] | None = None  #: None -> (C, 1)
    dropout: float = 0.3
    seed: int = 0
    name: str | None = None

    def build(self):
        return build_emo_net(**asdict(self))


def _check_input_shape(input_shape) -> tuple[int, int, int, int]:
    shape = tuple(int(s) for s in input_shape)
    if len(shape) == 5:  # (N, P, C, L, 1) given by mistake: drop N
        shape = shape[1:]
    if len(shape) != 4 or shape[-1] != 1 or min(shape) < 1:
        raise InputShapeError(f"EMO nets take input_shape (P, C, L, 1), got {input_shape}")
    return shape  # type: ignore[return-value]


def build_emo_net(
    input_shape,
    variant: str = "t-emo",
    filters: int = 32,
    lstm_units: int = 64,
    fc1_units: int = 64,
    kernel_size=None,
    dropout: float = 0.3,
    seed: int = 0,
    name: str | None = None,
):
    """Build (not compile) an EMO net for input ``(P, C, L, 1)``; output ``(N, 2)`` softmax.

    Every initializer takes its seed from ``seed``, so the same arguments give the same weights
    whatever the global random state; R-EMO's frozen kernels are a function of ``seed`` only.
    """
    import keras
    from keras import layers

    variant = canonical_variant(variant)
    P, C, L, _ = _check_input_shape(input_shape)
    kh, kw = tuple(kernel_size) if kernel_size is not None else (C, 1)
    if kh > C or kw > L:
        raise InputShapeError(f"kernel_size {(kh, kw)} does not fit the C x L plane {(C, L)}")
    seed = int(seed)
    init = keras.initializers
    trainable_conv = variant == "t-emo"

    inputs = keras.Input(shape=(P, C, L, 1), name="landmarks")
    conv = layers.Conv2D(
        int(filters), (kh, kw), activation="relu", padding="valid",
        kernel_initializer=init.GlorotUniform(seed=seed),
        bias_initializer="zeros", name="conv2d", trainable=trainable_conv,
    )
    # trainable goes on the conv *and* its wrapper: both are saved in the .keras config.
    x = layers.TimeDistributed(conv, name=CONV_LAYER, trainable=trainable_conv)(inputs)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.TimeDistributed(layers.Flatten(), name="flatten")(x)
    x = layers.LSTM(
        int(lstm_units), name="lstm",
        kernel_initializer=init.GlorotUniform(seed=seed + 1),
        recurrent_initializer=init.Orthogonal(seed=seed + 2),
    )(x)
    x = layers.Dropout(float(dropout), seed=seed + 3, name="dropout")(x)
    x = layers.Dense(int(fc1_units), activation="relu", name="fc1",
                     kernel_initializer=init.GlorotUniform(seed=seed + 4))(x)
    outputs = layers.Dense(2, activation="softmax", name="fc2",
                           kernel_initializer=init.GlorotUniform(seed=seed + 5))(x)
    if name is None:
        name = f"{variant.replace('-', '_')}_L{L}"
    return keras.Model(inputs, outputs, name=name)


def is_randomized(model) -> bool:
    """True for R-EMO (frozen convolution)."""
    return not model.get_layer(CONV_LAYER).trainable


def conv_kernel(model) -> np.ndarray:
    """The convolution kernel ``(kh, kw, 1, F)`` as a numpy copy."""
    return np.array(model.get_layer(CONV_LAYER).layer.kernel.numpy())


def emo_net_config(model) -> EmoNetConfig:
    """Recover the :class:`EmoNetConfig` of a built (or reloaded) EMO net (seed unknown: -1)."""
    conv = model.get_layer(CONV_LAYER).layer
    return EmoNetConfig(
        input_shape=tuple(int(s) for s in model.input_shape[1:]),
        variant="r-emo" if is_randomized(model) else "t-emo",
        filters=int(conv.filters), lstm_units=int(model.get_layer("lstm").units),
        fc1_units=int(model.get_layer("fc1").units), kernel_size=tuple(conv.kernel_size),
        dropout=float(model.get_layer("dropout").rate), seed=-1, name=model.name,
    )


def count_params(model) -> dict[str, int]:
    """``{"trainable": ..., "non_trainable": ..., "total": ...}`` (BN moving stats are non-trainable)."""
    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    non_trainable = int(sum(np.prod(w.shape) for w in model.non_trainable_weights))
    return {"trainable": trainable, "non_trainable": non_trainable, "total": trainable + non_trainable}


class EmoNetEnsemble:
    """Six one-vs-rest EMO nets as one 6-class predictor (beyond the paper).

    Each net gives P(emotion | x) in its column 1; the ensemble normalises the six positive
    probabilities to sum to one and predicts their argmax. ``landmark_columns`` lets each net
    see its own landmark subset (e.g. its IG top-K) of a common full-landmark input.
    """

    def __init__(self, models: Mapping[str, object],
                 landmark_columns: Mapping[str, np.ndarray] | None = None):
        self.models = {canonical_emotion(k): v for k, v in models.items()}
        self.emotions = tuple(e for e in EMOTIONS6 if e in self.models)
        extra = set(self.models) - set(EMOTIONS6)
        if extra or len(self.emotions) < 2:
            raise ValueError(f"an ensemble needs >= 2 of {EMOTIONS6}; got {sorted(self.models)}")
        self.landmark_columns = {
            canonical_emotion(k): np.asarray(v, dtype=int) for k, v in (landmark_columns or {}).items()
        }

    def positive_probabilities(self, X, batch_size: int = 64) -> np.ndarray:
        """``(N, E)`` raw P(emotion) of each net, columns in ``self.emotions`` order."""
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 5:
            raise InputShapeError(f"X must be (N, P, C, L, 1), got shape {X.shape}")
        columns = []
        for emotion in self.emotions:
            x = X[:, :, :, self.landmark_columns[emotion], :] if emotion in self.landmark_columns else X
            columns.append(self.models[emotion].predict(x, batch_size=batch_size, verbose=0)[:, 1])
        return np.stack(columns, axis=1)

    def predict_proba(self, X, batch_size: int = 64) -> np.ndarray:
        """``(N, E)`` positive probabilities normalised to sum to 1 per sample."""
        p = self.positive_probabilities(X, batch_size)
        return p / np.clip(p.sum(axis=1, keepdims=True), 1e-12, None)

    def predict(self, X, batch_size: int = 64) -> np.ndarray:
        """``(N,)`` emotion names."""
        return np.asarray(self.emotions)[np.argmax(self.positive_probabilities(X, batch_size), axis=1)]

    def save(self, folder) -> Path:
        """One ``<emotion>.keras`` per net plus ``ensemble.json`` (emotions, landmark columns)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for emotion, model in self.models.items():
            model.save(folder / f"{emotion}.keras")
        meta = {"emotions": list(self.emotions),
                "landmark_columns": {k: v.tolist() for k, v in self.landmark_columns.items()}}
        (folder / "ensemble.json").write_text(json.dumps(meta, indent=1))
        return folder

    @classmethod
    def load(cls, folder) -> "EmoNetEnsemble":
        import keras

        folder = Path(folder)
        meta = json.loads((folder / "ensemble.json").read_text())
        models = {e: keras.models.load_model(folder / f"{e}.keras") for e in meta["emotions"]}
        return cls(models, meta.get("landmark_columns") or None)


__all__ = [
    "VARIANTS", "CONV_LAYER", "EmoNetConfig", "EmoNetEnsemble", "build_emo_net",
    "canonical_variant", "conv_kernel", "count_params", "emo_net_config", "is_randomized",
]
