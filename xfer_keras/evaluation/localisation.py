"""Does a heatmap look at the face? Two localisation measures against the 68-landmark hull.

* **pointing game** (Zhang et al. 2016): a hit when the heatmap's maximum lies inside the convex
  hull of the face's landmarks;
* **in:out ratio**: mean heat inside the hull divided by mean heat outside it (1 = no
  preference; border artefacts of zero padding or stride grids push it below 1).

:func:`localisation_scores` averages both over crops; :func:`layer_localisation` scores each
candidate Grad-CAM layer of a classifier and :func:`choose_layer` picks one by a fixed rule
(``benchmarks/gradcam_localisation.py`` prints the table on the CK+ peak frames,
``scripts/choose_image_settings.py`` applies the rule there).
"""

from __future__ import annotations

import numpy as np

from xfer_keras.xfera.hot_landmarks import align_heatmap, face_region_mask


def pointing_hit(heatmap: np.ndarray, mask: np.ndarray) -> bool:
    """True when the heatmap's maximum (any of them, when tied) lies inside ``mask``."""
    heatmap = np.asarray(heatmap, dtype=np.float64)
    top = heatmap >= heatmap.max() - 1e-12
    return bool(np.any(top & mask))


def in_out_ratio(heatmap: np.ndarray, mask: np.ndarray) -> float:
    """Mean heat inside ``mask`` / mean heat outside it (inf when the outside is cold)."""
    heatmap = np.asarray(heatmap, dtype=np.float64)
    inside, outside = heatmap[mask].mean(), heatmap[~mask].mean() if (~mask).any() else 0.0
    return float(inside / outside) if outside > 0 else float("inf")


def localisation_scores(heatmaps, landmarks, shape) -> dict:
    """Pointing-game share and in:out ratios of ``heatmaps`` (N, h, w) against the hulls of
    ``landmarks`` (N, 68, 2) in crops of ``shape`` (H, W): ``pointing``, ``ratio_median`` (median
    of the per-crop ratios; a crop with no heat outside has ratio inf), ``ratio_pooled`` (mean
    heat inside over all crops / mean heat outside over all crops), per-crop lists."""
    hits, ratios, heat_in, heat_out = [], [], [], []
    for heatmap, points in zip(heatmaps, landmarks):
        heatmap = align_heatmap(np.asarray(heatmap, dtype=np.float32), tuple(shape))
        mask = face_region_mask(points, tuple(shape), "hull")
        hits.append(pointing_hit(heatmap, mask))
        ratios.append(in_out_ratio(heatmap, mask))
        heat_in.append(heatmap[mask].mean())
        heat_out.append(heatmap[~mask].mean() if (~mask).any() else 0.0)
    pooled_out = float(np.mean(heat_out))
    return {"pointing": float(np.mean(hits)), "ratio_median": float(np.median(ratios)),
            "ratio_pooled": float(np.mean(heat_in) / pooled_out) if pooled_out > 0
            else float("inf"),
            "n": len(hits), "hits": hits, "ratios": ratios}


MIN_CELLS = 6  # hot landmarks need a map that tells brows, eyes, nose and mouth apart


def candidate_layers(model, min_cells: int = MIN_CELLS) -> list[str]:
    """Stage outputs (BAM or block outputs) and first-conv ReLUs of each block, shallow to deep,
    with at least ``min_cells`` x ``min_cells`` cells (a 3x3 map of a 48 px model cannot place
    heat on one facial part)."""
    import re

    names = []
    for layer in model.layers:
        shape = getattr(getattr(layer, "output", None), "shape", None)
        if shape is None or len(shape) != 4 or min(shape[1] or 0, shape[2] or 0) < min_cells:
            continue
        if re.match(r"^(bam\d+|conv\d+_block\d+_(out|1_relu))$", layer.name):
            names.append(layer.name)
    return names


def layer_localisation(classifier, crops, layers=None) -> dict:
    """``{layer: localisation_scores + cells}`` of Grad-CAM (predicted class) at each layer, for
    :class:`~xfer_keras.face.types.Crop` objects cut as the pipeline cuts them."""
    from xfer_keras.explain.gradcam import GradCAM

    images = np.stack([c.image for c in crops])
    landmarks = [c.landmarks for c in crops]
    out = {}
    for layer in layers or candidate_layers(classifier.model):
        maps = GradCAM(classifier, layer=layer).explain(images)
        scores = localisation_scores(maps, landmarks, images.shape[1:3])
        scores["cells"] = int(classifier.model.get_layer(layer).output.shape[1])
        out[layer] = scores
    return out


POINTING_GOAL = 0.9  # issue 10: the Grad-CAM maximum inside the landmark hull for 90 % of crops
RATIO_GOAL = 2.0  # and twice the mean heat inside the hull as outside it (pooled)


def meets_goals(score: dict, pointing_min: float = POINTING_GOAL,
                ratio_min: float = RATIO_GOAL) -> bool:
    """Whether one layer's scores (:func:`layer_localisation`) reach both goals."""
    return score["pointing"] >= pointing_min and score["ratio_pooled"] >= ratio_min


def choose_layer(scores: dict, pointing_min: float = POINTING_GOAL, ratio_min: float = RATIO_GOAL,
                 min_cells: int = MIN_CELLS) -> str:
    """Among layers with at least ``min_cells`` cells, the finest (most cells; deeper on ties)
    whose pointing and pooled in:out ratio both reach the goals; when none does, the one
    closest to them (the larger of the two shortfalls, relative to its goal, smallest)."""
    layers = [name for name in scores if scores[name]["cells"] >= min_cells] or list(scores)
    passing = [name for name in layers if meets_goals(scores[name], pointing_min, ratio_min)]
    if passing:
        return max(passing, key=lambda n: (scores[n]["cells"], layers.index(n)))

    def shortfall(name):
        r = scores[name]
        return max(1 - r["pointing"] / pointing_min, 1 - r["ratio_pooled"] / ratio_min)

    return min(layers, key=shortfall)
