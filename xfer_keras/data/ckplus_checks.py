"""How good are our CK+ landmarks? Agreement with CK+'s own AAM landmarks and a dlib table.

Error unit: the **outer inter-ocular distance** of the reference shape, i.e. the distance
between iBUG points 36 and 45 (outer eye corners), the usual "NME (inter-ocular)" of the 300-W
benchmark. A mean error of 0.07 is about 7 pixels on a CK+ face (~100-150 px between the
outer corners).

* dlib (68 points, iBUG order) is compared point by point with the AAM file(s).
* MediaPipe's mesh has no 68-point order; :data:`MESH_FOR_IBUG` pairs 12 iBUG points with the
  mesh vertices at the same anatomical place (eye corners, mouth corners, lip centres, nose tip,
  nose bridge, chin) for an approximate cross-backend figure.
* ``landmarks_dlib68.csv`` (68 points per frame, computed with dlib by the data provider) is a
  cross-check of our dlib pipeline over all frames.
"""

from __future__ import annotations

import os

import numpy as np

from xfer_keras.data.ckplus import (
    aam_landmark_files, find_ckplus_root, load_ckplus_sequences, read_aam_landmarks, read_dlib68_csv,
)
from xfer_keras.data.sequences import sequence_landmarks

#: iBUG-68 index -> MediaPipe mesh index at the same anatomical point (approximate).
MESH_FOR_IBUG: dict[int, int] = {
    36: 33, 39: 133, 42: 362, 45: 263,  # eye corners (outer, inner; image-left eye first)
    48: 61, 54: 291,  # mouth corners
    51: 0, 57: 17, 62: 13, 66: 14,  # upper / lower lip centres (outer, inner)
    30: 1,  # nose tip
    8: 152,  # chin
}
OUTER_EYES = (36, 45)


def inter_ocular(reference: np.ndarray) -> float:
    """Distance between the outer eye corners (iBUG 36, 45) of a ``(68, 2)`` shape."""
    a, b = OUTER_EYES
    return float(np.linalg.norm(np.asarray(reference)[a] - np.asarray(reference)[b]))


def normalised_errors(points: np.ndarray, reference: np.ndarray,
                      ibug_ids=None) -> np.ndarray:
    """Point-to-point errors divided by the reference's outer inter-ocular distance.

    ``points``/``reference``: ``(68, 2)`` pixels, or ``points`` already restricted to
    ``ibug_ids`` (same order).
    """
    reference = np.asarray(reference, dtype=np.float64)
    ref = reference if ibug_ids is None else reference[list(ibug_ids)]
    return np.linalg.norm(np.asarray(points, dtype=np.float64) - ref, axis=-1) / inter_ocular(reference)


def ckplus_landmark_report(root: str | os.PathLike | None = None, cache=True,
                           progress: bool = True, backends=("dlib", "mediapipe")) -> dict:
    """Figures for the shared CK+ subset (or a full CK+ with ``Landmarks/``), as a dict.

    Keys: ``n_sequences``, ``n_frames``; per backend ``found[backend]`` (frames with a face);
    ``aam`` (per reference frame: dlib mean/median/max NME, MediaPipe mean NME on
    :data:`MESH_FOR_IBUG`); ``aam_mean_dlib`` / ``aam_mean_mediapipe`` (means over the
    reference frames); ``dlib_csv`` (our dlib vs ``landmarks_dlib68.csv``: mean, 95th
    percentile and max of the per-frame mean NME) when that table exists.
    """
    folder = find_ckplus_root(root)
    records = load_ckplus_sequences(folder)
    report: dict = {"root": str(folder), "n_sequences": len(records),
                    "n_frames": sum(r.n_frames for r in records), "found": {},
                    "inter_ocular": "outer eye corners, iBUG 36-45, of the reference shape"}
    per_frame: dict[str, dict[str, np.ndarray]] = {}
    for backend in backends:
        seqs = sequence_landmarks(records, backend=backend, cache=cache, progress=progress)
        report["found"][backend] = int(sum(s.found.sum() for s in seqs if s is not None))
        per_frame[backend] = {
            path.stem: s.points[i] for s in seqs if s is not None
            for i, path in enumerate(s.record.frame_paths) if s.found[i]
        }

    rows = []
    for stem, path in aam_landmark_files(folder).items():
        reference = read_aam_landmarks(path)
        row = {"frame": stem, "inter_ocular_px": round(inter_ocular(reference), 2)}
        if stem in per_frame.get("dlib", {}):
            err = normalised_errors(per_frame["dlib"][stem], reference)
            row.update(dlib_mean=float(err.mean()), dlib_median=float(np.median(err)),
                       dlib_max=float(err.max()))
        if stem in per_frame.get("mediapipe", {}):
            ids = list(MESH_FOR_IBUG)
            mesh = per_frame["mediapipe"][stem][[MESH_FOR_IBUG[i] for i in ids]]
            row["mediapipe_mean"] = float(normalised_errors(mesh, reference, ids).mean())
        rows.append(row)
    report["aam"] = rows
    for backend in backends:
        values = [r[f"{backend}_mean"] for r in rows if f"{backend}_mean" in r]
        report[f"aam_mean_{backend}"] = float(np.mean(values)) if values else None

    table = folder / "landmarks_dlib68.csv"
    if table.is_file() and "dlib" in per_frame:
        theirs = read_dlib68_csv(table)
        errors = []
        for row in theirs.itertuples(index=False):
            stem = f"{row.subject}_{row.sequence}_{int(row.frame):08d}"
            if stem in per_frame["dlib"]:
                errors.append(normalised_errors(per_frame["dlib"][stem], row.landmarks).mean())
        errors = np.array(errors)
        report["dlib_csv"] = {"n_frames": int(errors.size), "mean": float(errors.mean()),
                              "p95": float(np.percentile(errors, 95)), "max": float(errors.max())}
    return report


def format_report(report: dict) -> str:
    """Human-readable lines for :func:`ckplus_landmark_report`."""
    lines = [f"CK+ at {report['root']}: {report['n_sequences']} sequences, "
             f"{report['n_frames']} frames",
             f"error unit: {report['inter_ocular']}"]
    for backend, n in report["found"].items():
        lines.append(f"  {backend:9s}: landmarks in {n}/{report['n_frames']} frames")
    for row in report["aam"]:
        parts = [f"  vs CK+ AAM {row['frame']} (inter-ocular {row['inter_ocular_px']} px):"]
        if "dlib_mean" in row:
            parts.append(f"dlib mean {row['dlib_mean']:.4f} median {row['dlib_median']:.4f} "
                         f"max {row['dlib_max']:.4f}")
        if "mediapipe_mean" in row:
            parts.append(f"| mediapipe ({len(MESH_FOR_IBUG)} matched points) mean "
                         f"{row['mediapipe_mean']:.4f}")
        lines.append(" ".join(parts))
    if "dlib_csv" in report:
        c = report["dlib_csv"]
        lines.append(f"  dlib vs landmarks_dlib68.csv over {c['n_frames']} frames: per-frame mean "
                     f"error {c['mean']:.4f} (95th pct {c['p95']:.4f}, max {c['max']:.4f})")
    return "\n".join(lines)
