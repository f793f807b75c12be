"""Self-contained HTML report of a :class:`~xfer_keras.video.result.VideoExplanation`.

The timeline image, a table of the segments with the narration of each one's most confident
frame, then the Figure-1 panel and details of a few key frames (the image report's section, from
:mod:`xfer_keras.report.html`). Images are inlined; all text is escaped.
"""

from __future__ import annotations

from xfer_keras.report.html import _CSS, _e, explanation_section, png_data_uri

__all__ = ["video_report_html"]


def _clock(seconds: float) -> str:
    minutes, rest = divmod(float(seconds), 60.0)
    return f"{int(minutes)}:{rest:05.2f}"


def video_report_html(video, timeline: bytes | None = None) -> str:
    timeline = timeline if timeline is not None else video.timeline_png()
    settings = video.settings
    rows = []
    for seg in video.segments:
        rows.append(
            f"<tr><td>{seg.face_id}</td><td>{_clock(seg.start)}</td><td>{_clock(seg.end)}</td>"
            f"<td>{_e(seg.emotion.capitalize())}</td><td>{seg.mean_probability:.2f}</td>"
            f"<td>{seg.n_frames}</td><td>{_clock(seg.key_time)} (p = {seg.key_probability:.2f}, "
            f"{_e(seg.confidence_level)})</td><td>{_e(seg.narration)}</td></tr>")
    sections = []
    for seg in video.key_frames():
        exp = video.key_explanation(seg)
        if exp is not None:
            sections.append(f"<h3>Face {seg.face_id} at {_clock(seg.key_time)}: key frame of the "
                            f"{_e(seg.emotion)} segment</h3>" + explanation_section(exp))
    notes = "".join(f"<li>{_e(n)}</li>" for n in video.notes)
    title = f"XFERa video: {video.name}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title><style>{_CSS}</style></head><body>
<h1>{_e(title)}</h1>
<p><small>{_e(video.source)} &middot; {video.native_fps:.3g} fps native, {video.sample_fps:.3g} samples/s
 &middot; {video.n_sampled} sampled frames, {video.n_no_face} without the face &middot; faces: {_e(settings.get('faces'))}
 &middot; smoothing: {_e(settings.get('smooth_s'))} s ({_e(settings.get('smooth_frames'))} frames, centred)
 &middot; model: {_e(video.model)} &middot; AU source: {_e(video.au_source)} &middot; narrator: {_e(video.narrator)}</small></p>
<p><img alt="timeline" src="{png_data_uri(timeline)}"></p>
<h2>Segments</h2>
<table><tr><th>face</th><th>start</th><th>end</th><th>emotion</th><th>mean p</th><th>frames</th>
<th>most confident frame</th><th>explanation of that frame</th></tr>{''.join(rows)}</table>
{('<h2>Notes</h2><ul>' + notes + '</ul>') if notes else ''}
<h2>Key frames</h2>
{''.join(sections) or '<p>No face was explained.</p>'}
</body></html>
"""
