"""Derive the left/right flip permutations of both landmark topologies and write them as constants.

    python scripts/derive_flip_permutation.py [--check]   # --check: compare, do not write

Writes ``xfer_keras/face/_flip_tables.py`` (FLIP_68, FLIP_478). A permutation ``p`` means: after
mirroring the image, landmark ``i`` is the mirror of old landmark ``p[i]``.

* 68 (iBUG 300-W): from the layout's contours and drawing order (below), then cross-checked by an
  optimal assignment between the mirrored mean of the dlib-68 CK+ shapes
  (``$XFER_DATA_DIR/ckplus_sequences/landmarks_dlib68.csv``) and the unmirrored mean.
* 468 mesh: optimal assignment between the canonical face mesh inside ``face_landmarker.task``
  (``geometry_pipeline_metadata_landmarks.binarypb``, vertex buffer x y z u v) and its mirror.
* 10 iris points: optimal assignment between FaceLandmarker's iris points on real CK+ frontal faces
  and on their mirror images (summed cost over several subjects).

Every permutation must be an involution. Needs: scipy, the model file (``assets.resolve``) and,
for the real-face checks, the CK+ sequences under ``XFER_DATA_DIR``.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
if "XFER_DATA_DIR" not in os.environ and (REPO.parent / "shared/data").is_dir():
    os.environ["XFER_DATA_DIR"] = str(REPO.parent / "shared/data")
if "XFER_FACE_LANDMARKER" not in os.environ and (REPO.parent / "shared/models/face_landmarker.task").is_file():
    os.environ["XFER_FACE_LANDMARKER"] = str(REPO.parent / "shared/models/face_landmarker.task")

import xfer_keras  # noqa: E402,F401

OUT = REPO / "xfer_keras/face/_flip_tables.py"

# ---------------------------------------------------------------- iBUG 68 from the layout
# The iBUG 300-W mark-up as contours in their drawing order (image coordinates, subject facing
# the camera, so the subject's right side is on the image's left):
#   open contours drawn from image-left to image-right across the midline: mirror = reversal
#   pairs of open contours (right / left brow, each drawn image-left to image-right): mirror maps
#     the k-th point of one to the (n-1-k)-th point of the other
#   closed contours drawn clockwise, with a known start: mirror reverses the direction and maps
#     the start to the mirrored start
OPEN_SELF = [range(0, 17), range(27, 31), range(31, 36)]  # jaw, nose bridge (vertical), nostrils
OPEN_PAIRS = [(range(17, 22), range(22, 27))]  # right brow, left brow
# (contour A, contour B, index in B of the mirror of A's first point); A == B for lips
CLOSED = [
    (range(36, 42), range(42, 48), 3),  # right eye starts at its outer corner -> left outer = 45
    (range(48, 60), range(48, 60), 6),  # outer lips: right corner 48 <-> left corner 54
    (range(60, 68), range(60, 68), 4),  # inner lips: right corner 60 <-> left corner 64
]


def flip68_from_layout() -> np.ndarray:
    perm = -np.ones(68, dtype=np.int64)
    for contour in OPEN_SELF:
        idx = list(contour)
        if idx == list(range(27, 31)):  # the nose bridge runs down the midline
            for i in idx:
                perm[i] = i
        else:
            for i, j in zip(idx, reversed(idx)):
                perm[i] = j
    for a, b in OPEN_PAIRS:
        for i, j in zip(a, reversed(list(b))):
            perm[i], perm[j] = j, i
    for a, b, start in CLOSED:
        a, b = list(a), list(b)
        n = len(a)
        for k in range(n):
            j = b[(start - k) % n]
            perm[a[k]], perm[j] = j, a[k]
    assert (perm >= 0).all(), "layout does not cover all 68 points"
    return perm


def mean_dlib68_shape(csv_path: Path) -> np.ndarray:
    """Mean CK+ dlib-68 shape after similarity-normalising each frame (eyes level, unit IOD)."""
    import pandas as pd

    table = pd.read_csv(csv_path)
    cols = [c for pair in zip([f"x{i}" for i in range(68)], [f"y{i}" for i in range(68)]) for c in pair]
    shapes = table[cols].to_numpy(dtype=np.float64).reshape(-1, 68, 2)
    shapes = shapes[np.isfinite(shapes).all(axis=(1, 2))]
    out = []
    for s in shapes:
        # normalise with symmetric anchors only (eye-region and mouth centroids, no pairing):
        # centre on the centroid, rotate so the principal axis of the eye-region points is level
        eyes = s[36:48]
        c = s.mean(axis=0)
        u, _, vt = np.linalg.svd(eyes - eyes.mean(axis=0))
        d = vt[0] if vt[0][0] > 0 else -vt[0]
        rot = np.array([[d[0], d[1]], [-d[1], d[0]]])
        t = (s - c) @ rot.T
        out.append(t / np.sqrt((t**2).sum(axis=1).mean()))
    return np.mean(out, axis=0)


def assignment_flip(points: np.ndarray, center_x: float | None = None) -> tuple[np.ndarray, float]:
    """Optimal assignment between ``points`` and their mirror about x = center_x (or the best x)."""
    best = None
    centers = [center_x] if center_x is not None else np.linspace(-0.05, 0.05, 21) + points[:, 0].mean()
    for cx in centers:
        mirrored = points.copy()
        mirrored[:, 0] = 2 * cx - mirrored[:, 0]
        cost = cdist(mirrored, points)
        rows, cols = linear_sum_assignment(cost)
        total = cost[rows, cols].mean()
        if best is None or total < best[1]:
            perm = np.empty(len(points), dtype=np.int64)
            perm[rows] = cols
            best = (perm, total)
    return best


# ---------------------------------------------------------------- MediaPipe canonical mesh
def _varint(buf: bytes, i: int):
    value = shift = 0
    while True:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def _fields(buf: bytes):
    """Minimal protobuf wire-format reader: yields (field number, wire type, value)."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 1:
            value, i = buf[i : i + 8], i + 8
        elif wire == 5:
            value, i = buf[i : i + 4], i + 4
        elif wire == 2:
            n, i = _varint(buf, i)
            value, i = buf[i : i + n], i + n
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield field, wire, value


