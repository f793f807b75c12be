"""Face detection recall and precision: every detector setting we ship, and the ``fer`` peer's
Haar cascade, on faces as people photograph them and on images without a face.

    python benchmarks/face_detection.py [--limit 100] [--negatives 300] [--seed 0] [--cnn]
                                        [--settings pipeline,hog,mediapipe,haar] [--redetect]
                                        [--verify] [--landmarks]

Positives: ``--limit`` faces from each of CK+ frames, Taiwanese and FER2013 *train* (4x
upscaled), each under every condition of :data:`xfer_keras.evaluation.face_detection.CONDITIONS`,
plus composites of 2-4 faces (each face counts). Negatives: ``--negatives`` face-free images
(scikit-image pictures without people, textures, landscapes, rendered text, blank and cartoon
clip frames). Images are made once and cached under ``$XFER_CACHE_DIR/face_detection/``, with
each setting's raw detections (``--redetect`` runs the detectors again).

Settings (all find every face, policy "all", as ``explain --faces all``):
* ``pipeline``: ``LandmarkDetector("dlib", fallback="mediapipe")``: HOG, MediaPipe's BlazeFace
  adding the faces HOG missed; threshold per detector (HOG margin, BlazeFace probability);
* ``hog``: dlib's HOG alone (fallback off); threshold: the SVM margin;
* ``mediapipe``: ``LandmarkDetector("mediapipe")`` (FaceLandmarker; gives no score);
* ``haar``: OpenCV's ``haarcascade_frontalface_default.xml`` with the ``fer`` package's settings
  (scale 1.1, min size 50 px, min neighbours 5); threshold: the neighbour count;
* ``cnn`` (``--cnn``, slow): dlib's MMOD CNN (``mmod_human_face_detector.dat``) on a copy whose
  longer side is at most 512 px; threshold: its confidence.

A threshold is chosen on the "tune" half (split by source group: CK+ subject, Taiwanese
performer, FER image, negative source) to maximise mean recall minus the share of negatives with
a false face; every figure printed is on the "report" half, at the shipped setting and at the
tuned threshold. A detection hits a face at IoU >= 0.3 or with its centre in the true box at a
similar size (module doc of ``xfer_keras.evaluation.face_detection``).

``--verify`` adds the pipeline's face check: of the pipeline setting's detections on the report
half, per condition, the true faces (and on the negatives the false faces) that the face mesh
of the whole image confirms, and that it or the mesh on a crop around the box confirms
(:class:`xfer_keras.face.FaceVerifier`). The explain pipeline explains an unconfirmed face as a
weak detection (``face_verified: false``, confidence at most Medium).

``--landmarks`` adds how well the 68 points of the faces the fallback finds fit, per condition,
on the report half's CK+ faces: dlib's predictor, the face mesh's 68
(:func:`xfer_keras.face.topology.mesh_to_68`) and the one the detector keeps
(:func:`xfer_keras.face.detector.fitted_68`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

import xfer_keras  # noqa: E402,F401  (sets ONEDNN_MAX_CPU_ISA before TensorFlow)


# ------------------------------------------------------------------------------- settings
class XferSetting:
    def __init__(self, name, detectors, shipped, **kwargs):
        from xfer_keras.face import LandmarkDetector

        self.name, self.detectors, self.shipped = name, detectors, shipped
        self._detector = LandmarkDetector(policy="all", max_faces=8, **kwargs)

    def __call__(self, rgb):
        from xfer_keras.errors import NoFaceError

        try:
            faces = self._detector.detect(rgb)
        except NoFaceError:
            return []
        return [([float(v) for v in f.box], None if f.score is None else float(f.score),
                 f.detector if f.detector in self.detectors else self.detectors[0])
                for f in faces]

    def close(self):
        self._detector.close()


def haar_cascade_path() -> Path:
    """``haarcascade_frontalface_default.xml``: OpenCV's ``cv2.data`` copy where it ships one
    (OpenCV 4), else the copy inside the ``fer`` package (OpenCV 5 dropped ``cv2.data``'s)."""
    import importlib.util

    import cv2

    name = "haarcascade_frontalface_default.xml"
    folder = getattr(getattr(cv2, "data", None), "haarcascades", "")
    if folder and (Path(folder) / name).is_file():
        return Path(folder) / name
    spec = importlib.util.find_spec("fer")
    if spec is not None and spec.origin and (Path(spec.origin).parent / "data" / name).is_file():
        return Path(spec.origin).parent / "data" / name
    raise SystemExit(f"{name} not found (neither cv2.data nor the fer package has it)")


class HaarSetting:
    """The ``fer`` package's face finder: Haar cascade, scale 1.1, min size 50, 5 neighbours.
    Run with 1 neighbour and the neighbour count kept as the score: OpenCV drops a cluster of
    ``n <= minNeighbors`` rectangles, and a nested cluster it removes is removed at any higher
    setting too, so "count > 5" is exactly fer's output."""

    name, detectors, shipped = "Haar cascade (fer)", ("haar",), {"haar": 6}

    def __init__(self):
        import cv2

        self._cv2 = cv2
        self._cascade = cv2.CascadeClassifier(str(haar_cascade_path()))

    def __call__(self, rgb):
        gray = self._cv2.cvtColor(rgb, self._cv2.COLOR_RGB2GRAY)
        rects, counts = self._cascade.detectMultiScale2(
            gray, scaleFactor=1.1, minNeighbors=1, flags=self._cv2.CASCADE_SCALE_IMAGE,
            minSize=(50, 50))
        return [([float(x), float(y), float(x + w), float(y + h)], float(n), "haar")
                for (x, y, w, h), n in zip(rects, np.ravel(counts))]

    def close(self):
        pass


class CnnSetting:
    name, detectors, shipped = "dlib CNN (<= 512 px)", ("dlib-cnn",), {"dlib-cnn": None}

    def __init__(self, max_side: int = 512):
        import importlib.util

        import dlib

        spec = importlib.util.find_spec("face_recognition_models")
        path = Path(spec.origin).parent / "models" / "mmod_human_face_detector.dat"
        self._cnn = dlib.cnn_face_detection_model_v1(str(path))
        self.max_side = max_side

    def __call__(self, rgb):
        import cv2

        scale = min(1.0, self.max_side / max(rgb.shape[:2]))
        small = rgb if scale == 1.0 else cv2.resize(
            rgb, (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)),
            interpolation=cv2.INTER_AREA)
        out = []
        for d in self._cnn(small, 0):
            r = d.rect
            out.append(([r.left() / scale, r.top() / scale, (r.right() + 1) / scale,
                         (r.bottom() + 1) / scale], float(d.confidence), "dlib-cnn"))
        return out

    def close(self):
        pass


