"""Build notebooks/03_integrated_gradients.ipynb: ``python scripts/nb_03_integrated_gradients.py``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts.make_notebook import write_notebook  # noqa: E402

INTRO = """Integrated Gradients on the EMO nets (Di Luzio, Rosato, Panella, §3.1 and §3.3):
one video explained against one baseline (Figure 2), then the *global* per-emotion landmark
importance - every sample of an emotion against a typical sample of each of the five other
emotions - and Figure 3, the top-K landmarks on the mean face.

The rankings here are **descriptive**: the six nets are trained on all 40 sequences to show
what they rely on. The pruning experiment (notebook 04) recomputes the ranking inside each
run's training partition, so its test scores never benefit from the test samples.

**Why IG needs a baseline.** A gradient says how the output changes for a tiny change of the
input, here and now; a saturated net has near-zero gradients even where the input matters.
IG instead accumulates the gradient along a straight path from a *baseline* x' to the input x
(eq. 1), and the attributions add up to F(x) - F(x') (completeness). So an attribution always
answers "compared with what?". For images x' is often a black image. A landmark sequence has no
natural "black": zeros would be a face collapsed to one point. The paper takes **typical
videos of the other emotions** as baselines, one per emotion, and averages: the attribution
then says what makes this video *surprise rather than happiness, anger, ...*. Which video is
"typical" is not specified in the paper; `baseline_rule` offers three rules (section 3)."""

MAPPING = [
    ("§3.1 eq. 1-2: IG, right Riemann sum with m steps", "2", "the paper's rule plus left / middle / trapezoid / Gauss-Legendre, with the completeness check (ours)"),
    ("§3.3 Figure 2: P(surprise) along alpha, a sadness (caption) / happiness (text) baseline", "2", "a happiness baseline, as in the text"),
    ("§3.3 attribution mask: sum |IG| over frames and coordinates", "2", "same"),
    ("§3.3 global IG: typical baselines of the five other emotions, mean over samples then baselines", "3", "'typical' = the video that emotion's own net scores highest (`confidence`; the paper does not say how it chose)"),
    ("§4 Figure 3: top 234 / 128 / 64 / 32 / 16 landmarks", "4", "same, and maps of the scores themselves (ours) on one colour scale"),
    ("§4 nets trained on the training set", "1", "descriptive here: nets trained on all 40 videos (notebook 04 ranks inside each training partition)"),
]

SEEN = """
- The training table tells you whether the nets separate their emotion at all; in the quick
  profile they mostly do not (P on positives and negatives within a few hundredths), so the
  rankings describe a barely trained net.
- Completeness holds up to the integration error, which falls as the number of steps grows;
  the printed line says which rule needs the fewest steps on this net.
- Each emotion's top landmarks differ (Jaccard overlaps well below 1), and Figure 3 draws them.
- There is no full-profile reference ranking shipped (it needs the full profile's trained nets);
  `docs/ig.md` describes the method and its tests.
"""

CELLS = [
    ("md", """
## 1. Data and six T-EMO nets

`load_ckplus_dataset()` gives the 40 shared CK+ sequences as `(N, P, 2, 468, 1)` MediaPipe mesh
landmarks (face-normalised; P = 8 quick / 10 full). One binary T-EMO net per emotion, output
column 1 = "is the emotion". Quick profile: 12 epochs at learning rate 1e-3, enough to run every
step, not enough to train (check the table); full profile: the paper's recipe (Adam 1e-4,
batch 16, up to 100 epochs, early stopping).
"""),
    ("code", """
import time
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
from pathlib import Path

from xfer_keras.data import load_ckplus_dataset, mean_face
from xfer_keras.emotions import EMOTIONS6
from xfer_keras.explain.global_ig import alpha_curve, global_ig
from xfer_keras.explain.integrated_gradients import IntegratedGradients, METHODS
from xfer_keras.models.emo_net import build_emo_net
from xfer_keras.training.emo_fit import fit_emo_net
from xfer_keras.emo.plots import (IG_UNIT, plot_alpha_curve, plot_figure3, plot_figure3_grid,
                                  plot_importance_maps)

OUT = Path("outputs/ig"); OUT.mkdir(parents=True, exist_ok=True)
ds = load_ckplus_dataset(progress=False)
print(ds.summary())

EPOCHS = config.pick(quick=12, full=100)
LR = config.pick(quick=1e-3, full=1e-4)
models, rows = {}, []
for k, emotion in enumerate(EMOTIONS6):
    y = ds.binary_labels(emotion)
    net = build_emo_net(ds.input_shape, variant="t-emo", seed=k, name=f"t_emo_{emotion}")
    fit = fit_emo_net(net, ds.X, y, epochs=EPOCHS, learning_rate=LR, seed=k,
                      patience=config.pick(quick=12, full=10))
    p = net.predict(ds.X, verbose=0)[:, 1]
    models[emotion] = net
    rows.append({"emotion": emotion, "positives": int(y.sum()), "epochs": fit.epochs_run,
                 "train accuracy": float(np.mean((p > 0.5) == y)),
                 "mean P on positives": float(p[y == 1].mean()),
                 "mean P on negatives": float(p[y == 0].mean())})
table = pd.DataFrame(rows).set_index("emotion")
margin = table["mean P on positives"] - table["mean P on negatives"]
print(f"nets whose mean P on positives exceeds that on negatives by > 0.2: {int((margin > 0.2).sum())} of 6 "
      f"(largest gap {margin.max():.3f})")
table.round(3)
"""),
    ("md", """
Read this table before the explanations: IG explains *the net it is given*. When P on
positives and negatives are close (as in the quick profile's few epochs on 40 videos), the
attributions are small and the rankings below describe a barely trained net - run the full
profile for rankings worth interpreting.
"""),
    ("md", """
## 2. One video, one baseline (Figure 2)

A *surprise* video explained by the surprise net, with a *happiness* video as the baseline
(the paper's text; its caption uses sadness). The curve is the net's P(surprise) along the
straight path from the baseline (alpha = 0) to the input (alpha = 1); IG integrates the
gradient along it. `IntegratedGradients(...).explain` returns an `IGResult`: attributions with
the input's shape, the convergence delta `sum(IG) - (F(x) - F(x'))`, and tables.
"""),
    ("code", """
surprise = np.flatnonzero(ds.emotions == "surprise")
happy = np.flatnonzero(ds.emotions == "happiness")
p_s = models["surprise"].predict(ds.X[surprise], verbose=0)[:, 1]
p_h = models["surprise"].predict(ds.X[happy], verbose=0)[:, 1]
sample, baseline = surprise[np.argmax(p_s)], happy[np.argmin(p_h)]

curve = alpha_curve(models["surprise"], ds, sample, baseline, n_alphas=41)
fig = plot_alpha_curve(curve)
fig.savefig(OUT / "figure2_alpha_curve.png", dpi=120, bbox_inches="tight")

ig = IntegratedGradients(models["surprise"], n_steps=64, method="gausslegendre")
one = ig.explain(ds.X[[sample]], targets=1, baselines=ds.X[baseline], ids=ds.ids[[sample]])
print("attributions", one.attributions.shape)
one.to_dataframe().round(4)
"""),
    ("md", """
Completeness - the attributions add up to F(x) - F(x') - holds up to the quadrature error of
the integral: the table gives |delta| / |F(x) - F(x')| per rule and number of steps m (one
gradient per step). The paper's eq. 2 is the right Riemann sum. Which rule is most accurate at
a given m depends on how the net's output bends along the path, so the cell below reads it off
the table rather than assuming it.
"""),
    ("code", """
rows = []
for method in METHODS:
    for m in (8, 16, 64):
        r = IntegratedGradients(models["surprise"], n_steps=m, method=method).explain(
            ds.X[[sample]], targets=1, baselines=ds.X[baseline])
        rows.append({"method": method, "n_steps": m, "relative delta": float(r.relative_delta[0, 0])})
deltas = pd.DataFrame(rows).pivot(index="method", columns="n_steps", values="relative delta")
for m in deltas.columns:
    print(f"m = {m:3d}: smallest error {deltas[m].min():.1e} ({deltas[m].idxmin()}); "
          f"the paper's riemann_right {deltas.loc['riemann_right', m]:.1e}")
deltas.map(lambda v: f"{v:.2e}")
"""),
    ("md", """
The attribution mask of this one video: `sum |IG|` over frames and coordinates, one value per
landmark.
"""),
    ("code", """
face = mean_face(ds)
mask = one.landmark_mask()[0]
fig, ax = plt.subplots(figsize=(4, 4.3))
sc = ax.scatter(face[:, 0], face[:, 1], c=mask, s=8, cmap="viridis", vmin=0)
ax.invert_yaxis(); ax.set_aspect("equal"); ax.set_xticks([]); ax.set_yticks([])
ax.set_title(f"sum |IG|: {ds.ids[sample]} vs baseline {ds.ids[baseline]}", fontsize=9)
fig.colorbar(sc, ax=ax, fraction=0.046, label=IG_UNIT.replace("mean ", ""))
top = np.argsort(-mask)[:10]
print("top-10 landmarks of this video:", ds.landmark_indices[top].tolist())
"""),
    ("md", """
## 3. Global IG: per-emotion landmark importance (§3.3)

For each emotion: baselines = one typical video of each of the five other emotions (rule
`"confidence"`: the video that emotion's own net scores highest); IG of the emotion's net for
every video of the emotion against each baseline (right Riemann sum, the paper's eq. 2);
mask = `sum |IG|` over frames and coordinates; mean over videos, then over baselines.

| `baseline_rule` | the typical video of another emotion e' |
|---|---|
| `confidence` (used here) | the video of e' that e' 's own net scores highest |
| `medoid` | the video of e' closest (summed distance) to the other videos of e' |
| `least_target` | the video of e' that the explained net scores lowest (F(x') near 0, as §3.1 asks) |
"""),
    ("code", """
t0 = time.time()
result = global_ig(models, ds, baseline_rule="confidence", n_steps=config.pick(quick=16, full=50))
print(f"global IG in {time.time() - t0:.1f} s;", result.meta)
result.to_json(OUT / "global_ig_mesh468.json")
pd.DataFrame(result.diagnostics).T.round(4)
"""),
    ("code", """
print("baselines:")
for e in result.emotions:
    print(f"  {e:9s}", ", ".join(f"{b['emotion']}={b['id']}" for b in result.baselines[e]))
result.ranking_table(10)   # topology landmark ids, rank 1 = most important
"""),
    ("md", """
How much do the emotions share their most important landmarks? Jaccard overlap of the top-32
sets (1 = the same 32 landmarks).
"""),
    ("code", """
tops = {e: set(result.top_k(e, 32, ids=True).tolist()) for e in result.emotions}
pd.DataFrame({a: {b: len(tops[a] & tops[b]) / len(tops[a] | tops[b]) for b in tops} for a in tops}).round(2)
"""),
    ("md", """
## 4. Figure 3: the top-K landmarks on the mean face

Grey dots: all 468 mesh points (mean face of the 40 videos); blue circles: the K most
important for the emotion, K = 234, 128, 64, 32, 16.
"""),
    ("code", """
fig = plot_figure3(face, result, "surprise")
fig.savefig(OUT / "figure3_surprise.png", dpi=120, bbox_inches="tight")
"""),
    ("code", """
fig = plot_figure3_grid(face, result)
fig.savefig(OUT / "figure3_all_emotions.png", dpi=100, bbox_inches="tight")
"""),
    ("md", """
The scores themselves, all six emotions on **one colour scale** (0 to the largest score of any
emotion), so colours compare across panels: a net that barely separates its emotion has small
attributions everywhere.
"""),
    ("code", """
fig = plot_importance_maps(face, result)
fig.savefig(OUT / "importance_maps.png", dpi=100, bbox_inches="tight")
"""),
    ("md", """
The per-emotion scores and rankings are in `outputs/ig/global_ig_mesh468.json`
(`GlobalIGResult.from_json` reads it back); `result.to_dataframe()` is the long table
(emotion, column, landmark id, score, rank).
"""),
    ("code", """
result.to_dataframe().sort_values(["emotion", "rank"]).groupby("emotion").head(3)
"""),
]

if __name__ == "__main__":
    write_notebook("notebooks/03_integrated_gradients.ipynb", "03 - Integrated Gradients on the EMO nets",
                   CELLS, intro=INTRO, paper="emo", mapping=MAPPING, seen=SEEN,
                   next_up="`04_landmark_pruning`: retraining on the top-K landmarks (Tables 6-7).")
