"""Architectures and shipped artefacts: BAM image classifiers (registry, heads, the
:class:`~xfer_keras.models.classifier.EmotionClassifier`) and the EMO nets (``emo_net``, the
shipped set ``emo_set``).

Import from the submodules (``xfer_keras.models.emo_net``, ``...bam``, ``...registry``).
"""
