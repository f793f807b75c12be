"""A clip of a face -> landmarks per frame -> the neutral -> peak stretch -> the EMO nets' input.

Clips are a video file (read by :class:`xfer_keras.video.VideoReader`: anything OpenCV
decodes, .mp4, .avi, .mov, ...; every frame is used), a folder of frames (e.g. a CK+ sequence
folder ``images/S052/004``; natural file-name order) or an array ``(T, H, W, 3)``. Frame files
go through the landmark cache (:mod:`xfer_keras.data.landmark_cache`), so a CK+ sequence
already seen costs nothing; video frames are detected one by one.

**The neutral -> peak rule** (:func:`find_segment`), on face-normalised landmarks (the
training normalisation: outer eye corners at (+-0.5, 0)):

1. *neutral frame* n: the frame closest (mean landmark distance) to the nets' mean neutral
   shape (the average first frame of the training videos); the first frame when the net set
   has none;
2. *displacement* d(t): mean distance of frame t's landmarks from frame n's, in inter-ocular
   units, smoothed by a 3-frame running median;
3. *peak* p: on the side of n (later or earlier frames) where d rises higher, the first frame
   whose d reaches 95 % of that side's maximum;
4. *onset* s: the last frame between n and p whose d is at most 10 % of d(p) (the face still
   at rest); the stretch is s .. p, read from s towards p (so a clip going from an expression
   back to rest is read backwards, rest first);
5. a stretch shorter than P frames grows towards n, then past p, up to P frames.

``start`` / ``end`` (frame numbers, 0-based, inclusive) replace the rule. The stretch is then
resampled to P frames exactly like the training videos (uniform, first and last kept),
normalised, and turned into motion (each frame minus the stretch's first frame).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xfer_keras.errors import ClipTooShortError, NoFaceError, VideoReadError

PEAK_FRACTION = 0.95
ONSET_FRACTION = 0.10


# --------------------------------------------------------------------------- reading
@dataclass
class Clip:
    """Where a clip's frames come from: image files, a video file, or an array."""

    name: str
    frame_paths: list[Path] | None = None
    video: object | None = None  #: a :class:`xfer_keras.video.VideoReader`
    array: np.ndarray | None = None
    n_frames: int = 0

    @property
    def kind(self) -> str:
        return "frames" if self.frame_paths is not None else "video" if self.video is not None else "array"

    def frame(self, index: int) -> np.ndarray:
        """One RGB frame ``(H, W, 3)`` uint8."""
        if self.frame_paths is not None:
            from xfer_keras.face import load_image

            return load_image(self.frame_paths[index])
        if self.array is not None:
            return np.asarray(self.array[index])
        frames = self.video.read([index])
        if index not in frames:
            raise VideoReadError(f"{self.name}: frame {index} could not be decoded again")
        return frames[index]

    def frames(self):
        """RGB frames in order (a generator: a long video is never held in memory)."""
        if self.frame_paths is not None:
            from xfer_keras.face import load_image

            for p in self.frame_paths:
                yield load_image(p)
        elif self.array is not None:
            yield from (np.asarray(f) for f in self.array)
        else:
            from xfer_keras.video import Sampling

            for frame in self.video.frames(Sampling(every=1)):
                yield frame.rgb


def open_clip(source, name: str | None = None) -> Clip:
    """A :class:`Clip` from a video file, a folder of frames or an array ``(T, H, W, 3)``.

    Video files are read by :class:`xfer_keras.video.VideoReader` (OpenCV; typed
    :class:`~xfer_keras.errors.VideoReadError` for missing, corrupt or empty videos); frame
    folders are listed in natural file-name order, as the reader does, and keep their paths
    so the landmark cache serves frames it has seen.
    """
    if isinstance(source, np.ndarray):
        if source.ndim != 4 or source.shape[-1] != 3:
            raise VideoReadError(f"{name or 'array'}: a clip array must be (T, H, W, 3), got {source.shape}")
        return Clip(name=name or "clip", array=source, n_frames=int(source.shape[0]))
    from xfer_keras.video.reader import is_video_file, list_frame_files

    path = Path(os.fspath(source))
    name = name or str(path)
    if path.is_dir():
        frames = list_frame_files(path)
        return Clip(name=name, frame_paths=frames, n_frames=len(frames))
    if path.exists() and not is_video_file(path):
        raise VideoReadError(f"{path}: not a video file or a folder of frames")
    from xfer_keras.video import VideoReader

    return Clip(name=name, video=VideoReader(path))


# --------------------------------------------------------------------------- landmarks
@dataclass
class ClipLandmarks:
    """Landmarks of every frame of a clip (pixels); frames without a face take the nearest."""

    points: np.ndarray  #: (F, L, 2) float32 pixels
    found: np.ndarray  #: (F,) bool
    width: int
    height: int
    backend: str

    @property
    def n_frames(self) -> int:
        return int(len(self.points))


def clip_landmarks(clip: Clip, backend: str = "dlib", detector=None, cache=True) -> ClipLandmarks:
    """Per-frame landmarks with ``backend``; NoFaceError when no frame shows a face."""
    from xfer_keras.data.sequences import N_POINTS, TOPOLOGY, nearest_found

    n_points = N_POINTS[TOPOLOGY[backend]]
    results = []
    if clip.frame_paths is not None:
        from xfer_keras.data.landmark_cache import extract_landmarks

        frames = extract_landmarks(clip.frame_paths, backend=backend, cache=cache, progress=False,
                                   detector=detector)
        results = [(f.landmarks, f.width, f.height) for f in frames]
    else:
        from xfer_keras.face import LandmarkDetector

        own = detector is None
        det = LandmarkDetector(backend) if own else detector
        try:
            for i, rgb in enumerate(clip.frames()):
                try:
                    face = det.detect_one(rgb, source=f"{clip.name} frame {i}")
                    results.append((np.asarray(face.landmarks, np.float32), rgb.shape[1], rgb.shape[0]))
                except NoFaceError:
                    results.append((None, rgb.shape[1], rgb.shape[0]))
        finally:
            if own:
                det.close()
        clip.n_frames = len(results)
    if not results:
        raise VideoReadError(f"{clip.name}: no frames")
    found = np.array([r[0] is not None for r in results])
    if not found.any():
        raise NoFaceError(f"{clip.name}: no face in any of its {len(results)} frames")
    near = nearest_found(found)
    points = np.stack([results[j][0][:n_points] for j in near]).astype(np.float32)
    first = results[int(np.flatnonzero(found)[0])]
    return ClipLandmarks(points, found, int(first[1]), int(first[2]), backend)


