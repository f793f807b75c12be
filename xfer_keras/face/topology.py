"""Landmark topologies: sizes, left/right flip permutations, named regions.

The flip permutations are *derived*, not typed in (``scripts/derive_flip_permutation.py``
regenerates ``_flip_tables.py``):

* dlib / iBUG 68: from the iBUG 300-W layout (contours and their drawing order), cross-checked by
  an optimal assignment between the mirrored mean of the 684 dlib-68 CK+ shapes and itself;
* MediaPipe 468 mesh: an optimal assignment (``scipy.optimize.linear_sum_assignment``) between
  the canonical face mesh stored inside ``face_landmarker.task`` and its mirror (x -> -x); the
  canonical mesh is exactly symmetric, so every pair matches with zero residual;
* the 10 iris points (468-477): an assignment between FaceLandmarker's iris points on a real CK+
  face and on its mirror image.

Each table is checked to be an involution (``p[p] == identity``).
"""

from __future__ import annotations

import numpy as np

from xfer_keras.errors import InputShapeError
from xfer_keras.face.types import N_DLIB, N_MESH, N_MESH_IRIS

__all__ = [
    "N_DLIB",
    "N_MESH",
    "N_MESH_IRIS",
    "flip_permutation",
    "flip_landmarks",
    "flip_box",
    "DLIB68_REGIONS",
    "mesh_to_68",
]

# iBUG 300-W 68-point layout (0-based): region -> indices
DLIB68_REGIONS: dict[str, tuple[int, ...]] = {
    "jaw": tuple(range(0, 17)),
    "right_eyebrow": tuple(range(17, 22)),  # the subject's right: image left
    "left_eyebrow": tuple(range(22, 27)),
    "nose_bridge": tuple(range(27, 31)),
    "nose_lower": tuple(range(31, 36)),
    "right_eye": tuple(range(36, 42)),
    "left_eye": tuple(range(42, 48)),
    "outer_lips": tuple(range(48, 60)),
    "inner_lips": tuple(range(60, 68)),
}


def flip_permutation(n_landmarks: int) -> np.ndarray:
    """``(n,)`` int array ``p``: after mirroring an image, point ``i`` is old point ``p[i]``.

    Supported: 68 (dlib/iBUG), 468 (MediaPipe mesh) and 478 (mesh + iris). It is an involution.
    """
    from xfer_keras.face._flip_tables import FLIP_68, FLIP_478  # generated constants

    n = int(n_landmarks)
    if n == N_DLIB:
        return np.array(FLIP_68, dtype=np.int64)
    if n == N_MESH_IRIS:
        return np.array(FLIP_478, dtype=np.int64)
    if n == N_MESH:
        return np.array(FLIP_478[:N_MESH], dtype=np.int64)
    raise InputShapeError(
        f"no flip permutation for {n} landmarks; known: {N_DLIB}, {N_MESH}, {N_MESH_IRIS}"
    )


def flip_landmarks(landmarks, width: int) -> np.ndarray:
    """Landmarks of the mirrored image ``img[:, ::-1]`` of width ``width``.

    ``landmarks`` is ``(..., L, 2)`` (or ``(..., L, 3)``, z kept) pixel coordinates; x becomes
    ``width - 1 - x`` and the points are permuted with :func:`flip_permutation` along axis -2.
    """
    points = np.asarray(landmarks)
    if points.ndim < 2 or points.shape[-1] not in (2, 3):
        raise InputShapeError(f"landmarks must be (..., L, 2) or (..., L, 3), got {points.shape}")
    perm = flip_permutation(points.shape[-2])
    out = np.take(points, perm, axis=-2).copy()
    out[..., 0] = (width - 1) - out[..., 0]
    return out


def flip_box(box, width: int):
    """The box ``(x0, y0, x1, y1)`` (``x1`` exclusive) of the mirrored image of width ``width``.

    Works on ``(..., 4)`` arrays too. Pixel columns ``[x0, x1)`` become ``[W - x1, W - x0)``.
    """
    if isinstance(box, tuple) and len(box) == 4 and all(isinstance(v, (int, np.integer)) for v in box):
        x0, y0, x1, y1 = box
        return (int(width - x1), int(y0), int(width - x0), int(y1))
    boxes = np.array(box, copy=True)
    if boxes.shape[-1] != 4:
        raise InputShapeError(f"boxes must be (..., 4), got {boxes.shape}")
    boxes[..., 0] = width - np.asarray(box)[..., 2]
    boxes[..., 2] = width - np.asarray(box)[..., 0]
    return boxes


def mesh_to_68(mesh_points, table=None) -> np.ndarray:
    """The 68 iBUG points ``(68, 2)`` read off a MediaPipe mesh ``(468 or 478, 2)``: each the
    mean of the mesh vertices that ``table`` (default: the derived ``MESH_TO_68``, see
    ``scripts/derive_mesh_to_68.py``) gives it. For faces dlib's 68-point model does not fit (a
    turned head found by the fallback detector): the mesh follows the pose, so Table 2's regions
    land on the same anatomy as on a frontal face."""
    if table is None:
        from xfer_keras.face._mesh68_table import MESH_TO_68 as table  # generated constants
    points = np.asarray(mesh_points, dtype=np.float32)
    if points.ndim != 2 or points.shape[0] not in (N_MESH, N_MESH_IRIS):
        raise InputShapeError(f"mesh_to_68 needs (468 or 478, 2) mesh points, got {points.shape}")
    return np.stack([points[list(vertices), :2].mean(axis=0) for vertices in table]).astype(np.float32)
