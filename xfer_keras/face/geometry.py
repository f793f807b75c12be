"""Face-mesh geometry for Action Units: named distances and heights between the MediaPipe points
that facial muscles move (brows, lids, cheeks, nose, lips, chin), in units of the inter-ocular
distance after levelling the eyes, so that they do not depend on where the face is in the image,
how large it is or how it is tilted in the image plane. The learned AU detector
(:mod:`xfer_keras.xfera.aus.learned`) reads them beside the blendshapes.

    from xfer_keras.face.geometry import mesh_features, FEATURE_NAMES
    values = mesh_features(face.landmarks, face.landmarks_z)   # (len(FEATURE_NAMES),) float64
"""

from __future__ import annotations

import numpy as np

from xfer_keras.errors import InputShapeError

#: paired points of the 478-point mesh as (subject's right, subject's left) indices
PAIRS: dict[str, tuple[int, int]] = {
    "eye_outer_corner": (33, 263),
    "eye_inner_corner": (133, 362),
    "upper_lid": (159, 386),
    "upper_lid_inner": (158, 385),
    "upper_lid_outer": (160, 387),
    "lower_lid": (145, 374),
    "lower_lid_inner": (153, 380),
    "lower_lid_outer": (144, 373),
    "iris_centre": (468, 473),
    "iris_outer_edge": (471, 476),
    "iris_inner_edge": (469, 474),
    "brow_inner": (55, 285),
    "brow_inner_top": (107, 336),
    "brow_middle": (52, 282),
    "brow_middle_top": (105, 334),
    "brow_outer": (46, 276),
    "brow_outer_top": (70, 300),
    "under_eye": (117, 346),
    "cheek": (50, 280),
    "cheek_low": (205, 425),
    "nose_side": (48, 278),
    "alar_crease": (129, 358),
    "nostril_wing": (98, 327),
    "mouth_corner": (61, 291),
    "inner_mouth_corner": (78, 308),
    "upper_lip_peak": (37, 267),
    "upper_lip_side": (40, 270),
    "lower_lip_side": (84, 314),
    "lower_lip_outer": (91, 321),
    "chin_side": (32, 262),
}
#: points on the midline
MIDLINE: dict[str, int] = {
    "forehead": 10,
    "nasion": 168,
    "nose_tip": 1,
    "subnasale": 2,
    "upper_lip_top": 0,
    "upper_lip_inner": 13,
    "lower_lip_inner": 14,
    "lower_lip_bottom": 17,
    "chin_crease": 18,
    "chin_boss": 199,
    "chin": 152,
}
N_POINTS = 478


