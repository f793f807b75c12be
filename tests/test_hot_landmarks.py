"""Hot landmarks: threshold mean + k*std over the face region, hot/cold overlay."""

import numpy as np
import pytest

from xfer_keras.errors import InputShapeError
from xfer_keras.xfera.hot_landmarks import (
    COLD_COLOR, HOT_COLOR, align_heatmap, face_region_mask, find_hot_landmarks, landmark_overlay,
    sample_heatmap,
)


def _grid_landmarks(n=68, size=64):
    rng = np.random.default_rng(0)
    return rng.uniform(8, size - 8, size=(n, 2)).astype(np.float32)


def test_threshold_is_mean_plus_k_std_over_region_and_hot_set():
    size = 64
    landmarks = _grid_landmarks(size=size)
    heat = np.zeros((size, size), np.float32)
    heat[40:, :] = 1.0  # lower part of the face is hot
    for region in ("hull", "box", "all"):
        for k in (0.0, 1.0, 2.0):
            result = find_hot_landmarks(heat, landmarks, k=k, region=region)
            mask = face_region_mask(landmarks, heat.shape, region)
            values = heat[mask]
            assert result.threshold == pytest.approx(values.mean() + k * values.std(), abs=1e-6)
            expected = [i for i, (x, y) in enumerate(landmarks)
                        if heat[int(round(y)), int(round(x))] >= result.threshold]
            assert result.indices == expected
    result = find_hot_landmarks(heat, landmarks)
    assert result.indices == [i for i, (x, y) in enumerate(landmarks) if round(y) >= 40]
    assert set(result.indices).isdisjoint(result.cold_indices)
    assert result.to_dict()["hot_landmarks"] == result.indices


def test_flat_heatmap_has_no_hot_landmark_and_outside_landmarks_are_cold():
    landmarks = _grid_landmarks()
    assert find_hot_landmarks(np.full((64, 64), 0.7), landmarks).indices == []
    heat = np.ones((64, 64), np.float32)
    heat[:4] = 0
    out = landmarks.copy()
    out[0] = (-5, 10)
    out[1] = (200, 10)
    out[2] = (np.nan, np.nan)
    values, inside = sample_heatmap(heat, out)
    assert not inside[:3].any() and values[:3].tolist() == [0, 0, 0]
    result = find_hot_landmarks(heat, out, region="all")
    assert 0 not in result.indices and 1 not in result.indices and 2 not in result.indices


def test_heatmap_aligned_to_crop_resolution():
    small = np.zeros((7, 7), np.float32)
    small[5:, :] = 1
    aligned = align_heatmap(small, (224, 224))
    assert aligned.shape == (224, 224) and aligned.dtype == np.float32
    assert 0 <= aligned.min() and aligned.max() <= 1
    landmarks = np.array([[112, 20], [112, 210]], np.float32)
    result = find_hot_landmarks(small, landmarks, region="all", crop_shape=(224, 224))
    assert result.indices == [1]
    with pytest.raises(InputShapeError):
        align_heatmap(np.zeros((2, 3, 4)), (8, 8))
    with pytest.raises(InputShapeError):
        find_hot_landmarks(np.zeros((8, 8)), np.zeros((5, 3)))


def test_overlay_draws_hot_red_and_cold_blue():
    image = np.full((64, 64, 3), 128, np.uint8)
    landmarks = np.array([[10, 10], [50, 50]], np.float32)
    out = landmark_overlay(image, landmarks, np.array([True, False]), radius=2)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert tuple(out[10, 10]) == HOT_COLOR and tuple(out[50, 50]) == COLD_COLOR
    assert tuple(out[30, 30]) == (128, 128, 128)
    gray = landmark_overlay(np.zeros((64, 64), np.uint8), landmarks, [False, False],
                            heatmap=np.zeros((8, 8)))
    assert gray.shape == (64, 64, 3)
