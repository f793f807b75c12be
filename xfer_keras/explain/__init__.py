"""Model-agnostic attribution: Integrated Gradients (local and global), Grad-CAM engines, scores.

Import from the submodules (``xfer_keras.explain.integrated_gradients``, ``...global_ig``,
``...gradcam``). Method-specific steps (hot landmarks, AUs, fusion) are in :mod:`xfer_keras.xfera`.
"""
