"""Frame sources shared by both methods: videos and folders of frames, sampling, face tracking.

Modules: :mod:`~xfer_keras.video.reader` (frames at a sampling rate, typed errors) and
:mod:`~xfer_keras.video.tracking` (IoU tracker). XFERa's video explanations are in
:mod:`xfer_keras.xfera.video`, the EMO nets' clips in :mod:`xfer_keras.emo.clip`. Importing this
package imports no TensorFlow.
"""

from xfer_keras.errors import VideoReadError
from xfer_keras.video.reader import (DEFAULT_SAMPLE_FPS, VIDEO_SUFFIXES, Sampling, VideoFrame,
                                     VideoReader, is_video_file)
from xfer_keras.video.tracking import FaceTracker

__all__ = ["VideoReadError", "DEFAULT_SAMPLE_FPS", "VIDEO_SUFFIXES", "Sampling", "VideoFrame",
           "VideoReader", "is_video_file", "FaceTracker"]
