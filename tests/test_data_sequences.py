"""Sequence tensors: frame resampling, normalisations, flips, dataset assembly, mean face."""

from pathlib import Path

import numpy as np
import pytest

from xfer_keras.data import build_sequence_dataset, frame_indices, mean_face, normalize_points
from xfer_keras.data.ckplus import SequenceRecord
from xfer_keras.data.sequences import SequenceLandmarks, flip_points, nearest_found
from xfer_keras.errors import InputShapeError


def test_frame_indices_run_neutral_to_peak():
    assert frame_indices(15, 8).tolist() == [0, 2, 4, 6, 8, 10, 12, 14]
    idx = frame_indices(45, 10)
    assert idx[0] == 0 and idx[-1] == 44 and np.all(np.diff(idx) > 0)
    assert frame_indices(5, 8).tolist() == [0, 1, 1, 2, 2, 3, 3, 4]  # short video: repeats
    assert frame_indices(7, 1).tolist() == [6]


def test_nearest_found_fills_gaps():
    found = np.array([False, True, False, False, True, False])
    assert nearest_found(found).tolist() == [1, 1, 1, 4, 4, 4]


def _face(rng, n=68, frames=3):
    pts = rng.uniform(100, 300, size=(frames, n, 2)).astype(np.float32)
    pts[:, 36] = [150, 200]
    pts[:, 45] = [250, 200]  # outer eye corners 100 px apart
    return pts


def test_face_normalisation_puts_the_eyes_at_plus_minus_half():
    pts = _face(np.random.default_rng(0))
    out, _ = normalize_points(pts, "face", width=640, height=490, topology="dlib68")
    np.testing.assert_allclose(out[:, 36], [[-0.5, 0]] * 3, atol=1e-6)
    np.testing.assert_allclose(out[:, 45], [[0.5, 0]] * 3, atol=1e-6)
    moved, _ = normalize_points(pts * 2 + 7, "face", width=640, height=490, topology="dlib68")
    np.testing.assert_allclose(out, moved, atol=1e-5)  # translation and scale removed
    angle = np.deg2rad(20)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    rolled, _ = normalize_points(pts @ rot.T, "face", width=640, height=490, topology="dlib68")
    np.testing.assert_allclose(out, rolled, atol=1e-5)  # in-plane head roll removed


def test_other_normalisations():
    pts = _face(np.random.default_rng(1))
    z = np.ones(pts.shape[:2], np.float32) * 64
    same, z_pix = normalize_points(pts, "pixels", width=640, height=490, topology="dlib68", z=z)
    np.testing.assert_array_equal(same, pts)
    image, z_img = normalize_points(pts, "image", width=640, height=490, topology="dlib68", z=z)
    np.testing.assert_allclose(image[..., 0], pts[..., 0] / 640, rtol=1e-6)
    np.testing.assert_allclose(image[..., 1], pts[..., 1] / 490, rtol=1e-6)
    np.testing.assert_allclose(z_img, 0.1)
    boxes = np.tile([[100, 100, 300, 250]], (3, 1)).astype(np.float32)  # square side 200
    box, _ = normalize_points(pts, "box", width=640, height=490, topology="dlib68", boxes=boxes)
    np.testing.assert_allclose(box, (pts - [100, 75]) / 200, rtol=1e-5)
    with pytest.raises(ValueError):
        normalize_points(pts, "zscore", width=640, height=490)


def _sequences(n_points=68):
    rng = np.random.default_rng(2)
    out = []
    for k, (subject, emotion, n) in enumerate([("S001", "happy", 9), ("S001", "surprise", 12),
                                               ("S002", "anger", 8)]):
        record = SequenceRecord(subject, f"{k:03d}", emotion,
                                [Path(f"/x/{subject}_{k}_{i}.png") for i in range(n)], (6, 12))
        pts = _face(rng, n_points, n)
        boxes = np.tile([[100, 100, 300, 300]], (n, 1)).astype(np.float32)
        out.append(SequenceLandmarks(record, pts, boxes, np.ones(n, bool), 640, 490))
    return out


def test_build_dataset_shapes_ids_and_meta():
    with pytest.warns(RuntimeWarning, match="1 sequence"):
        ds = build_sequence_dataset(_sequences() + [None], "dlib", n_frames=6, normalize="face")
    assert ds.X.shape == (3, 6, 2, 68, 1) and ds.input_shape == (6, 2, 68, 1)
    assert ds.topology == "dlib68" and ds.ids.tolist() == ["S001_000", "S001_001", "S002_002"]
    assert ds.emotions.tolist() == ["happiness", "surprise", "anger"]
    assert ds.binary_labels("surprise").tolist() == [0, 1, 0]
    assert ds.meta["dropped_sequences"] == 1 and ds.meta["normalize"] == "face"
    assert ds.meta["frame_indices"]["S002_002"] == [0, 1, 3, 4, 6, 7]
    assert ds.meta["au_codes"]["S001_000"] == [6, 12]
    np.testing.assert_allclose(ds.X[:, :, :, 36, 0], np.tile([-0.5, 0], (3, 6, 1)), atol=1e-6)
    face = mean_face(ds)
    assert face.shape == (68, 2)
    np.testing.assert_allclose(face[45], [0.5, 0], atol=1e-6)
    with pytest.raises(InputShapeError, match="depth"):
        build_sequence_dataset(_sequences(), "dlib", coords=3)


