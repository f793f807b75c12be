"""Label-free blur estimation: planted sigmas are recovered, and the shared FER2013 copy's
blurred train/ against its sharp test/ gives the sigma the default model is fed with."""

import cv2
import numpy as np
import pytest

from xfer_keras.data.blur import estimate_relative_blur, gradient_energy, mean_power_spectrum
from xfer_keras.errors import InputShapeError


def natural_images(n=300, size=48, seed=0):
    """Random images with a 1/f amplitude spectrum (the statistics of natural images)."""
    rng = np.random.default_rng(seed)
    f = np.fft.fftfreq(size)
    radius = np.hypot(*np.meshgrid(f, f))
    radius[0, 0] = 1.0
    spectrum = (rng.normal(size=(n, size, size)) + 1j * rng.normal(size=(n, size, size))) / radius
    images = np.fft.ifft2(spectrum).real
    images = (images - images.mean(axis=(1, 2), keepdims=True)) / images.std(axis=(1, 2),
                                                                               keepdims=True)
    return np.clip(128 + 40 * images, 0, 255).astype(np.uint8)


def blur_and_jpeg(images, sigma, quality=90):
    out = []
    for im in images:
        blurred = cv2.GaussianBlur(im.astype(np.float32), (0, 0), sigma)
        blurred = np.clip(np.round(blurred), 0, 255).astype(np.uint8)
        out.append(cv2.imdecode(cv2.imencode(".jpg", blurred, [cv2.IMWRITE_JPEG_QUALITY,
                                                               quality])[1], 0))
    return np.stack(out)


@pytest.mark.parametrize("sigma", [1.5, 3.0])
def test_planted_blur_is_recovered(sigma):
    sharp = natural_images(seed=1)
    blurred = blur_and_jpeg(natural_images(seed=2), sigma)  # other images, same statistics
    estimate = estimate_relative_blur(sharp, blurred)
    assert estimate.sigma == pytest.approx(sigma, abs=0.15)
    assert estimate.residual < 0.2


def test_same_sharpness_gives_no_blur_and_order_matters():
    a, b = natural_images(seed=3), natural_images(seed=4)
    assert estimate_relative_blur(a, b).sigma < 0.4
    blurred = blur_and_jpeg(b, 2.0)
    assert estimate_relative_blur(blurred, a).sigma < 0.4  # the sharp set is not "blurrier"
    assert gradient_energy(blurred) < 0.5 * gradient_energy(a)


def test_colour_and_size_are_normalised():
    gray = natural_images(n=50, size=96, seed=5)
    rgb = np.repeat(gray[..., None], 3, axis=-1)
    np.testing.assert_allclose(mean_power_spectrum(rgb, 48), mean_power_spectrum(gray, 48),
                               rtol=1e-4)
    assert mean_power_spectrum(gray, 48).shape == (48, 48)


def test_bad_input_is_a_typed_error():
    with pytest.raises(InputShapeError):
        mean_power_spectrum(np.zeros((0, 48, 48)))
    with pytest.raises(InputShapeError):
        mean_power_spectrum(np.zeros(48))
    with pytest.raises(ValueError):
        estimate_relative_blur(natural_images(n=20), np.full((20, 48, 48), 7, np.uint8))


def test_fer2013_train_copy_is_blurred_against_test(fer2013_dir):
    """The shared ``fer2013/train`` copy: a Gaussian of sigma ~3.3 px at 48 px explains the
    train/test spectra (residual small), the case the training script's blur check warns about;
    the sharp copy the default model trains on (``fer2013_sharp``) measures below 1 px."""
    def sample(split, n=600, root=fer2013_dir):
        files = sorted((root / split).glob("*/*.jpg"))
        pick = np.random.default_rng(0).choice(len(files), n, replace=False)
        return np.stack([cv2.imread(str(files[i]), cv2.IMREAD_GRAYSCALE) for i in pick])

    train, test = sample("train"), sample("test")
    estimate = estimate_relative_blur(test, train)
    assert 2.8 <= estimate.sigma <= 3.8
    assert estimate.residual < 0.15
    assert gradient_energy(train) < 0.4 * gradient_energy(test)
    assert estimate_relative_blur(train, test).sigma < 0.4
    sharp_root = fer2013_dir.parent / "fer2013_sharp"
    if sharp_root.is_dir():
        assert estimate_relative_blur(test, sample("train", root=sharp_root)).sigma < 1.0


def test_match_input_blur_scales_to_the_model_input():
    """The sigma is measured at the images' size and set at the model's (64 px here)."""
    from xfer_keras.models.classifier import EmotionClassifier
    from xfer_keras.models.registry import create
    from xfer_keras.training.adaptation import match_input_blur

    clf = EmotionClassifier(create("tiny_bam", input_size=64), {"input_size": 64})
    record = match_input_blur(clf, blur_and_jpeg(natural_images(seed=6), 1.5),
                              natural_images(seed=7))
    assert record["measured_at"] == 48 and record["sigma"] == pytest.approx(1.5, abs=0.15)
    assert clf.config.input_blur == pytest.approx(record["sigma"] * 64 / 48, abs=0.01)