def make_setting(key: str):
    if key == "pipeline":
        return XferSetting("dlib + MediaPipe fallback (pipeline)",
                           ("dlib-hog", "mediapipe-face-detector"),
                           {"dlib-hog": None, "mediapipe-face-detector": None},
                           backend="dlib", fallback="mediapipe")
    if key == "hog":
        return XferSetting("dlib HOG alone", ("dlib-hog",), {"dlib-hog": None}, backend="dlib")
    if key == "mediapipe":
        return XferSetting("MediaPipe FaceLandmarker", ("mediapipe-landmarker",),
                           {"mediapipe-landmarker": None}, backend="mediapipe")
    if key == "haar":
        return HaarSetting()
    if key == "cnn":
        return CnnSetting()
    raise SystemExit(f"unknown setting {key!r}")


# ---------------------------------------------------------------------------- detection
def detect_all(key, samples, folder: Path, redetect: bool, log):
    """Raw detections and milliseconds per sample id for one setting (cached)."""
    from xfer_keras.evaluation.face_detection import load_image

    cache = folder / "detections" / f"{key}.json"
    ids = [s.id for s in samples]
    if cache.is_file() and not redetect:
        stored = json.loads(cache.read_text())
        if set(ids) <= set(stored["detections"]):
            return stored["name"], stored["detections"], stored["ms"], stored["meta"]
    setting = make_setting(key)
    setting(load_image(folder, samples[0].id))  # warm-up: models loaded before timing
    detections, ms = {}, {}
    start = time.perf_counter()
    for n, sample in enumerate(samples):
        image = load_image(folder, sample.id)
        t = time.perf_counter()
        found = setting(image)
        ms[sample.id] = 1e3 * (time.perf_counter() - t)
        detections[sample.id] = found
        if n % 500 == 499:
            rate = (time.perf_counter() - start) / (n + 1)
            log(f"  {key}: {n + 1}/{len(samples)} ({rate * 1e3:.0f} ms/image)")
    setting.close()
    meta = {"detectors": list(setting.detectors), "shipped": setting.shipped}
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    tmp.write_text(json.dumps({"name": setting.name, "detections": detections, "ms": ms,
                               "meta": meta}))
    tmp.replace(cache)
    return setting.name, detections, ms, meta


