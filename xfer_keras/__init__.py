"""xfer-keras: explainable facial emotion recognition in Keras 3.

Two methods, one library:

* landmark sequences -> R-EMO / T-EMO binary classifiers -> global Integrated Gradients
  (Di Luzio, Rosato, Panella);
* face image -> ResNet50+BAM -> Grad-CAM -> hot landmarks -> Action Units -> plain text (XFERa).

Importing the package sets ``ONEDNN_MAX_CPU_ISA=AVX2`` (unless the user set it) *before*
TensorFlow is imported anywhere: TensorFlow's oneDNN CPU kernels crash on gradients of 1x1
stride-2 convolutions with few channels, and mediapipe imports TensorFlow too. Import
``xfer_keras`` first, or set the variable yourself. It also makes ``keras.saving.load_model``
find our custom layers (:mod:`xfer_keras.custom_objects`) without importing Keras itself.
"""

import os as _os

_os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
_os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"

from xfer_keras.errors import (  # noqa: E402  (after the environment is set)
    XferError,
    ImageReadError,
    NoFaceError,
    MultipleFacesError,
    ModelFileError,
    DataNotFoundError,
    InputShapeError,
    MissingColumnsError,
)
from xfer_keras.emotions import EMOTIONS6, EMOTIONS7, canonical_emotion  # noqa: E402
from xfer_keras.custom_objects import register_when_keras_loads  # noqa: E402

register_when_keras_loads()  # BAM & co. resolve in keras.saving.load_model, Keras not imported

__all__ = [
    "__version__",
    "XferError",
    "ImageReadError",
    "NoFaceError",
    "MultipleFacesError",
    "ModelFileError",
    "DataNotFoundError",
    "InputShapeError",
    "MissingColumnsError",
    "EMOTIONS6",
    "EMOTIONS7",
    "canonical_emotion",
]
