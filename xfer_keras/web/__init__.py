"""The local web app (``python -m xfer_keras serve``): drop a photo or a clip, see the
explanation. :mod:`~xfer_keras.web.app` (routes), :mod:`~xfer_keras.web.service` (the shared
pipelines), :mod:`~xfer_keras.web.uploads` (limits, kinds, temporary files) and
:mod:`~xfer_keras.web.page` (the page)."""