def canonical_mesh(task_path: Path) -> np.ndarray:
    """(468, 3) canonical face mesh vertices from the FaceLandmarker .task bundle.

    GeometryPipelineMetadata { canonical_mesh = 1: Mesh3d { vertex_type = 1, primitive_type = 2,
    vertex_buffer = 3 (repeated float; x y z u v per vertex), index_buffer = 4 } }.
    """
    with zipfile.ZipFile(task_path) as bundle:
        blob = bundle.read("geometry_pipeline_metadata_landmarks.binarypb")
    mesh = next(v for f, w, v in _fields(blob) if f == 1 and w == 2)
    floats = []
    for f, w, v in _fields(mesh):
        if f == 3 and w == 5:
            floats.append(struct.unpack("<f", v)[0])
        elif f == 3 and w == 2:  # packed encoding
            floats.extend(struct.unpack(f"<{len(v) // 4}f", v))
    vertices = np.array(floats, dtype=np.float64).reshape(-1, 5)
    assert vertices.shape[0] == 468, vertices.shape
    return vertices[:, :3]


def flip468_from_canonical(task_path: Path) -> tuple[np.ndarray, float]:
    xyz = canonical_mesh(task_path)
    mirrored = xyz * np.array([-1.0, 1.0, 1.0])
    cost = cdist(mirrored, xyz)
    rows, cols = linear_sum_assignment(cost)
    perm = np.empty(468, dtype=np.int64)
    perm[rows] = cols
    return perm, float(cost[rows, cols].max())


def frontal_frames(n: int = 10) -> list[Path]:
    """First (neutral) frame of the first sequence of ``n`` CK+ subjects."""
    from xfer_keras.config import dataset_dir

    root = dataset_dir("ckplus_sequences")
    frames = []
    for subject in sorted((root / "images").iterdir()):
        seq = sorted(p for p in subject.iterdir() if p.is_dir())[0]
        frames.append(sorted(seq.glob("*.png"))[0])
        if len(frames) == n:
            break
    return frames


def real_face_pairs(backend: str, frames: list[Path]):
    """(landmarks of image, landmarks of mirrored image, width) for each frame."""
    from xfer_keras.face import LandmarkDetector, load_image

    pairs = []
    with LandmarkDetector(backend) as detector:
        for path in frames:
            rgb = load_image(path)
            a = detector.detect_one(rgb).landmarks.astype(np.float64)
            b = detector.detect_one(np.ascontiguousarray(rgb[:, ::-1])).landmarks.astype(np.float64)
            pairs.append((a, b, rgb.shape[1]))
    return pairs


def iris_from_real_faces(pairs) -> np.ndarray:
    iris = np.arange(468, 478)
    cost = np.zeros((10, 10))
    for a, b, width in pairs:
        mirrored_a = a[iris].copy()
        mirrored_a[:, 0] = width - 1 - mirrored_a[:, 0]
        cost += cdist(b[iris], mirrored_a)  # cost[i, j]: mirror point i is old point j
    rows, cols = linear_sum_assignment(cost)
    perm = np.empty(10, dtype=np.int64)
    perm[rows] = iris[cols]
    return perm


