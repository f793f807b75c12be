"""Image-folder datasets for the image classifier (FER2013, CK+48, JAFFE, KDEF, RAF-DB).

* :func:`list_image_folder` - ``<root>/<emotion>/*.{png,jpg,jpeg,tif,tiff,bmp}`` -> DataFrame
  ``[path, emotion]``; folder names go through :func:`~xfer_keras.emotions.canonical_emotion`
  (``happy`` -> ``happiness``), unknown folders are skipped with their names reported.
* :func:`parse_kdef_name` / :func:`list_kdef` - KDEF file names (``AF01ANS.JPG``: session,
  gender, subject, expression, angle).
* :func:`read_rafdb_labels` - RAF-DB ``list_patition_label.txt`` (``train_00001.jpg 5``).
* :func:`fer2013_conflicting_duplicates` / :func:`fer2013_test_duplicates` / :func:`list_fer2013` -
  FER2013 (sharp train copy by default) without byte-identical images of conflicting labels and
  without train files that duplicate test files.
* :func:`load_images` - decode a DataFrame into a uint8 array ``(N, S, S, C)``; labels via
  :func:`encode_labels` (index in ``EMOTIONS7``).
* :func:`stratified_split` - a seeded, per-class validation split carved from a training frame.
* :func:`make_dataset` - a ``tf.data`` pipeline (shuffle, augmentation, batching) over arrays.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from xfer_keras.config import dataset_dir
from xfer_keras.emotions import EMOTIONS7, canonical_emotion
from xfer_keras.errors import DataNotFoundError
from xfer_keras.errors import ImageReadError
from xfer_keras.errors import MissingColumnsError
from xfer_keras.errors import UnknownEmotionError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


# ----------------------------------------------------------------------------- listing

def list_image_folder(root, classes: Sequence[str] | None = EMOTIONS7,
                      extensions: Iterable[str] = IMAGE_EXTENSIONS) -> pd.DataFrame:
    """Images under ``<root>/<emotion>/`` as a DataFrame ``[path, emotion]`` (sorted by path).

    Folder names are mapped through ``canonical_emotion``; folders that are not emotions are
    ignored, and emotions outside ``classes`` (e.g. CK+ ``contempt`` for the 7-class model) are
    dropped. ``classes=None`` keeps every emotion.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataNotFoundError(f"image folder not found: {root}")
    extensions = {e.lower() for e in extensions}
    rows = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        try:
            emotion = canonical_emotion(sub.name)
        except UnknownEmotionError:
            continue
        if classes is not None and emotion not in classes:
            continue
        for path in sorted(sub.iterdir()):
            if path.suffix.lower() in extensions and path.is_file():
                rows.append((str(path), emotion))
    if not rows:
        raise DataNotFoundError(f"no <emotion>/<image> files under {root}")
    return pd.DataFrame(rows, columns=["path", "emotion"])


_KDEF = re.compile(r"^(?P<session>[AB])(?P<gender>[FM])(?P<subject>\d\d)"
                   r"(?P<code>AF|AN|DI|HA|NE|SA|SU)(?P<angle>S|HL|HR|FL|FR)$", re.IGNORECASE)


def parse_kdef_name(name: str) -> dict:
    """Fields of a KDEF file name, e.g. ``"AF01ANS.JPG"`` ->
    ``{"session": "A", "gender": "F", "subject": "F01", "emotion": "anger", "angle": "S"}``.

    Angles: S straight, HL/HR half left/right, FL/FR full left/right. Raises ValueError when the
    name is not a KDEF name.
    """
    stem = Path(name).stem
    match = _KDEF.match(stem)
    if not match:
        raise ValueError(f"not a KDEF file name: {name!r} (expected e.g. AF01ANS.JPG)")
    g = {k: v.upper() for k, v in match.groupdict().items()}
    return {"session": g["session"], "gender": g["gender"], "subject": g["gender"] + g["subject"],
            "emotion": canonical_emotion(g["code"]), "angle": g["angle"]}