def _features(p: np.ndarray, z: np.ndarray | None) -> dict[str, float]:
    """``p``: (478, 2) levelled, unit inter-ocular points (y down); ``z`` in the same units."""
    def right(name):
        return p[PAIRS[name][0]]

    def left(name):
        return p[PAIRS[name][1]]

    def mid(name):
        return p[MIDLINE[name]]

    def height(point):  # above the eye line (y points down)
        return -float(point[1])

    def dist(a, b):
        return float(np.hypot(*(np.asarray(a) - np.asarray(b))))

    def sides(fn):
        return fn(right), fn(left)

    out: dict[str, float] = {}

    def paired(name, fn, extra=False):
        r, l_ = sides(fn)
        out[name] = (r + l_) / 2
        if extra:
            out[name + "_max"] = max(r, l_)
            out[name + "_asym"] = abs(r - l_)

    lip_centre = (mid("upper_lip_inner") + mid("lower_lip_inner")) / 2

    # brows (AU1, AU2, AU4)
    paired("brow_inner_height", lambda s: height(s("brow_inner")))
    paired("brow_inner_top_height", lambda s: height(s("brow_inner_top")))
    paired("brow_middle_height", lambda s: height(s("brow_middle")))
    paired("brow_outer_height", lambda s: height(s("brow_outer")))
    paired("brow_outer_top_height", lambda s: height(s("brow_outer_top")))
    paired("brow_slope", lambda s: height(s("brow_inner")) - height(s("brow_outer")))
    paired("brow_to_upper_lid", lambda s: dist(s("brow_middle"), s("upper_lid")))
    out["inner_brow_gap"] = dist(right("brow_inner"), left("brow_inner"))
    out["inner_brow_top_gap"] = dist(right("brow_inner_top"), left("brow_inner_top"))
    paired("brow_inner_to_nasion", lambda s: dist(s("brow_inner"), mid("nasion")))

    # eyes (AU5, AU6, AU7, AU43)
    def opening(s):
        return (dist(s("upper_lid"), s("lower_lid")) + dist(s("upper_lid_inner"), s("lower_lid_inner"))
                + dist(s("upper_lid_outer"), s("lower_lid_outer"))) / 3

    def iris_diameter(s):
        return max(dist(s("iris_outer_edge"), s("iris_inner_edge")), 1e-6)

    def corner_line(s):
        return (height(s("eye_outer_corner")) + height(s("eye_inner_corner"))) / 2

    paired("eye_opening", opening, extra=True)
    paired("eye_opening_per_iris", lambda s: opening(s) / iris_diameter(s))
    paired("upper_lid_above_iris", lambda s: (height(s("upper_lid")) - height(s("iris_centre")))
           / iris_diameter(s))
    paired("lower_lid_below_iris", lambda s: (height(s("iris_centre")) - height(s("lower_lid")))
           / iris_diameter(s))
    paired("upper_lid_above_corners", lambda s: height(s("upper_lid")) - corner_line(s))
    paired("lower_lid_above_corners", lambda s: height(s("lower_lid")) - corner_line(s))
    paired("eye_width", lambda s: dist(s("eye_outer_corner"), s("eye_inner_corner")))
    paired("iris_size", iris_diameter)

    # cheeks (AU6)
    paired("under_eye_height", lambda s: height(s("under_eye")))
    paired("cheek_height", lambda s: height(s("cheek")))
    paired("low_cheek_height", lambda s: height(s("cheek_low")))
    paired("under_eye_to_lower_lid", lambda s: dist(s("under_eye"), s("lower_lid")))

    # nose (AU9, AU10)
    out["nose_length"] = dist(mid("nasion"), mid("subnasale"))
    out["nose_tip_height"] = height(mid("nose_tip"))
    out["nostril_width"] = dist(right("nostril_wing"), left("nostril_wing"))
    out["alar_width"] = dist(right("alar_crease"), left("alar_crease"))
    paired("nostril_height", lambda s: height(s("nostril_wing")))
    paired("alar_height", lambda s: height(s("alar_crease")))
    paired("nose_side_height", lambda s: height(s("nose_side")))
    out["nose_to_upper_lip"] = dist(mid("subnasale"), mid("upper_lip_top"))
    paired("nostril_to_lip_peak", lambda s: dist(s("nostril_wing"), s("upper_lip_peak")))

    # mouth corners (AU12, AU14, AU15, AU20)
    paired("corner_height", lambda s: height(s("mouth_corner")), extra=True)
    paired("corner_lift", lambda s: height(s("mouth_corner")) - height(lip_centre), extra=True)
    paired("inner_corner_lift", lambda s: height(s("inner_mouth_corner")) - height(lip_centre))
    paired("corner_to_nostril", lambda s: dist(s("mouth_corner"), s("nostril_wing")), extra=True)
    paired("corner_to_eye", lambda s: dist(s("mouth_corner"), s("eye_outer_corner")))
    paired("corner_to_chin", lambda s: dist(s("mouth_corner"), mid("chin")))
    paired("corner_out", lambda s: abs(float(s("mouth_corner")[0] - lip_centre[0])), extra=True)
    out["mouth_width"] = dist(right("mouth_corner"), left("mouth_corner"))
    out["inner_mouth_width"] = dist(right("inner_mouth_corner"), left("inner_mouth_corner"))

    # lips (AU10, AU16, AU17, AU18, AU22-AU28)
    out["upper_lip_height"] = height(mid("upper_lip_top"))
    paired("upper_lip_peak_height", lambda s: height(s("upper_lip_peak")))
    out["mouth_opening"] = dist(mid("upper_lip_inner"), mid("lower_lip_inner"))
    paired("mouth_opening_side", lambda s: dist(s("upper_lip_side"), s("lower_lip_side")))
    out["upper_lip_thickness"] = dist(mid("upper_lip_top"), mid("upper_lip_inner"))
    out["lower_lip_thickness"] = dist(mid("lower_lip_inner"), mid("lower_lip_bottom"))
    out["lips_height"] = dist(mid("upper_lip_top"), mid("lower_lip_bottom"))
    out["mouth_aspect"] = out["lips_height"] / max(out["mouth_width"], 1e-6)
    out["opening_aspect"] = out["mouth_opening"] / max(out["inner_mouth_width"], 1e-6)
    paired("lower_lip_curve", lambda s: height(s("lower_lip_outer")) - height(mid("lower_lip_bottom")))
    paired("upper_lip_curve", lambda s: height(s("upper_lip_peak")) - height(mid("upper_lip_top")))

    # jaw and chin (AU17, AU26, AU27)
    out["jaw_drop"] = dist(mid("nose_tip"), mid("chin"))
    out["chin_height"] = height(mid("chin"))
    out["lip_to_chin"] = dist(mid("lower_lip_bottom"), mid("chin"))
    out["chin_crease_to_chin"] = dist(mid("chin_crease"), mid("chin"))
    out["lower_lip_to_crease"] = dist(mid("lower_lip_bottom"), mid("chin_crease"))
    paired("chin_width", lambda s: abs(float(s("chin_side")[0])))

    # depth (lip protrusion, corners pulled back, chin boss): relative to the nose tip
    if z is None:
        depth = dict.fromkeys(DEPTH_NAMES, 0.0)
    else:
        def zof(index):
            return float(z[index] - z[MIDLINE["nose_tip"]])

        depth = {
            "upper_lip_depth": zof(MIDLINE["upper_lip_top"]),
            "lower_lip_depth": zof(MIDLINE["lower_lip_bottom"]),
            "corner_depth": (zof(PAIRS["mouth_corner"][0]) + zof(PAIRS["mouth_corner"][1])) / 2
            - zof(MIDLINE["upper_lip_top"]),
            "chin_boss_depth": zof(MIDLINE["chin_boss"]),
            "brow_depth": (zof(PAIRS["brow_inner"][0]) + zof(PAIRS["brow_inner"][1])) / 2,
            "cheek_depth": (zof(PAIRS["cheek"][0]) + zof(PAIRS["cheek"][1])) / 2,
        }
    out.update(depth)
    return out