# ------------------------------------------------------------------------- verification
def verify_all(samples, detections: dict, folder: Path, redetect: bool, log) -> dict:
    """What the pipeline's face check says of each detection of the report half: ``id ->
    [[whole-image mesh confirms, mesh or crop check confirms], ...]`` (cached)."""
    from xfer_keras.errors import NoFaceError
    from xfer_keras.evaluation.face_detection import load_image
    from xfer_keras.face import FaceVerifier, LandmarkDetector
    from xfer_keras.face.detector import holds_a_face_centre

    cache = folder / "detections" / "pipeline_verification.json"
    wanted = [s.id for s in samples if s.half == "report" and detections.get(s.id)]
    if cache.is_file() and not redetect:
        stored = json.loads(cache.read_text())
        if set(wanted) <= set(stored):
            return stored
    out = {}
    with LandmarkDetector("mediapipe") as mesh:
        verifier = FaceVerifier()
        for n, sample_id in enumerate(wanted):
            image = load_image(folder, sample_id)
            try:
                faces = mesh.detect(image, policy="all")
            except NoFaceError:
                faces = []
            marks = []
            for box, _, detector in detections[sample_id]:
                whole = holds_a_face_centre(box, faces)
                # the mesh's own face on the bordered image: found by the mesh (as the pipeline)
                by_mesh = detector == "mediapipe-landmarker"
                marks.append([whole, whole or by_mesh or verifier.confirms(image, box)])
            out[sample_id] = marks
            if n % 500 == 499:
                log(f"  verification: {n + 1}/{len(wanted)}")
        verifier.close()
    tmp = cache.with_suffix(".tmp")
    tmp.write_text(json.dumps(out))
    tmp.replace(cache)
    return out


def print_verification(samples, detections: dict, marks: dict, conditions) -> None:
    """Per condition, the pipeline's true detections the face check confirms; on the negatives,
    the false faces it confirms (a confirmed face is explained as usual, an unconfirmed one as a
    weak detection: confidence at most Medium)."""
    from xfer_keras.evaluation.face_detection import match_detections

    counts = {}
    for s in samples:
        if s.half != "report" or s.id not in marks:
            continue
        found = detections[s.id]
        true = match_detections([(d[0], d[1]) for d in found], s.boxes)[1] if s.positive \
            else [False] * len(found)
        key = s.condition if s.positive else "negatives (false faces)"
        row = counts.setdefault(key, [0, 0, 0])
        for is_true, (whole, either) in zip(true, marks[s.id]):
            if is_true == s.positive:
                row[0] += 1
                row[1] += int(whole)
                row[2] += int(either)
    print("\n## The pipeline's face check (report half): detections the face mesh confirms")
    print("| condition | detections | confirmed by the whole-image mesh | + mesh on a crop "
          "around the box |")
    print("|---|---|---|---|")
    for key in [*conditions, "negatives (false faces)"]:
        if key in counts:
            n, whole, either = counts[key]
            print(f"| {key} | {n} | {_pct(whole, n)} | {_pct(either, n)} |")


