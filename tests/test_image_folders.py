"""Image-folder readers: folders, KDEF names, RAF-DB lists, FER2013 duplicates, tf.data."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from xfer_keras.data.image_folders import (encode_labels, fer2013_conflicting_duplicates,
                                           list_fer2013, list_image_folder, list_kdef,
                                           load_images, make_dataset, parse_kdef_name,
                                           read_rafdb_labels, stratified_split)
from xfer_keras.emotions import EMOTIONS7
from xfer_keras.errors import DataNotFoundError, ImageReadError, UnknownEmotionError


def _img(path, value=128, size=(20, 20), mode="L"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value if mode == "L" else (value, 0, 0)).save(path)


def test_list_image_folder_canonical_names(tmp_path):
    _img(tmp_path / "happy" / "a.png")
    _img(tmp_path / "Angry" / "b.jpg")
    _img(tmp_path / "contempt" / "c.png")
    _img(tmp_path / "notes" / "d.png")
    (tmp_path / "happy" / "readme.txt").write_text("x")
    frame = list_image_folder(tmp_path)
    assert sorted(frame["emotion"]) == ["anger", "happiness"]
    assert len(list_image_folder(tmp_path, classes=None)) == 3
    with pytest.raises(DataNotFoundError):
        list_image_folder(tmp_path / "nothing")


def test_parse_kdef_name(tmp_path):
    assert parse_kdef_name("AF01ANS.JPG") == {"session": "A", "gender": "F", "subject": "F01",
                                              "emotion": "anger", "angle": "S"}
    assert parse_kdef_name("BM22AFHL.jpg")["emotion"] == "fear"
    assert parse_kdef_name("am05sus.jpg")["emotion"] == "surprise"
    with pytest.raises(ValueError):
        parse_kdef_name("S010_004_00000017.png")
    _img(tmp_path / "AF01" / "AF01HAS.JPG")
    _img(tmp_path / "AF01" / "AF01HAFL.JPG")
    assert len(list_kdef(tmp_path)) == 1 and len(list_kdef(tmp_path, angles=None)) == 2


def test_read_rafdb_labels(tmp_path):
    labels = tmp_path / "EmoLabel" / "list_patition_label.txt"
    labels.parent.mkdir()
    labels.write_text("train_00001.jpg 5\ntrain_00002.jpg 1\ntest_0001.jpg 7\n")
    frame = read_rafdb_labels(labels)
    assert frame["emotion"].tolist() == ["sadness", "surprise", "neutral"]
    assert frame["split"].tolist() == ["train", "train", "test"]
    assert frame["path"][0].endswith("Image/aligned/train_00001_aligned.jpg")
    labels.write_text("train_00001.jpg 9\n")
    with pytest.raises(ValueError):
        read_rafdb_labels(labels)


def test_load_images_and_labels(tmp_path):
    _img(tmp_path / "a.png", 10, (30, 20))
    _img(tmp_path / "b.png", 200, (30, 20), mode="RGB")
    x = load_images([tmp_path / "a.png", tmp_path / "b.png"], size=16, channels=1)
    assert x.shape == (2, 16, 16, 1) and x.dtype == np.uint8
    assert load_images([tmp_path / "b.png"], channels=3).shape == (1, 20, 30, 3)
    (tmp_path / "bad.png").write_bytes(b"nope")
    with pytest.raises(ImageReadError, match="bad.png"):
        load_images([tmp_path / "bad.png"])
    assert encode_labels(["happy", "anger", "neutral"]).tolist() == [3, 0, 4]
    with pytest.raises(UnknownEmotionError):
        encode_labels(["contempt"])


def test_stratified_split_is_per_class_and_seeded():
    frame = pd.DataFrame({"path": [str(i) for i in range(100)],
                          "emotion": ["anger"] * 80 + ["fear"] * 20})
    train, val = stratified_split(frame, 0.1, seed=3)
    assert len(val) == 10 and (val["emotion"] == "fear").sum() == 2
    assert set(train["path"]).isdisjoint(val["path"])
    assert stratified_split(frame, 0.1, seed=3)[1]["path"].tolist() == val["path"].tolist()


def test_make_dataset_augment_keeps_shape_and_range():
    x = np.random.default_rng(0).integers(0, 256, (10, 24, 24, 1), dtype=np.uint8)
    y = np.arange(10) % 7
    ds = make_dataset(x, y, batch_size=4, shuffle=True, augment=True, preprocess=lambda t: t / 255.0)
    batches = list(ds)
    assert [b[0].shape[0] for b in batches] == [4, 4, 2]
    xb = np.concatenate([b[0].numpy() for b in batches])
    assert xb.shape == (10, 24, 24, 1) and 0.0 <= xb.min() and xb.max() <= 1.0
    plain = next(iter(make_dataset(x, y, batch_size=10)))[0].numpy()
    np.testing.assert_array_equal(plain, x.astype("float32"))


def test_studio_augmentation_changes_exposure_and_lights_one_side():
    """On flat grey faces the basic recipe can only shift the level (a rotation or contrast of a
    flat image is flat); "studio" also bends the level by a gamma (means spread far more) and
    lights half the images from one side (an intensity gradient inside the image)."""
    x = np.full((256, 24, 24, 1), 128, np.uint8)
    y = np.zeros(256, int)
    basic, studio = (next(iter(make_dataset(x, y, batch_size=256, augment=True, seed=4,
                                            augmentation=a)))[0].numpy()
                     for a in ("basic", "studio"))
    assert 0.0 <= studio.min() and studio.max() <= 255.0 and studio.shape == basic.shape
    assert basic.std(axis=(1, 2, 3)).max() < 1e-3  # still flat
    assert studio.mean(axis=(1, 2, 3)).std() > 2 * basic.mean(axis=(1, 2, 3)).std()
    lit = studio.std(axis=(1, 2, 3)) > 1.0
    assert 0.3 < lit.mean() < 0.7  # about half the images get the side light
    with pytest.raises(ValueError, match="unknown augmentation"):
        make_dataset(x, y, augment=True, augmentation="underwater")


def test_random_erasing_replaces_one_rectangle_in_the_asked_share_of_images():
    """On flat grey faces every changed pixel is an erased one: each erased image holds one
    axis-aligned rectangle of 2-33 % of the area, about the asked share of images gets one, and
    without erasing the basic recipe's output is unchanged (same seed, same draws)."""
    x = np.full((400, 24, 24, 1), 128, np.uint8)
    y = np.zeros(400, int)

    def batch(**kw):
        return next(iter(make_dataset(x, y, batch_size=400, augment=True, seed=5, **kw)))[0].numpy()

    basic, erased = batch(), batch(erasing=0.5)
    changed = np.abs(erased - basic)[..., 0] > 1e-3  # flat images: jitter moves only the level
    hit = changed.any(axis=(1, 2))
    assert 0.4 < hit.mean() < 0.6
    for mask in changed[hit][:50]:
        rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        box = np.zeros_like(mask)
        box[rows.min():rows.max() + 1, cols.min():cols.max() + 1] = True
        # a side of length L covers floor(L) or ceil(L) pixel rows, so its rows and columns
        # bound the rectangle's area (2-33 % of the image) from both sides
        n_rows, n_cols = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        assert (n_rows - 1) * (n_cols - 1) < 0.33 * mask.size
        assert (n_rows + 1) * (n_cols + 1) > 0.02 * mask.size
        assert mask[box].mean() > 0.95  # the rectangle is filled (noise may equal the level)
        assert not mask[~box].any()
    np.testing.assert_array_equal(batch(erasing=0.0), basic)
    with pytest.raises(ValueError, match="erasing"):
        make_dataset(x, y, augment=True, erasing=1.5)


