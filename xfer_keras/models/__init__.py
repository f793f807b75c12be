"""Models: EMO nets (landmark sequences) and the BAM image classifiers, with a registry.

Import from the submodules (``xfer_keras.models.emo_net``, ``...bam``, ``...registry``).
"""