def list_kdef(root, angles: Sequence[str] | None = ("S",)) -> pd.DataFrame:
    """KDEF images (recursively under ``root``) -> ``[path, emotion, subject, session, angle]``.

    ``angles=("S",)`` keeps frontal faces (the XFERa evaluation); ``None`` keeps all.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataNotFoundError(f"KDEF folder not found: {root}")
    rows = []
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in IMAGE_EXTENSIONS:
            continue
        try:
            fields = parse_kdef_name(path.name)
        except ValueError:
            continue
        if angles is not None and fields["angle"] not in angles:
            continue
        rows.append({"path": str(path), **fields})
    if not rows:
        raise DataNotFoundError(f"no KDEF-named images under {root}")
    return pd.DataFrame(rows)[["path", "emotion", "subject", "session", "angle", "gender"]]


def read_rafdb_labels(label_file, image_dir=None, aligned: bool = True) -> pd.DataFrame:
    """RAF-DB basic ``list_patition_label.txt`` -> ``[path, emotion, split]``.

    Each line is ``<name>.jpg <code>`` with codes 1..7 (surprise, fear, disgust, happiness,
    sadness, anger, neutral). ``image_dir`` defaults to ``<label dir>/../Image/aligned`` (or
    ``original`` when ``aligned=False``); aligned names carry an ``_aligned`` suffix.
    """
    from xfer_keras.emotions import RAFDB_CODES

    label_file = Path(label_file).expanduser()
    if not label_file.is_file():
        raise DataNotFoundError(f"RAF-DB label file not found: {label_file}")
    if image_dir is None:
        image_dir = label_file.parent.parent / "Image" / ("aligned" if aligned else "original")
    image_dir = Path(image_dir)
    rows = []
    for lineno, line in enumerate(label_file.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit() or int(parts[1]) not in RAFDB_CODES:
            raise ValueError(f"{label_file}:{lineno}: expected '<name> <1..7>', got {line!r}")
        name = parts[0]
        if aligned:
            stem, ext = name.rsplit(".", 1)
            name = f"{stem}_aligned.{ext}"
        split = "train" if parts[0].startswith("train") else "test"
        rows.append((str(image_dir / name), RAFDB_CODES[int(parts[1])], split))
    return pd.DataFrame(rows, columns=["path", "emotion", "split"])


# ----------------------------------------------------------------------------- FER2013

def fer2013_conflicting_duplicates(root) -> set[str]:
    """Paths (relative to the FER2013 root, e.g. ``train/happy/x.jpg``) of byte-identical
    images whose copies carry different labels (every member of such a group)."""
    root = Path(root)
    csv = root / "exact_duplicate_groups.csv"
    if not csv.is_file():
        return set()
    table = pd.read_csv(csv)
    missing = {"group_md5", "path"} - set(table.columns)
    if missing:
        raise MissingColumnsError(f"{csv}: missing columns {sorted(missing)}")
    table["emotion"] = [canonical_emotion(Path(p).parent.name) for p in table["path"]]
    n_labels = table.groupby("group_md5")["emotion"].transform("nunique")
    return set(table.loc[n_labels > 1, "path"])


def fer2013_test_duplicates(root=None) -> set[str]:
    """Train paths (``train/<emotion>/x.jpg``) byte-identical to a FER2013 test file, from
    ``fer2013_sharp/train_test_exact_duplicates.csv``: dropped for an honest test figure (they
    could only be seen once the train copy was sharp)."""
    csv = dataset_dir("fer2013_sharp", root) / "train_test_exact_duplicates.csv"
    if not csv.is_file():
        return set()
    table = pd.read_csv(csv)
    if "train_path" not in table:
        raise MissingColumnsError(f"{csv}: missing column 'train_path'")
    return {p if p.startswith("train/") else f"train/{p}" for p in table["train_path"]}


def list_fer2013(split: str = "train", root=None, drop_conflicting: bool = True,
                 sharp: bool = True, drop_test_duplicates: bool = True) -> pd.DataFrame:
    """FER2013 ``train`` or ``test`` as ``[path, emotion, rel]`` (``rel``: ``train/happy/x.jpg``).

    ``sharp``: read ``train`` from ``fer2013_sharp/`` (the original pixels; the ``fer2013/train``
    copy carries a 3.3 px blur). ``drop_conflicting`` drops byte-identical groups with different
    labels; ``drop_test_duplicates`` drops train files byte-identical to test files. ``root`` is
    the folder holding ``fer2013/`` (and ``fer2013_sharp/``), or ``fer2013/`` itself.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    base = dataset_dir("fer2013", root)
    images = dataset_dir("fer2013_sharp", base.parent) if split == "train" and sharp else base
    frame = list_image_folder(images / split)
    frame["rel"] = [Path(p).relative_to(images).as_posix() for p in frame["path"]]
    bad = set()
    if drop_conflicting:
        bad |= fer2013_conflicting_duplicates(base)
    if split == "train" and drop_test_duplicates and sharp:
        bad |= fer2013_test_duplicates(base.parent)
    if bad:
        frame = frame[~frame["rel"].isin(bad)].reset_index(drop=True)
    return frame


# ----------------------------------------------------------------------------- arrays

def encode_labels(emotions: Iterable[str], classes: Sequence[str] = EMOTIONS7) -> np.ndarray:
    """Class indices (int32) of emotion names in ``classes`` order."""
    index = {c: i for i, c in enumerate(classes)}
    out = []
    for e in emotions:
        name = canonical_emotion(e)
        if name not in index:
            raise UnknownEmotionError(f"emotion {name!r} is not one of {tuple(classes)}")
        out.append(index[name])
    return np.asarray(out, dtype=np.int32)


