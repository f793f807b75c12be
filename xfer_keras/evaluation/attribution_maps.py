"""Which attribution map resolves the Action Units a FACS coder saw, and is faithful to the model?

Every map (:data:`MAP_SPECS`: Grad-CAM at ``bam3`` as shipped, Grad-CAM, Grad-CAM++, LayerCAM
and HiResCAM at the finer ``bam2`` (12x12) and ``bam1`` (24x24) layers, LayerCAM fused over
layers, Integrated Gradients and SmoothGrad on the image) explains the classifier's answer on the
CK+ full-resolution peak frames with FACS codes, cropped as the pipeline crops them (dlib, the
model's framing; cached). Each map gets

* **focus** (:func:`focus_scores`): its hot landmarks (XFERa's ``mean + k std`` rule over the
  face hull), the AUs they activate (at least 70 % of an AU's landmarks hot, the fusion's rule),
  and the precision and recall of those AUs against the coded ones, as
  :mod:`xfer_keras.evaluation.facs_agreement` scores the pipeline; and the same for the
  **oracle**, whose hot landmarks are exactly the coded AUs' landmarks: since AU regions
  overlap (AU12, 18, 22, 23 and 24 are all the whole mouth), even the oracle activates AUs
  nobody coded, so a map's figures are also given as a share of the oracle's;
* **faithfulness** (:func:`region_curves`): the face hull is split into :data:`FACE_PARTS`
  (10 landmark neighbourhoods: brows, eyes, nose, upper and lower lip, cheeks, chin); the parts
  are ranked by the map's mean heat and masked cumulatively (filled with the crop's blurred
  copy), giving an 11-point *deletion* curve of the answer's probability (unmasked first) and
  its area (AUC, lower is better); *insertion* starts from the face fully masked and restores
  the parts in the same order (AUC, higher is better). The control is 20 random orders of the
  same parts; a map is *faithful* when its mean deletion AUC is below the control's mean by more
  than 2 sd (sd over the 20 orders of the mean over faces);
* **time**: the median of warm one-image calls (classification included).

:func:`pick_best` is the rule: among maps within the latency goal and faithful, the highest
focus precision + recall as a share of the oracle's. ``benchmarks/attribution_maps.py`` prints
the table and the winner.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass, field

import numpy as np

from xfer_keras.evaluation.localisation import localisation_scores
from xfer_keras.evaluation.facs_agreement import CKPLUS_CODED_AUS
from xfer_keras.xfera import facs

#: the fusion's rule: an AU is heat-activated when this share of its landmarks is hot
ACTIVATION_RATIO = 0.7

#: the face parts of the faithfulness curves: name -> 0-based dlib landmarks whose nearest
#: pixels (inside the landmarks' hull) form the part
FACE_PARTS: dict[str, tuple[int, ...]] = {
    "right brow": tuple(range(17, 22)),
    "left brow": tuple(range(22, 27)),
    "right eye": tuple(range(36, 42)),
    "left eye": tuple(range(42, 48)),
    "nose": tuple(range(27, 36)),
    "upper lip": (48, 49, 50, 51, 52, 53, 54, 60, 61, 62, 63, 64),
    "lower lip": (55, 56, 57, 58, 59, 65, 66, 67),
    "right cheek": tuple(range(0, 6)),
    "chin": tuple(range(6, 11)),
    "left cheek": tuple(range(11, 17)),
}

#: AU regions of the moving features only (0-based), an alternative to Table 2's
#: (:data:`facs.AU_LANDMARKS`, the default): each AU keeps the landmarks its movement displaces
#: most, so mouth AUs are no longer all the whole mouth.
REFINED_AU_LANDMARKS: dict[int, tuple[int, ...]] = {
    1: (19, 20, 21, 22, 23, 24),          # inner brows
    2: (17, 18, 19, 24, 25, 26),          # outer brows
    4: (20, 21, 22, 23, 27),              # brows drawn together, above the nose
    5: (37, 38, 43, 44),                  # upper lids
    6: (40, 41, 46, 47, 1, 15),           # lower lids and cheeks
    7: (36, 39, 40, 41, 42, 45, 46, 47),  # lids (the lower ones most)
    9: (27, 28, 29, 30, 31, 35),          # nose bridge and wings
    10: (31, 33, 35, 50, 51, 52),         # upper lip under the nose
    11: (31, 35, 48, 54),                 # nasolabial line
    12: (48, 54, 60, 64),                 # lip corners
    14: (48, 54),                         # dimples at the corners
    15: (48, 54, 59, 55),                 # corners pulled down
    16: (56, 57, 58, 65, 66, 67),         # lower lip
    17: (7, 8, 9, 57, 58, 56),            # chin boss and lower lip
    18: (49, 50, 51, 52, 53, 57),         # lips pushed forward
    20: (4, 5, 11, 12, 48, 54),           # lips stretched sideways
    22: (50, 51, 52, 56, 57, 58),         # lips funnelled
    23: (61, 62, 63, 65, 66, 67),         # lips tightened (red parts)
    24: (49, 50, 51, 52, 53, 55, 56, 57, 58, 59),  # lips pressed
    25: (61, 62, 63, 65, 66, 67),         # lips part
    26: (6, 7, 8, 9, 10, 57),             # jaw drop
    27: (6, 7, 8, 9, 10, 51, 57, 62, 66),  # mouth stretched open
}
#: the selectable AU region tables
AU_REGIONS = {"table2": facs.AU_LANDMARKS, "refined": REFINED_AU_LANDMARKS}


@dataclass
class MapSpec:
    """One map: ``kind`` ``"cam"`` (``method`` at ``layer``, through
    :class:`~xfer_keras.explain.gradcam.GradCAM` and ``engine``) or ``"ig"`` / ``"smoothgrad"``
    (:class:`~xfer_keras.explain.cam_maps.GradientMaps`)."""

    name: str
    kind: str = "cam"
    method: str = "gradcam"
    layer: str | None = None
    engine: str = "auto"
    options: dict = field(default_factory=dict)

    def pipeline_options(self) -> dict | None:
        """The :class:`~xfer_keras.xfera.pipeline.XferaPipeline` options that run this map
        (None for the image-gradient maps, which the pipeline does not run)."""
        if self.kind != "cam":
            return None
        return {"gradcam_method": self.method, "gradcam_layer": self.layer,
                "gradcam_engine": self.engine}


#: the maps scored: the shipped map first
MAP_SPECS: tuple[MapSpec, ...] = (
    MapSpec("Grad-CAM @bam3 (shipped)", method="gradcam", layer="bam3", engine="auto"),
    MapSpec("HiResCAM @bam3", method="hirescam", layer="bam3", engine="cam-litert"),
    MapSpec("Grad-CAM @bam2", method="gradcam", layer="bam2", engine="auto"),
    MapSpec("Grad-CAM++ @bam2", method="gradcam++", layer="bam2", engine="cam-litert"),
    MapSpec("LayerCAM @bam2", method="layercam", layer="bam2", engine="cam-litert"),
    MapSpec("HiResCAM @bam2", method="hirescam", layer="bam2", engine="cam-litert"),
    MapSpec("Grad-CAM @bam1", method="gradcam", layer="bam1", engine="auto"),
    MapSpec("Grad-CAM++ @bam1", method="gradcam++", layer="bam1", engine="cam-litert"),
    MapSpec("LayerCAM @bam1", method="layercam", layer="bam1", engine="cam-litert"),
    MapSpec("LayerCAM fused bam2+bam3", method="layercam", layer="bam2,bam3",
            engine="cam-litert"),
    MapSpec("LayerCAM fused bam1+bam2+bam3", method="layercam", layer="bam1,bam2,bam3",
            engine="cam-litert"),
    MapSpec("Integrated Gradients (image)", kind="ig", options={"n_steps": 32}),
    MapSpec("SmoothGrad (image)", kind="smoothgrad", options={"n_samples": 32}),
)


# --------------------------------------------------------------------------- faces
@dataclass
class PeakFace:
    """One coded peak frame as the pipeline crops it."""

    path: str
    emotion: str
    codes: tuple[int, ...]
    crop: np.ndarray        # (S, S, 3) uint8
    landmarks: np.ndarray   # (68, 2) crop pixels


def coded_peak_frames(n_last: int = 1):
    """``[(path, emotion, coded AUs)]`` of the last ``n_last`` frames of the coded CK+
    sequences (``XFER_DATA_DIR``)."""
    from xfer_keras.data.ckplus import load_ckplus_sequences

    return [(str(path), record.emotion, tuple(facs.parse_au(a) for a in record.au_codes))
            for record in load_ckplus_sequences() if record.au_codes
            for path in record.frame_paths[-n_last:]]


def load_peak_faces(clf, frames=None, crop_size: int = 224, cache: bool = True) -> list[PeakFace]:
    """The frames' faces (default :func:`coded_peak_frames`) found and cropped as
    :class:`~xfer_keras.xfera.pipeline.XferaPipeline` does (dlib with the MediaPipe fallback,
    the classifier's framing); frames without a face are left out. Cached in
    ``$XFER_CACHE_DIR/attribution_maps/`` by frame paths and crop options."""
    from xfer_keras.config import cache_dir

    frames = coded_peak_frames() if frames is None else frames
    options = clf.crop_options()
    key = hashlib.sha256(json.dumps([[f[0] for f in frames], crop_size, options],
                                    sort_keys=True, default=str).encode()).hexdigest()[:16]
    path = cache_dir() / "attribution_maps" / f"peaks-{key}.npz"
    if cache and path.is_file():
        data = np.load(path, allow_pickle=False)
        keep = set(data["paths"].tolist())
        found = [f for f in frames if f[0] in keep]
        return [PeakFace(p, e, tuple(c), data["crops"][i], data["landmarks"][i])
                for i, (p, e, c) in enumerate(found)]
    from xfer_keras.errors import XferError
    from xfer_keras.face import LandmarkDetector, crop_face, load_image

    faces = []
    with LandmarkDetector("dlib", fallback="mediapipe") as detector:
        for p, emotion, codes in frames:
            rgb = load_image(p)
            try:
                found = detector.detect(rgb, source=p, policy="largest")
            except XferError:
                continue
            if not found or len(found[0].landmarks) != 68:
                continue
            crop = crop_face(rgb, found[0], size=crop_size, **options)
            faces.append(PeakFace(p, emotion, tuple(codes), crop.image,
                                  np.asarray(crop.landmarks, np.float32)))
    if cache and faces:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, paths=np.array([f.path for f in faces]),
                            crops=np.stack([f.crop for f in faces]),
                            landmarks=np.stack([f.landmarks for f in faces]))
    return faces


# --------------------------------------------------------------------------- maps
class MapMaker:
    """``maker(crops) -> (maps (N, H, W) in [0, 1], probs (N, K), targets (N,))`` for a
    :class:`MapSpec`; the explained class is the classifier's answer."""

    def __init__(self, clf, spec: MapSpec):
        self.clf, self.spec = clf, spec
        if spec.kind == "cam":
            from xfer_keras.explain.gradcam import GradCAM

            self._cam = GradCAM(clf, layer=spec.layer, method=spec.method, engine=spec.engine)
            self.engine = self._cam.engine
        else:
            from xfer_keras.explain.cam_maps import GradientMaps

            self._grad = GradientMaps(clf, method=spec.kind, **spec.options)
            self.engine = "tensorflow"

    def __call__(self, crops):
        crops = np.asarray(crops)
        if self.spec.kind == "cam":
            probs, maps, targets = self._cam.classify_and_explain(crops)
            return maps, probs, targets
        probs = self.clf.predict_proba(crops)
        maps, targets = self._grad(crops, probs.argmax(1))
        return maps, probs, targets


# --------------------------------------------------------------------------- focus
def _share(part: int, whole: int) -> float:
    return part / whole if whole else math.nan


def activated_aus(hot: np.ndarray, regions=None, universe=CKPLUS_CODED_AUS,
                  ratio: float = ACTIVATION_RATIO) -> set[int]:
    """AUs of ``universe`` with a region whose landmarks are at least ``ratio`` hot."""
    regions = facs.AU_LANDMARKS if regions is None else regions
    out = set()
    for au in universe:
        region = [i for i in regions.get(au, ()) if i < len(hot)]
        if region and hot[region].sum() >= len(region) * ratio - 1e-9:
            out.add(au)
    return out


def oracle_hot(codes, regions=None, n_landmarks: int = 68, universe=CKPLUS_CODED_AUS) -> np.ndarray:
    """The oracle's hot landmarks: exactly the coded AUs' landmarks."""
    regions = facs.AU_LANDMARKS if regions is None else regions
    hot = np.zeros(n_landmarks, bool)
    for au in codes:
        if au in universe:
            hot[[i for i in regions.get(au, ()) if i < n_landmarks]] = True
    return hot


def focus_scores(hot: np.ndarray, codes, regions=None, universe=CKPLUS_CODED_AUS,
                 ratio: float = ACTIVATION_RATIO) -> dict:
    """``focus_precision`` and ``focus_recall`` of hot landmarks against coded AUs (as
    :func:`xfer_keras.evaluation.facs_agreement.agreement`), plus ``landmark_precision`` and
    ``landmark_recall`` against the coded AUs' landmarks (before the 70 % rule)."""
    regions = facs.AU_LANDMARKS if regions is None else regions
    with_region = {au for au in universe if regions.get(au)}
    coded = {facs.parse_au(a) for a in codes} & with_region
    activated = activated_aus(hot, regions, with_region, ratio)
    truth = oracle_hot(coded, regions, len(hot), universe)
    return {"focus_precision": _share(len(coded & activated), len(activated)),
            "focus_recall": _share(len(coded & activated), len(coded)),
            "landmark_precision": _share(int((hot & truth).sum()), int(hot.sum())),
            "landmark_recall": _share(int((hot & truth).sum()), int(truth.sum()))}


def hot_of(heatmap: np.ndarray, landmarks: np.ndarray, k: float = 1.0) -> np.ndarray:
    """XFERa's hot landmarks of one map (``mean + k std`` over the face hull)."""
    from xfer_keras.xfera.hot_landmarks import find_hot_landmarks

    return find_hot_landmarks(heatmap, landmarks, k=k, region="hull",
                              crop_shape=heatmap.shape).hot


def _nanmean(values) -> float:
    values = np.asarray(values, float)
    values = values[~np.isnan(values)]
    return float(values.mean()) if len(values) else math.nan


# --------------------------------------------------------------------------- faithfulness
def part_labels(landmarks: np.ndarray, shape, parts=None) -> np.ndarray:
    """``(H, W)`` int: the index of the :data:`FACE_PARTS` part of each pixel inside the
    landmarks' hull (its nearest landmark's part), -1 outside."""
    from xfer_keras.xfera.hot_landmarks import face_region_mask

    parts = FACE_PARTS if parts is None else parts
    height, width = int(shape[0]), int(shape[1])
    inside = face_region_mask(landmarks, (height, width), "hull")
    owner = np.full(len(landmarks), -1)
    for k, indices in enumerate(parts.values()):
        owner[list(indices)] = k
    points = np.asarray(landmarks, np.float32)[owner >= 0]
    owners = owner[owner >= 0]
    ys, xs = np.nonzero(inside)
    d2 = (xs[:, None] - points[None, :, 0]) ** 2 + (ys[:, None] - points[None, :, 1]) ** 2
    labels = np.full((height, width), -1, np.int32)
    labels[ys, xs] = owners[d2.argmin(axis=1)]
    return labels


def fill_image(crop: np.ndarray, fill: str = "blur") -> np.ndarray:
    """What a masked part shows: the crop blurred (Gaussian, sigma 1/20 of its size) or its
    mean grey."""
    import cv2

    if fill == "blur":
        return cv2.GaussianBlur(crop, (0, 0), sigmaX=crop.shape[0] / 20.0)
    if fill == "grey":
        return np.full_like(crop, int(round(float(crop.mean()))))
    raise ValueError(f"fill must be 'blur' or 'grey', got {fill!r}")


def region_order(heatmap: np.ndarray, labels: np.ndarray, n_parts: int) -> np.ndarray:
    """Part indices by the map's mean heat over each part, hottest first (empty parts last)."""
    means = np.array([heatmap[labels == k].mean() if (labels == k).any() else -np.inf
                      for k in range(n_parts)])
    return np.argsort(-means, kind="stable")


class CurveProber:
    """The answer's probability on one crop with any set of parts masked, memoised by the set."""

    def __init__(self, clf, crop: np.ndarray, labels: np.ndarray, target: int, fill: str = "blur",
                 predict=None):
        self.crop, self.labels, self.target = crop, labels, int(target)
        self.filled = fill_image(crop, fill)
        self.n_parts = int(labels.max()) + 1
        self._predict = predict or clf.predict_proba
        self._memo: dict[int, float] = {}

    def image(self, bits: int) -> np.ndarray:
        masked = np.isin(self.labels, [k for k in range(self.n_parts) if bits >> k & 1])
        return np.where(masked[..., None], self.filled, self.crop)

    def probabilities(self, masks: list[int]) -> list[float]:
        missing = sorted({b for b in masks if b not in self._memo})
        if missing:
            probs = np.asarray(self._predict(np.stack([self.image(b) for b in missing])))
            for b, p in zip(missing, probs[:, self.target]):
                self._memo[b] = float(p)
        return [self._memo[b] for b in masks]

    def curves(self, order) -> tuple[np.ndarray, np.ndarray]:
        """(deletion, insertion) curves of ``len(order) + 1`` points for a part order."""
        full = (1 << self.n_parts) - 1
        prefix = [0]
        for k in order:
            prefix.append(prefix[-1] | (1 << int(k)))
        deletion = self.probabilities(prefix)
        insertion = self.probabilities([full & ~b for b in prefix])
        return np.asarray(deletion), np.asarray(insertion)


def auc(curve) -> float:
    """Area under a curve sampled at evenly spaced fractions of [0, 1] (trapezoids)."""
    curve = np.asarray(curve, float)
    return float(((curve[1:] + curve[:-1]) / 2).sum() / (len(curve) - 1))


def region_curves(prober: CurveProber, heatmap: np.ndarray):
    """(deletion, insertion) curves of a map's part order on one face."""
    return prober.curves(region_order(heatmap, prober.labels, prober.n_parts))


# --------------------------------------------------------------------------- the study
@dataclass
class MapScore:
    spec: MapSpec
    engine: str
    focus: dict                  # mean focus / landmark precision and recall per region table
    deletion_auc: float
    insertion_auc: float
    ms: float
    faithful: bool = False
    curves: np.ndarray | None = None   # (n_faces, 2, 11)
    #: the localisation goals' figures (:func:`~xfer_keras.evaluation.localisation.
    #: localisation_scores`): ``pointing`` (heat maximum inside the landmark hull) and
    #: ``ratio_pooled`` (heat inside / outside)
    localisation: dict | None = None

    @property
    def localised(self) -> bool:
        """Whether the map meets the localisation goals (pointing >= 0.9, in:out >= 2)."""
        from xfer_keras.evaluation.localisation import meets_goals

        return self.localisation is not None and meets_goals(self.localisation)

    def share(self, oracle: dict, table: str = "table2") -> dict:
        """Precision, recall and their sum as shares of the oracle's."""
        mine, best = self.focus[table], oracle[table]
        return {"precision": mine["focus_precision"] / best["focus_precision"],
                "recall": mine["focus_recall"] / best["focus_recall"],
                "sum": ((mine["focus_precision"] + mine["focus_recall"])
                        / (best["focus_precision"] + best["focus_recall"]))}


@dataclass
class Study:
    n_faces: int
    scores: list[MapScore]
    oracle: dict                 # table -> mean focus scores of the oracle
    control: dict                # deletion / insertion: {"mean", "sd", "aucs"}
    fill: str = "blur"


def random_control(probers: list[CurveProber], n_random: int = 20, seed: int = 0) -> dict:
    """Deletion and insertion AUCs of ``n_random`` random part orders: for each, ``aucs`` (one
    per round: the mean over faces, each face drawing its own order), their ``mean`` and
    ``sd``."""
    rng = np.random.default_rng(seed)
    random_auc = np.zeros((2, n_random, len(probers)))
    for i, prober in enumerate(probers):
        for r in range(n_random):
            d, ins = prober.curves(rng.permutation(prober.n_parts))
            random_auc[0, r, i], random_auc[1, r, i] = auc(d), auc(ins)
    per_order = random_auc.mean(axis=2)
    return {name: {"mean": float(per_order[j].mean()), "sd": float(per_order[j].std(ddof=1)),
                   "aucs": per_order[j]} for j, name in enumerate(("deletion", "insertion"))}


def is_faithful(deletion_auc: float, control: dict, n_sd: float = 2.0) -> bool:
    """A map's mean deletion AUC is below the random control's mean by more than ``n_sd`` sd."""
    d = control["deletion"]
    return deletion_auc < d["mean"] - n_sd * d["sd"]


def oracle_scores(faces: list[PeakFace], regions=None) -> dict:
    rows = [focus_scores(oracle_hot(f.codes, regions), f.codes, regions) for f in faces]
    return {k: _nanmean([r[k] for r in rows]) for k in rows[0]}


def time_maps(makers: dict, crops: np.ndarray, repeats: int = 30, seed: int = 0) -> dict:
    """Median ms of one-image warm calls per maker; the makers take turns in a new random order
    each round, so that load on the machine falls on all alike."""
    for maker in makers.values():  # warm: traced functions, interpreters
        maker(crops[:1])
        maker(crops[1:2])
    times = {name: [] for name in makers}
    names = list(makers)
    rng = np.random.default_rng(seed)
    for r in range(repeats):
        one = crops[r % len(crops)][None]
        for k in rng.permutation(len(names)):
            t0 = time.perf_counter()
            makers[names[k]](one)
            times[names[k]].append(time.perf_counter() - t0)
    return {name: 1000.0 * float(np.median(v)) for name, v in times.items()}


def run_study(clf, faces: list[PeakFace], specs=MAP_SPECS, n_random: int = 20,
              fill: str = "blur", seed: int = 0, repeats: int = 30, log=None) -> Study:
    """Score every map of ``specs`` on ``faces`` (see the module notes)."""
    crops = np.stack([f.crop for f in faces])
    makers = {spec.name: MapMaker(clf, spec) for spec in specs}
    labels = [part_labels(f.landmarks, f.crop.shape[:2]) for f in faces]
    probs = clf.predict_proba(crops)
    targets = probs.argmax(1)
    probers = [CurveProber(clf, f.crop, lab, t, fill) for f, lab, t in zip(faces, labels, targets)]
    control = random_control(probers, n_random, seed)
    oracle = {table: oracle_scores(faces, regions) for table, regions in AU_REGIONS.items()}
    ms = time_maps(makers, crops, repeats)
    scores = []
    for spec in specs:
        maps, _, map_targets = makers[spec.name](crops)
        if not np.array_equal(map_targets, targets):
            raise AssertionError(f"{spec.name} explained other classes than the classifier's")
        focus = {}
        for table, regions in AU_REGIONS.items():
            rows = [focus_scores(hot_of(m, f.landmarks), f.codes, regions)
                    for m, f in zip(maps, faces)]
            focus[table] = {k: _nanmean([r[k] for r in rows]) for k in rows[0]}
        curves = np.array([np.stack(region_curves(p, m)) for p, m in zip(probers, maps)])
        d_auc = float(np.mean([auc(c[0]) for c in curves]))
        i_auc = float(np.mean([auc(c[1]) for c in curves]))
        located = localisation_scores(maps, [f.landmarks for f in faces], crops.shape[1:3])
        score = MapScore(spec, makers[spec.name].engine, focus, d_auc, i_auc, ms[spec.name],
                         faithful=is_faithful(d_auc, control),
                         curves=curves, localisation={k: located[k] for k in
                                                      ("pointing", "ratio_pooled")})
        scores.append(score)
        if log:
            log(f"  {spec.name}: deletion {d_auc:.3f}, {ms[spec.name]:.1f} ms")
    return Study(len(faces), scores, oracle, control, fill)


#: the latency goal: one image explained warm, median, through the pipeline
LATENCY_GOAL_MS = 35.0
#: the pipeline's warm median per image with the shipped map (Grad-CAM at bam3, LiteRT)
PIPELINE_MS_SHIPPED = 28.5


def pipeline_ms_estimate(score: MapScore, shipped: MapScore,
                         pipeline_ms: float = PIPELINE_MS_SHIPPED) -> float:
    """The pipeline's warm ms per image with this map: the shipped pipeline's, plus what the map
    costs over the shipped map (classification included in both)."""
    return pipeline_ms + score.ms - shipped.ms


def pick_best(study: Study, goal_ms: float = LATENCY_GOAL_MS,
              pipeline_ms: float = PIPELINE_MS_SHIPPED, table: str = "table2") -> MapScore | None:
    """The rule: among the maps whose pipeline estimate is within ``goal_ms``, that are
    faithful (deletion AUC below the random control's mean by more than 2 sd) and that meet the
    localisation goals (heat maximum inside the face for 90 % of the crops, twice the heat
    inside as outside: a map whose heat lies off the face names landmarks by accident), the one
    with the highest focus precision + recall as a share of the oracle's (ties: the faster)."""
    shipped = study.scores[0]
    fit = [s for s in study.scores
           if s.faithful and (s.localised or s.localisation is None)
           and pipeline_ms_estimate(s, shipped, pipeline_ms) <= goal_ms]
    if not fit:
        return None
    return max(fit, key=lambda s: (s.share(study.oracle, table)["sum"], -s.ms))


def pipeline_latency(clf, paths, options: dict[str, dict], rounds: int = 1) -> dict[str, float]:
    """Median warm ms of ``XferaPipeline.explain`` on one image for each named set of pipeline
    ``options``, the pipelines taking turns image by image, in reversed order every other image
    (so that load on the machine falls on all alike); two warm-up images each."""
    from xfer_keras.xfera.pipeline import XferaPipeline

    pipes = {name: XferaPipeline(clf, **opts) for name, opts in options.items()}
    try:
        for pipe in pipes.values():
            pipe.explain(paths[0])
            pipe.explain(paths[1 % len(paths)])
        times = {name: [] for name in pipes}
        for _ in range(rounds):
            for j, path in enumerate(paths):
                for name, pipe in (list(pipes.items()) if j % 2 == 0 else list(pipes.items())[::-1]):
                    t0 = time.perf_counter()
                    pipe.explain(path)
                    times[name].append(time.perf_counter() - t0)
        return {name: 1000.0 * float(np.median(v)) for name, v in times.items()}
    finally:
        for pipe in pipes.values():
            pipe.close()
