"""Build notebooks/05_train_resnet50_bam.ipynb: ``python scripts/nb_05_train_resnet50_bam.py``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts.make_notebook import write_notebook  # noqa: E402

INTRO = """\
The XFERa classifier: ResNet50 with a Bottleneck Attention Module (BAM) after each of the first
three stages and a 7-class head, trained with the paper's recipe (Adam, lr 1e-5, batch 64,
LR / 10 after 5 epochs without validation improvement, <= 100 epochs, early stopping) plus
augmentation and class weights, evaluated with the paper's Table 1 (per-class precision /
recall / F1), and explained with Grad-CAM.

* `XFER_PROFILE=quick` (CI, laptop): a tiny FER2013 subset, ResNet50+BAM at 64x64 without
  pretrained weights, one epoch - it checks that everything runs; its accuracy is chance level.
* `XFER_PROFILE=full` (a GPU or a Colab TPU): ImageNet weights (downloaded by Keras), 224x224 RGB
  inputs, the full training set, up to 100 epochs. RAF-DB (the paper's data) is used when
  `$XFER_DATA_DIR/rafdb/EmoLabel/list_patition_label.txt` exists, FER2013 otherwise. No
  full-profile figure of this notebook's `resnet50_bam` is shipped (it needs a GPU run).

The model that notebooks 06-08 and the `explain` command use by default is the shipped CPU
model `saved_models/emotion_default.keras`, a smaller member of the same family, trained and
evaluated with `scripts/train_default_model.py` (`saved_models/MODEL_CARD.md`,
`docs/training.md`); the reference figures below are its.

**BAM** (Park et al., BMVC 2018) re-weights a feature map F (H x W x C) where the network
changes resolution: a *channel* gate (global average pool -> small MLP: which feature types
matter) and a *spatial* gate (1x1 reduce -> two dilated 3x3 convolutions -> one map: where in
the image) are added, squashed to M in [0, 1] by a sigmoid, and applied as F + F * M. So each
BAM can only amplify, never erase, and it learns to amplify face regions that separate
emotions. `bam1`-`bam3` sit after stages conv2-conv4, as the paper places them ("at the end of
the first three bottlenecks").

**Grad-CAM** (Selvaraju et al., 2017) explains one class c at one convolutional layer with
feature maps A^k: the weight of map k is the spatial mean of the gradient dy^c/dA^k, the map is
ReLU(sum_k weight_k A^k), upsampled to the crop and scaled to [0, 1]. Red = regions whose
features pushed the score of c up."""

MAPPING = [
    ("§2: ResNet50 pre-trained on VGGFace2", "3", "ImageNet weights in the full profile (VGGFace2 weights are not distributed for Keras), none in quick"),
    ("§2: three BAMs after the first three bottlenecks", "3", "same (`bam1`-`bam3` after conv2-conv4)"),
    ("§2: dlib crop 224x224", "2, 5", "the datasets ship cropped faces; the whole-photo path (dlib + crop) is scored under capture changes"),
    ("§2: RAF-DB, 12 271 train / 3 068 test", "2", "RAF-DB when present, else FER2013 (ours: what the shared data holds); quick: 12 images per class"),
    ("§2: Adam 1e-5, batch 64, LR / 10 after 5 flat epochs, <= 100 epochs", "4", "same, + augmentation and class weights (ours)"),
    ("Table 1: per-class precision / recall / F1, 87.45 % accuracy", "5", "same table; the paper's values printed beside"),
    ("§2.2: out-of-domain test (KDEF, 65.85 %)", "5", "CK+48 subjects never trained on, and CK+ photos under capture changes (ours)"),
    ("Algorithm 1 lines 2-4: Grad-CAM", "6", "fast fused engine, equal to tf-keras-vis within 1e-4"),
]

SEEN = """
- ResNet50+BAM builds as one flat graph with three BAM layers; ImageNet weights load by name.
- Quick profile: one epoch on ~84 images - the curves are single points and the test table is at
  chance; the references (the paper's Table 1, the shipped model's card) are what training gives.
- Grad-CAM maps in [0, 1] at crop resolution; on an untrained net they are not meaningful.
- To use a model you trained here in notebooks 06 and 07, set `MODEL` at their top to
  `outputs/05_resnet50_bam/resnet50_bam_best.keras` (a full-profile run; a quick one is untrained).
"""

TABLE1 = """
**Reference figures.** The paper's Table 1 (XFERa, RAF-DB test, accuracy 87.45 %):

| emotion | precision | recall | F1 |
|---|---|---|---|
| Anger | 0.86 | 0.80 | 0.83 |
| Disgust | 0.66 | 0.59 | 0.62 |
| Fear | 0.77 | 0.69 | 0.73 |
| Happiness | 0.95 | 0.95 | 0.95 |
| Neutral | 0.83 | 0.88 | 0.85 |
| Sadness | 0.83 | 0.87 | 0.85 |
| Surprise | 0.90 | 0.80 | 0.85 |

The shipped default model (README "Status", printed by `python benchmarks/peer_compare.py`):
FER2013 test with FER+ majority labels 0.792, with FER2013 labels (`fer2013` head) 0.695,
CK+48 subjects never trained on 0.968.
"""

CELLS = [
    ("md", "## 1. Settings and the distribution strategy"),
    ("code", """
import time
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
from IPython.display import Markdown, display
import tensorflow as tf
import keras

from xfer_keras.config import data_dir, pick
from xfer_keras.emotions import EMOTIONS7

QUICK = PROFILE == "quick"
INPUT_SIZE = pick(quick=64, full=224)
WEIGHTS = pick(quick=None, full="imagenet")      # ImageNet weights need a connection
EPOCHS = pick(quick=1, full=100)
PER_CLASS = pick(quick=12, full=None)            # images per class (None = all)
LABELS = "fer2013"                               # FER2013 only: or "ferplus" (FER+ votes)
POSED = True                                     # mix in posed CK+48 faces (FER2013 only)
POSED_SUBJECTS = pick(quick=0.05, full=0.6)      # share of CK+48's subjects to train on
OUT = "outputs/05_resnet50_bam"

def make_strategy():
    # TPU (Colab) -> several GPUs -> the default strategy
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    except (ValueError, tf.errors.NotFoundError, tf.errors.InvalidArgumentError):
        pass
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()

strategy = make_strategy()
print(type(strategy).__name__, "replicas:", strategy.num_replicas_in_sync,
      "| input", INPUT_SIZE, "| weights", WEIGHTS, "| epochs", EPOCHS)
"""),
    ("md", """
## 2. Data

`xfer_keras.data.image_folders` reads `<root>/<emotion>/*.png|jpg|tiff` folders (FER2013, CK+48,
JAFFE, KDEF-like), KDEF file names and RAF-DB's `list_patition_label.txt`; every label goes
through `canonical_emotion`. FER2013's train images come from the sharp copy
(`fer2013_sharp/`), without byte-identical images of conflicting labels and without the train
files that duplicate test files. With `LABELS = "ferplus"` the targets are the FER+ raters' vote
distributions over our 7 classes (`xfer_keras.data.ferplus`: contempt, unknown and not-a-face
images left out). The validation split is carved from the training set (stratified, seeded);
the test set is only used for the final table. With `POSED`, the CK+48 crops of a seeded share
of its subjects (never the 10 subjects of the full-resolution CK+ dev sequences) are repeated
to about 10 % of the training arrays (`xfer_keras.training.posed_faces`): FER2013 has few posed
expressions, and posed studio photos are what users bring. Score CK+48 only on the other
subjects (`ckplus48_frame(exclude_subjects=...)`).
"""),
    ("code", """
from xfer_keras.data.image_folders import (list_fer2013, read_rafdb_labels, stratified_split,
                                           load_images, encode_labels)

raf = data_dir() / "rafdb" / "EmoLabel" / "list_patition_label.txt"
if raf.is_file():
    frames = read_rafdb_labels(raf)
    train_all, test = frames[frames.split == "train"], frames[frames.split == "test"]
    DATASET = "RAF-DB"
else:
    train_all, test = list_fer2013("train"), list_fer2013("test")
    DATASET = "FER2013"
if PER_CLASS:
    train_all = train_all.groupby("emotion", group_keys=False).head(PER_CLASS)
    test = test.groupby("emotion", group_keys=False).head(PER_CLASS // 2)
train, val = stratified_split(train_all.reset_index(drop=True), val_fraction=0.1, seed=0)
LOAD_SIZE = 48 if DATASET == "FER2013" else 100   # stored small; resized on the fly in tf.data
x_train, y_train = load_images(train.path, LOAD_SIZE, 3), encode_labels(train.emotion)
x_val, y_val = load_images(val.path, LOAD_SIZE, 3), encode_labels(val.emotion)
x_test, y_test = load_images(test.path, LOAD_SIZE, 3), encode_labels(test.emotion)
if DATASET == "FER2013" and LABELS == "ferplus":
    from xfer_keras.data.ferplus import read_ferplus_votes, soft_targets
    votes = read_ferplus_votes()
    (t_train, k_train), (t_val, k_val) = soft_targets(votes, train.rel), soft_targets(votes, val.rel)
    x_train, y_train, x_val, y_val = x_train[k_train], t_train[k_train], x_val[k_val], t_val[k_val]
POSED_SUBJECT_IDS = []
if POSED and DATASET == "FER2013" and (data_dir() / "ckplus48").is_dir():
    from xfer_keras.data.ckplus_frames import ckplus48_training_subjects
    from xfer_keras.training.posed_faces import ckplus48_training_arrays, mix_in
    POSED_SUBJECT_IDS = ckplus48_training_subjects(POSED_SUBJECTS)
    x_posed, y_posed = ckplus48_training_arrays(POSED_SUBJECT_IDS, LOAD_SIZE, 3,
                                                soft=np.ndim(y_train) == 2)
    x_train, y_train, repeats = mix_in(x_train, y_train, x_posed, y_posed, 0.1)
    print(f"posed: {len(x_posed)} CK+48 crops of {len(POSED_SUBJECT_IDS)} subjects, x{repeats}")
print(DATASET, "train", x_train.shape, "val", x_val.shape, "test", x_test.shape)
hard_train = np.asarray(y_train).argmax(1) if np.ndim(y_train) == 2 else y_train
pd.DataFrame({"train images": np.bincount(hard_train, minlength=7)}, index=EMOTIONS7).T
"""),
    ("md", """
## 3. The model: ResNet50 + BAM, one flat graph

`create("resnet50_bam")` writes the bottleneck stack itself with `keras.applications.ResNet50`'s
layer names, so ImageNet weights load by name, and every convolution is a node of the same
functional graph (Grad-CAM can read any layer). The preprocessing that goes with the weights
(`caffe` for ImageNet, `unit` = x / 255 otherwise) lives in the classifier config.
"""),
    ("code", """
from xfer_keras.models.classifier import EmotionClassifier
from xfer_keras.models.registry import create, model_config

with strategy.scope():
    model = create("resnet50_bam", weights=WEIGHTS, input_size=INPUT_SIZE)
clf = EmotionClassifier(model, model_config("resnet50_bam", weights=WEIGHTS,
                                            input_size=INPUT_SIZE, model=model))
print(clf)
print(f"{model.count_params():,} parameters;",
      [l.name for l in model.layers if l.name.startswith("bam")])
"""),
    ("md", "## 4. Training (paper recipe + augmentation + class weights)"),
    ("code", """
import dataclasses
from xfer_keras.training.image import PAPER_RECIPE, fit_classifier

if POSED_SUBJECT_IDS:  # the checkpoint's config names them, so no figure scores them
    clf.config.extra["posed_training"] = {"dataset": "ckplus48", "subjects": POSED_SUBJECT_IDS}
recipe = dataclasses.replace(PAPER_RECIPE, epochs=EPOCHS,
                             early_stopping_patience=pick(quick=0, full=10))
t0 = time.time()
history = fit_classifier(clf, x_train, y_train, x_val, y_val, recipe=recipe, strategy=strategy,
                         checkpoint=f"{OUT}/resnet50_bam_best.keras", verbose=pick(quick=0, full=2))
print(f"{len(history.history['loss'])} epochs in {(time.time() - t0) / 60:.1f} min")
fig, ax = plt.subplots(1, 2, figsize=(9, 3))
epochs = np.arange(1, len(history.history["loss"]) + 1)
for axis, (metric, unit) in zip(ax, (("loss", "cross-entropy"), ("accuracy", "fraction correct"))):
    for key, colour in ((metric, "tab:blue"), (f"val_{metric}", "tab:orange")):
        axis.plot(epochs, history.history[key], marker="o", color=colour, label=key.replace("val_", "validation "))
    axis.set_xlabel("epoch"); axis.set_ylabel(f"{metric} ({unit})"); axis.legend(); axis.grid(alpha=0.3)
    axis.set_xticks(epochs)
plt.tight_layout(); plt.show()
"""),
    ("md", """
## 5. Evaluation: the paper's Table 1 shape and the confusion matrix

The best epoch (on validation accuracy) was checkpointed atomically; reload it. Two inference
checks need no test labels (`xfer_keras.training.adaptation`, ours): how much blurrier the
train pixels are than the test pixels (a warning above 1 px), and mirror averaging, kept if it
helps on validation. Then evaluate on the test set.
"""),
    ("code", """
from xfer_keras.evaluation.confusion import plot_confusion
from xfer_keras.training.adaptation import check_input_blur, choose_tta_flip
from xfer_keras.training.image import evaluate_classifier

best = EmotionClassifier.load(f"{OUT}/resnet50_bam_best.keras")
check_input_blur(best, x_train, x_test)
print("blur check (train vs test sharpness): input_blur =", best.config.input_blur)
y_val_labels = np.asarray(y_val).argmax(1) if np.ndim(y_val) == 2 else y_val
mirror = choose_tta_flip(best, x_val, y_val_labels)
print(f"mirror averaging: validation accuracy plain {mirror['val_accuracy_plain']:.3f}, "
      f"with mirror {mirror['val_accuracy_flip']:.3f} -> used: {best.config.tta_flip}")
evaluation = evaluate_classifier(best, x_test, y_test)
print(f"{DATASET} test accuracy {evaluation.accuracy:.4f}, macro F1 {evaluation.macro_f1:.4f} "
      f"({PROFILE} profile; chance = {1 / 7:.3f})")
display(Markdown(evaluation.markdown()))
plot_confusion(evaluation.confusion, best.class_names,
               title=f"resnet50_bam on {DATASET} test (acc {evaluation.accuracy:.3f})")
plt.show()
if (data_dir() / "ckplus48").is_dir():  # posed faces of people the model never saw
    from xfer_keras.data.ckplus_frames import ckplus48_frame, trained_subjects
    ck48 = ckplus48_frame(exclude_subjects=trained_subjects(best))
    posed_eval = evaluate_classifier(best, load_images(ck48.path, LOAD_SIZE, 3),
                                     encode_labels(ck48.emotion))
    print(f"CK+48, {ck48.subject.nunique()} unseen subjects: accuracy "
          f"{posed_eval.accuracy:.4f}, macro F1 {posed_eval.macro_f1:.4f}")
"""),
    ("md", TABLE1),
    ("md", """
### Another studio's photos

The CK+ full-resolution dev photos, changed as another capture set-up might deliver them
(exposure, contrast, side light, a smaller photo, JPEG, noise, head roll, a mirror:
`xfer_keras.evaluation.capture_shifts`), through the whole pipeline (dlib + this model's crop): how
much of the accuracy survives. `benchmarks/capture_robustness.py` prints the same for the
default model beside the `fer` peer.
"""),
    ("code", """
if (data_dir() / "ckplus_sequences").is_dir():
    from xfer_keras.data.ckplus_frames import ckplus_fullres_dev_frames
    from xfer_keras.evaluation.capture_shifts import CAPTURE_SHIFTS
    from xfer_keras.evaluation.dev_sets import shifted_face_sets, summarise_shifts
    shift_names = pick(quick=["as captured", "darker (gamma 2)", "head roll 12 degrees"],
                       full=list(CAPTURE_SHIFTS))
    photos = ckplus_fullres_dev_frames(pick(quick=2, full=None))  # quick: 2 sequences
    rows = []
    for name, faces in shifted_face_sets(photos, shift_names):
        rows.append({"shift": name, "model": "resnet50_bam",
                     **faces.score(best.predict_proba, size=224, **best.crop_options())})
    for r in rows:
        print(f"{r['shift']:>30}: accuracy {r['accuracy']:.3f}, faces {r['faces_found']}/{r['n']}")
    display(pd.Series(summarise_shifts(rows)["resnet50_bam"]).to_frame("resnet50_bam"))
"""),
    ("md", """
## 6. Grad-CAM

`GradCAM(clf, engine="fast")` explains the predicted class at crop resolution in one traced
function (equal to tf-keras-vis' Grad-CAM within 1e-4, which stays selectable as
`engine="tf-keras-vis"`), on a view of the model that ends at the `logits` layer (nothing is
cloned or modified). The `explain` command's default engine exports the same function to LiteRT
once per model file (~35-185 MB in the cache): worth it for a shipped model, not for one
trained here, so this notebook uses the fast engine and removes any export of its model at the end. The default layer
is the deepest stage output with at least 7x7 cells (`conv5_block3_out` at 224, an earlier
BAM at small inputs).
"""),
    ("code", """
from xfer_keras.explain.gradcam import GradCAM

sample = x_test[:: max(1, len(x_test) // 6)][:6]
cams, targets = GradCAM(best, engine="fast").explain(sample, return_targets=True)
fig, axes = plt.subplots(2, len(sample), figsize=(2 * len(sample) + 0.8, 4.2), squeeze=False)
for i, (img, cam) in enumerate(zip(sample, cams)):
    axes[0, i].imshow(img); axes[0, i].set_title(f"predicted: {best.class_names[targets[i]]}", fontsize=8)
    axes[1, i].imshow(img); shown = axes[1, i].imshow(cam, cmap="jet", alpha=0.45, vmin=0, vmax=1)
    axes[0, i].axis("off"); axes[1, i].axis("off")
fig.colorbar(shown, ax=axes[1].tolist(), fraction=0.03, label="Grad-CAM (0-1)")
fig.suptitle(f"Grad-CAM at layer {best.gradcam_layer} (top: test faces, bottom: overlay)"); plt.show()
assert cams.shape == sample.shape[:3] and 0 <= cams.min() and cams.max() <= 1
"""),
    ("code", """
# clean up: remove any LiteRT export of this notebook's model from the cache
from pathlib import Path
for export in (config.cache_dir() / "litert").glob(f"{Path(best.model_file).stem}-*.tflite"):
    export.unlink(); print("removed", export.name)
print("kept:", f"{OUT}/resnet50_bam_best.keras (for notebooks 06 and 07)")
"""),
]


def main() -> None:
    write_notebook("notebooks/05_train_resnet50_bam.ipynb", "05 - Train ResNet50 + BAM (XFERa)",
                   CELLS, intro=INTRO, paper="xfera", mapping=MAPPING, seen=SEEN,
                   next_up="`06_gradcam_hot_landmarks`: Grad-CAM aligned with the 68 landmarks.")


if __name__ == "__main__":
    main()
