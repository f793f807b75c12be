"""Derive the correspondence from MediaPipe's 468 mesh points to the 68 iBUG points and write it.

    python scripts/derive_mesh_to_68.py [--check]   # --check: compare with the table, do not write

Writes ``xfer_keras/face/_mesh68_table.py`` (``MESH_TO_68``: for each iBUG point, the one or two
mesh vertices whose mean is that point). Derived from real faces, not typed in: on every CK+
sequence frame where both dlib and the FaceLandmarker found the face (the landmark cache), each
iBUG point takes the vertex, or the mean of a pair of vertices, at the smallest mean distance
from dlib's point, in units of the outer inter-ocular distance. The frames and their mirror images
both count, and a point and its mirror point are chosen together (their vertices mirror each
other under the flip tables), so the table commutes with mirroring.

Chosen on the subjects of one half (split by subject); the errors of both halves are printed and
written beside the table. Needs the CK+ sequences under ``XFER_DATA_DIR``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
if "XFER_DATA_DIR" not in os.environ and (REPO.parent / "shared/data").is_dir():
    os.environ["XFER_DATA_DIR"] = str(REPO.parent / "shared/data")

import xfer_keras  # noqa: E402,F401

OUT = REPO / "xfer_keras/face/_mesh68_table.py"
N_SINGLE = 12  # the best single vertices per point that pairs are formed from


def subject_half(subject: str) -> str:
    """'derive' or 'check', fixed by a hash of the subject id."""
    return "derive" if hashlib.sha256(subject.encode()).digest()[0] % 2 == 0 else "check"


def paired_frames():
    """``(mesh (F, 468, 2), dlib (F, 68, 2), half (F,))`` for the CK+ frames with both shapes."""
    from xfer_keras.data.ckplus import load_ckplus_sequences
    from xfer_keras.data.sequences import sequence_landmarks

    records = load_ckplus_sequences()
    mesh = sequence_landmarks(records, backend="mediapipe")
    dlib = sequence_landmarks(records, backend="dlib")
    out_mesh, out_dlib, halves = [], [], []
    for m, d in zip(mesh, dlib):
        if m is None or d is None:
            continue
        both = m.found & d.found
        out_mesh.append(m.points[both])
        out_dlib.append(d.points[both])
        halves += [subject_half(m.record.subject)] * int(both.sum())
    return np.concatenate(out_mesh), np.concatenate(out_dlib), np.array(halves)


def with_mirrors(mesh, dlib, width: float = 1000.0):
    """The shapes and their mirror images (x -> width - 1 - x, points permuted)."""
    from xfer_keras.face import flip_landmarks

    return (np.concatenate([mesh, flip_landmarks(mesh, int(width))]),
            np.concatenate([dlib, flip_landmarks(dlib, int(width))]))


def derive(mesh, dlib):
    """``[(v,) or (v, w)] * 68`` and the mean error of each choice on these frames."""
    from xfer_keras.face import flip_permutation

    flip68, flip468 = flip_permutation(68), flip_permutation(468)
    iod = np.linalg.norm(dlib[:, 36] - dlib[:, 45], axis=-1)[:, None]  # (F, 1)

    def cost(k, candidates):  # mean normalised error of each candidate (tuple of vertices)
        pts = np.stack([mesh[:, list(c)].mean(axis=1) for c in candidates], axis=1)  # (F, C, 2)
        return (np.linalg.norm(pts - dlib[:, k][:, None], axis=-1) / iod).mean(axis=0)

    def mirrored(c):
        return tuple(sorted(int(flip468[v]) for v in c))

    table: list[tuple[int, ...] | None] = [None] * 68
    for k in range(68):
        if table[k] is not None:
            continue
        k2 = int(flip68[k])
        singles = [(v,) for v in range(468)]
        both = cost(k, singles) + (cost(k2, [mirrored(c) for c in singles]) if k2 != k else 0)
        top = [singles[i] for i in np.argsort(both)[:N_SINGLE]]
        pairs = [tuple(sorted((a[0], b[0]))) for i, a in enumerate(top) for b in top[i + 1:]]
        candidates = top + pairs
        if k2 == k:  # a midline point: its vertices must be their own mirror image as a set
            candidates = [c for c in candidates if mirrored(c) == tuple(sorted(c))] or top[:1]
        total = cost(k, candidates) + (cost(k2, [mirrored(c) for c in candidates])
                                       if k2 != k else 0)
        best = candidates[int(np.argmin(total))]
        table[k] = tuple(sorted(best))
        table[k2] = mirrored(best)
    return table


def table_errors(table, mesh, dlib) -> np.ndarray:
    """``(F, 68)`` normalised errors of the table's points against dlib's."""
    from xfer_keras.face.topology import mesh_to_68

    iod = np.linalg.norm(dlib[:, 36] - dlib[:, 45], axis=-1)[:, None]
    points = np.stack([mesh_to_68(m, table) for m in mesh])
    return np.linalg.norm(points - dlib, axis=-1) / iod


def write(table, report: dict[str, np.ndarray], n: dict[str, int]) -> None:
    from xfer_keras.face.topology import DLIB68_REGIONS

    lines = ['"""MediaPipe mesh -> iBUG 68 correspondence (generated by '
             'scripts/derive_mesh_to_68.py; do not edit).', '',
             "MESH_TO_68[k]: the mesh vertices whose mean is iBUG point k. Mean error against",
             "dlib's 68 on CK+ frames and their mirrors, in outer inter-ocular distances, per region",
             f"(chosen on one half of the subjects, {n['derive']} frames; the other half, "
             f"{n['check']} frames, in brackets):", '']
    for region, ids in DLIB68_REGIONS.items():
        a, b = (float(report[h][:, list(ids)].mean()) for h in ("derive", "check"))
        lines.append(f"    {region:14s} {a:.3f} ({b:.3f})")
    lines += ['"""', "", "MESH_TO_68 = ("]
    row = "   "
    for c in table:
        item = f" {c!r},"
        if len(row) + len(item) > 99:
            lines.append(row)
            row = "   "
        row += item
    lines += [row, ")", ""]
    text = "\n".join(lines)
    tmp = OUT.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(OUT)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    mesh, dlib, half = paired_frames()
    print(f"{len(mesh)} CK+ frames with both shapes: {int((half == 'derive').sum())} to derive "
          f"on, {int((half == 'check').sum())} to check on")
    sets = {h: with_mirrors(mesh[half == h], dlib[half == h]) for h in ("derive", "check")}
    table = derive(*sets["derive"])
    report = {h: table_errors(table, *sets[h]) for h in sets}
    for h, err in report.items():
        print(f"{h}: mean {err.mean():.4f}, interior (17-67) {err[:, 17:].mean():.4f}, "
              f"jaw {err[:, :17].mean():.4f}")
    if args.check:
        from xfer_keras.face._mesh68_table import MESH_TO_68

        same = list(MESH_TO_68) == [tuple(c) for c in table]
        print("the stored table is " + ("the derived one" if same else "NOT the derived one"))
        return 0 if same else 1
    write(table, report, {h: len(sets[h][0]) for h in sets})
    print(f"wrote {OUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
