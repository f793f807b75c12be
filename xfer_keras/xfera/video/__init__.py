"""XFERa on videos: every sampled frame explained, smoothed into a timeline of segments.

    from xfer_keras.xfera import XferaPipeline
    with XferaPipeline() as pipe:
        video = pipe.explain_video("clip.mp4", fps=5)       # VideoExplanation
    video.frames                                             # pandas DataFrame, one row per frame
    video.segments[-1].emotion, video.segments[-1].narration
    video.save("outputs/explain/clip")                       # frames.csv, timeline.png, ...

Modules: :mod:`~xfer_keras.xfera.video.timeline` (smoothing, segments),
:mod:`~xfer_keras.xfera.video.result` (:class:`VideoExplanation`),
:mod:`~xfer_keras.xfera.video.plot` (timeline.png), :mod:`~xfer_keras.xfera.video.report`
(HTML), :mod:`~xfer_keras.xfera.video.explain` (the driver). Frames come from
:mod:`xfer_keras.video`. Importing this package imports no TensorFlow.
"""

from xfer_keras.xfera.video.result import VideoExplanation
from xfer_keras.xfera.video.timeline import (DEFAULT_SMOOTH_S, Segment, find_segments,
                                             smooth_probabilities)

__all__ = ["VideoExplanation", "DEFAULT_SMOOTH_S", "Segment", "find_segments",
           "smooth_probabilities"]