_PASSES = """
import hashlib
import keras
import numpy as np
from xfer_keras.data.image_folders import make_dataset
keras.utils.set_random_seed(11)  # as the training script does with --seed
x = np.random.default_rng(0).integers(0, 256, (96, 24, 24, 1), dtype=np.uint8)
ds = make_dataset(x, np.arange(96) % 7, batch_size=8, shuffle=True, augment=True, seed=11,
                  erasing=0.5)
print(hashlib.sha256(b"".join(a.numpy().tobytes() for b in ds for a in b)).hexdigest())
"""


def test_one_seed_gives_the_same_batches_in_any_process_and_each_pass_draws_anew():
    """Batches are augmented in parallel threads; their draws depend on the seeds and the
    batch's place only (``seed`` and TensorFlow's global seed, which the training script sets
    from ``--seed``), so a seed fixes a training run's inputs, here within this process and in
    two fresh ones, while every pass over the data still draws new augmentations."""
    import subprocess
    import sys

    x = np.random.default_rng(0).integers(0, 256, (96, 24, 24, 1), dtype=np.uint8)
    y = np.arange(96) % 7

    def passes(seed, shuffle=True, n=2):
        ds = make_dataset(x, y, batch_size=8, shuffle=shuffle, augment=True, seed=seed,
                          erasing=0.5)
        return [[a.numpy() for b in ds for a in b] for _ in range(n)]

    first, again = passes(3), passes(3)
    for one, other in zip(first, again):
        for a, b in zip(one, other):
            np.testing.assert_array_equal(a, b)
    assert not np.array_equal(np.concatenate(passes(4, n=1)[0][::2]),
                              np.concatenate(first[0][::2]))
    fixed = passes(3, shuffle=False)  # same order each pass: only the draws can differ
    np.testing.assert_array_equal(fixed[0][1], fixed[1][1])  # labels
    assert not np.allclose(fixed[0][0], fixed[1][0])
    digests = [subprocess.run([sys.executable, "-c", _PASSES], capture_output=True, text=True,
                              check=True).stdout.split()[-1] for _ in range(2)]
    assert digests[0] == digests[1]


