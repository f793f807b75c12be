"""CK+ readers: labelled neutral -> peak sequences, in either of two layouts.

* **Original CK+ release** (what the CK+ download unpacks to)::

      <root>/cohn-kanade-images/S005/001/S005_001_00000001.png ...
      <root>/Emotion/S005/001/S005_001_00000011_emotion.txt     # one float: CK+ code 0..7
      <root>/FACS/S005/001/S005_001_00000011_facs.txt           # optional: "AU intensity" lines
      <root>/Landmarks/S005/001/S005_001_00000001_landmarks.txt # optional: 68 AAM points/frame

  Only sequences with an ``Emotion`` file are labelled (327 of 593); the others are skipped.

* **Shared subset layout** (``ckplus_sequences/`` beside the project)::

      <root>/sequences.csv        # subject, sequence, emotion, frames_dir[, peak_au_combination...]
      <root>/images/Sxxx/yyy/*.png

Both give a list of :class:`SequenceRecord` in (subject, sequence) order. Emotions are mapped to
the canonical names of :mod:`xfer_keras.emotions`; contempt is dropped unless asked for (the
landmark-sequence paper removes it: too few samples).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xfer_keras import config
from xfer_keras.emotions import CKPLUS_CODES, canonical_emotion
from xfer_keras.errors import CKPlusFormatError, DataNotFoundError, MissingColumnsError

#: Names under ``XFER_DATA_DIR`` (or a given parent folder) searched for CK+, in order.
CKPLUS_FOLDER_NAMES = ("ckplus_sequences", "CK+", "ckplus", "CKPlus", "cohn-kanade", "ck+")
SEQUENCES_CSV = "sequences.csv"
REQUIRED_COLUMNS = ("subject", "sequence", "emotion", "frames_dir")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


@dataclass(frozen=True)
class SequenceRecord:
    """One labelled CK+ sequence: frames in time order, neutral first, peak last."""

    subject: str  #: "S052"
    sequence: str  #: "001" (leading zeros kept)
    emotion: str  #: canonical name ("happiness", ...)
    frame_paths: list[Path]
    au_codes: tuple[int, ...] | None = None  #: FACS AUs coded on the peak frame, if known
    aam_landmarks_dir: Path | None = None  #: CK+ ``Landmarks/Sxxx/yyy`` folder, if present

    @property
    def id(self) -> str:
        """Sample id, ``"S052_001"``."""
        return f"{self.subject}_{self.sequence}"

    @property
    def n_frames(self) -> int:
        return len(self.frame_paths)

    @property
    def peak_path(self) -> Path:
        return self.frame_paths[-1]


# --------------------------------------------------------------------------- small parsers
def parse_au_codes(value) -> tuple[int, ...] | None:
    """``"1_2_5_25_27"`` (NetFACS style), ``"1+2+5"`` or a list -> sorted unique AU numbers."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (list, tuple, np.ndarray)):
        items = [str(v) for v in value]
    else:
        text = str(value).strip()
        if not text or text.lower() in ("nan", "none"):
            return None
        items = re.split(r"[_+,;\s]+", text)
    codes = set()
    for item in items:
        item = item.strip().upper().lstrip("AU")
        item = re.sub(r"^[LRTB]", "", item)  # laterality prefixes (L12, R14) in some codings
        if item:
            codes.add(int(float(item)))
    return tuple(sorted(codes))


def _floats(path: Path) -> np.ndarray:
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise DataNotFoundError(f"cannot read {path}: {error}") from error
    try:
        return np.array([float(t) for t in text.split()], dtype=float)
    except ValueError as error:
        raise CKPlusFormatError(f"{path}: expected numbers only ({error})") from error


def read_emotion_file(path: str | os.PathLike) -> int:
    """CK+ ``*_emotion.txt``: one float (``3.0000000e+00``) -> integer CK+ code 0..7."""
    values = _floats(Path(path))
    if values.size != 1 or int(values[0]) not in CKPLUS_CODES:
        raise CKPlusFormatError(f"{path}: expected one CK+ emotion code 0..7, got {values.tolist()}")
    return int(values[0])