def test_flip_appends_mirrored_copies_with_the_same_subjects():
    ds = build_sequence_dataset(_sequences(), "dlib", n_frames=4, normalize="face", flip=True)
    assert len(ds) == 6
    assert ds.ids[3:].tolist() == [i + "_flip" for i in ds.ids[:3]]
    assert ds.subjects[3:].tolist() == ds.subjects[:3].tolist()
    assert ds.emotions[3:].tolist() == ds.emotions[:3].tolist()
    from xfer_keras.face import flip_permutation

    perm = flip_permutation(68)
    orig, mirrored = ds.X[:3, :, :, :, 0], ds.X[3:, :, :, :, 0]
    # face-normalised: x -> -x of the mirrored partner landmark, y unchanged
    np.testing.assert_allclose(mirrored[:, :, 0], -orig[:, :, 0][..., perm], atol=1e-5)
    np.testing.assert_allclose(mirrored[:, :, 1], orig[:, :, 1][..., perm], atol=1e-5)


def test_flip_points_is_an_involution_and_mirrors_boxes():
    pts = _face(np.random.default_rng(3))
    boxes = np.array([[10, 20, 110, 140]] * 3, np.float32)
    once, b1, _ = flip_points(pts, 640, boxes)
    twice, b2, _ = flip_points(once, 640, b1)
    np.testing.assert_allclose(twice, pts, atol=1e-4)
    # pixel columns [10, 110) of a 640-wide image mirror to [530, 630) (x1 exclusive)
    np.testing.assert_allclose(b1[0], [530, 20, 630, 140])
    np.testing.assert_allclose(b2, boxes)


class _TemplateDetector:
    """Fake dlib: a fixed 68-point face shifted by the frame number (read from the pixels)."""

    def __init__(self):
        rng = np.random.default_rng(5)
        self.face = rng.uniform(60, 140, size=(68, 2)).astype(np.float32)
        self.face[36], self.face[45] = (70, 90), (130, 90)
        self.calls = 0

    def detect_one(self, image, source=None):
        from types import SimpleNamespace

        self.calls += 1
        shift = float(image[0, 0, 0])
        return SimpleNamespace(landmarks=self.face + shift, box=(50, 50, 150, 150),
                               landmarks_z=None, blendshapes=None)


def test_load_ckplus_dataset_end_to_end_without_real_data(tmp_path):
    from PIL import Image

    from xfer_keras.data import load_ckplus_dataset

    root = tmp_path / "ckplus_sequences"
    rows = ["subject,sequence,emotion,n_frames,peak_au_combination(NetFACS),frames_dir"]
    for subject, seq, emotion, n in [("S001", "001", "happy", 9), ("S002", "003", "sadness", 11)]:
        folder = root / "images" / subject / seq
        folder.mkdir(parents=True)
        for f in range(n):
            Image.fromarray(np.full((200, 200), f * 3, np.uint8)).save(folder / f"{subject}_{seq}_{f + 1:08d}.png")
        rows.append(f"{subject},{seq},{emotion},{n},6_12,images/{subject}/{seq}")
    (root / "sequences.csv").write_text("\n".join(rows) + "\n")

    fake = _TemplateDetector()
    kwargs = dict(root=tmp_path, n_frames=5, cache=tmp_path / "cache", progress=False, detector=fake)
    ds = load_ckplus_dataset("dlib", normalize="pixels", flip=True, **kwargs)
    assert fake.calls == 20 and ds.X.shape == (4, 5, 2, 68, 1)
    assert ds.ids.tolist() == ["S001_001", "S002_003", "S001_001_flip", "S002_003_flip"]
    assert ds.meta["frame_indices"]["S002_003"] == [0, 2, 5, 8, 10]
    # pixels: frame k of a video is the template shifted by 3 k (what the fake detector saw)
    np.testing.assert_allclose(ds.X[1, 2, 0, :, 0], fake.face[:, 0] + 15, atol=1e-4)
    face = load_ckplus_dataset("dlib", **kwargs)
    assert fake.calls == 20  # second call: all from the cache
    np.testing.assert_allclose(face.X[:, :, 0, 36, 0], -0.5, atol=1e-5)
    np.testing.assert_allclose(face.X[:, :, 0, :, 0], face.X[:1, :1, 0, :, 0].repeat(2, 0).repeat(5, 1),
                               atol=1e-4)  # translation removed: every frame is the same face