@pytest.mark.real_data
def test_fer2013_duplicates_and_listing(fer2013_dir):
    bad = fer2013_conflicting_duplicates(fer2013_dir)
    table = pd.read_csv(fer2013_dir / "exact_duplicate_groups.csv")
    assert 0 < len(bad) < len(table)
    test = list_fer2013("test", root=fer2013_dir.parent)
    assert set(test["emotion"]) == set(EMOTIONS7)
    rel = {str(p.relative_to(fer2013_dir)) for p in map(__import__("pathlib").Path, test["path"])}
    assert rel.isdisjoint(bad)
    assert 7000 < len(test) < 7178


def test_sharp_fer2013_train_drops_test_duplicates(fer2013_dir):
    """The sharp train copy has the blurred copy's names and labels; train files byte-identical
    to test files are dropped (so no test image is seen in training)."""
    if not (fer2013_dir.parent / "fer2013_sharp").is_dir():
        pytest.skip("fer2013_sharp not in XFER_DATA_DIR")
    import hashlib

    from xfer_keras.data.image_folders import fer2013_test_duplicates

    sharp = list_fer2013("train", root=fer2013_dir.parent)
    blurred = list_fer2013("train", root=fer2013_dir.parent, sharp=False)
    leaked = fer2013_test_duplicates(fer2013_dir.parent)
    assert len(leaked) == 703
    assert set(sharp["rel"]) == set(blurred["rel"]) - leaked
    assert all("fer2013_sharp" in p for p in sharp["path"][:5])
    test_md5 = {hashlib.md5(open(p, "rb").read()).hexdigest()
                for p in list_fer2013("test", root=fer2013_dir.parent)["path"]}
    assert not any(hashlib.md5(open(p, "rb").read()).hexdigest() in test_md5
                   for p in sharp["path"])
