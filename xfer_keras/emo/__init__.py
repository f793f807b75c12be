"""The EMO nets (method 2): a clip of a face -> landmark motion -> six binary nets -> why (IG).

    from xfer_keras.emo import EmoPipeline
    with EmoPipeline() as pipe:                   # the shipped nets (models.emo_set)
        result = pipe.explain("clip.mp4")         # EmoResult: to_json / to_dataframe / to_html

Modules: :mod:`~xfer_keras.emo.pipeline` (the driver), :mod:`~xfer_keras.emo.result` (the result
object), :mod:`~xfer_keras.emo.clip` (clips and the neutral -> peak segmenter),
:mod:`~xfer_keras.emo.regions` (landmarks -> facial regions in words) and
:mod:`~xfer_keras.emo.plots` (the papers' figures). The names below load on first use.
"""

from xfer_keras.lazy import lazy_exports

_LAZY = {"EmoPipeline": "xfer_keras.emo.pipeline", "EmoResult": "xfer_keras.emo.result",
         "NO_CLEAR_EMOTION": "xfer_keras.emo.result"}

__all__ = list(_LAZY)
__getattr__ = lazy_exports(__name__, _LAZY)
