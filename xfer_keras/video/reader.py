"""Frames in, at the rate you ask: :class:`VideoReader` over a video file or a folder of frames.

* A **video file** is anything OpenCV's FFmpeg back end decodes (mp4, mov, avi, webm, mkv...).
  Frames that are not sampled are only ``grab()``-ed (demuxed and decoded, never converted), so
  sampling every 6th frame costs little more than decoding.
* A **folder of frames** (``--frames DIR``) is read in file-name order (natural order:
  ``frame2`` before ``frame10``) at ``frames_fps`` frames per second (default 30) for the times.

Sampling (:class:`Sampling`): ``every`` N native frames, or ``fps`` F samples per second, and
``start``/``end`` in seconds. The default is :data:`DEFAULT_SAMPLE_FPS` samples per second (every
frame of a clip slower than that): the video pipeline runs at >= 15 sampled frames/s on two CPU
cores, so a one-minute clip takes under half a minute of CPU.

Errors are :class:`~xfer_keras.errors.VideoReadError` with the file name first: a missing file,
one OpenCV cannot open (corrupt, truncated before its index, not a video), a video with no
decodable frame, a folder without images, or a start past the end.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from xfer_keras.errors import VideoReadError

__all__ = ["list_frame_files", "DEFAULT_SAMPLE_FPS", "DEFAULT_FRAMES_FPS", "VIDEO_SUFFIXES", "FRAME_SUFFIXES",
           "Sampling", "VideoFrame", "VideoReader", "is_video_file"]

DEFAULT_SAMPLE_FPS = 5.0    # samples per second when neither --every nor --fps is given
DEFAULT_FRAMES_FPS = 30.0   # the clock of a folder of frames
FALLBACK_NATIVE_FPS = 25.0  # containers that do not say their rate (a note records it)
VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".avi", ".webm", ".mkv", ".mpg", ".mpeg", ".wmv",
                  ".flv", ".3gp", ".ogv", ".ts", ".mts"}
FRAME_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}


def is_video_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` has a video file suffix (the ``explain`` command routes on it)."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


@dataclass(frozen=True)
class Sampling:
    """Which frames to explain: ``every`` N native frames, or ``fps`` samples per second (not
    both; neither: :data:`DEFAULT_SAMPLE_FPS`), between ``start`` and ``end`` seconds."""

    every: int | None = None
    fps: float | None = None
    start: float | None = None
    end: float | None = None

    def __post_init__(self):
        if self.every is not None and self.fps is not None:
            raise ValueError("give --every or --fps, not both")
        if self.every is not None and int(self.every) < 1:
            raise ValueError(f"--every must be >= 1, got {self.every}")
        if self.fps is not None and not float(self.fps) > 0:
            raise ValueError(f"--fps must be > 0, got {self.fps}")
        if self.start is not None and float(self.start) < 0:
            raise ValueError(f"--start must be >= 0 seconds, got {self.start}")
        if self.end is not None and self.start is not None and float(self.end) <= float(self.start):
            raise ValueError(f"--end ({self.end}) must come after --start ({self.start})")

    def step(self, native_fps: float) -> float:
        """Native frames between two samples (>= 1; fractional for rates that do not divide)."""
        if self.every is not None:
            return float(self.every)
        rate = float(self.fps) if self.fps is not None else DEFAULT_SAMPLE_FPS
        return max(1.0, native_fps / rate)

    def sample_fps(self, native_fps: float) -> float:
        return native_fps / self.step(native_fps)

    def frame_range(self, native_fps: float, n_frames: int | None) -> tuple[int, int | None]:
        """First and one-past-last native frame index (``None``: to the end)."""
        first = int(math.ceil(float(self.start or 0.0) * native_fps - 1e-9))
        last = None
        if self.end is not None:
            last = int(math.floor(float(self.end) * native_fps + 1e-9)) + 1
        if n_frames is not None and n_frames > 0:
            last = n_frames if last is None else min(last, n_frames)
        return first, last


@dataclass
class VideoFrame:
    """One sampled frame: ``index`` in the native stream, ``time`` in seconds, uint8 RGB."""

    index: int
    time: float
    rgb: np.ndarray


def _natural_key(path: Path):
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def list_frame_files(folder: str | os.PathLike) -> list[Path]:
    """The image files of a frames folder in natural name order (``f2`` before ``f10``);
    ``VideoReadError`` when there are none."""
    folder = Path(folder)
    files = sorted((f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in FRAME_SUFFIXES),
                   key=_natural_key)
    if not files:
        raise VideoReadError(f"{folder}: no image frames in this folder")
    return files


class VideoReader:
    """A video file or a folder of frames, read lazily; reusable (each ``frames()`` re-opens).

    ``name`` is the clip's name for outputs (the file stem or the folder name). ``native_fps``,
    ``n_frames`` (None when the container does not say) and ``duration`` describe the stream;
    ``notes`` collect what a user should know (a guessed frame rate, decoding that stopped early).
    """

    def __init__(self, source: str | os.PathLike, frames_fps: float | None = None):
        self.path = Path(source)
        self.notes: list[str] = []
        if not self.path.exists():
            raise VideoReadError(f"{self.path}: not found (no such video file or frames folder)")
        self.is_folder = self.path.is_dir()
        self.name = self.path.name if self.is_folder else (self.path.stem or "video")
        if self.is_folder:
            self._files = list_frame_files(self.path)
            self.native_fps = float(frames_fps or DEFAULT_FRAMES_FPS)
            self.n_frames: int | None = len(self._files)
            first = self._rgb_file(self._files[0])
        else:
            capture = self._open()
            try:
                fps = float(capture.get(_cv2().CAP_PROP_FPS) or 0.0)
                count = int(capture.get(_cv2().CAP_PROP_FRAME_COUNT) or 0)
                ok, bgr = capture.read()
            finally:
                capture.release()
            if not ok or bgr is None:
                raise VideoReadError(f"{self.path}: no frame could be decoded (corrupt or truncated video?)")
            if not (fps > 0 and math.isfinite(fps)) or fps > 1000:
                self.notes.append(f"the container gives no frame rate; assumed {FALLBACK_NATIVE_FPS:g} fps")
                fps = FALLBACK_NATIVE_FPS
            self.native_fps = fps
            self.n_frames = count if count > 0 else None
            first = bgr
        self.frame_size = (int(first.shape[1]), int(first.shape[0]))  # (W, H)

    # ------------------------------------------------------------------ description
    @property
    def duration(self) -> float | None:
        return None if self.n_frames is None else self.n_frames / self.native_fps

    def expected_samples(self, sampling: Sampling) -> int | None:
        """How many frames :meth:`frames` will yield (for a progress bar; None when unknown)."""
        first, last = sampling.frame_range(self.native_fps, self.n_frames)
        if last is None:
            return None
        return max(0, int(math.ceil((last - first) / sampling.step(self.native_fps) - 1e-9)))

    def __repr__(self) -> str:
        return (f"VideoReader({str(self.path)!r}, {self.native_fps:g} fps, "
                f"{self.n_frames if self.n_frames is not None else '?'} frames)")

    # ------------------------------------------------------------------ reading
    def frames(self, sampling: Sampling | None = None) -> Iterator[VideoFrame]:
        """Yield the sampled frames in order (see :class:`Sampling`)."""
        sampling = sampling or Sampling()
        first, last = sampling.frame_range(self.native_fps, self.n_frames)
        if self.n_frames is not None and first >= self.n_frames:
            raise VideoReadError(f"{self.path}: --start {sampling.start:g} s is past the end "
                                 f"({self.duration:.2f} s)")
        step = sampling.step(self.native_fps)
        wanted = _Schedule(first, step)
        if self.is_folder:
            stop = len(self._files) if last is None else last
            index = wanted.next
            while index < stop:
                try:
                    rgb = self._rgb_file(self._files[index])
                except VideoReadError as error:  # one bad frame file is skipped, not fatal
                    self.notes.append(f"skipped an unreadable frame: {error}")
                else:
                    yield VideoFrame(index, index / self.native_fps, rgb)
                index = wanted.advance()
            return
        yield from self._video_frames(wanted, last)

    def read(self, indices) -> dict[int, np.ndarray]:
        """RGB frames at the given native indices (for the key frames' figures)."""
        wanted = sorted(set(int(i) for i in indices))
        if not wanted:
            return {}
        if self.is_folder:
            return {i: self._rgb_file(self._files[i]) for i in wanted}
        cv2 = _cv2()
        out, capture = {}, self._open()
        try:
            position = 0
            for index in wanted:
                if index < position or index - position > 100:  # far ahead: seek
                    capture.set(cv2.CAP_PROP_POS_FRAMES, index)
                    position = int(capture.get(cv2.CAP_PROP_POS_FRAMES))
                while position < index and capture.grab():
                    position += 1
                ok, bgr = capture.read()
                position += 1
                if ok and bgr is not None:
                    out[index] = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        finally:
            capture.release()
        return out

    # ------------------------------------------------------------------ internals
    def _open(self):
        cv2 = _cv2()
        capture = cv2.VideoCapture(str(self.path))
        if not capture.isOpened():
            capture.release()
            raise VideoReadError(f"{self.path}: cannot open as a video (corrupt, truncated or not a "
                                 "format OpenCV/FFmpeg decodes)")
        return capture

    def _video_frames(self, wanted: "_Schedule", last: int | None) -> Iterator[VideoFrame]:
        cv2 = _cv2()
        capture = self._open()
        try:
            position = 0
            if wanted.next > 0:
                capture.set(cv2.CAP_PROP_POS_FRAMES, wanted.next)
                position = int(capture.get(cv2.CAP_PROP_POS_FRAMES) or 0)
            yielded = 0
            while last is None or position < last:
                if position < wanted.next:
                    if not capture.grab():
                        break
                    position += 1
                    continue
                ok, bgr = capture.read()
                if not ok or bgr is None:
                    break
                rgb = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
                yield VideoFrame(position, position / self.native_fps, rgb)
                yielded += 1
                position += 1
                wanted.advance()
            expected_end = last if last is not None else self.n_frames
            if expected_end is not None and position < expected_end - 1:
                self.notes.append(f"decoding stopped at frame {position} of {expected_end} "
                                  "(truncated or damaged video?)")
            if yielded == 0:
                raise VideoReadError(f"{self.path}: no frame could be decoded in the chosen range")
        finally:
            capture.release()

    def _rgb_file(self, path: Path) -> np.ndarray:
        from xfer_keras.errors import ImageReadError
        from xfer_keras.face.image import load_image

        try:
            return load_image(path)
        except ImageReadError as error:
            raise VideoReadError(f"{self.path}: frame {error}") from error


class _Schedule:
    """Native indices to sample: ``first``, ``first + step``, ... rounded to whole frames."""

    def __init__(self, first: int, step: float):
        self.first, self.step, self.k = int(first), float(step), 0
        self.next = self.first

    def advance(self) -> int:
        previous = self.next
        while self.next <= previous:
            self.k += 1
            self.next = self.first + int(round(self.k * self.step))
        return self.next


def _cv2():
    import cv2

    return cv2
