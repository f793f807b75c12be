"""Videos and folders of frames: sampling, face tracking, smoothing, segments, reports.

    from xfer_keras.pipeline import XferaPipeline
    with XferaPipeline() as pipe:
        video = pipe.explain_video("clip.mp4", fps=5)       # VideoExplanation
    video.frames                                             # pandas DataFrame, one row per frame
    video.segments[-1].emotion, video.segments[-1].narration
    video.save("outputs/explain/clip")                       # frames.csv, timeline.png, ...

Modules: :mod:`~xfer_keras.video.reader` (frames at a sampling rate, typed errors),
:mod:`~xfer_keras.video.tracking` (IoU tracker), :mod:`~xfer_keras.video.timeline` (smoothing,
segments), :mod:`~xfer_keras.video.result` (:class:`VideoExplanation`),
:mod:`~xfer_keras.video.plot` (timeline.png), :mod:`~xfer_keras.video.report` (HTML),
:mod:`~xfer_keras.video.explain` (the driver). Importing this package imports no TensorFlow.
"""

from xfer_keras.errors import VideoReadError
from xfer_keras.video.reader import (DEFAULT_SAMPLE_FPS, VIDEO_SUFFIXES, Sampling, VideoFrame,
                                     VideoReader, is_video_file)
from xfer_keras.video.result import VideoExplanation
from xfer_keras.video.timeline import DEFAULT_SMOOTH_S, Segment, find_segments, smooth_probabilities
from xfer_keras.video.tracking import FaceTracker

__all__ = ["VideoReadError", "DEFAULT_SAMPLE_FPS", "VIDEO_SUFFIXES", "Sampling", "VideoFrame",
           "VideoReader", "is_video_file", "VideoExplanation", "DEFAULT_SMOOTH_S", "Segment",
           "find_segments", "smooth_probabilities", "FaceTracker"]
