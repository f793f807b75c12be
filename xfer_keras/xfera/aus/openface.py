"""OpenFace 2 Action Units: read a ``FeatureExtraction`` CSV, or run the binary when installed.

OpenFace writes one row per frame (and face) with ``AUxx_r`` intensities on a **0-5** scale,
``AUxx_c`` presence classes (0/1), ``success`` (tracking succeeded) and ``confidence``. Its
column names carry a leading space (``" AU01_r"``); the reader strips them. Frames whose
``success`` is 0, whose ``confidence`` is below ``min_confidence`` or whose intensities are not
numbers are dropped ("bad frames"). The paper's presence threshold on this scale is 0.3.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from xfer_keras.errors import AUSourceError, MissingColumnsError
from xfer_keras.xfera.aus.base import AUReading, AUSource

if TYPE_CHECKING:
    import pandas as pd

OPENFACE_SCALE = (0.0, 5.0)
OPENFACE_THRESHOLD = 0.3
BINARY_ENV = "XFER_OPENFACE_BIN"
_R_COL = re.compile(r"^AU(\d+)_r$")
_C_COL = re.compile(r"^AU(\d+)_c$")


def read_openface_csv(path: str | os.PathLike, min_confidence: float = 0.0,
                      drop_bad: bool = True) -> pd.DataFrame:
    """A FeatureExtraction / FaceLandmarkImg CSV as a DataFrame with stripped column names.

    Keeps only good frames when ``drop_bad`` (``success == 1``, ``confidence >= min_confidence``,
    finite intensities). Raises :class:`MissingColumnsError` when there is no ``AUxx_r`` column.
    """
    import pandas as pd  # here, not at import: the explain command starts faster without it

    path = Path(path)
    try:
        table = pd.read_csv(path, skipinitialspace=True)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise AUSourceError(f"{path}: cannot read OpenFace CSV: {error}") from error
    table.columns = [str(c).strip() for c in table.columns]
    r_cols = [c for c in table.columns if _R_COL.match(c)]
    if not r_cols:
        raise MissingColumnsError(
            f"{path}: no AUxx_r columns (is this an OpenFace FeatureExtraction CSV run with -aus?); "
            f"columns: {list(table.columns)[:12]}"
        )
    for column in r_cols + [c for c in table.columns if _C_COL.match(c)] + [
        c for c in ("success", "confidence") if c in table.columns
    ]:
        table[column] = pd.to_numeric(table[column], errors="coerce")
    if drop_bad:
        good = np.isfinite(table[r_cols].to_numpy(dtype=float)).all(axis=1)
        if "success" in table.columns:
            good &= table["success"].fillna(0).to_numpy() >= 1
        if "confidence" in table.columns:
            good &= table["confidence"].fillna(-1).to_numpy() >= min_confidence
        table = table.loc[good].reset_index(drop=True)
    return table


def reading_from_row(row: pd.Series | dict, threshold: float = OPENFACE_THRESHOLD,
                     source: str = "openface") -> AUReading:
    """One OpenFace row (stripped column names) -> :class:`AUReading` on the 0-5 scale."""
    row = dict(row)
    intensities, classes = {}, {}
    for column, value in row.items():
        column = str(column).strip()
        if (match := _R_COL.match(column)) and value is not None and np.isfinite(float(value)):
            intensities[int(match.group(1))] = float(value)
        elif (match := _C_COL.match(column)) and value is not None and np.isfinite(float(value)):
            classes[int(match.group(1))] = bool(float(value) >= 0.5)
    confidence = row.get("confidence")
    return AUReading(
        source=source, intensities=intensities, thresholds={au: threshold for au in intensities},
        scale=OPENFACE_SCALE, classes=classes, default_threshold=threshold,
        confidence=None if confidence is None or not np.isfinite(float(confidence)) else float(confidence),
    )


def reading_from_csv(path: str | os.PathLike, frame: int | None = None, min_confidence: float = 0.0,
                     threshold: float = OPENFACE_THRESHOLD) -> AUReading:
    """Reading of one frame of a CSV: ``frame`` (OpenFace's 1-based ``frame`` column) or, when
    None, the good row with the highest confidence (a single image gives a single row)."""
    table = read_openface_csv(path, min_confidence=min_confidence)
    if frame is not None:
        if "frame" not in table.columns:
            raise MissingColumnsError(f"{path}: no 'frame' column to pick frame {frame} from")
        table = table[table["frame"] == frame]
    if table.empty:
        which = f"frame {frame}" if frame is not None else "any frame"
        raise AUSourceError(f"{path}: no successfully tracked face in {which} "
                            f"(success == 1, confidence >= {min_confidence})")
    if "confidence" in table.columns:
        row = table.loc[table["confidence"].idxmax()]
    else:
        row = table.iloc[0]
    return reading_from_row(row, threshold=threshold)


class OpenFaceCSVSource(AUSource):
    """AUs from OpenFace CSVs made beforehand.

    ``path`` is one CSV (used for every image) or a folder holding ``<image stem>.csv`` per image
    (OpenFace's ``-out_dir`` naming).
    """

    name = "openface"
    scale = OPENFACE_SCALE

    def __init__(self, path: str | os.PathLike, threshold: float = OPENFACE_THRESHOLD,
                 min_confidence: float = 0.0, frame: int | None = None):
        self.path = Path(path)
        if not self.path.exists():
            raise AUSourceError(f"OpenFace CSV not found: {self.path}")
        self.threshold = float(threshold)
        self.min_confidence = float(min_confidence)
        self.frame = frame

    def csv_for(self, image_path=None) -> Path:
        if self.path.is_dir():
            if image_path is None:
                raise AUSourceError(f"{self.path} is a folder of OpenFace CSVs: an image path is needed")
            candidate = self.path / (Path(image_path).stem + ".csv")
            if not candidate.is_file():
                raise AUSourceError(f"no OpenFace CSV for {image_path} (looked for {candidate})")
            return candidate
        return self.path

    def read(self, image=None, face=None, path=None) -> AUReading:
        return reading_from_csv(self.csv_for(path), frame=self.frame,
                                min_confidence=self.min_confidence, threshold=self.threshold)


def find_feature_extraction(binary: str | os.PathLike | None = None) -> Path:
    """The ``FeatureExtraction`` executable: ``binary``, ``$XFER_OPENFACE_BIN`` or the PATH."""
    candidate = binary or os.environ.get(BINARY_ENV) or "FeatureExtraction"
    found = shutil.which(str(candidate))
    if not found:
        raise AUSourceError(
            f"OpenFace FeatureExtraction not found ({candidate!r} is not an executable on PATH). "
            f"Install OpenFace 2 and put FeatureExtraction on PATH or set {BINARY_ENV}; or use "
            "--au-source openface:CSV with CSVs made elsewhere, or --au-source blendshapes (offline)."
        )
    return Path(found)


def run_feature_extraction(image_path: str | os.PathLike, out_dir: str | os.PathLike,
                           binary: str | os.PathLike | None = None, timeout: float = 120.0) -> Path:
    """Run ``FeatureExtraction -f IMAGE -out_dir DIR -aus``; returns the CSV it wrote."""
    exe = find_feature_extraction(binary)
    image_path, out_dir = Path(image_path), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    command = [str(exe), "-f", str(image_path), "-out_dir", str(out_dir), "-aus"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise AUSourceError(f"{image_path}: OpenFace FeatureExtraction failed: {error}") from error
    csv_path = out_dir / (image_path.stem + ".csv")
    if done.returncode != 0 or not csv_path.is_file():
        tail = (done.stderr or done.stdout or "").strip().splitlines()[-3:]
        raise AUSourceError(f"{image_path}: OpenFace FeatureExtraction exited {done.returncode} "
                            f"without {csv_path.name}: {' | '.join(tail)}")
    return csv_path


class OpenFaceBinarySource(AUSource):
    """AUs by running OpenFace's ``FeatureExtraction`` on each image (must be installed)."""

    name = "openface"
    scale = OPENFACE_SCALE

    def __init__(self, binary: str | os.PathLike | None = None, threshold: float = OPENFACE_THRESHOLD,
                 min_confidence: float = 0.0, timeout: float = 120.0):
        self.binary = find_feature_extraction(binary)  # fail early, with the clear message
        self.threshold = float(threshold)
        self.min_confidence = float(min_confidence)
        self.timeout = timeout

    def read(self, image=None, face=None, path=None) -> AUReading:
        with tempfile.TemporaryDirectory(prefix="xfer_openface_") as tmp:
            if path is None:
                if image is None:
                    raise AUSourceError("OpenFace needs an image or an image path")
                from PIL import Image

                path = Path(tmp) / "image.png"
                Image.fromarray(np.asarray(image, dtype=np.uint8)).save(path)
            csv_path = run_feature_extraction(path, Path(tmp) / "out", self.binary, self.timeout)
            return reading_from_csv(csv_path, min_confidence=self.min_confidence,
                                    threshold=self.threshold)
