"""Shared test set-up: real data from ../shared when present, offline model files, fixtures."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_SHARED = REPO.parent / "shared"

# Point at the shared real data and model files when the user has not chosen otherwise.
if "XFER_DATA_DIR" not in os.environ and (_SHARED / "data").is_dir():
    os.environ["XFER_DATA_DIR"] = str(_SHARED / "data")
if "XFER_FACE_LANDMARKER" not in os.environ and (_SHARED / "models/face_landmarker.task").is_file():
    os.environ["XFER_FACE_LANDMARKER"] = str(_SHARED / "models/face_landmarker.task")
os.environ.setdefault("XFER_PROFILE", "quick")

import xfer_keras  # noqa: E402,F401  (sets ONEDNN_MAX_CPU_ISA before TensorFlow loads)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real-data root; tests using it skip with a reason on a fresh clone without data."""
    value = os.environ.get("XFER_DATA_DIR")
    if not value or not Path(value).is_dir():
        pytest.skip("real data not available: set XFER_DATA_DIR (see data/README.md)")
    return Path(value)


@pytest.fixture(scope="session")
def ckplus_dir(data_dir) -> Path:
    path = data_dir / "ckplus_sequences"
    if not path.is_dir():
        pytest.skip(f"CK+ sequences not found under {data_dir}")
    return path


@pytest.fixture(scope="session")
def fer2013_dir(data_dir) -> Path:
    path = data_dir / "fer2013"
    if not path.is_dir():
        pytest.skip(f"FER2013 not found under {data_dir}")
    return path


@pytest.fixture(scope="session")
def sharp_data(data_dir):
    """Skips unless the training script's data are there: FER2013 (test), its sharp train copy
    and the FER+ votes."""
    for name in ("fer2013", "fer2013_sharp", "fer2013_ferplus_labels"):
        if not (data_dir / name).is_dir():
            pytest.skip(f"{name} not in XFER_DATA_DIR")


@pytest.fixture(scope="session")
def shipped_classifier():
    """The shipped default image model, loaded once (skips when its file is missing). Tests
    must not change it: derive a new EmotionClassifier for other settings."""
    from xfer_keras.errors import ModelFileError
    from xfer_keras.models.classifier import EmotionClassifier

    try:
        return EmotionClassifier.load()
    except ModelFileError as error:
        pytest.skip(f"the shipped default model is needed: {error}")


@pytest.fixture(scope="session")
def face_landmarker_path() -> Path:
    """MediaPipe model file, resolved offline (skips when it cannot be found offline)."""
    from xfer_keras import assets
    from xfer_keras.errors import ModelFileError

    try:
        return assets.resolve("face_landmarker", allow_download=False)
    except ModelFileError as error:
        pytest.skip(str(error))

# Plain helper modules in tests/ (e.g. factories.py) are imported by name, in any import mode.
import sys  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
