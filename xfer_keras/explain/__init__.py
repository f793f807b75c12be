"""Explainers: Integrated Gradients (local and global), Grad-CAM, hot landmarks, AUs, fusion.

Import from the submodules (``xfer_keras.explain.integrated_gradients``, ``...gradcam``, ...).
"""
