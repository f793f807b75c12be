"""Explain a video: sample frames, track faces, explain them in batches, smooth, segment.

:func:`explain_video` is what :meth:`XferaPipeline.explain_video` and ``python -m xfer_keras
explain clip.mp4`` run. Per sampled frame it detects every face with the pipeline's detector (dlib
HOG on the fast 320-pixel copy, MediaPipe's face detector when HOG finds nothing), gives each a
track id (:class:`~xfer_keras.video.tracking.FaceTracker`), and queues the main face
(``faces="largest"``) or every face (``"all"``); queued faces go through
:meth:`XferaPipeline.explain_many` ``batch_size`` at a time with the boxes already found, so the
image pipeline runs unchanged (classification and Grad-CAM batched, the AU source per face).
Decoding and detection run one thread ahead of the model (a bounded queue), so they overlap
the batched classification and Grad-CAM. A frame without the face is a ``no_face`` row. At the end the probabilities are smoothed
(:mod:`xfer_keras.xfera.video.timeline`), cut into segments, and the key frames of the longest segments
are explained once more with their arrays (crop, Grad-CAM) for the report's panels; only those
frames are decoded again, so memory does not grow with the clip's length.
"""

from __future__ import annotations

import sys
import time

from xfer_keras.blas import one_blas_thread
from xfer_keras.emotions import canonical_emotion
from xfer_keras.errors import NoFaceError, OptionError, XferError
from xfer_keras.video.reader import Sampling, VideoReader
from xfer_keras.xfera.video.result import MAX_KEY_FRAMES, VideoExplanation
from xfer_keras.xfera.video.timeline import (DEFAULT_MIN_SEGMENT_FRAMES, DEFAULT_SMOOTH_S, find_segments,
                                       smooth_probabilities, window_frames)
from xfer_keras.video.tracking import DEFAULT_MAX_MISSED, FaceTracker

__all__ = ["explain_video", "FACE_POLICIES"]

FACE_POLICIES = ("largest", "all")  #: which faces are explained, for images and videos alike
_DROP = ("image", "narrator", "au_source")  # the same on every row: kept once in summary.json