DEPTH_NAMES = ("upper_lip_depth", "lower_lip_depth", "corner_depth", "chin_boss_depth",
               "brow_depth", "cheek_depth")


def level_points(points, z=None) -> tuple[np.ndarray, np.ndarray | None]:
    """(478, 2) pixel points -> eye-levelled points with the eyes' midpoint at the origin, the
    subject's left eye on +x and the inter-ocular distance 1 (``z`` scaled alike)."""
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[0] < N_POINTS or points.shape[1] != 2:
        raise InputShapeError(f"mesh features need the (478, 2) MediaPipe points, got {points.shape}")
    points = points[:N_POINTS]
    right_eye = (points[PAIRS["eye_outer_corner"][0]] + points[PAIRS["eye_inner_corner"][0]]) / 2
    left_eye = (points[PAIRS["eye_outer_corner"][1]] + points[PAIRS["eye_inner_corner"][1]]) / 2
    axis = left_eye - right_eye
    scale = float(np.hypot(*axis))
    if not np.isfinite(scale) or scale <= 1e-9:
        raise InputShapeError("mesh features need two distinct eye centres")
    cos, sin = axis / scale
    rotate = np.array([[cos, sin], [-sin, cos]])  # turns ``axis`` onto +x
    levelled = (points - (right_eye + left_eye) / 2) @ rotate.T / scale
    if z is not None:
        z = np.asarray(z, dtype=np.float64).reshape(-1)[:N_POINTS] / scale
    return levelled, z


def mesh_feature_dict(points, z=None) -> dict[str, float]:
    """:func:`mesh_features` as ``{name: value}``."""
    levelled, depth = level_points(points, z)
    return _features(levelled, depth)


def mesh_features(points, z=None) -> np.ndarray:
    """Named AU geometry (:data:`FEATURE_NAMES`) of one MediaPipe mesh: ``points`` (478, 2)
    pixels, ``z`` (478,) the mesh's relative depth (``Face.landmarks_z``; depth features are 0
    without it)."""
    values = mesh_feature_dict(points, z)
    return np.array([values[name] for name in FEATURE_NAMES], dtype=np.float64)


def _names() -> tuple[str, ...]:
    rng = np.random.default_rng(0)
    points = rng.normal(size=(N_POINTS, 2))
    points[PAIRS["eye_outer_corner"][0]] = (-1.5, 0)
    points[PAIRS["eye_outer_corner"][1]] = (1.5, 0)
    return tuple(mesh_feature_dict(points, np.zeros(N_POINTS)))


#: the feature order of :func:`mesh_features`
FEATURE_NAMES: tuple[str, ...] = _names()