def load_images(paths: Iterable, size: int | None = None, channels: int = 1) -> np.ndarray:
    """Decode image files into uint8 ``(N, S, S, channels)`` (gray when ``channels == 1``).

    Images are resized (bilinear) to ``size`` when given and different. ``ImageReadError``
    names an unreadable file.
    """
    from PIL import Image

    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    arrays = []
    for path in paths:
        try:
            with Image.open(path) as image:
                image = image.convert("L" if channels == 1 else "RGB")
                if size is not None and image.size != (size, size):
                    image = image.resize((size, size), Image.BILINEAR)
                array = np.asarray(image, dtype=np.uint8)
        except (OSError, ValueError) as error:
            raise ImageReadError(f"cannot read image {path}: {error}") from error
        arrays.append(array[..., None] if channels == 1 else array)
    if not arrays:
        return np.zeros((0, size or 0, size or 0, channels), np.uint8)
    return np.stack(arrays)


def stratified_split(frame: pd.DataFrame, val_fraction: float = 0.1, seed: int = 0,
                     label_column: str = "emotion") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seeded per-class split of ``frame`` into (train, validation) frames."""
    if label_column not in frame:
        raise MissingColumnsError(f"frame lacks column {label_column!r}")
    rng = np.random.default_rng(seed)
    val_idx = []
    for _, group in frame.groupby(label_column, sort=True):
        n_val = int(round(len(group) * val_fraction))
        val_idx.extend(rng.permutation(group.index.to_numpy())[:n_val].tolist())
    is_val = frame.index.isin(val_idx)
    return frame[~is_val].reset_index(drop=True), frame[is_val].reset_index(drop=True)


def make_dataset(images: np.ndarray, labels: np.ndarray | None = None, batch_size: int = 64,
                 shuffle: bool = False, augment: bool = False, seed: int = 0,
                 preprocess=None, repeat: bool = False, drop_remainder: bool = False,
                 size: int | None = None, channels: int | None = None,
                 augmentation: str = "basic", erasing: float = 0.0):
    """``tf.data.Dataset`` over uint8 arrays ``(N, H, W, C)``: shuffle, augment, batch.

    Augmentation (training only): the ``augmentation`` recipe ("basic" or "studio") and
    random erasing in ``erasing`` of the images, :func:`xfer_keras.data.augment.augment_pixels`
    drawn from stateless random streams keyed by the batch's place in a seeded stream (the
    same ``seed`` and global TensorFlow seed, e.g. ``keras.utils.set_random_seed``, give the
    same batches in any process; each pass draws anew). ``preprocess`` is
    applied to the float32 batch in ``[0, 255]`` (e.g. ``lambda x: x / 255``). ``size`` /
    ``channels`` resize (bilinear, after augmentation) and convert gray <-> RGB on the fly, so a
    48x48 gray dataset can feed a 224x224 RGB model without a 224x224 copy in memory.
    """
    import tensorflow as tf

    from xfer_keras.data.augment import augment_pixels, check_recipe, to_model_input

    check_recipe(augmentation, erasing)
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must be (N, H, W, C), got {images.shape}")
    data = (images,) if labels is None else (images, np.asarray(labels))
    ds = tf.data.Dataset.from_tensor_slices(data)
    if shuffle:
        ds = ds.shuffle(min(len(images), 50_000), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    # one random key per batch, from a seeded stream that moves on every pass: the batches
    # are augmented in parallel, so a shared stateful generator would hand out its draws in
    # whatever order the threads ask, and one seed would not give one training run
    keys = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    ds = tf.data.Dataset.zip(ds, keys)

    def _map(batch, key):
        x = tf.cast(batch[0], tf.float32)
        if augment:
            x = augment_pixels(x, _stateless_uniform(key), augmentation, erasing)
        x = to_model_input(x, size, channels)
        if preprocess is not None:
            x = preprocess(x)
        return (x,) + tuple(batch[1:]) if len(batch) > 1 else x

    ds = ds.map(_map, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def _stateless_uniform(key):
    """A ``uniform(shape, low, high)`` source for one batch: each call draws from the stateless
    stream ``(key, n)`` for its call number ``n``, so the draws depend on the batch's key and
    the recipe's fixed draw order only, never on thread timing."""
    import itertools

    import tensorflow as tf

    calls = itertools.count()

    def uniform(shape, low, high):
        seed = tf.stack([key, tf.constant(next(calls), tf.int64)])
        return tf.random.stateless_uniform(shape, seed, low, high)

    return uniform