def explain_video(pipeline, source, sampling: Sampling | None = None, faces: str = "largest",
                  smooth_s: float = DEFAULT_SMOOTH_S, min_segment_frames: int = DEFAULT_MIN_SEGMENT_FRAMES,
                  batch_size: int = 16, frames_fps: float | None = None,
                  max_missed: int = DEFAULT_MAX_MISSED, key_frames: int = MAX_KEY_FRAMES,
                  progress: bool | None = None) -> VideoExplanation:
    """Explain the faces of a video file or a folder of frames (see the module doc).

    ``sampling``: which frames (:class:`~xfer_keras.video.reader.Sampling`; default 5 per
    second). ``faces``: ``"largest"`` (follow the main face) or ``"all"`` (every tracked face).
    ``smooth_s``: the smoothing window in seconds (0: none). ``progress``: a tqdm bar on stderr
    (default: when stderr is a terminal). Raises :class:`~xfer_keras.errors.VideoReadError`
    (unreadable video) and :class:`~xfer_keras.errors.NoFaceError` (no face in any sampled frame).
    """
    import pandas as pd

    if faces not in FACE_POLICIES:
        raise OptionError(f"faces must be one of {FACE_POLICIES}, got {faces!r}")
    sampling = sampling or Sampling()
    started = time.perf_counter()
    reader = VideoReader(source, frames_fps=frames_fps)
    tracker = FaceTracker(max_missed=max_missed)
    classes = [canonical_emotion(c) for c in pipeline.classifier.class_names]
    rows: list[dict] = []
    found: dict[tuple[int, int], object] = {}   # (frame, face_id) -> Face, for the key frames
    pending: list[tuple[dict, object, object]] = []
    timings = {"decode": 0.0, "detect": 0.0, "track": 0.0, "explain": 0.0}
    meta: dict[str, str | None] = {}
    stage_sums: dict[str, float] = {}   # pipeline stage -> seconds summed over explained faces
    bar = _progress_bar(reader, sampling, progress)

    def flush():
        if not pending:
            return
        t0 = time.perf_counter()
        results = pipeline.explain_many([rgb for _, rgb, _ in pending],
                                        names=[_frame_name(reader, base) for base, _, _ in pending],
                                        batch_size=batch_size, given_faces=[f for _, _, f in pending])
        timings["explain"] += time.perf_counter() - t0
        for (base, _, face), result in zip(pending, results):
            if isinstance(result, XferError):
                rows.append({**base, "status": "no_face", "note": str(result)})
                continue
            for stage, seconds in result.timings.items():
                stage_sums[stage] = stage_sums.get(stage, 0.0) + float(seconds)
            meta.setdefault("narrator", result.narrator)
            meta.setdefault("au_source", result.au_source)
            row = {k: v for k, v in result.to_row().items() if k not in _DROP}
            rows.append({**base, "status": "ok", **row})
        pending.clear()

    detected_frames = _detect_ahead(reader, sampling, pipeline.detector, lookahead=2 * batch_size)
    for sample, (frame, detected, t_decode, t_detect) in enumerate(detected_frames):
        t0 = time.perf_counter()
        timings["decode"] += t_decode
        timings["detect"] += t_detect
        boxes = [f.box for f in detected]
        ids = tracker.update(boxes)
        if faces == "largest":
            main = tracker.main(boxes, ids)
            chosen = [] if main is None else [(detected[main], ids[main])]
        else:
            chosen = list(zip(detected, ids))
        timings["track"] += time.perf_counter() - t0
        base = {"sample": sample, "frame": frame.index, "time": round(frame.time, 4)}
        if not chosen:
            rows.append({**base, "face_id": -1, "status": "no_face"})
        for face, face_id in chosen:
            found[(frame.index, face_id)] = face
            x0, y0, x1, y1 = face.box
            pending.append(({**base, "face_id": face_id, "detector": face.detector, "box_x0": x0,
                             "box_y0": y0, "box_x1": x1, "box_y1": y1}, frame.rgb, face))
        if len(pending) >= batch_size:
            flush()
        if bar is not None:
            bar.update(1)
    flush()
    if bar is not None:
        bar.close()

    table = pd.DataFrame(rows)
    table = table.sort_values(["sample", "face_id"], kind="stable").reset_index(drop=True)
    if not (table["status"] == "ok").any():
        raise NoFaceError(f"{reader.path}: no face found in any of the {table['sample'].nunique()} "
                          "sampled frames")
    sample_fps = sampling.sample_fps(reader.native_fps)
    window = window_frames(smooth_s, sample_fps)
    table = smooth_probabilities(_ordered_columns(table, classes), classes, window)
    segments = find_segments(table, min_frames=min_segment_frames)
    video = VideoExplanation(
        source=str(source), name=reader.name, classes=classes, frames=table, segments=segments,
        native_fps=reader.native_fps, sample_fps=sample_fps,
        settings={"every": sampling.every, "fps": sampling.fps, "start": sampling.start,
                  "end": sampling.end, "faces": faces, "smooth_s": smooth_s, "smooth_frames": window,
                  "min_segment_frames": min_segment_frames, "max_missed": max_missed,
                  "batch_size": batch_size},
        notes=list(reader.notes), model=pipeline.model_name,
        au_source=meta.get("au_source"), narrator=meta.get("narrator"),
    )
    t0 = time.perf_counter()
    _explain_key_frames(pipeline, reader, video, found, key_frames)
    timings["key_frames"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - started
    video.timings = timings
    n_ok = int((table["status"] == "ok").sum())
    video.stage_ms = {k: 1e3 * v / n_ok for k, v in stage_sums.items()}
    return video


def _detect_ahead(reader: VideoReader, sampling: Sampling, detector, lookahead: int):
    """``(frame, faces, decode s, detect s)`` per sampled frame, decoded and detected on a
    background thread up to ``lookahead`` frames ahead, so that decoding and detection overlap
    the batched model run on the calling thread (OpenCV, dlib and MediaPipe release the GIL).
    The detector is used by that thread only; errors (VideoReadError) re-raise here."""
    import queue
    import threading

    items: queue.Queue = queue.Queue(maxsize=max(1, lookahead))
    stop = threading.Event()
    done = object()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    @one_blas_thread()  # the grey conversion's BLAS call would otherwise spin a second core
    def produce():
        try:
            t_start = time.perf_counter()
            for frame in reader.frames(sampling):
                t0 = time.perf_counter()
                try:
                    faces = detector.detect(frame.rgb, source=_frame_name(reader, {"time": frame.time}),
                                            policy="all", exhaustive=False)
                except NoFaceError:
                    faces = []
                t1 = time.perf_counter()
                if not put((frame, faces, t0 - t_start, t1 - t0)):
                    return
                t_start = time.perf_counter()
            put(done)
        except BaseException as error:  # handed to the consumer, raised there
            put(error)

    worker = threading.Thread(target=produce, name="xfer-video-detect", daemon=True)
    worker.start()
    try:
        while True:
            item = items.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def _explain_key_frames(pipeline, reader, video: VideoExplanation, found, limit: int) -> None:
    """Full explanations (with crop and Grad-CAM arrays) of the report's key frames."""
    chosen = video.key_frames(limit)
    images = reader.read([s.key_frame for s in chosen])
    todo = [(s, images[s.key_frame]) for s in chosen if s.key_frame in images]
    if not todo:
        return
    results = pipeline.explain_many([rgb for _, rgb in todo],
                                    names=[_frame_name(reader, {"time": s.key_time}) for s, _ in todo],
                                    given_faces=[found[(s.key_frame, s.face_id)] for s, _ in todo])
    for (segment, _), result in zip(todo, results):
        if not isinstance(result, XferError):
            video.key_explanations[(segment.key_frame, segment.face_id)] = result


def _frame_name(reader: VideoReader, base: dict) -> str:
    return f"{reader.path.name}@{float(base['time']):.2f}s"


def _ordered_columns(table, classes):
    first = ["sample", "frame", "time", "face_id", "status", "detector",
             "box_x0", "box_y0", "box_x1", "box_y1", "emotion", "probability", "confidence_level"]
    for column in first + [f"p_{c}" for c in classes]:
        if column not in table.columns:
            table[column] = None
    table["face_id"] = table["face_id"].astype(int)
    rest = [c for c in table.columns if c not in first]
    return table[first + rest]


def _progress_bar(reader: VideoReader, sampling: Sampling, progress: bool | None):
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(total=reader.expected_samples(sampling), desc=reader.name, unit="frame",
                file=sys.stderr, leave=False)
