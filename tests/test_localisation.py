"""Localisation measures (pointing game, in:out heat ratio) on planted maps, and the Grad-CAM
property on real CK+ peak frames with the shipped model: its heat lies on the face."""

import numpy as np
import pytest

from xfer_keras.evaluation.localisation import (choose_layer, in_out_ratio, localisation_scores,
                                             pointing_hit)


def _square_landmarks(x0, y0, x1, y1):
    xs, ys = np.meshgrid(np.linspace(x0, x1, 9), np.linspace(y0, y1, 8))
    points = np.stack([xs.ravel(), ys.ravel()], 1)[:68]
    points[-4:] = [[x0, y0], [x1, y0], [x0, y1], [x1, y1]]
    return points.astype(np.float32)


def test_planted_maps():
    shape = (40, 40)
    landmarks = _square_landmarks(10, 10, 29, 29)
    on_face = np.zeros(shape, np.float32)
    on_face[15:25, 15:25] = 1.0
    on_border = np.zeros(shape, np.float32)
    on_border[:, :4] = 1.0
    flat = np.full(shape, 0.5, np.float32)
    r = localisation_scores([on_face, on_border, flat], [landmarks] * 3, shape)
    assert r["hits"] == [True, False, True]  # a flat map's maximum is everywhere
    assert r["ratios"][0] == np.inf and r["ratios"][1] == 0.0
    assert r["ratios"][2] == pytest.approx(1.0)
    assert r["pointing"] == pytest.approx(2 / 3)
    mask = np.zeros(shape, bool)
    mask[10:30, 10:30] = True
    assert pointing_hit(on_face, mask) and not pointing_hit(on_border, mask)
    assert in_out_ratio(flat, mask) == pytest.approx(1.0)


def test_choose_layer_rule():
    def r(cells, pointing, ratio):
        return {"cells": cells, "pointing": pointing, "ratio_pooled": ratio}

    scores = {"bam1": r(24, 0.7, 1.2), "bam2": r(12, 0.92, 2.1), "bam3": r(6, 0.97, 2.6)}
    assert choose_layer(scores) == "bam2"  # the finest that meets both goals
    scores["bam2"] = r(12, 0.92, 1.9)
    assert choose_layer(scores) == "bam3"
    scores["bam3"] = r(6, 0.8, 1.9)  # none passes: the smallest relative shortfall
    assert choose_layer(scores) == "bam2"
    scores["conv5"] = r(3, 0.99, 3.0)  # too coarse for hot landmarks, however well it points
    assert choose_layer(scores) == "bam2"


@pytest.mark.real_data
def test_gradcam_of_the_shipped_model_looks_at_the_face(ckplus_dir, shipped_classifier):
    """On the 40 CK+ peak frames, cropped and explained as the pipeline does, the default
    Grad-CAM layer puts its maximum inside the 68-landmark hull and clearly more heat inside
    than out."""
    from xfer_keras.data.ckplus_frames import ckplus_peak_frames
    from xfer_keras.evaluation.dev_sets import FaceSet
    from xfer_keras.explain.gradcam import GradCAM

    clf = shipped_classifier
    faces = FaceSet.detect(ckplus_peak_frames(n_last=1, root=ckplus_dir))
    assert faces.found.all()
    crops = faces.face_crops(224, **clf.crop_options())
    images = np.stack([c.image for c in crops])
    maps = GradCAM(clf).explain(images)
    r = localisation_scores(maps, [c.landmarks for c in crops], images.shape[1:3])
    assert r["pointing"] >= POINTING_MIN, r["pointing"]
    assert r["ratio_pooled"] >= RATIO_MIN, r["ratio_pooled"]


# issue 10's goals, which the shipped model clears with a margin: on the 120 CK+ peak crops
# bam3 points inside the hull for all of them with a pooled in:out ratio of 2.68
# (saved_models/MODEL_CARD.md, benchmarks/gradcam_localisation.py)
POINTING_MIN, RATIO_MIN = 0.9, 2.0
