"""Real-data test inputs built on the fly: CK+ clips written with OpenCV, composed face images."""

import csv
from pathlib import Path

import numpy as np


def ckplus_sequences(ckplus_dir: Path) -> list[dict]:
    with open(ckplus_dir / "sequences.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def sequence_frames(ckplus_dir: Path, row: dict) -> list[np.ndarray]:
    """The RGB frames (neutral -> peak) of one CK+ sequence."""
    from xfer_keras.face import load_image

    folder = ckplus_dir / row["frames_dir"]
    return [load_image(p) for p in sorted(folder.glob("*.png"))]


def write_clip(path: Path, frames: list[np.ndarray], fps: float = 10.0) -> Path:
    """Write RGB frames as a video (mp4v in .mp4, MJPG in .avi) with OpenCV."""
    import cv2

    height, width = frames[0].shape[:2]
    codec = "MJPG" if path.suffix.lower() == ".avi" else "mp4v"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, (width, height))
    assert writer.isOpened(), f"OpenCV cannot write {path}"
    for rgb in frames:
        if rgb.shape[:2] != (height, width):
            rgb = cv2.resize(rgb, (width, height))
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def rotate(rgb: np.ndarray, degrees: float) -> np.ndarray:
    """``(rotated, matrix)``: ``rgb`` rotated about its centre (counter-clockwise on screen),
    same size, black corners, and the 2x3 affine matrix that maps original pixels into it."""
    import cv2

    height, width = rgb.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2.0, height / 2.0), degrees, 1.0)
    return np.ascontiguousarray(cv2.warpAffine(rgb, matrix, (width, height))), matrix


def side_by_side(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    height = max(left.shape[0], right.shape[0])
    canvas = np.zeros((height, left.shape[1] + right.shape[1], 3), np.uint8)
    canvas[: left.shape[0], : left.shape[1]] = left
    canvas[: right.shape[0], left.shape[1]:] = right
    return canvas
