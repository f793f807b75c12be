"""Measure how a set of face crops is framed: where dlib finds the box, eyes and mouth.

    python scripts/measure_framing.py [--n 1500] [--sets fer2013,ckplus48]

Each image is upscaled 4x (48 px faces are below dlib's 80 px detection window), dlib finds the
face and its 68 points, and the positions are expressed as fractions of the image side. The
medians for FER2013's sharp train copy are :data:`xfer_keras.face.FRAMINGS` ``"fer2013"``; the
dlib box placement tells how a box-centred crop compares (``xfer_keras.face.square_box``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import xfer_keras  # noqa: E402,F401

COLUMNS = ("box_x0", "box_y0", "box_x1", "box_y1", "eye_center_x", "eye_center_y",
           "eye_distance", "eye_mouth", "eye_angle_deg")


def measure(paths, upscale: int = 4):
    """Rows of :data:`COLUMNS` (fractions of the side; angle in degrees) and the miss count."""
    import cv2
    import numpy as np

    from xfer_keras.errors import NoFaceError
    from xfer_keras.face import LandmarkDetector

    rows, missed = [], 0
    with LandmarkDetector("dlib", detect_size=None, upsample=1) as detector:
        for path in paths:
            gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            side = gray.shape[0] * upscale
            big = cv2.resize(gray, (side, side), interpolation=cv2.INTER_CUBIC)
            try:
                face = detector.detect_one(np.repeat(big[..., None], 3, 2), source=str(path))
            except NoFaceError:
                missed += 1
                continue
            points = face.landmarks / side
            eye_a, eye_b = points[36:42].mean(0), points[42:48].mean(0)
            mid, mouth = (eye_a + eye_b) / 2, points[48:68].mean(0)
            angle = np.degrees(np.arctan2(eye_b[1] - eye_a[1], eye_b[0] - eye_a[0]))
            rows.append([*(np.asarray(face.box) / side), *mid, np.linalg.norm(eye_b - eye_a),
                         np.linalg.norm(mouth - mid), angle])
    return np.asarray(rows), missed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1500, help="images per set (random, seeded)")
    parser.add_argument("--sets", default="fer2013,ckplus48")
    args = parser.parse_args(argv)

    import numpy as np

    from xfer_keras.data.image_folders import list_fer2013
    from xfer_keras.training.dev_sets import ckplus48_frame

    listings = {"fer2013": lambda: list_fer2013("train"), "ckplus48": ckplus48_frame}
    for name in args.sets.split(","):
        frame = listings[name]()
        frame = frame.sample(min(args.n, len(frame)), random_state=0)
        rows, missed = measure(frame["path"])
        print(f"\n## {name}: dlib found {len(rows)} of {len(frame)} faces (4x upscaled)")
        print("| measure | median | mean | sd |")
        print("|---|---|---|---|")
        for column, values in zip(COLUMNS, rows.T):
            print(f"| {column} | {np.median(values):.3f} | {values.mean():.3f} | "
                  f"{values.std():.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