# ------------------------------------------------------------------------------- tables
def print_landmark_fit(limit: int, seed: int, log) -> None:
    """The fallback's 68 points on the report half's CK+ faces, per condition
    (:func:`xfer_keras.evaluation.face_detection.landmark_fit`)."""
    from xfer_keras.config import data_dir
    from xfer_keras.evaluation import face_detection as fd
    from xfer_keras.face import LandmarkDetector

    t = time.perf_counter()
    sources = fd.list_sources(data_dir(), limit, seed, datasets=("ckplus",))
    with LandmarkDetector("dlib", fallback="mediapipe") as detector:
        fit = fd.landmark_fit(sources, detector._backend(), seed=seed)
    log(f"landmark fit in {time.perf_counter() - t:.0f} s")
    print("\n### 68-point error of the faces the fallback finds (CK+, report half)\n")
    print("Mean distance to the data provider's dlib points of the untouched frame (which favours "
          "dlib's predictor where it fits), over the outer inter-ocular distance, points in view.\n")
    print("| condition | faces | dlib's predictor | the mesh's 68 | kept | kept from the mesh |")
    print("|---|---|---|---|---|---|")
    for name, row in fit.items():
        cells = " | ".join("-" if row[k] is None else f"{row[k]:.3f}"
                           for k in ("dlib", "mesh", "chosen"))
        print(f"| {name} | {row['n']} | {cells} | {row['mesh_chosen']} |")


def _pct(h, n):
    return f"{h / n:.3f}" if n else "-"


def _threshold_text(threshold, shipped):
    parts = [f"{k.replace('mediapipe-face-detector', 'blazeface')} >= {v:.3g}"
             for k, v in (threshold or {}).items() if v is not None]
    if threshold == shipped:
        return "shipped"
    return ", ".join(parts) if parts else "none (all)"


