"""Facial regions of the landmarks, and per-landmark attributions summarised in words.

Five regions (brows, eyes, nose, mouth, jaw), each split into named parts, on the iBUG / dlib
68-point layout (0-based, :data:`xfer_keras.face.topology.DLIB68_REGIONS`). A per-landmark
attribution (e.g. ``sum |IG|`` over frames and coordinates) becomes region shares and a
sentence such as "the movement of the mouth corners and the lower lip weighed most".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from xfer_keras.errors import InputShapeError
from xfer_keras.face.topology import DLIB68_REGIONS

REGIONS = ("brows", "eyes", "nose", "mouth", "jaw")

#: region -> part name -> dlib-68 ids (every id in exactly one part)
DLIB68_PARTS: dict[str, dict[str, tuple[int, ...]]] = {
    "brows": {"inner brow ends": (20, 21, 22, 23), "brow arches": (18, 19, 24, 25),
              "outer brow ends": (17, 26)},
    "eyes": {"upper eyelids": (37, 38, 43, 44), "lower eyelids": (40, 41, 46, 47),
             "eye corners": (36, 39, 42, 45)},
    "nose": {"nose bridge": DLIB68_REGIONS["nose_bridge"], "nostrils": DLIB68_REGIONS["nose_lower"]},
    "mouth": {"mouth corners": (48, 54, 60, 64), "upper lip": (49, 50, 51, 52, 53, 61, 62, 63),
              "lower lip": (55, 56, 57, 58, 59, 65, 66, 67)},
    "jaw": {"chin": tuple(range(6, 11)), "jaw sides": tuple(range(0, 6)) + tuple(range(11, 17))},
}


def _table(topology: str) -> tuple[np.ndarray, np.ndarray]:
    """(region per id, part per id) arrays for a topology."""
    if topology != "dlib68":
        raise InputShapeError(f"facial regions are defined for the dlib68 topology, not {topology!r}")
    region, part = np.empty(68, dtype=object), np.empty(68, dtype=object)
    for r, parts in DLIB68_PARTS.items():
        for name, ids in parts.items():
            region[list(ids)], part[list(ids)] = r, name
    return region, part


def region_of(landmark_ids, topology: str = "dlib68") -> list[str]:
    """Region name of each landmark id."""
    region, _ = _table(topology)
    return [str(region[int(i)]) for i in landmark_ids]


def region_counts(landmark_ids, topology: str = "dlib68") -> dict[str, int]:
    """How many of ``landmark_ids`` fall in each region (all five regions, in order)."""
    names = region_of(landmark_ids, topology)
    return {r: names.count(r) for r in REGIONS}


def region_table(attribution, topology: str = "dlib68") -> pd.DataFrame:
    """Shares of a per-landmark attribution ``(68,)`` (non-negative) per region and part.

    Rows sorted by region share then part share; columns ``region, part, share,
    region_share`` (shares of the total, summing to 1 over all rows).
    """
    a = np.abs(np.asarray(attribution, dtype=float))
    region, part = _table(topology)
    if a.shape != region.shape:
        raise InputShapeError(f"expected one attribution per landmark ({region.size},), got {a.shape}")
    total = a.sum()
    share = a / total if total > 0 else np.zeros_like(a)
    frame = pd.DataFrame({"region": region, "part": part, "share": share})
    parts = frame.groupby(["region", "part"], as_index=False)["share"].sum()
    parts["region_share"] = parts.groupby("region")["share"].transform("sum")
    return parts.sort_values(["region_share", "share"], ascending=False).reset_index(drop=True)


def top_regions(attribution, topology: str = "dlib68", cover: float = 0.6,
                at_most: int = 3) -> list[dict]:
    """The regions that weighed most: the fewest (at most ``at_most``) whose shares reach
    ``cover`` of the total; each ``{region, share, parts}`` with its leading parts."""
    table = region_table(attribution, topology)
    regions = table.drop_duplicates("region")[["region", "region_share"]].to_numpy()
    out, covered = [], 0.0
    for name, share in regions:
        if share <= 0 or len(out) >= at_most:
            break
        parts = table[table["region"] == name]
        lead = parts[parts["share"].cumsum() - parts["share"] < 0.7 * share]["part"].tolist()
        out.append({"region": str(name), "share": round(float(share), 4), "parts": lead[:2]})
        covered += share
        if covered >= cover:
            break
    return out


def describe_regions(regions: list[dict]) -> str:
    """One sentence from :func:`top_regions`, e.g. "the movement of the mouth corners and the
    lower lip weighed most (mouth 64 %), then the brows (21 %)"."""
    if not regions:
        return "no landmark movement weighed on the decision"
    first = regions[0]
    what = " and the ".join(first["parts"]) if first["parts"] else first["region"]
    text = f"the movement of the {what} weighed most ({first['region']} {100 * first['share']:.0f} %)"
    rest = [f"the {r['region']} ({100 * r['share']:.0f} %)" for r in regions[1:]]
    if rest:
        text += ", then " + " and ".join(rest)
    return text


__all__ = ["DLIB68_PARTS", "REGIONS", "describe_regions", "region_counts", "region_of",
           "region_table", "top_regions"]
