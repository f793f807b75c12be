"""Does a heatmap look at the face? Two localisation measures against the 68-landmark hull.

* **pointing game** (Zhang et al. 2016): a hit when the heatmap's maximum lies inside the convex
  hull of the face's landmarks;
* **in:out ratio**: mean heat inside the hull divided by mean heat outside it (1 = no
  preference; border artefacts of zero padding or stride grids push it below 1).

:func:`localisation_scores` averages both over crops; ``benchmarks/gradcam_localisation.py``
prints them for each candidate Grad-CAM layer on the CK+ peak frames.
"""

from __future__ import annotations

import numpy as np

from xfer_keras.explain.hot_landmarks import align_heatmap, face_region_mask


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