def print_tables(samples, results, conditions) -> None:
    report = [s for s in samples if s.half == "report"]
    n_pos = sum(s.positive for s in report)
    n_faces = sum(len(s.boxes) for s in report if s.positive)
    n_neg = sum(not s.positive for s in report)
    print(f"\nReport half: {n_pos} positive images ({n_faces} faces), {n_neg} negatives.")
    for label, which in (("shipped setting", "shipped"), ("threshold tuned on the other half",
                                                          "tuned")):
        print(f"\n### Recall per condition ({label})\n")
        print("| condition | faces | " + " | ".join(r["name"] for r in results) + " |")
        print("|---|---|" + "---|" * len(results))
        for c in conditions:
            faces = results[0][which]["recall"].get(c, [0, 0])[1]
            cells = [_pct(*r[which]["recall"].get(c, [0, 0])) for r in results]
            print(f"| {c} | {faces} | " + " | ".join(cells) + " |")
        print("| **mean over conditions** | | " + " | ".join(
            f"**{r[which]['mean_recall']:.3f}**" for r in results) + " |")
    print("\n### Summary (report half)\n")
    print("| setting | threshold | mean recall | worst condition | negatives with a false face "
          "| false faces | precision | ms/image |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        same = r["tuned_threshold"] == r["shipped_threshold"]
        for which in ("shipped",) if same else ("shipped", "tuned"):
            s = r[which]
            worst = min(s["recall"], key=lambda c: s["recall"][c][0] / max(1, s["recall"][c][1]))
            print(f"| {r['name']} | {_threshold_text(r[which + '_threshold'], r['shipped_threshold'])}"
                  f"{' (tuning keeps it)' if same else ''} | "
                  f"{s['mean_recall']:.3f} | {worst} {_pct(*s['recall'][worst])} | "
                  f"{s['false_negatives']}/{s['negatives']} "
                  f"({s['false_negatives'] / max(1, s['negatives']):.3f}) | {s['false_faces']} | "
                  f"{s['precision']:.3f} | {r['ms_mean']:.0f} |")
    print("\n### Recall per source set (report half, shipped setting; mean over the single-face "
          "conditions)\n")
    sets = ("ckplus", "taiwanese", "fer2013")
    print("| setting | " + " | ".join(sets) + " |")
    print("|---|" + "---|" * len(sets))
    for r in results:
        print(f"| {r['name']} | " + " | ".join(f"{r['by_set'].get(d, float('nan')):.3f}"
                                             for d in sets) + " |")
    print("\n### False faces on negatives by family (shipped setting; images fired / images)\n")
    families = sorted({s.condition.split(":", 1)[1] for s in report if not s.positive})
    print("| setting | " + " | ".join(families) + " |")
    print("|---|" + "---|" * len(families))
    for r in results:
        fam = r["shipped"]["false_by_family"]
        print(f"| {r['name']} | " + " | ".join(
            f"{fam.get(f, [0, 0])[0]}/{fam.get(f, [0, 0])[1]}" for f in families) + " |")
    print("\n### Time per image (ms, mean; both halves)\n")
    print("| condition | " + " | ".join(r["name"] for r in results) + " |")
    print("|---|" + "---|" * len(results))
    for c in conditions + ["negatives"]:
        print(f"| {c} | " + " | ".join(f"{r['ms_by_condition'].get(c, float('nan')):.0f}"
                                       for r in results) + " |")


def main(argv=None) -> int:
    from xfer_keras.config import cache_dir, data_dir
    from xfer_keras.evaluation import face_detection as fd

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=100, help="source faces per dataset")
    parser.add_argument("--negatives", type=int, default=300, help="face-free images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--settings", default="pipeline,hog,mediapipe,haar")
    parser.add_argument("--cnn", action="store_true", help="add dlib's CNN detector (slow)")
    parser.add_argument("--redetect", action="store_true", help="ignore cached detections")
    parser.add_argument("--verify", action="store_true",
                        help="also print which of the pipeline's detections its face check "
                             "(the face mesh) confirms")
    parser.add_argument("--landmarks", action="store_true",
                        help="also print how well the fallback's 68 points fit the CK+ faces "
                             "it finds: dlib's predictor, the mesh's 68, and the one kept")
    args = parser.parse_args(argv)

    def log(text):
        print(text, file=sys.stderr, flush=True)

    keys = [k for k in args.settings.split(",") if k] + (["cnn"] if args.cnn else [])
    folder = cache_dir() / "face_detection" / f"seed{args.seed}_limit{args.limit}_neg{args.negatives}"
    t0 = time.perf_counter()
    samples = fd.build_set(data_dir(), folder, args.limit, args.negatives, args.seed, log=log)
    log(f"{len(samples)} images in {folder} ({time.perf_counter() - t0:.0f} s)")
    conditions = fd.condition_names()
    results, found = [], {}
    for key in keys:
        t = time.perf_counter()
        name, detections, ms, meta = detect_all(key, samples, folder, args.redetect, log)
        found[key] = detections
        log(f"{name}: detections in {time.perf_counter() - t:.0f} s")
        detectors = tuple(meta["detectors"])
        shipped = meta["shipped"]
        tuned = fd.choose_threshold(samples, detections, detectors, "tune")
        by_condition = {}
        for s in samples:
            by_condition.setdefault(s.condition if s.positive else "negatives", []).append(ms[s.id])
        results.append({
            "name": name, "shipped_threshold": shipped, "tuned_threshold": tuned,
            "shipped": fd.score_samples(samples, detections, shipped, "report"),
            "tuned": fd.score_samples(samples, detections, tuned, "report"),
            "by_set": {d: fd.score_samples(
                [s for s in samples if s.positive and len(s.boxes) == 1
                 and s.sources[0].split("/")[0] == d], detections, shipped, "report")["mean_recall"]
                for d in ("ckplus", "taiwanese", "fer2013")},
            "ms_mean": float(np.mean(list(ms.values()))),
            "ms_by_condition": {c: float(np.mean(v)) for c, v in by_condition.items()},
        })
    print_tables(samples, results, conditions)
    if args.verify:
        detections = found.get("pipeline") or detect_all("pipeline", samples, folder, False, log)[1]
        marks = verify_all(samples, detections, folder, args.redetect, log)
        print_verification(samples, detections, marks, conditions)
    if args.landmarks:
        print_landmark_fit(args.limit, args.seed, log)
    log(f"total {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
