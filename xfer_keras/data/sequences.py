"""Landmark-sequence tensors ``(N, P, C, L, 1)`` from CK+ videos (the landmark method's input).

Pipeline: :func:`~xfer_keras.data.ckplus.load_ckplus_sequences` -> per-frame landmarks
(:mod:`~xfer_keras.data.landmark_cache`, one detector per backend, cached on disk) -> P frames
resampled uniformly from neutral to peak -> optional horizontal flip -> normalisation ->
:class:`~xfer_keras.data.dataset.SequenceDataset`.

Normalisations (``normalize=``), applied frame by frame:

* ``"pixels"``: image pixel coordinates (x right, y down), as the detector gives them.
* ``"image"``: x / width, y / height (in [0, 1]).
* ``"face"`` (default): a similarity alignment on the two **outer eye corners** (iBUG 36 and
  45; MediaPipe mesh 33 and 263): centred on their midpoint, rotated so the eye line is
  horizontal, and divided by their distance (the outer inter-ocular distance). The outer eye
  corners sit at (-0.5, 0) and (+0.5, 0) in every frame (x right, y down, as in the image):
  head translation, in-plane roll and scale are removed, expression movement is kept, in
  inter-ocular units.
* ``"box"``: the paper's set-up (face box cropped to a square and resized to 300 x 300):
  coordinates in the square around the detector's face box, divided by its side (in [0, 1]).

With ``coords=3`` (MediaPipe only) the third channel is MediaPipe's relative depth
(``Face.landmarks_z``, pixel-like units), scaled like x (image: z / width; face: z /
inter-ocular distance; box: z / side).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from xfer_keras import config
from xfer_keras.data.ckplus import SequenceRecord, find_ckplus_root, load_ckplus_sequences
from xfer_keras.data.dataset import SequenceDataset
from xfer_keras.data.landmark_cache import CACHE_VERSION, extract_landmarks
from xfer_keras.errors import InputShapeError

NORMALIZATIONS = ("pixels", "image", "face", "box")
TOPOLOGY = {"mediapipe": "mesh468", "dlib": "dlib68"}
N_POINTS = {"mesh468": 468, "dlib68": 68}
#: Outer eye corners (image-left first) used by the "face" normalisation.
OUTER_EYE_CORNERS = {"dlib68": (36, 45), "mesh468": (33, 263)}


def default_n_frames() -> int:
    """Frames per sample P: 8 in the quick profile (the shortest shared sequence has 8), 10 full."""
    return config.pick(quick=8, full=10)


def frame_indices(n_total: int, n_frames: int) -> np.ndarray:
    """``n_frames`` indices spread uniformly from the first (neutral) to the last (peak) frame.

    Always includes 0 and ``n_total - 1``; repeats frames when the video is shorter than P.
    """
    if n_total < 1 or n_frames < 1:
        raise ValueError(f"need n_total >= 1 and n_frames >= 1, got {n_total}, {n_frames}")
    if n_frames == 1:
        return np.array([n_total - 1])
    return np.round(np.linspace(0, n_total - 1, n_frames)).astype(int)


@dataclass
class SequenceLandmarks:
    """All frames of one sequence, in pixels, for one topology."""

    record: SequenceRecord
    points: np.ndarray  #: (F, L, 2) float32 pixels (frames without a face: nearest found frame)
    boxes: np.ndarray  #: (F, 4) x0, y0, x1, y1
    found: np.ndarray  #: (F,) bool: a face was detected in that frame
    width: int
    height: int
    z: np.ndarray | None = None  #: (F, L) MediaPipe relative depth

    @property
    def n_missing(self) -> int:
        return int((~self.found).sum())


def nearest_found(found: np.ndarray) -> np.ndarray:
    """For each frame, the index of the nearest frame with a face (ties: earlier)."""
    have = np.flatnonzero(found)
    frames = np.arange(found.size)
    return have[np.argmin(np.abs(frames[:, None] - have[None, :]), axis=1)]


def sequence_landmarks(records: Sequence[SequenceRecord], backend: str = "mediapipe",
                       cache=True, progress: bool = True,
                       detector=None) -> list[SequenceLandmarks | None]:
    """Per-frame landmarks of every record (one detector, one progress bar for all frames).

    MediaPipe's 478 points are cut to the 468 mesh points. A sequence where no frame has a
    face gives None; single frames without a face take their nearest detected frame.
    """
    topology = TOPOLOGY[backend]
    n_points = N_POINTS[topology]
    paths = [p for r in records for p in r.frame_paths]
    frames = extract_landmarks(paths, backend=backend, cache=cache, progress=progress,
                               detector=detector, desc=f"CK+ landmarks ({backend})")
    out: list[SequenceLandmarks | None] = []
    start = 0
    for record in records:
        chunk = frames[start:start + record.n_frames]
        start += record.n_frames
        found = np.array([f.found for f in chunk])
        if not found.any():
            out.append(None)
            continue
        near = nearest_found(found)
        points = np.stack([chunk[j].landmarks[:n_points] for j in near]).astype(np.float32)
        boxes = np.stack([_box(chunk[j]) for j in near]).astype(np.float32)
        z = None
        if all(chunk[j].z is not None for j in near):
            z = np.stack([chunk[j].z[:n_points] for j in near]).astype(np.float32)
        out.append(SequenceLandmarks(record, points, boxes, found, chunk[near[0]].width,
                                     chunk[near[0]].height, z))
    return out


def _box(frame) -> np.ndarray:
    if frame.box is not None:
        return np.asarray(frame.box, dtype=np.float32)
    pts = frame.landmarks  # no detector box: the landmarks' extent, x1/y1 exclusive like boxes
    return np.concatenate([pts.min(axis=0), pts.max(axis=0) + 1.0]).astype(np.float32)


def flip_points(points: np.ndarray, width: int, boxes: np.ndarray | None = None,
                z: np.ndarray | None = None):
    """Mirror ``(..., L, 2)`` pixel landmarks horizontally (x -> width - 1 - x), then swap
    left/right landmark ids with :func:`xfer_keras.face.flip_landmarks` (so landmark 36 stays
    "the outer corner of the image-left eye"). Boxes (x1 exclusive) are mirrored with
    :func:`xfer_keras.face.flip_box`, depth is permuted.
    """
    from xfer_keras.face import flip_box, flip_landmarks, flip_permutation

    points = np.asarray(points, dtype=np.float32)
    flat = points.reshape(-1, *points.shape[-2:])
    flipped = np.stack([flip_landmarks(p, width) for p in flat]).reshape(points.shape)
    out_boxes = None if boxes is None else flip_box(np.asarray(boxes, dtype=np.float32), width)
    out_z = None if z is None else np.asarray(z)[..., flip_permutation(points.shape[-2])]
    return flipped.astype(np.float32), out_boxes, out_z


def normalize_points(points: np.ndarray, method: str = "face", *, width: int, height: int,
                     topology: str = "mesh468", boxes: np.ndarray | None = None,
                     z: np.ndarray | None = None):
    """Normalise ``(F, L, 2)`` pixel landmarks frame by frame (see the module doc).

    Returns ``(points_norm (F, L, 2), z_norm (F, L) or None)``.
    """
    if method not in NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {method!r}")
    points = np.asarray(points, dtype=np.float64)  # (F, L, 2)
    n = points.shape[0]
    origin = np.zeros((n, 2))  # per frame: subtract, (rotate), divide by scale (x, y)
    scale = np.ones((n, 2))
    rotation = None
    if method == "image":
        scale[:] = [width, height]
    elif method == "face":
        a, b = OUTER_EYE_CORNERS[topology]
        origin = (points[:, a] + points[:, b]) / 2.0
        eye_line = points[:, b] - points[:, a]
        scale[:] = np.linalg.norm(eye_line, axis=-1)[:, None]
        rotation = eye_line / np.where(scale > 1e-6, scale, 1.0)  # (cos, sin) of the roll
    elif method == "box":
        if boxes is None:
            raise ValueError('normalize="box" needs the face boxes')
        boxes = np.asarray(boxes, dtype=np.float64)
        side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
        origin = (boxes[:, :2] + boxes[:, 2:]) / 2.0 - side[:, None] / 2.0  # square's corner
        scale[:] = side[:, None]
    scale = np.where(scale > 1e-6, scale, 1.0)
    shifted = points - origin[:, None, :]
    if rotation is not None:  # rotate the eye line onto +x
        cos, sin = rotation[:, 0, None], rotation[:, 1, None]
        shifted = np.stack([cos * shifted[..., 0] + sin * shifted[..., 1],
                            -sin * shifted[..., 0] + cos * shifted[..., 1]], axis=-1)
    out = (shifted / scale[:, None, :]).astype(np.float32)
    if z is None:
        return out, None
    return out, (np.asarray(z, dtype=np.float64) / scale[:, :1]).astype(np.float32)  # like x


def build_sequence_dataset(sequences: Sequence[SequenceLandmarks | None], backend: str,
                           n_frames: int | None = None, normalize: str = "face",
                           flip: bool = False, coords: int = 2,
                           meta: dict | None = None) -> SequenceDataset:
    """Stack per-sequence landmarks into a :class:`SequenceDataset` ``(N, P, C, L, 1)``.

    Sequences that are None (no face in any frame) are dropped with a warning. With
    ``flip=True`` mirrored copies follow the originals, ids ``"<id>_flip"``, same subjects.
    """
    topology = TOPOLOGY[backend]
    if coords not in (2, 3):
        raise InputShapeError(f"coords must be 2 (x, y) or 3 (x, y, z), got {coords}")
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {normalize!r}")
    n_frames = default_n_frames() if n_frames is None else int(n_frames)
    kept = [s for s in sequences if s is not None]
    dropped = len(sequences) - len(kept)
    if dropped:
        warnings.warn(f"{dropped} sequence(s) had no face in any frame and were dropped",
                      RuntimeWarning, stacklevel=2)
    if not kept:
        raise InputShapeError("no sequence with landmarks to build a dataset from")
    if coords == 3 and any(s.z is None for s in kept):
        raise InputShapeError(f"coords=3 needs depth, which the {backend!r} backend does not give "
                              "(use backend='mediapipe')")

    samples, emotions, subjects, ids = [], [], [], []
    frame_idx, au_codes, sizes, missing = {}, {}, {}, {}
    variants = (False, True) if flip else (False,)
    for mirrored in variants:
        for s in kept:
            idx = frame_indices(len(s.points), n_frames)
            pts, boxes, z = s.points[idx], s.boxes[idx], None if s.z is None else s.z[idx]
            if mirrored:
                pts, boxes, z = flip_points(pts, s.width, boxes, z)
            pts, z = normalize_points(pts, normalize, width=s.width, height=s.height,
                                      topology=topology, boxes=boxes, z=z)
            channels = [pts[..., 0], pts[..., 1]] + ([z] if coords == 3 else [])
            samples.append(np.stack(channels, axis=1))  # (P, C, L)
            sample_id = s.record.id + ("_flip" if mirrored else "")
            emotions.append(s.record.emotion)
            subjects.append(s.record.subject)
            ids.append(sample_id)
            frame_idx[sample_id] = idx.tolist()
            au_codes[sample_id] = list(s.record.au_codes) if s.record.au_codes else None
            sizes[sample_id] = (s.width, s.height)
            missing[sample_id] = s.n_missing
    X = np.stack(samples)[..., None].astype(np.float32)
    info = {
        "backend": backend, "normalize": normalize, "n_frames": n_frames, "coords": coords,
        "flip": flip, "frame_indices": frame_idx, "au_codes": au_codes, "image_size": sizes,
        "frames_without_face": missing, "dropped_sequences": dropped,
        "cache_version": CACHE_VERSION,
        "eye_corners": OUTER_EYE_CORNERS[topology] if normalize == "face" else None,
    }
    info.update(meta or {})
    return SequenceDataset(X=X, emotions=np.array(emotions), subjects=np.array(subjects),
                           ids=np.array(ids), landmark_indices=np.arange(N_POINTS[topology]),
                           topology=topology, meta=info)


def load_ckplus_dataset(backend: str = "mediapipe", n_frames: int | None = None,
                        normalize: str = "face", root: str | os.PathLike | None = None,
                        flip: bool = False, coords: int = 2, cache=True,
                        progress: bool = True, include_contempt: bool = False,
                        detector=None, motion: bool = False) -> SequenceDataset:
    """CK+ sequences -> :class:`SequenceDataset` ``(N, P, C, L, 1)`` in one call.

    ``backend``: "mediapipe" (L = 468 mesh points) or "dlib" (L = 68, iBUG order).
    ``n_frames``: P (None: 8 quick / 10 full). ``normalize``: "face" (default), "box",
    "image" or "pixels" (see the module doc). ``flip``: append mirrored copies (ids
    ``"*_flip"``). ``coords``: 2 (x, y) or 3 (+ MediaPipe depth). ``cache``: True (default
    cache under ``XFER_CACHE_DIR``), False, a folder or a ``LandmarkCache``: the first call
    detects every frame (~10 s MediaPipe, ~70 s dlib for the 684 shared frames), later calls
    read the cache in about a second. ``root``: CK+ folder or its parent (default
    ``XFER_DATA_DIR``). ``meta`` records the backend, normalisation, frame indices, peak AU
    codes and image size per sample. ``motion=True``: each frame minus the neutral first frame
    (:meth:`SequenceDataset.relative_to_first_frame`; not in the paper, measured to help).
    """
    if backend not in TOPOLOGY:
        raise ValueError(f"backend must be one of {tuple(TOPOLOGY)}, got {backend!r}")
    if coords == 3 and backend != "mediapipe":
        raise InputShapeError("coords=3 (depth) needs backend='mediapipe'; dlib gives x, y only")
    folder = find_ckplus_root(root)
    records = load_ckplus_sequences(folder, include_contempt=include_contempt)
    sequences = sequence_landmarks(records, backend=backend, cache=cache, progress=progress,
                                   detector=detector)
    dataset = build_sequence_dataset(sequences, backend, n_frames=n_frames, normalize=normalize,
                                     flip=flip, coords=coords, meta={"source": str(folder)})
    return dataset.relative_to_first_frame() if motion else dataset


def mean_face(dataset: SequenceDataset, frame: int | None = None) -> np.ndarray:
    """Mean ``(L, 2)`` x, y position of every landmark (over samples and frames), for plots.

    ``frame``: average only that frame position (0 = neutral, -1 = peak); default all frames.
    Uses the dataset's own units (face-normalised by default: eyes at (+-0.5, 0), y down).
    """
    if dataset.meta.get("relative_to_first_frame"):
        raise InputShapeError("mean_face needs landmark positions, this dataset holds motion "
                              "(relative_to_first_frame): use the dataset loaded with motion=False")
    X = np.asarray(dataset.X)
    if X.shape[2] < 2:
        raise InputShapeError(f"mean_face needs x and y channels, X has C={X.shape[2]}")
    xy = X[:, :, :2, :, 0] if frame is None else X[:, [frame], :2, :, 0]
    return xy.mean(axis=(0, 1)).T.astype(np.float32)  # (L, 2)
