"""Build notebooks/06_gradcam_hot_landmarks.ipynb: ``python scripts/nb_06_gradcam_hot_landmarks.py``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts.make_notebook import write_notebook  # noqa: E402

INTRO = """XFERa, steps 1-2 of Algorithm 1: a Grad-CAM heatmap of the predicted emotion, aligned with
the 224x224 face crop and its 68 dlib landmarks; the dynamic threshold `mean + k*std` over the
face region; the *hot* landmarks (red) against the cold ones (blue); and the paper's Table 2,
which names the landmarks of each Action Unit (counted from 1 in the paper, from 0 here).

Colours keep one meaning throughout: **red = hot** (above the threshold), **blue = cold**; the
heatmap itself runs from blue (low) to red (high), scaled 0-1 in every panel."""

MAPPING = [
    ("Algorithm 1 lines 2-4: Grad-CAM of the predicted emotion", "2", "the shipped CPU model by default (see section 1 for notebook 05's)"),
    ("§2: dlib face, 224x224 crop; heatmap resized and aligned with the 68 points", "2", "same"),
    ("§2.1: dynamic threshold mean + k std over the facial region; hot = above it", "3", "k = 1 here, 0.5 and 2 beside it (the paper does not give k); face region = convex hull of the 68 points"),
    ("§2.1: hot landmarks red, cold blue", "3-4", "same"),
    ("Table 2: AU -> landmarks (1-based)", "4", "verbatim (`facs.TABLE2_1BASED`); `facs.AU_LANDMARKS` adds 9 AUs the paper does not map (ours, for the emotion prototypes)"),
    ("Algorithm 1 line 20: AU activated when >= 70 % of its landmarks are hot", "4", "same"),
]

SEEN = """
- A heatmap per face in [0, 1], and hot landmarks where it is high; k moves the threshold
  (k = 0.5: many hot points, k = 2: a few).
- Each Table 2 AU with the share of its landmarks that are hot; an AU counts as activated at 70 %.
- Over the images, the landmarks the shipped model uses most often (mouth and eyes, for a
  trained model).
"""

CELLS = [
    ("md", """
## 1. Model and images

The shipped default model (`saved_models/MODEL_CARD.md`): trained to convergence and evaluated
on held-out people, so its heatmaps mean something on a laptop. The model notebook 05 trains is
one line away - set `MODEL = "outputs/05_resnet50_bam/resnet50_bam_best.keras"` - but only a
full-profile (GPU) run of 05 gives one worth explaining; a quick run's model is untrained.
Images: CK+ peak frames when `XFER_DATA_DIR` holds them, else scikit-image's astronaut.
"""),
    ("code", """
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt

from xfer_keras.explain.gradcam import GradCAM
from xfer_keras.face import LandmarkDetector, crop_face, load_image
from xfer_keras.models.classifier import EmotionClassifier
from xfer_keras.xfera import facs
from xfer_keras.xfera.hot_landmarks import find_hot_landmarks, heatmap_overlay, landmark_overlay

MODEL = None   # None = the shipped default model; or notebook 05's: "outputs/05_resnet50_bam/resnet50_bam_best.keras"
clf = EmotionClassifier.load(MODEL)
print(clf)

root = config.data_dir(required=False)
n_images = config.pick(quick=6, full=40)
if root is not None and (root / "ckplus_sequences/sequences.csv").is_file():
    seqs = pd.read_csv(root / "ckplus_sequences/sequences.csv", dtype=str).head(n_images)
    images = {f"{r.subject}_{r.sequence} ({r.emotion})":
              load_image(root / "ckplus_sequences" / r.frames_dir / r._7) for r in seqs.itertuples()}
else:
    from skimage import data
    images = {"astronaut": data.astronaut()}
print(len(images), "images")
"""),
    ("md", """
## 2. Crop, landmarks, Grad-CAM

dlib finds the face and its 68 points; `crop_face` cuts a 224x224 square and maps the points
into it; Grad-CAM explains the predicted class at the crop's resolution.
"""),
    ("code", """
with LandmarkDetector("dlib") as detector:
    crops = {name: crop_face(img, detector.detect_one(img, source=name), size=224)
             for name, img in images.items()}
batch = np.stack([c.image for c in crops.values()])
probs = clf.predict_proba(batch)
cams = GradCAM(clf).explain(batch, targets=probs.argmax(1))
predicted = [clf.class_names[i] for i in probs.argmax(1)]
print(cams.shape, cams.min(), cams.max())
"""),
    ("md", """
## 3. Hot landmarks for k = 0.5, 1 (the paper), 2

The threshold is computed over the face region (convex hull of the 68 points), so background
activation does not lower it. Landmarks falling outside the crop are cold.
"""),
    ("code", """
