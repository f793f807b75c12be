"""Landmark cache: hits skip the detector, corrupt entries are recomputed, writes are atomic."""

import shutil
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from xfer_keras.data import LandmarkCache, extract_landmarks
from xfer_keras.errors import NoFaceError


class FakeDetector:
    """Stands in for LandmarkDetector("dlib"): 68 points derived from the image's mean value."""

    def __init__(self):
        self.calls = 0

    def detect_one(self, image, source=None):
        self.calls += 1
        value = float(image.mean())
        if value > 200:
            raise NoFaceError(f"no face in {source}")
        points = np.tile(np.arange(68, dtype=np.float32)[:, None], (1, 2)) + value
        return SimpleNamespace(landmarks=points, box=(1, 2, 30, 40), landmarks_z=None,
                               blendshapes=None)


@pytest.fixture
def frames(tmp_path):
    paths = []
    for i, value in enumerate([10, 20, 30, 250]):
        path = tmp_path / "img" / f"f{i}.png"
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(np.full((24, 32), value, np.uint8)).save(path)
        paths.append(path)
    return paths


def test_second_call_reads_the_cache(frames, tmp_path):
    cache = LandmarkCache("dlib", root=tmp_path / "cache")
    fake = FakeDetector()
    first = extract_landmarks(frames, "dlib", cache=cache, progress=False, detector=fake)
    assert fake.calls == 4
    assert [f.found for f in first] == [True, True, True, False]
    assert first[0].landmarks.shape == (68, 2) and (first[0].width, first[0].height) == (32, 24)
    assert "no face" in first[3].error
    again = extract_landmarks(frames, "dlib", cache=cache, progress=False, detector=fake)
    assert fake.calls == 4  # nothing recomputed, the no-face verdict included
    assert all(f.from_cache for f in again)
    for a, b in zip(first, again):
        assert a.found == b.found and a.error == b.error
        if a.found:
            np.testing.assert_array_equal(a.landmarks, b.landmarks)
            np.testing.assert_array_equal(a.box, b.box)
    assert not list(cache.root.rglob("*.tmp"))  # atomic writes leave no temporaries


def test_key_is_the_content_and_the_backend_and_version(frames, tmp_path):
    cache = LandmarkCache("dlib", root=tmp_path / "cache")
    fake = FakeDetector()
    extract_landmarks(frames[:1], "dlib", cache=cache, progress=False, detector=fake)
    copy = tmp_path / "elsewhere" / "renamed.png"
    copy.parent.mkdir()
    shutil.copy(frames[0], copy)
    extract_landmarks([copy], "dlib", cache=cache, progress=False, detector=fake)
    assert fake.calls == 1  # same bytes, other path: a hit
    other_version = LandmarkCache("dlib", root=tmp_path / "cache", version="v999")
    extract_landmarks([copy], "dlib", cache=other_version, progress=False, detector=fake)
    assert fake.calls == 2
    assert cache.entry_path(copy) != LandmarkCache("mediapipe", root=tmp_path / "cache").entry_path(copy)
    with pytest.raises(ValueError):
        extract_landmarks([copy], "mediapipe", cache=cache, progress=False, detector=fake)


@pytest.mark.parametrize("garbage", [b"", b"not an npz", b"PK\x03\x04truncated"])
def test_corrupt_entry_is_recomputed(frames, tmp_path, garbage):
    cache = LandmarkCache("dlib", root=tmp_path / "cache")
    fake = FakeDetector()
    extract_landmarks(frames[:1], "dlib", cache=cache, progress=False, detector=fake)
    entry = cache.entry_path(frames[0])
    entry.write_bytes(garbage)
    with pytest.warns(RuntimeWarning, match="unreadable landmark cache entry"):
        (frame,) = extract_landmarks(frames[:1], "dlib", cache=cache, progress=False, detector=fake)
    assert fake.calls == 2 and frame.found and not frame.from_cache
    assert cache.get(frames[0]) is not None  # rewritten, good again


def test_inconsistent_entry_is_recomputed(frames, tmp_path):
    cache = LandmarkCache("dlib", root=tmp_path / "cache")
    entry = cache.entry_path(frames[0])
    entry.parent.mkdir(parents=True)
    np.savez(entry, size=np.array([32, 24]), error=np.array(""), landmarks=np.zeros((5, 2)))
    with pytest.warns(RuntimeWarning):
        assert cache.get(frames[0]) is None


def test_no_cache(frames, tmp_path, monkeypatch):
    monkeypatch.setenv("XFER_CACHE_DIR", str(tmp_path / "default"))
    fake = FakeDetector()
    extract_landmarks(frames, "dlib", cache=False, progress=False, detector=fake)
    extract_landmarks(frames, "dlib", cache=False, progress=False, detector=fake)
    assert fake.calls == 8
    assert not (tmp_path / "default" / "landmarks").exists()
    extract_landmarks(frames, "dlib", cache=True, progress=False, detector=fake)
    assert list((tmp_path / "default" / "landmarks" / "dlib").rglob("*.npz"))  # default location


def test_missing_image_names_the_file(tmp_path):
    from xfer_keras.errors import ImageReadError

    with pytest.raises(ImageReadError, match="nope.png"):
        extract_landmarks([tmp_path / "nope.png"], "dlib", cache=tmp_path / "c", progress=False,
                          detector=FakeDetector())
