"""FER2013 as the image training script uses it: uint8 arrays of the sharp train copy (test
duplicates and conflicting duplicates dropped), the fixed stratified validation split, test, and
the targets per label set (FER2013 labels or FER+ vote distributions). The model-selection script
reads the same validation split and training mix, so both come from here."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np


@dataclasses.dataclass
class Fer2013Arrays:
    """uint8 images ``(N, S, S, C)``, FER2013 label indices and ``rel`` paths per split."""

    x_train: "np.ndarray"
    y_train: "np.ndarray"
    rel_train: "np.ndarray"
    x_val: "np.ndarray"
    y_val: "np.ndarray"
    rel_val: "np.ndarray"
    x_test: "np.ndarray"
    y_test: "np.ndarray"
    rel_test: "np.ndarray"
    info: dict


def load_fer2013_arrays(size: int, channels: int, cache: Path | None, quick: bool = False,
                        val_fraction: float = 0.1, seed: int = 0,
                        train_copy: str = "sharp") -> Fer2013Arrays:
    """FER2013 train (``train_copy`` "sharp": ``fer2013_sharp``, test duplicates dropped; or
    "blurred": the shared ``fer2013/train``), a stratified validation split of it, and test;
    conflicting duplicates dropped everywhere. Cached as .npz (not in quick mode)."""
    import numpy as np

    from xfer_keras.data.image_folders import (encode_labels, fer2013_test_duplicates,
                                               list_fer2013, load_images, stratified_split)

    fields = [f.name for f in dataclasses.fields(Fer2013Arrays) if f.name != "info"]
    if cache is not None and cache.is_file() and not quick:
        data = np.load(cache, allow_pickle=False)
        return Fer2013Arrays(**{k: data[k] for k in fields}, info=json.loads(str(data["info"])))
    # split before dropping the train files that duplicate test files, so that the validation
    # split is the same one earlier models (trained on the blurred copy) held out: a model
    # resumed from them has never seen these images
    train = list_fer2013("train", sharp=train_copy == "sharp", drop_test_duplicates=False)
    test = list_fer2013("test")
    if quick:  # a tiny stratified subset
        train = train.groupby("emotion", group_keys=False).head(40).reset_index(drop=True)
        test = test.groupby("emotion", group_keys=False).head(20).reset_index(drop=True)
    train, val = stratified_split(train, val_fraction=val_fraction, seed=seed)
    if train_copy == "sharp":
        leaked = fer2013_test_duplicates()
        train, val = (f[~f["rel"].isin(leaked)].reset_index(drop=True) for f in (train, val))
    n_train_all = len(train) + len(val)
    arrays = {}
    for split, frame in (("train", train), ("val", val), ("test", test)):
        arrays[f"x_{split}"] = load_images(frame["path"], size=size, channels=channels)
        arrays[f"y_{split}"] = encode_labels(frame["emotion"])
        arrays[f"rel_{split}"] = frame["rel"].to_numpy(dtype=str)
    info = {"n_train": len(train), "n_val": len(val), "n_test": len(test),
            "n_train_before_split": n_train_all, "val_fraction": val_fraction, "seed": seed,
            "train_copy": train_copy}
    if cache is not None and not quick:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        np.savez(tmp, **arrays, info=json.dumps(info))
        os.replace(tmp, cache)
    return Fer2013Arrays(**arrays, info=info)


def training_targets(data: Fer2013Arrays, labels: str, second_head: str | None = None):
    """``(x_train, y_train, x_val, y_val)`` for the label set: FER2013 class indices, or FER+
    vote distributions (``xfer_keras.data.ferplus``; images without a 7-class target dropped).
    ``second_head="fer2013"`` (with FER+ targets): the FER2013 labels one-hot beside them,
    ``(N, 14)`` (:mod:`xfer_keras.training.two_heads`)."""
    if labels == "fer2013":
        if second_head:
            raise ValueError("--second-head needs --labels ferplus")
        return data.x_train, data.y_train, data.x_val, data.y_val
    from xfer_keras.data.ferplus import read_ferplus_votes, soft_targets
    from xfer_keras.training.two_heads import joint_targets

    votes = read_ferplus_votes()
    out = []
    for x, y, rel in ((data.x_train, data.y_train, data.rel_train),
                      (data.x_val, data.y_val, data.rel_val)):
        targets, kept = soft_targets(votes, rel)
        if second_head == "fer2013":
            targets = joint_targets(targets, y, targets.shape[1])
        out += [x[kept], targets[kept]]
    return tuple(out)


def model_labels(clf) -> str:
    """"ferplus" or "fer2013": the targets the model was trained on (from its config)."""
    info = clf.config.extra.get("dataset_info", {})
    text = str(info.get("labels") or clf.config.extra.get("training_data", ""))
    return "ferplus" if "ferplus" in text else "fer2013"


def training_prior(clf, labels: str, cache: str | Path | None) -> list[float]:
    """The class mix of the model's training arrays
    (:func:`xfer_keras.training.posed_faces.class_mix`): recorded by the training script
    (``extra["training_class_mix"]``), else rebuilt from its data: the FER+ vote distributions
    or FER2013 labels of the training split, with the posed CK+48 faces its config names
    (repeated as trained)."""
    recorded = clf.config.extra.get("training_class_mix")
    if recorded:
        return [float(p) for p in recorded]
    from xfer_keras.training.posed_faces import class_mix

    data = load_fer2013_arrays(48, 1, Path(cache) if cache else None)
    _, targets, _, _ = training_targets(data, labels)
    posed = clf.config.extra.get("posed_training")
    return [float(p) for p in class_mix(targets, posed)]