def read_facs_file(path: str | os.PathLike) -> tuple[int, ...]:
    """CK+ ``*_facs.txt``: lines ``AU intensity`` (floats) -> sorted AU numbers."""
    values = _floats(Path(path))
    if values.size % 2:
        raise CKPlusFormatError(f"{path}: expected pairs 'AU intensity', got {values.size} numbers")
    return tuple(sorted({int(au) for au in values[0::2]}))


def read_aam_landmarks(path: str | os.PathLike) -> np.ndarray:
    """CK+ AAM landmark file (``*_landmarks.txt``): 68 lines ``x y`` -> ``(68, 2)`` pixels.

    The points follow the iBUG-68 order (0-16 jaw, 17-26 brows, 27-35 nose, 36-47 eyes,
    48-67 mouth), in pixel coordinates of the 640x490 frame, as dlib's 68-point model.
    """
    values = _floats(Path(path))
    if values.size != 136:
        raise CKPlusFormatError(f"{path}: expected 68 'x y' pairs (136 numbers), got {values.size}")
    return values.reshape(68, 2).astype(np.float32)


def read_dlib68_csv(path: str | os.PathLike):
    """``landmarks_dlib68.csv`` of the shared subset -> DataFrame with an ``(68, 2)`` column.

    Columns used: subject, sequence, frame, x0..x67, y0..y67. Returns the frame table with
    a ``landmarks`` column of ``(68, 2)`` float32 arrays (pixels), for cross-checks.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"dlib landmark table not found: {path}")
    table = pd.read_csv(path, dtype={"subject": str, "sequence": str})
    need = ["subject", "sequence", "frame"] + [f"{a}{i}" for i in range(68) for a in "xy"]
    missing = [c for c in need if c not in table.columns]
    if missing:
        raise MissingColumnsError(f"{path}: missing columns {missing[:8]}{'...' if len(missing) > 8 else ''}")
    xs = table[[f"x{i}" for i in range(68)]].to_numpy(np.float32)
    ys = table[[f"y{i}" for i in range(68)]].to_numpy(np.float32)
    points = np.stack([xs, ys], axis=-1)
    out = table[["subject", "sequence", "frame"]].copy()
    out["landmarks"] = list(points)
    return out


def _frames_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


# --------------------------------------------------------------------------- layouts
def find_ckplus_root(root: str | os.PathLike | None = None) -> Path:
    """The CK+ folder (either layout) from ``root`` or ``XFER_DATA_DIR``.

    ``root`` may be the CK+ folder itself or its parent (a data folder holding e.g.
    ``ckplus_sequences/`` or ``CK+/``).
    """
    base = config.data_dir() if root is None else Path(root).expanduser()
    if not base.is_dir():
        raise DataNotFoundError(f"CK+ folder not found: {base}")
    candidates = [base] + [base / name for name in CKPLUS_FOLDER_NAMES]
    for folder in candidates:
        if (folder / SEQUENCES_CSV).is_file() or (folder / "cohn-kanade-images").is_dir():
            return folder
    raise DataNotFoundError(
        f"no CK+ data under {base}: expected {SEQUENCES_CSV} (shared subset) or "
        f"cohn-kanade-images/ + Emotion/ (original release), directly or in one of "
        f"{list(CKPLUS_FOLDER_NAMES)}; see data/README.md"
    )


def _keep(emotion: str, include_contempt: bool) -> bool:
    return emotion != "neutral" and (include_contempt or emotion != "contempt")


def read_sequences_csv(root: Path, include_contempt: bool = False) -> list[SequenceRecord]:
    """The shared subset layout: ``sequences.csv`` + ``images/Sxxx/yyy/``."""
    import pandas as pd

    csv = root / SEQUENCES_CSV
    table = pd.read_csv(csv, dtype=str, keep_default_na=False)
    table.columns = [c.strip() for c in table.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise MissingColumnsError(f"{csv}: missing columns {missing} (has {list(table.columns)})")
    au_column = next((c for c in table.columns if c.startswith("peak_au")), None)
    records = []
    for row in table.to_dict("records"):
        emotion = canonical_emotion(row["emotion"])
        if not _keep(emotion, include_contempt):
            continue
        folder = root / row["frames_dir"]
        if not folder.is_dir():
            raise DataNotFoundError(f"{csv}: frames folder of {row['subject']}_{row['sequence']} "
                                    f"not found: {folder}")
        frames = _frames_in(folder)
        expected = row.get("n_frames", "")
        if not frames or (str(expected).isdigit() and int(expected) != len(frames)):
            raise DataNotFoundError(f"{folder}: expected {expected or 'some'} frames, found {len(frames)}")
        au = parse_au_codes(row[au_column]) if au_column else None
        records.append(SequenceRecord(str(row["subject"]).strip(), str(row["sequence"]).strip(),
                                      emotion, frames, au))
    return _sorted(records)


def read_original_ckplus(root: Path, include_contempt: bool = False) -> list[SequenceRecord]:
    """The original CK+ release layout (``cohn-kanade-images/`` + ``Emotion/`` [+ ``FACS/``])."""
    images, emotion_dir = root / "cohn-kanade-images", root / "Emotion"
    if not emotion_dir.is_dir():
        raise DataNotFoundError(f"{root}: cohn-kanade-images/ found but no Emotion/ folder "
                                "(the labels come with the CK+ download as Emotion_labels.zip)")
    records = []
    for emotion_file in sorted(emotion_dir.glob("S*/*/*_emotion.txt")):
        subject, sequence = emotion_file.parent.parent.name, emotion_file.parent.name
        emotion = CKPLUS_CODES[read_emotion_file(emotion_file)]
        if not _keep(emotion, include_contempt):
            continue
        folder = images / subject / sequence
        frames = _frames_in(folder) if folder.is_dir() else []
        if not frames:
            raise DataNotFoundError(f"{emotion_file}: no frames in {folder}")
        facs = sorted((root / "FACS" / subject / sequence).glob("*_facs.txt"))
        au = read_facs_file(facs[-1]) if facs else None
        aam = root / "Landmarks" / subject / sequence
        records.append(SequenceRecord(subject, sequence, emotion, frames, au,
                                      aam if aam.is_dir() else None))
    if not records:
        raise DataNotFoundError(f"{emotion_dir}: no Sxxx/yyy/*_emotion.txt files")
    return _sorted(records)


def _sorted(records: list[SequenceRecord]) -> list[SequenceRecord]:
    return sorted(records, key=lambda r: (r.subject, r.sequence))


def load_ckplus_sequences(root: str | os.PathLike | None = None,
                          include_contempt: bool = False) -> list[SequenceRecord]:
    """Labelled CK+ sequences (neutral -> peak) from either layout, sorted by subject, sequence.

    ``root``: the CK+ folder or its parent; default ``XFER_DATA_DIR`` (searched for
    ``ckplus_sequences/``, ``CK+/``, ...). Six emotions; ``include_contempt=True`` keeps contempt.
    """
    folder = find_ckplus_root(root)
    if (folder / SEQUENCES_CSV).is_file():
        return read_sequences_csv(folder, include_contempt)
    return read_original_ckplus(folder, include_contempt)


def aam_landmark_files(root: str | os.PathLike | None = None) -> dict[str, Path]:
    """Real CK+ AAM landmark files found for the data: ``{frame stem: path}``.

    Shared subset: ``reference_aam_landmarks/*_landmarks.txt``; original release:
    ``Landmarks/Sxxx/yyy/*_landmarks.txt``. Keys are frame stems like ``S052_004_00000033``.
    """
    folder = find_ckplus_root(root)
    files = list((folder / "reference_aam_landmarks").glob("*_landmarks.txt"))
    files += list((folder / "Landmarks").glob("S*/*/*_landmarks.txt"))
    return {p.name[: -len("_landmarks.txt")]: p for p in sorted(files)}
