"""The result of one clip's EMO explanation: verdict, probabilities, segment and IG per landmark.

:class:`EmoResult` is what :class:`~xfer_keras.emo.pipeline.EmoPipeline` returns; its JSON, table,
PNG and HTML all read it, never recompute.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

NO_CLEAR_EMOTION = "no clear emotion"


@dataclass
class EmoResult:
    """Everything one clip's explanation computed; the JSON, table and PNG read it."""

    clip: str
    verdict: str  #: an emotion, or "no clear emotion"
    probabilities: dict[str, float]  #: P(emotion) of each net
    thresholds: dict[str, float]
    explained_emotion: str  #: whose net IG explains (the verdict, else the most probable)
    segment: dict  #: start, end, neutral, peak, frames, rule, displacement
    attribution: np.ndarray  #: (L,) sum |IG| per landmark (0 outside the net's landmarks)
    net_landmarks: list[int]  #: the landmarks the explained net reads
    top_regions: list[dict]  #: [{region, share, parts}]
    why: str  #: the top regions in words
    backend: str
    ig: dict = field(default_factory=dict)  #: method, n_steps, baselines, convergence deltas
    timings: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    peak_frame: np.ndarray | None = field(default=None, repr=False)  #: RGB (H, W, 3)
    peak_landmarks: np.ndarray | None = field(default=None, repr=False)  #: (L, 2) pixels

    @property
    def probability(self) -> float:
        return float(self.probabilities[self.explained_emotion])

    def to_dict(self) -> dict:
        from xfer_keras.emo.regions import region_of

        regions = region_of(range(len(self.attribution)))
        return {
            "clip": self.clip, "verdict": self.verdict,
            "probabilities": self.probabilities, "thresholds": self.thresholds,
            "explained_emotion": self.explained_emotion, "why": self.why,
            "top_regions": self.top_regions, "segment": self.segment, "backend": self.backend,
            "attribution": [{"landmark": i, "region": regions[i], "value": round(float(v), 6),
                             "in_net": i in set(self.net_landmarks)}
                            for i, v in enumerate(self.attribution)],
            "ig": self.ig, "timings": {k: round(float(v), 4) for k, v in self.timings.items()},
            "notes": self.notes,
            "peak_landmarks": None if self.peak_landmarks is None
            else np.round(self.peak_landmarks, 2).tolist(),
        }

    def to_json(self, path: str | os.PathLike | None = None, indent: int = 2) -> str:
        from xfer_keras.atomic import atomic_write_text

        text = json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)
        if path is not None:
            atomic_write_text(path, text + "\n")
        return text

    def to_dataframe(self):
        """One row per landmark: landmark, region, part, attribution, share, in_net."""
        import pandas as pd

        from xfer_keras.emo.regions import DLIB68_PARTS

        part = {i: (r, p) for r, parts in DLIB68_PARTS.items() for p, ids in parts.items() for i in ids}
        total = float(np.sum(self.attribution)) or 1.0
        net = set(self.net_landmarks)
        return pd.DataFrame([{
            "clip": self.clip, "landmark": i, "region": part[i][0], "part": part[i][1],
            "attribution": float(v), "share": float(v) / total, "in_net": i in net,
        } for i, v in enumerate(self.attribution)])

    def to_row(self) -> dict:
        """One flat row (summary CSV)."""
        return {"clip": self.clip, "verdict": self.verdict,
                "explained_emotion": self.explained_emotion,
                **{f"p_{k}": round(v, 4) for k, v in self.probabilities.items()},
                "start": self.segment["start"], "end": self.segment["end"],
                "peak": self.segment["peak"],
                "top_regions": ";".join(r["region"] for r in self.top_regions), "why": self.why}

    def png(self) -> bytes:
        """The peak frame with every landmark coloured and sized by its attribution, and the
        six probabilities against their thresholds."""
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        fig, (ax, bars) = plt.subplots(1, 2, figsize=(10, 4.6), gridspec_kw={"width_ratios": [1.3, 1]})
        if self.peak_frame is not None:
            ax.imshow(self.peak_frame)
        if self.peak_landmarks is not None:
            a = np.asarray(self.attribution, dtype=float)
            scaled = a / a.max() if a.max() > 0 else a
            pts = np.asarray(self.peak_landmarks)
            ax.scatter(pts[:, 0], pts[:, 1], s=6, c="white", alpha=0.6)
            sc = ax.scatter(pts[:, 0], pts[:, 1], s=10 + 220 * scaled, c=scaled, cmap="inferno",
                            vmin=0, vmax=1, edgecolors="black", linewidths=0.3)
            fig.colorbar(sc, ax=ax, fraction=0.04, label="|IG| (share of the max)")
            pad = 0.25 * (pts[:, 0].max() - pts[:, 0].min())
            ax.set_xlim(pts[:, 0].min() - pad, pts[:, 0].max() + pad)
            ax.set_ylim(pts[:, 1].max() + pad, pts[:, 1].min() - 1.3 * pad)
        ax.set_axis_off()
        ax.set_title(f"peak frame {self.segment['peak']}: why {self.explained_emotion}", fontsize=10)
        names = list(self.probabilities)
        values = [self.probabilities[n] for n in names]
        colors = ["tab:red" if n == self.verdict else "tab:gray" for n in names]
        bars.barh(names, values, color=colors)
        for i, n in enumerate(names):
            bars.plot([self.thresholds[n]] * 2, [i - 0.4, i + 0.4], color="black", lw=1.5)
        bars.set_xlim(0, 1)
        bars.invert_yaxis()
        bars.set_xlabel("P(emotion); black mark: threshold")
        bars.set_title(f"verdict: {self.verdict}", fontsize=10)
        fig.suptitle(self.why, fontsize=9, wrap=True)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100)
        plt.close(fig)
        return buffer.getvalue()

    def to_html(self, path: str | os.PathLike | None = None) -> str:
        """A self-contained HTML report: the verdict and why, the PNG (peak frame with the
        attribution, probabilities against thresholds), the probabilities and the top regions;
        written atomically to ``path`` when given."""
        from xfer_keras.atomic import atomic_write_text
        from xfer_keras.html_page import escape_html, html_page, png_bytes_uri

        hot = ' class="hot"'
        probs = "".join(
            f"<tr{hot if name == self.verdict else ''}><td>{escape_html(name)}</td>"
            f"<td>{p:.3f}</td><td>{self.thresholds[name]:.3f}</td></tr>"
            for name, p in sorted(self.probabilities.items(), key=lambda kv: -kv[1]))
        regions = "".join(f"<tr><td>{escape_html(r['region'])}</td><td>{float(r['share']):.0%}</td>"
                          f"</tr>" for r in self.top_regions)
        segment = self.segment
        body = f"""<div class="box">
<p><b>Verdict:</b> {escape_html(self.verdict)} &nbsp; <b>explained net:</b> {escape_html(self.explained_emotion)}
 (p = {self.probability:.2f}, threshold {self.thresholds[self.explained_emotion]:.2f})</p>
<p><b>Why:</b> {escape_html(self.why)}</p>
<p><small>frames {escape_html(segment.get('start'))}-{escape_html(segment.get('end'))} (peak {escape_html(segment.get('peak'))},
 rule: {escape_html(segment.get('rule'))}) &middot; landmarks: {escape_html(self.backend)}
 &middot; IG: {escape_html(self.ig.get('method'))}, {escape_html(self.ig.get('n_steps'))} steps</small></p>
</div>
<p><img alt="attribution on the peak frame and probabilities" src="{png_bytes_uri(self.png())}"></p>
<h3>Probabilities</h3><table><tr><th>emotion</th><th>p</th><th>threshold</th></tr>{probs}</table>
<h3>Regions that weighed most</h3><table><tr><th>region</th><th>share of |IG|</th></tr>{regions}</table>"""
        text = html_page(f"EMO nets: {self.clip}", body)
        if path is not None:
            atomic_write_text(path, text)
        return text

    def save_png(self, path) -> Path:
        from xfer_keras.atomic import atomic_write_bytes

        return atomic_write_bytes(path, self.png())
