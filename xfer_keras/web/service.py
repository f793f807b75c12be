"""What the web app computes, on the library's own pipelines and result objects.

One :class:`ExplainService` per server holds one :class:`~xfer_keras.xfera.XferaPipeline`
(loaded once) and, on the first clip sent to the EMO nets, one
:class:`~xfer_keras.emo.EmoPipeline`. A lock lets one request at a time use them, so requests
from many browsers share the loaded models safely. Every answer is the JSON the command line
writes (``Explanation.to_dict``, ``VideoExplanation.to_dict``, ``EmoResult.to_dict``), with the
report's own pictures (the Figure-1 panel, the timeline, the EMO figure) as data URIs when the
page asks for them.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

from xfer_keras.errors import OptionError, UploadError, VideoReadError, XferError
from xfer_keras.html_page import png_bytes_uri
from xfer_keras.web.uploads import Limits

NARRATORS = ("template", "openai")


@dataclass(frozen=True)
class ServeSettings:
    """The server's options: the models, the narrator's LLM connection and the upload limits."""

    model: str | None = None
    au_source: str = "blendshapes"
    emo_models: str | None = None
    llm_base_url: str | None = None
    llm_timeout: float = 30.0
    video_fps: float = 5.0
    limits: Limits = Limits()


def llm_available() -> bool:
    """Whether the server's environment holds an LLM key (the key itself never leaves here)."""
    from xfer_keras.narrate.llm import api_key_from_env

    return api_key_from_env() is not None


class ExplainService:
    """The loaded pipelines and what a request may ask of them."""

    def __init__(self, settings: ServeSettings = ServeSettings(), pipeline=None):
        from xfer_keras.narrate.template import TemplateNarrator
        from xfer_keras.xfera.pipeline import XferaPipeline

        self.settings = settings
        self.pipeline = pipeline or XferaPipeline(model_path=settings.model,
                                                  au_source=settings.au_source)
        self._narrators = {"template": TemplateNarrator()}
        if llm_available():
            from xfer_keras.narrate.llm import OpenAINarrator

            self._narrators["openai"] = OpenAINarrator(base_url=settings.llm_base_url,
                                                       timeout=settings.llm_timeout)
        self._emo = None
        self._lock = threading.Lock()

    @property
    def narrators(self) -> list[str]:
        return list(self._narrators)

    def close(self) -> None:
        with self._lock:
            self.pipeline.close()
            if self._emo is not None:
                self._emo.close()

    def _narrator(self, name: str):
        if name not in NARRATORS:
            raise OptionError(f"unknown narrator {name!r}: use {' or '.join(NARRATORS)}")
        if name not in self._narrators:
            raise OptionError("the LLM narrator needs XFER_LLM_API_KEY or OPENAI_API_KEY in the "
                              "server's environment")
        return self._narrators[name]

    # ------------------------------------------------------------------ photos
    def explain_photos(self, paths: list[Path], names: list[str], faces: str = "largest",
                       narrator: str = "template", panels: bool = False) -> list[dict]:
        """One entry per photo: ``{"file", "kind": "image", "explanations": [...]}`` (one per
        face, the CLI's ``<name>.json``; ``"panels"`` beside them when asked), or
        ``{"file", "kind": "image", "error"}``."""
        with self._lock, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a narrator fallback is in each JSON already
            self.pipeline.narrator = self._narrator(narrator)
            results = list(self.pipeline.iter_explain([str(p) for p in paths], names=names,
                                                      faces=faces))
        entries = [{"file": name, "kind": "image", "explanations": []} for name in names]
        for index, result in results:
            entry = entries[index]
            if isinstance(result, XferError):
                entry["error"] = str(result).replace(str(paths[index]), names[index])
                continue
            entry["explanations"].append(result.to_dict())
            if panels:
                from xfer_keras.xfera.report.panel import panel_png

                entry.setdefault("panels", []).append(png_bytes_uri(panel_png(result)))
        for entry in entries:
            if "error" in entry:
                entry.pop("explanations")
        return entries

    # ------------------------------------------------------------------ clips
    def check_clip(self, path: Path, name: str) -> None:
        """UploadError (413) when the clip runs longer than the limit; VideoReadError when no
        frame can be read."""
        from xfer_keras.video.reader import VideoReader

        reader = VideoReader(path)
        duration = reader.duration
        if duration is None:
            raise VideoReadError(f"{name}: the container does not say how long the clip is")
        if duration > self.settings.limits.clip_seconds:
            raise UploadError(f"{name}: {duration:.0f} s is longer than the "
                              f"{self.settings.limits.clip_seconds:g} s allowed per clip",
                              status=413)

    def explain_clip(self, path: Path, name: str, faces: str = "largest",
                     narrator: str = "template", panels: bool = False) -> dict:
        """``{"file", "kind": "video", "video": summary.json}`` (+ ``"timeline"`` and the key
        frames' panels and JSON when asked)."""
        self.check_clip(path, name)
        with self._lock, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.pipeline.narrator = self._narrator(narrator)
            video = self.pipeline.explain_video(str(path), fps=self.settings.video_fps,
                                                faces=faces, progress=False)
        summary = video.to_dict()
        summary["source"] = summary["name"] = name
        entry = {"file": name, "kind": "video", "video": summary}
        if panels:
            from xfer_keras.xfera.report.panel import panel_png

            entry["timeline"] = png_bytes_uri(video.timeline_png())
            entry["key_frames"] = []
            for segment in video.key_frames():
                exp = video.key_explanation(segment)
                if exp is not None:
                    exp.image = f"{name} at {segment.key_time:.2f} s"
                    entry["key_frames"].append({"segment": segment.to_dict(),
                                                "explanation": exp.to_dict(),
                                                "panel": png_bytes_uri(panel_png(exp))})
        return entry

    def emo_clip(self, path: Path, name: str, panels: bool = False) -> dict:
        """``{"file", "kind": "video", "emo": the CLI's emo JSON}`` (+ ``"png"`` when asked)."""
        self.check_clip(path, name)
        with self._lock:
            if self._emo is None:
                from xfer_keras.emo.pipeline import EmoPipeline

                self._emo = EmoPipeline(self.settings.emo_models)
            result = self._emo.explain(str(path), name=name)
        entry = {"file": name, "kind": "video", "emo": result.to_dict()}
        if panels:
            entry["png"] = png_bytes_uri(result.png())
        return entry
