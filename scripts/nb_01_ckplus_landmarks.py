"""Build notebooks/01_ckplus_landmarks.ipynb: ``python scripts/nb_01_ckplus_landmarks.py``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts.make_notebook import write_notebook  # noqa: E402

CELLS = [
    ("md", """
## 1. The CK+ sequences

`load_ckplus_sequences()` reads either the original CK+ release (`cohn-kanade-images/` +
`Emotion/` [+ `FACS/`]) or the shared subset (`sequences.csv` + `images/`), from
`XFER_DATA_DIR` (see `data/README.md`). Each record is one neutral -> peak video with its
subject, emotion (contempt dropped, as in the paper) and the FACS codes of the peak frame.
"""),
    ("code", """
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
from xfer_keras.data import (load_ckplus_sequences, load_ckplus_dataset, extract_landmarks,
                             read_aam_landmarks, aam_landmark_files, mean_face,
                             grouped_train_test_split, leave_one_subject_out)
from xfer_keras.data.ckplus_checks import ckplus_landmark_report, format_report

records = load_ckplus_sequences()
table = pd.DataFrame([{"id": r.id, "subject": r.subject, "emotion": r.emotion,
                       "frames": r.n_frames, "peak AUs": r.au_codes} for r in records])
print(len(records), "sequences,", table.frames.sum(), "frames,", table.subject.nunique(), "subjects")
table.groupby("emotion").agg(videos=("id", "size"), frames=("frames", "sum"))
"""),
    ("md", """
## 2. Landmarks of every frame, both backends

`load_ckplus_dataset` detects every frame once (one detector per backend, progress bar) and
caches the result under `XFER_CACHE_DIR`; later calls, tests and notebooks read the cache.
MediaPipe gives the 468-point mesh the paper uses; dlib gives the 68 iBUG points.
"""),
    ("code", """
ds_mesh = load_ckplus_dataset("mediapipe")   # (N, P, 2, 468, 1)
ds_dlib = load_ckplus_dataset("dlib")        # (N, P, 2, 68, 1)
for ds in (ds_mesh, ds_dlib):
    print(ds.topology, ds.X.shape, "| P =", ds.input_shape[0], "| normalize:", ds.meta["normalize"],
          "| frames without a face:", sum(ds.meta["frames_without_face"].values()))
"""),
    ("md", """
One peak frame with both landmark sets, and CK+'s own AAM landmarks where the data has them
(the shared subset has one reference frame, `S052_004_00000033`).
"""),
    ("code", """
references = aam_landmark_files()
stem = next(iter(references), None)
record = next((r for r in records if r.peak_path.stem == stem), records[0])
frame_path = record.peak_path
(dlib_frame,) = extract_landmarks([frame_path], "dlib", progress=False)
(mesh_frame,) = extract_landmarks([frame_path], "mediapipe", progress=False)

fig, ax = plt.subplots(figsize=(7, 6))
ax.imshow(plt.imread(frame_path), cmap="gray")
ax.scatter(*mesh_frame.landmarks[:468].T, s=2, c="deepskyblue", label="MediaPipe mesh (468)")
ax.scatter(*dlib_frame.landmarks.T, s=12, c="red", label="dlib (68)")
if frame_path.stem in references:
    ax.scatter(*read_aam_landmarks(references[frame_path.stem]).T, s=18, facecolors="none",
               edgecolors="yellow", label="CK+ AAM (68)")
x0, y0, x1, y1 = dlib_frame.box
ax.set_xlim(x0 - 40, x1 + 40); ax.set_ylim(y1 + 40, y0 - 70)
ax.set_title(f"{record.id} peak ({record.emotion})"); ax.legend(loc="lower right"); ax.axis("off")
plt.show()
"""),
    ("md", """
How close are they? Errors in units of the reference's **outer inter-ocular distance**
(iBUG points 36-45; 0.01 is about 1.5 px on these 640x490 frames). MediaPipe is compared on
12 anatomically matched points. The last line compares today's dlib run with the landmarks stored
beside the shared data (`landmarks_dlib68.csv`): a reproducibility check of the detector, not
an accuracy figure - a value near 0.01 means the same points to about a pixel.
"""),
    ("code", """
print(format_report(ckplus_landmark_report(progress=False)))
"""),
    ("md", """
## 3. Sequence tensors