# --------------------------------------------------------------------------- segment
@dataclass
class Segment:
    """The stretch of a clip fed to the nets (frame numbers of the clip, 0-based)."""

    start: int  #: first frame read (the rest position)
    end: int  #: last frame read (the peak)
    neutral: int  #: the most neutral frame
    peak: int
    frames: list[int]  #: the P frames used, in reading order
    rule: str  #: "displacement" or "given"
    displacement: list[float] = field(default_factory=list)  #: d(t) from the neutral frame

    def to_dict(self) -> dict:
        return {"start": self.start, "end": self.end, "neutral": self.neutral, "peak": self.peak,
                "frames": list(self.frames), "rule": self.rule,
                "displacement": [round(float(v), 5) for v in self.displacement]}


def _running_median(values: np.ndarray) -> np.ndarray:
    if values.size < 3:
        return values.copy()
    padded = np.concatenate([values[:1], values, values[-1:]])
    return np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)


def find_segment(shapes: np.ndarray, n_frames: int, neutral_shape: np.ndarray | None = None,
                 found: np.ndarray | None = None, start: int | None = None,
                 end: int | None = None, name: str = "clip") -> Segment:
    """The neutral -> peak stretch of face-normalised shapes ``(F, L, 2)`` (module doc rule)."""
    from xfer_keras.data.sequences import frame_indices

    shapes = np.asarray(shapes, dtype=np.float64)
    total = len(shapes)
    n_face = int(np.sum(found)) if found is not None else total
    if n_face < n_frames:
        raise ClipTooShortError(f"{name}: {n_face} frame(s) with a face, the nets need at least {n_frames}")
    if neutral_shape is not None:
        neutral = int(np.argmin(np.linalg.norm(shapes - np.asarray(neutral_shape)[None], axis=-1).mean(axis=1)))
    else:
        neutral = 0
    d = _running_median(np.linalg.norm(shapes - shapes[neutral][None], axis=-1).mean(axis=1))
    if start is not None or end is not None:
        s = 0 if start is None else int(start)
        e = total - 1 if end is None else int(end)
        if not (0 <= s < total and 0 <= e < total):
            raise ClipTooShortError(f"{name}: --start/--end {s}..{e} outside the clip's frames 0..{total - 1}")
        length = abs(e - s) + 1
        if length < n_frames:
            raise ClipTooShortError(f"{name}: frames {s}..{e} are {length}, the nets need at least {n_frames}")
        step = 1 if e >= s else -1
        order = list(range(s, e + step, step))
        frames = [order[i] for i in frame_indices(len(order), n_frames)]
        return Segment(s, e, neutral, e, frames, "given", d.tolist())
    after, before = list(range(neutral, total)), list(range(neutral, -1, -1))
    side = after if d[after].max() >= d[before].max() else before
    top = d[side].max()
    peak_pos = int(np.flatnonzero(d[side] >= PEAK_FRACTION * top)[0]) if top > 0 else len(side) - 1
    rest = np.flatnonzero(d[side][:peak_pos + 1] <= ONSET_FRACTION * d[side][peak_pos])
    onset_pos = int(rest[-1]) if rest.size else 0
    lo, hi = onset_pos, peak_pos
    while hi - lo + 1 < n_frames and lo > 0:  # grow towards the neutral frame ...
        lo -= 1
    while hi - lo + 1 < n_frames and hi < len(side) - 1:  # ... then past the peak
        hi += 1
    order = side[lo:hi + 1]
    if len(order) < n_frames:  # the neutral frame sits mid-clip and neither side is long enough
        order = list(range(total)) if side is after else list(range(total - 1, -1, -1))
        lo, hi = 0, total - 1
    frames = [order[i] for i in frame_indices(len(order), n_frames)]
    return Segment(order[0], order[-1], neutral, side[peak_pos], frames, "displacement", d.tolist())


def normalized_shapes(landmarks: ClipLandmarks, normalize: str = "face") -> np.ndarray:
    """Every frame's landmarks normalised as in training ``(F, L, 2)``."""
    from xfer_keras.data.sequences import TOPOLOGY, normalize_points

    points, _ = normalize_points(landmarks.points, normalize, width=landmarks.width,
                                 height=landmarks.height, topology=TOPOLOGY[landmarks.backend])
    return points


def motion_tensor(shapes: np.ndarray, frames) -> np.ndarray:
    """``(1, P, 2, L, 1)`` motion of the chosen frames (each minus the first), as in training."""
    x = np.asarray(shapes, dtype=np.float32)[list(frames)]  # (P, L, 2)
    x = np.stack([x[..., 0], x[..., 1]], axis=1)  # (P, 2, L)
    return (x - x[:1])[None, ..., None].astype(np.float32)


__all__ = [
    "Clip", "ClipLandmarks", "ClipTooShortError", "Segment", "clip_landmarks", "find_segment",
    "motion_tensor", "normalized_shapes", "open_clip",
]