ks = (0.5, 1.0, 2.0)
names = list(crops)[:3]
fig, axes = plt.subplots(len(names), len(ks) + 1, figsize=(3 * (len(ks) + 1), 3 * len(names)), squeeze=False)
rows = []
for r, name in enumerate(names):
    crop, cam = crops[name], cams[list(crops).index(name)]
    axes[r, 0].imshow(heatmap_overlay(crop.image, cam)); axes[r, 0].set_title(f"{name}\\n-> {predicted[r]}", fontsize=8)
    for c, k in enumerate(ks, start=1):
        hot = find_hot_landmarks(cam, crop.landmarks, k=k)
        axes[r, c].imshow(landmark_overlay(crop.image, crop.landmarks, hot.hot, heatmap=cam, alpha=0.3))
        axes[r, c].set_title(f"k={k}: {len(hot.indices)} hot, thr={hot.threshold:.2f}", fontsize=8)
        rows.append({"image": name, "k": k, "n_hot": len(hot.indices), "threshold": round(hot.threshold, 3)})
for ax in axes.ravel():
    ax.axis("off")
plt.tight_layout(); plt.show()
pd.DataFrame(rows).pivot(index="image", columns="k", values="n_hot")
"""),
    ("md", """
## 4. Table 2: the landmarks of each Action Unit

`facs.TABLE2_1BASED` is the paper's table verbatim (1-based); `facs.AU_LANDMARKS_TABLE2` the
same converted once to 0-based indices (tested against the table). `facs.AU_LANDMARKS` adds
landmark sets for AUs 10, 11, 14, 16, 18, 22, 24, 25 and 27, which the emotion prototypes use
but Table 2 does not map: those are ours, not the paper's. An AU is *activated* when at least
70 % of its landmarks are hot (Algorithm 1, line 20). Each panel draws only that AU's
landmarks, red = hot, blue = cold, as above.
"""),
    ("code", """
crop, cam = next(iter(crops.values())), cams[0]
hot = find_hot_landmarks(cam, crop.landmarks, k=1.0)
aus = sorted(facs.AU_LANDMARKS_TABLE2)
fig, axes = plt.subplots(2, (len(aus) + 1) // 2, figsize=(2.2 * ((len(aus) + 1) // 2), 4.8))
table = []
for ax, au in zip(axes.ravel(), aus):
    idx = list(facs.AU_LANDMARKS_TABLE2[au])
    ax.imshow(landmark_overlay(crop.image, crop.landmarks[idx], hot.hot[idx], radius=3))
    frac = hot.hot[idx].mean()
    ax.set_title(f"{facs.au_label(au)} {frac:.0%} hot", fontsize=8); ax.axis("off")
    table.append({"AU": facs.au_label(au), "name": facs.AU_NAMES[au],
                  "paper (1-based)": ", ".join(str(i + 1) for i in idx), "hot fraction": round(frac, 2),
                  "activated (>= 70 %)": frac >= 0.7})
for ax in axes.ravel()[len(aus):]:
    ax.axis("off")
plt.suptitle(f"Table 2 AUs on {names[0]}: red = hot, blue = cold (k = 1)", fontsize=10)
plt.tight_layout(); plt.show()
pd.DataFrame(table)
"""),
    ("md", """
## 5. Where does the model look? Hot-landmark frequency over the images

Each landmark coloured by the fraction of images in which it is hot (0 = never, 1 = always).
With the shipped model the mouth and eyes should dominate; with an untrained model the pattern
is arbitrary.
"""),
    ("code", """
hot_all = np.stack([find_hot_landmarks(cams[i], c.landmarks).hot for i, c in enumerate(crops.values())])
freq = hot_all.mean(0)
mean_pts = np.mean([c.landmarks for c in crops.values()], axis=0)
plt.figure(figsize=(4, 4))
plt.scatter(mean_pts[:, 0], mean_pts[:, 1], c=freq, cmap="coolwarm", vmin=0, vmax=1, s=40)
plt.gca().invert_yaxis(); plt.gca().set_aspect("equal"); plt.colorbar(label="fraction of images where hot")
plt.xlabel("x in the 224 px crop (px)"); plt.ylabel("y in the crop (px)")
plt.title(f"hot-landmark frequency over {len(crops)} images"); plt.show()
"""),
]

if __name__ == "__main__":
    write_notebook("notebooks/06_gradcam_hot_landmarks.ipynb", "06 - Grad-CAM and hot landmarks (XFERa)",
                   CELLS, intro=INTRO, paper="xfera", mapping=MAPPING, seen=SEEN,
                   next_up="`07_explanations`: Action Units, fusion and the plain-language text.")
