"""Self-contained HTML report of a :class:`~xfer_keras.xfera.video.result.VideoExplanation`.

The timeline image, a table of the segments with the narration of each one's most confident
frame, then the Figure-1 panel and details of a few key frames (the image report's section, from
:mod:`xfer_keras.xfera.report.html`). Images are inlined; all text is escaped.
"""

from __future__ import annotations

from xfer_keras.html_page import escape_html, html_page
from xfer_keras.xfera.report.html import explanation_section, png_data_uri

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
            f"<td>{escape_html(seg.emotion.capitalize())}</td><td>{seg.mean_probability:.2f}</td>"
            f"<td>{seg.n_frames}</td><td>{_clock(seg.key_time)} (p = {seg.key_probability:.2f}, "
            f"{escape_html(seg.confidence_level)})</td><td>{escape_html(seg.narration)}</td></tr>")
    sections = []
    for seg in video.key_frames():
        exp = video.key_explanation(seg)
        if exp is not None:
            sections.append(f"<h3>Face {seg.face_id} at {_clock(seg.key_time)}: key frame of the "
                            f"{escape_html(seg.emotion)} segment</h3>" + explanation_section(exp))
    notes = "".join(f"<li>{escape_html(n)}</li>" for n in video.notes)
    title = f"XFERa video: {video.name}"
    return html_page(title, f"""<p><small>{escape_html(video.source)} &middot; {video.native_fps:.3g} fps native, {video.sample_fps:.3g} samples/s
 &middot; {video.n_sampled} sampled frames, {video.n_no_face} without the face &middot; faces: {escape_html(settings.get('faces'))}
 &middot; smoothing: {escape_html(settings.get('smooth_s'))} s ({escape_html(settings.get('smooth_frames'))} frames, centred)
 &middot; model: {escape_html(video.model)} &middot; AU source: {escape_html(video.au_source)} &middot; narrator: {escape_html(video.narrator)}</small></p>
<p><img alt="timeline" src="{png_data_uri(timeline)}"></p>
<h2>Segments</h2>
<table><tr><th>face</th><th>start</th><th>end</th><th>emotion</th><th>mean p</th><th>frames</th>
<th>most confident frame</th><th>explanation of that frame</th></tr>{''.join(rows)}</table>
{('<h2>Notes</h2><ul>' + notes + '</ul>') if notes else ''}
<h2>Key frames</h2>
{''.join(sections) or '<p>No face was explained.</p>'}""")
