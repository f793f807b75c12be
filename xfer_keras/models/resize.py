"""Bilinear image resizing in NumPy, equal to ``tf.image.resize(..., "bilinear", antialias=...)``.

Why: the classifier resizes every face crop (224 px) to its input (48 px). Done by TensorFlow,
that one call would make TensorFlow a start-up cost of every command, even when the model runs
through LiteRT (:mod:`xfer_keras.explain.litert_gradcam`). Resizing is linear and separable, so
it is two small matrix products ``W_rows @ image @ W_cols.T``; the weights follow TensorFlow's
``ScaleAndTranslate`` kernel (``scale_and_translate_op.cc``: triangle kernel, sample points at
pixel centres, the kernel widened by the downscale factor when antialiasing, each output's
weights normalised to sum 1); equal to TensorFlow within float32 rounding (1e-4 on a 0-255
scale) with antialiasing and for enlargements. A plain (not antialiased) reduction is the same
half-pixel bilinear function, but TensorFlow's ``ResizeBilinear`` kernel computes it in
another order: up to 5e-3 apart (the classifier always antialiases when it shrinks).
``tests/test_resize.py`` checks all of these against TensorFlow.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=32)
def resize_weights(in_size: int, out_size: int, antialias: bool = True) -> np.ndarray:
    """``(out_size, in_size)`` float32 weights: output sample ``i`` is ``weights[i] @ input``."""
    if in_size < 1 or out_size < 1:
        raise ValueError(f"sizes must be positive, got {in_size} -> {out_size}")
    f32 = np.float32
    scale = f32(out_size) / f32(in_size)  # float32 arithmetic throughout, as TensorFlow's kernel
    inv_scale = f32(1.0) / scale
    kernel_scale = max(inv_scale, f32(1.0)) if antialias else f32(1.0)
    one_over_kernel_scale = f32(1.0) / kernel_scale
    radius = kernel_scale  # the triangle kernel's radius is 1
    weights = np.zeros((out_size, in_size), np.float32)
    for i in range(out_size):
        sample = (f32(i) + f32(0.5)) * inv_scale
        if sample < 0 or sample > in_size:
            continue
        start = int(np.clip(np.ceil(sample - radius - f32(0.5)), 0, in_size - 1))
        end = int(np.clip(np.floor(sample + radius - f32(0.5)), 0, in_size - 1)) + 1
        sources = np.arange(start, end, dtype=np.float32)
        w = np.maximum(f32(0.0), f32(1.0) - np.abs((sources + f32(0.5) - sample) * one_over_kernel_scale))
        total = f32(0.0)
        for value in w:  # summed in order, as the kernel does
            total = f32(total + value)
        if abs(total) >= 1000.0 * np.finfo(np.float32).tiny:
            w = w * (f32(1.0) / total)
        weights[i, start:end] = w
    weights.setflags(write=False)
    return weights


def resize_bilinear(images: np.ndarray, size: tuple[int, int], antialias: bool = True) -> np.ndarray:
    """``(N, H, W, C)`` float images -> ``(N, h, w, C)`` float32, as ``tf.image.resize``."""
    x = np.asarray(images, dtype=np.float32)
    if x.ndim != 4:
        raise ValueError(f"images must be (N, H, W, C), got shape {x.shape}")
    h, w = (int(v) for v in size)
    rows = resize_weights(x.shape[1], h, antialias)
    cols = resize_weights(x.shape[2], w, antialias)
    # rows first, then columns (TensorFlow's order); einsum keeps (N, h, w, C)
    out = np.einsum("ip,npqc->niqc", rows, x, optimize=True)
    out = np.einsum("jq,niqc->nijc", cols, out, optimize=True)
    return np.ascontiguousarray(out, dtype=np.float32)
