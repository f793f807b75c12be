"""XFERa (method 1): face image -> emotion -> Grad-CAM -> hot landmarks -> Action Units -> text.

    from xfer_keras.xfera import XferaPipeline
    with XferaPipeline() as pipe:
        exp = pipe.explain("face.jpg")        # Explanation: to_json / to_dataframe / to_html

Modules: :mod:`~xfer_keras.xfera.pipeline` (the driver), :mod:`~xfer_keras.xfera.explanation`
(the result object), :mod:`~xfer_keras.xfera.hot_landmarks`, :mod:`~xfer_keras.xfera.facs`
(Table 2), :mod:`~xfer_keras.xfera.aus` (AU sources), :mod:`~xfer_keras.xfera.fusion`
(Algorithm 1), :mod:`~xfer_keras.xfera.report` (panel, HTML) and :mod:`~xfer_keras.xfera.video`.
The names below load on first use, so importing a submodule stays light.
"""

from xfer_keras.lazy import lazy_exports

_LAZY = {"XferaPipeline": "xfer_keras.xfera.pipeline",
         "Explanation": "xfer_keras.xfera.explanation",
         "VideoExplanation": "xfer_keras.xfera.video.result"}

__all__ = list(_LAZY)
__getattr__ = lazy_exports(__name__, _LAZY)
