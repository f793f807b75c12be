"""How much blurrier one image set is than another, measured without labels.

The shared FER2013 copy has a blurred ``train/`` and a sharp ``test/``. A model trained on blurred
faces fails on sharp ones (0.197 accuracy) unless its inputs are blurred the same way, so the
classifier config carries an ``input_blur`` sigma. This module measures that sigma from pixels
alone: if ``blurred = sharp * Gaussian(sigma)``, the ratio of the two sets' mean power spectra is
``exp(-(2 pi f sigma)^2)`` at spatial frequency ``f`` (cycles per pixel), so ``-ln(ratio)`` is a
line in ``(2 pi f)^2`` whose slope is ``sigma^2``. Frequencies where the blurred set is down at its
noise floor (JPEG quantisation) carry no signal: the fit stops at the first band whose ratio is
below ``min_ratio``.

The sharp reference need not be the test set: any sharp face crops at the same size will do
(``scripts/train_default_model.py`` uses CK+48), so no test image is looked at.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from xfer_keras.errors import InputShapeError


def _gray_stack(images, size: int | None) -> np.ndarray:
    """``(N, H, W[, C])`` images -> float32 ``(N, size, size)`` gray."""
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 4:  # BT.601 luma for colour, the only channel for gray
        luma = np.array([0.299, 0.587, 0.114], np.float32)
        x = x[..., :3] @ luma if x.shape[-1] >= 3 else x[..., 0]
    if x.ndim != 3 or len(x) == 0:
        raise InputShapeError(f"images must be a non-empty (N, H, W[, C]) stack, got {x.shape}")
    if size is not None and x.shape[1:] != (size, size):
        import cv2

        interp = cv2.INTER_AREA if x.shape[1] > size else cv2.INTER_LINEAR
        x = np.stack([cv2.resize(im, (size, size), interpolation=interp) for im in x])
    return x


def mean_power_spectrum(images, size: int | None = None) -> np.ndarray:
    """Mean ``|FFT|^2`` of the gray images after removing each one's mean and applying a Hann
    window (so the image border does not leak power into every frequency)."""
    x = _gray_stack(images, size)
    x = x - x.mean(axis=(1, 2), keepdims=True)
    window = np.outer(np.hanning(x.shape[1]), np.hanning(x.shape[2])).astype(np.float32)
    return (np.abs(np.fft.fft2(x * window)) ** 2).mean(axis=0)


@dataclasses.dataclass
class BlurEstimate:
    """Result of :func:`estimate_relative_blur`: ``sigma`` in pixels at ``size``."""

    sigma: float
    size: int
    frequencies: np.ndarray  # radial bin centres used in the fit (cycles / pixel)
    ratios: np.ndarray  # blurred / sharp mean power in those bins
    residual: float  # RMS log-power misfit at sigma: small = a Gaussian explains the loss

    def per_bin_sigma(self) -> np.ndarray:
        """The closed-form sigma of each ring, a diagnostic: a flat profile means a Gaussian blur
        (the window biases it low, e.g. a planted 3.0 reads ~2.7; ``sigma`` has no such bias)."""
        return np.sqrt(np.maximum(-np.log(self.ratios), 0.0)) / (2 * np.pi * self.frequencies)


def _radial_profile(power: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean power in ``bins`` rings from 0 to 0.5 cycles/pixel (DC left out): (centres, means)."""
    size = power.shape[0]
    f = np.fft.fftfreq(size)
    radius = np.hypot(*np.meshgrid(f, f))
    edges = np.linspace(0.0, 0.5, bins + 1)
    centres, means = [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        ring = (radius >= max(lo, 1e-9)) & (radius < hi)
        if ring.any():
            centres.append(radius[ring].mean())
            means.append(power[ring].mean())
    return np.asarray(centres), np.asarray(means)


def gaussian_blur(images: np.ndarray, sigma: float) -> np.ndarray:
    """Each image of ``(N, H, W[, C])`` blurred by a Gaussian of ``sigma`` pixels: the operator
    the estimate below is fitted in and the classifier's ``input_blur`` applies."""
    import cv2

    if sigma <= 0:
        return images
    return np.stack([cv2.GaussianBlur(im, (0, 0), sigma).reshape(im.shape) for im in images])


def estimate_relative_blur(sharp, blurred, size: int = 48, bins: int = 24,
                           min_ratio: float = 3e-3, max_sigma: float = 8.0,
                           max_images: int = 512, seed: int = 0) -> BlurEstimate:
    """The Gaussian sigma (pixels at ``size``) that turns ``sharp``'s spectrum into ``blurred``'s.

    Forward model, not a formula: ``sharp`` is blurred with candidate sigmas and its mean radial
    power spectrum compared (in log units) with ``blurred``'s over the band above the noise
    floor; both sides go through the same window and rings, so their biases cancel. At most
    ``max_images`` sharp images (a seeded sample) are blurred per candidate. Resolution ~0.02 px;
    sets that differ by less than ~0.3 px are hard to tell apart. Returns sigma 0 when
    ``blurred`` is not blurrier. Raises ``ValueError`` when no band carries signal.
    """
    sharp_x = _gray_stack(sharp, size)
    if len(sharp_x) > max_images:
        pick = np.random.default_rng(seed).choice(len(sharp_x), max_images, replace=False)
        sharp_x = sharp_x[np.sort(pick)]
    centres, p_blur = _radial_profile(mean_power_spectrum(blurred, size), bins)
    _, p_sharp = _radial_profile(mean_power_spectrum(sharp_x), bins)
    if (p_sharp <= 0).any() or (p_blur <= 0).any():
        raise ValueError("an image set has no power in some band (constant images?)")
    ratios = p_blur / p_sharp
    # the band from the lowest frequency up to the first ring at the noise floor: above it the
    # ratio climbs again (noise over a vanishing sharp spectrum) and says nothing about blur
    below = np.flatnonzero(ratios < min_ratio)
    use = np.arange(len(ratios)) < (below[0] if len(below) else len(ratios))
    if use.sum() < 2:
        raise ValueError("fewer than two frequency bands above the noise floor: cannot "
                         "estimate blur")
    target = np.log(p_blur[use])

    def misfit(sigma: float) -> float:
        _, simulated = _radial_profile(mean_power_spectrum(gaussian_blur(sharp_x, sigma)), bins)
        return float(np.sqrt(np.mean((np.log(simulated[use]) - target) ** 2)))

    sigma, step = 0.0, 0.5
    grid = np.arange(0.0, max_sigma + 1e-9, step)
    for _ in range(3):  # coarse to fine: 0.5, 0.1, 0.02 px
        errors = [misfit(float(s)) for s in grid]
        sigma = float(grid[int(np.argmin(errors))])
        grid = np.arange(max(0.0, sigma - step), sigma + step + 1e-9, step / 5)
        step /= 5
    return BlurEstimate(sigma=round(sigma, 2), size=size, frequencies=centres[use], ratios=ratios[use],
                        residual=float(min(errors)))


def gradient_energy(images, size: int | None = None) -> float:
    """Mean absolute horizontal gradient (grey levels per pixel): a quick sharpness figure."""
    x = _gray_stack(images, size)
    return float(np.abs(np.diff(x, axis=2)).mean())
