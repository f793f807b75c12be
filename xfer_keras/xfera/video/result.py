"""The result object of a video: :class:`VideoExplanation`.

``frames`` is a pandas DataFrame with one row per sampled frame and face (``--faces all``) or
per sampled frame (``--faces largest``): ``sample`` (counter), ``frame`` (native index), ``time``
(s), ``face_id`` (track id; -1 on ``no_face`` rows), ``status`` (``ok`` / ``no_face``),
``detector``, ``box_x0..box_y1`` (the detected face box in frame pixels), then the frame's
:meth:`Explanation.to_row` (``emotion``, ``probability``, ``confidence_level``, ``p_<class>``,
``AUxx_intensity``, ``matching_aus``, ``explanation``...) and the smoothed ``s_<class>`` and
``emotion_smoothed`` (:mod:`xfer_keras.xfera.video.timeline`). ``segments`` are the
:class:`~xfer_keras.xfera.video.timeline.Segment` stretches; ``key_explanations`` hold the full
:class:`~xfer_keras.xfera.explanation.Explanation` (arrays included) of the key frames shown in the
report. Everything the files show comes from here.

:meth:`VideoExplanation.save` writes ``OUT/<clip>/``: ``frames.csv``, ``timeline.png``,
``summary.json`` (settings, faces, segments with their key frame's narration) and
``report.html`` (timeline, segment narrations, Figure-1 panels of the key frames), atomically.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from xfer_keras.atomic import atomic_write_bytes, atomic_write_text
from xfer_keras.xfera.explanation import Explanation, jsonable
from xfer_keras.xfera.video.timeline import Segment

__all__ = ["VideoExplanation", "MAX_KEY_FRAMES"]

MAX_KEY_FRAMES = 6  # Figure-1 panels in the report: the key frames of the longest segments


@dataclass
class VideoExplanation:
    """One explained video (or folder of frames); see the module doc."""

    source: str
    name: str
    classes: list[str]
    frames: object                       # pandas.DataFrame
    segments: list[Segment]
    native_fps: float
    sample_fps: float
    settings: dict = field(default_factory=dict)   # sampling, faces, smoothing window...
    key_explanations: dict = field(default_factory=dict, repr=False)  # (frame, face_id) -> Explanation
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)   # stage -> seconds, whole clip
    stage_ms: dict[str, float] = field(default_factory=dict)  # pipeline stage -> ms per face
    model: str | None = None
    au_source: str | None = None
    narrator: str | None = None

    # ------------------------------------------------------------------ views
    @property
    def n_sampled(self) -> int:
        return int(self.frames["sample"].nunique()) if len(self.frames) else 0

    @property
    def n_no_face(self) -> int:
        return int((self.frames["status"] == "no_face").sum()) if len(self.frames) else 0

    @property
    def face_ids(self) -> list[int]:
        ok = self.frames[self.frames["status"] == "ok"]
        return sorted(int(f) for f in ok["face_id"].unique())

    @property
    def main_face_id(self) -> int | None:
        """The face seen in most sampled frames."""
        ok = self.frames[self.frames["status"] == "ok"]
        return None if ok.empty else int(ok["face_id"].value_counts().idxmax())

    def segments_of(self, face_id: int | None = None) -> list[Segment]:
        """Segments of one face (default: the main face), in time order."""
        face_id = self.main_face_id if face_id is None else face_id
        return [s for s in self.segments if s.face_id == face_id]

    @property
    def last_emotion(self) -> str | None:
        """The main face's emotion at the end of the clip (its last segment's)."""
        segments = self.segments_of()
        return segments[-1].emotion if segments else None

    def key_frames(self, limit: int = MAX_KEY_FRAMES) -> list[Segment]:
        """Segments whose key frame the report shows: the longest ones, in time order."""
        longest = sorted(self.segments, key=lambda s: (-s.n_frames, s.start))[:limit]
        return sorted(longest, key=lambda s: (s.start, s.face_id))

    def segments_frame(self):
        import pandas as pd

        return pd.DataFrame([s.to_dict() for s in self.segments])

    def to_dict(self) -> dict:
        """``summary.json``: the clip, the settings, per-face counts and the segments."""
        ok = self.frames[self.frames["status"] == "ok"] if len(self.frames) else self.frames
        faces = []
        for face_id in self.face_ids:
            mine = ok[ok["face_id"] == face_id]
            faces.append({"face_id": face_id, "n_frames": int(len(mine)),
                          "first_time": round(float(mine["time"].min()), 4),
                          "last_time": round(float(mine["time"].max()), 4),
                          "detectors": sorted(set(mine["detector"].dropna()))
                          if "detector" in mine else []})
        duration = float(self.frames["time"].max()) if len(self.frames) else 0.0
        return jsonable({
            "source": self.source,
            "name": self.name,
            "native_fps": round(float(self.native_fps), 4),
            "sample_fps": round(float(self.sample_fps), 4),
            "n_sampled_frames": self.n_sampled,
            "n_no_face_frames": self.n_no_face,
            "last_sampled_time": round(duration, 4),
            "classes": list(self.classes),
            "settings": self.settings,
            "main_face_id": self.main_face_id,
            "last_emotion": self.last_emotion,
            "faces": faces,
            "segments": [s.to_dict() for s in self.segments],
            "model": self.model,
            "au_source": self.au_source,
            "narrator": self.narrator,
            "timings": {k: round(float(v), 4) for k, v in self.timings.items()},
            "stage_ms": {k: round(float(v), 3) for k, v in self.stage_ms.items()},
            "notes": list(self.notes),
        })

    def to_json(self, path: str | os.PathLike | None = None, indent: int = 2) -> str:
        text = json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)
        if path is not None:
            atomic_write_text(path, text + "\n")
        return text

    def timeline_png(self, dpi: int = 100) -> bytes:
        from xfer_keras.xfera.video.plot import timeline_png

        return timeline_png(self.frames, self.segments, self.classes, title=self.source, dpi=dpi)

    def to_html(self, path: str | os.PathLike | None = None, timeline: bytes | None = None) -> str:
        from xfer_keras.xfera.video.report import video_report_html

        text = video_report_html(self, timeline=timeline)
        if path is not None:
            atomic_write_text(path, text)
        return text

    def save(self, out_dir: str | os.PathLike, html: bool = True, png: bool = True) -> list[Path]:
        """Write ``frames.csv``, ``timeline.png``, ``summary.json`` and ``report.html`` into
        ``out_dir`` (created); returns the paths written."""
        out_dir = Path(out_dir)
        written = [atomic_write_text(out_dir / "frames.csv", self.frames.to_csv(index=False))]
        timeline = self.timeline_png() if (png or html) else None
        if png:
            written.append(atomic_write_bytes(out_dir / "timeline.png", timeline))
        written.append(out_dir / "summary.json")
        self.to_json(written[-1])
        if html:
            written.append(out_dir / "report.html")
            self.to_html(written[-1], timeline=timeline)
        return written

    def key_explanation(self, segment: Segment) -> Explanation | None:
        return self.key_explanations.get((segment.key_frame, segment.face_id))