P frames are taken uniformly from neutral to peak (8 in the quick profile, 10 in full). The
default normalisation `"face"` aligns every frame on the outer eye corners (centre, roll,
inter-ocular scale), so only expression movement remains. Options: `"pixels"`, `"image"`,
`"box"` (the paper's square face crop), and `coords=3` adds MediaPipe's depth.
"""),
    ("code", """
peak_minus_neutral = ds_dlib.X[:, -1, :, :, 0] - ds_dlib.X[:, 0, :, :, 0]   # (N, 2, 68)
movement = np.linalg.norm(peak_minus_neutral, axis=1).mean(axis=0)
top = np.argsort(-movement)[:6]
print("dlib landmarks that move most neutral -> peak (inter-ocular units):",
      {int(k): round(float(movement[k]), 3) for k in top})

fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
for ax, ds in zip(axes, (ds_mesh, ds_dlib)):
    face = mean_face(ds)
    ax.scatter(face[:, 0], face[:, 1], s=3 if ds.n_landmarks > 100 else 12)
    ax.invert_yaxis(); ax.set_aspect("equal"); ax.set_title(f"mean face, {ds.topology} ({ds.n_landmarks} points)")
    ax.set_xlabel("x (inter-ocular distances, eye centre = 0)"); ax.set_ylabel("y (inter-ocular distances, down)")
plt.show()
"""),
    ("md", """
## 4. Flip augmentation

`flip=True` appends a mirrored copy of every video (ids `*_flip`): x is mirrored with the
image width, then left/right landmark ids are swapped (`xfer_keras.face.flip_landmarks`), so
landmark 36 is still "the outer corner of the image-left eye". Copies keep their subject.
In the plot, id 36 (red) stays on the image-left and id 45 (blue) on the image-right in both
panels: the *person's* right eye has moved, the ids followed it. The paper says "flipping each
frame vertically" and does not mention ids; a mirror without the swap would put id 36 on the
image-right and teach the nets two positions for one landmark.
"""),
    ("code", """
ds_flip = load_ckplus_dataset("dlib", flip=True, progress=False)
print(ds_flip.X.shape, ds_flip.ids[:2].tolist(), ds_flip.ids[len(records):len(records) + 2].tolist())
i = 0; j = len(records) + i
fig, axes = plt.subplots(1, 2, figsize=(9, 4.5), sharex=True, sharey=True)
for ax, k, title in ((axes[0], i, "original"), (axes[1], j, "flipped (mirrored + ids swapped)")):
    pts = ds_flip.X[k, -1, :2, :, 0].T          # (68, 2) peak frame
    ax.scatter(*pts.T, s=10, c="0.6")
    for lm, colour in ((36, "tab:red"), (45, "tab:blue")):   # outer eye corners
        ax.scatter(*pts[lm], s=60, c=colour)
        ax.annotate(f"id {lm}", pts[lm], textcoords="offset points", xytext=(0, 8), ha="center", color=colour)
    ax.set_title(f"{ds_flip.ids[k]}: {title}", fontsize=9); ax.set_aspect("equal")
    ax.set_xlabel("x (inter-ocular distances)")
axes[0].set_ylabel("y (inter-ocular distances, down)"); axes[0].invert_yaxis()
plt.show()
"""),
    ("md", """
## 5. Subject-grouped splits

A subject's videos (and their flips) never sit on both sides of a split.
"""),
    ("code", """
train, test = grouped_train_test_split(ds_flip.subjects, test_size=0.2, seed=0, labels=ds_flip.labels6)
print("train subjects:", np.unique(ds_flip.subjects[train]).tolist())
print("test subjects: ", np.unique(ds_flip.subjects[test]).tolist(), "|", len(test), "samples")
assert not set(ds_flip.subjects[train]) & set(ds_flip.subjects[test])
print("leave-one-subject-out folds:", sum(1 for _ in leave_one_subject_out(ds_flip.subjects)))
print("one-vs-rest labels for 'happiness':", ds_flip.binary_labels("happiness")[:12])
"""),
]

MAPPING = [
    ("§3.2 CK+, contempt removed", "1", "the 40 shared sequences of 10 subjects (the paper: 574 samples with flips); same labels"),
    ("§3.2 crop, 300x300 grayscale, 468 landmarks", "2", "MediaPipe runs on the whole frame (it finds the face itself); dlib 68 added (ours: the XFERa half and the shipped EMO nets use it)"),
    ("-", "2 (check)", "ours: both detectors against CK+'s own AAM landmarks, to know how far to trust the input"),
    ("§3.3 tensor N x P x C x L x 1", "3", "P frames sampled neutral -> peak (the paper does not give P); face-aligned coordinates by default (ours: the paper's square crop is `normalize=\"box\"`)"),
    ("§3.2 flipping each frame", "4", "mirror + left/right id swap (ours: the paper does not say how ids are handled)"),
    ("§4 train/validation/test partitions", "5", "subject-grouped (ours: the paper's partitions are random, which tests on faces seen in training)"),
]

SEEN = """
- 40 neutral -> peak videos, 4-9 per emotion: a small, imbalanced set (read balanced accuracy later).
- Both detectors put their points on the face; dlib is ~0.04 inter-ocular distances from CK+'s
  AAM points, MediaPipe's matched points ~0.03.
- Neutral -> peak, the mouth landmarks move most (dlib ids 56-67, about 0.1 inter-ocular distances).
- The flip mirrors the face and keeps every id on its anatomical side; splits never share a subject.
"""


def main() -> None:
    out = Path(__file__).resolve().parents[1] / "notebooks" / "01_ckplus_landmarks.ipynb"
    write_notebook(str(out), "01 - CK+ landmark sequences", CELLS, intro=(
        "From CK+ videos to the landmark-sequence tensors `N x P x C x L x 1` of the EMO nets: "
        "read the sequences, extract landmarks with MediaPipe (468) and dlib (68), check them "
        "against CK+'s own landmarks, normalise, flip, and split by subject."),
        paper="emo", mapping=MAPPING, seen=SEEN,
        next_up="`02_train_emo_nets`: the EMO nets trained on these tensors.")
    print("wrote", out)


if __name__ == "__main__":
    main()