def mean_error_iod(pairs, perm: np.ndarray, eyes: tuple[list[int], list[int]]) -> float:
    errors = []
    for a, b, width in pairs:
        predicted = a[perm].copy()
        predicted[:, 0] = width - 1 - predicted[:, 0]
        iod = np.linalg.norm(a[eyes[0]].mean(0) - a[eyes[1]].mean(0))
        errors.append(np.linalg.norm(predicted - b, axis=1).mean() / iod)
    return float(np.mean(errors))


def _format(name: str, perm: np.ndarray, doc: str) -> str:
    body = ", ".join(str(int(v)) for v in perm)
    lines, line = [], "    "
    for token in body.split(" "):
        if len(line) + len(token) + 1 > 99:
            lines.append(line.rstrip())
            line = "    "
        line += token + " "
    lines.append(line.rstrip())
    return f"# {doc}\n{name} = (\n" + "\n".join(lines) + "\n)\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the stored tables only")
    parser.add_argument("--n-faces", type=int, default=10, help="real CK+ faces for the iris/checks")
    args = parser.parse_args(argv)

    from xfer_keras import assets
    from xfer_keras.config import dataset_dir

    # 68
    flip68 = flip68_from_layout()
    assert (flip68[flip68] == np.arange(68)).all(), "68 layout flip is not an involution"
    mean_shape = mean_dlib68_shape(dataset_dir("ckplus_sequences") / "landmarks_dlib68.csv")
    geo68, residual68 = assignment_flip(mean_shape)
    agree68 = int((geo68 == flip68).sum())
    print(f"68: layout flip; assignment on the mirrored mean CK+ shape agrees on {agree68}/68 "
          f"(mean residual {residual68:.4f} of RMS radius)")
    if agree68 != 68:
        print("   disagreements:", [(i, int(flip68[i]), int(geo68[i])) for i in np.where(geo68 != flip68)[0]])

    # 468 + iris
    task = assets.resolve("face_landmarker", allow_download=False)
    flip468, residual468 = flip468_from_canonical(task)
    assert (flip468[flip468] == np.arange(468)).all(), "468 flip is not an involution"
    print(f"468: canonical mesh assignment, max residual {residual468:.2e}, "
          f"{int((flip468 == np.arange(468)).sum())} points on the midline")
    frames = frontal_frames(args.n_faces)
    mp_pairs = real_face_pairs("mediapipe", frames)
    iris = iris_from_real_faces(mp_pairs)
    flip478 = np.concatenate([flip468, iris])
    assert (flip478[flip478] == np.arange(478)).all(), "478 flip is not an involution"
    print(f"iris 468-477 -> {iris.tolist()} (real faces: {len(frames)})")
    eyes478 = ([33, 133], [362, 263])
    print(f"real mirrored faces, mediapipe 478: mean error {mean_error_iod(mp_pairs, flip478, eyes478):.4f} IOD"
          f" (identity permutation: {mean_error_iod(mp_pairs, np.arange(478), eyes478):.4f})")
    dlib_pairs = real_face_pairs("dlib", frames)
    eyes68 = (list(range(36, 42)), list(range(42, 48)))
    print(f"real mirrored faces, dlib 68: mean error {mean_error_iod(dlib_pairs, flip68, eyes68):.4f} IOD"
          f" (identity permutation: {mean_error_iod(dlib_pairs, np.arange(68), eyes68):.4f})")

    text = (
        '"""Left/right flip permutations (generated by scripts/derive_flip_permutation.py; do not edit).\n\n'
        "p[i] = index of the landmark that becomes landmark i when the image is mirrored.\n"
        '"""\n\n'
        + _format("FLIP_68", flip68, "iBUG 300-W 68 points, from the layout; checked on the mean CK+ dlib shape")
        + "\n"
        + _format("FLIP_478", flip478, "MediaPipe 468 mesh (canonical-mesh assignment) + 10 iris (real-face assignment)")
    )
    if args.check:
        from xfer_keras.face._flip_tables import FLIP_68, FLIP_478

        same = tuple(flip68) == tuple(FLIP_68) and tuple(flip478) == tuple(FLIP_478)
        print("stored tables match" if same else "stored tables DIFFER")
        return 0 if same else 1
    OUT.write_text(text)
    print(f"wrote {OUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    from xfer_keras.native_logs import native_stderr_silenced

    with native_stderr_silenced():  # TensorFlow / MediaPipe native log lines
        code = main()
    raise SystemExit(code)
