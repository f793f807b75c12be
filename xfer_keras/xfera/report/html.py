"""Self-contained HTML report of one or more explanations.

Images are inlined as base64 PNG (no external file, no network); every piece of text coming from
an :class:`~xfer_keras.xfera.explanation.Explanation` (file names, explanation text, AU
names...) goes through :func:`~xfer_keras.html_page.escape_html`.
"""

from __future__ import annotations

from xfer_keras.atomic import atomic_write_text
from xfer_keras.html_page import escape_html, html_page, png_bytes_uri


def png_data_uri(image_or_png) -> str:
    """``data:image/png;base64,...`` for PNG bytes or a uint8 RGB array."""
    if isinstance(image_or_png, (bytes, bytearray)):
        return png_bytes_uri(image_or_png)
    from xfer_keras.xfera.report.panel import png_bytes

    return png_bytes_uri(png_bytes(image_or_png))


def explanation_section(exp, panel: bytes | None = None,
                        images: dict | None = None) -> str:
    """One explanation's HTML; ``panel`` (PNG bytes) and ``images`` (the panel's
    :func:`~xfer_keras.xfera.report.panel.overlays`) are reused when the caller already made them."""
    from xfer_keras.xfera.report.panel import overlays, panel_png

    images = images or overlays(exp)
    panel = panel if panel is not None else panel_png(exp, images)
    probs = "".join(f"<tr><td>{escape_html(k)}</td><td>{float(v):.3f}</td></tr>"
                    for k, v in sorted(exp.probabilities.items(), key=lambda kv: -kv[1]))
    au_rows = []
    for label, info in sorted(exp.aus.items()):
        cls = ' class="hot"' if label in exp.hot_aus else ""
        intensity = info.get("intensity")
        au_rows.append(
            f"<tr{cls}><td>{escape_html(label)}</td><td>{escape_html(info.get('name'))}</td>"
            f"<td>{escape_html(info.get('description'))}</td>"
            f"<td>{'-' if intensity is None else f'{intensity:.3f}'}</td>"
            f"<td>{escape_html(info.get('present'))}</td><td>{float(info.get('hot_fraction') or 0):.2f}</td>"
            f"<td>{escape_html(info.get('final_score') if info.get('final_score') is None else round(info['final_score'], 3))}</td></tr>")
    return f"""
<section>
<h2>{escape_html(exp.image)}</h2>
<div class="box">
<p><b>Expected emotion:</b> {escape_html(exp.emotion.capitalize())} &nbsp; <b>Confidence level:</b> {escape_html(exp.confidence_level)}</p>
<p><b>Matching AUs:</b> {escape_html(', '.join(exp.matching_aus) or '-')} &nbsp; <b>Missing AUs:</b> {escape_html(', '.join(exp.missing_aus) or '-')}</p>
<p>{escape_html(exp.explanation)}</p>
<p><small>narrator: {escape_html(exp.narrator)}{' (fallback: ' + escape_html(exp.narrator_fallback) + ')' if exp.narrator_fallback else ''}
 &middot; AU source: {escape_html(exp.au_source)} &middot; model: {escape_html(exp.model)}</small></p>
</div>
<div class="imgs"><img alt="face crop" src="{png_data_uri(images['crop'])}">
<img alt="Grad-CAM" src="{png_data_uri(images['gradcam'])}">
<img alt="hot and cold landmarks" src="{png_data_uri(images['landmarks'])}"></div>
<p><img alt="explanation panel" src="{png_data_uri(panel)}"></p>
<h3>Probabilities</h3><table><tr><th>emotion</th><th>p</th></tr>{probs}</table>
<h3>Action Units</h3>
<table><tr><th>AU</th><th>name</th><th>movement</th><th>intensity ({escape_html(exp.au_source)})</th><th>present</th>
<th>hot fraction</th><th>score</th></tr>{''.join(au_rows)}</table>
<p><small>hot landmarks (0-based): {escape_html(', '.join(map(str, exp.hot_landmarks)) or '-')}
 &middot; threshold {float(exp.heat_threshold or 0):.3f} (mean + {float(exp.k or 1):g}&middot;std)</small></p>
</section>"""


def report_html(explanations, title: str = "XFERa explanations",
                panels: list[bytes] | None = None, images: list[dict] | None = None) -> str:
    """The HTML page of one explanation or a list of them."""
    if not isinstance(explanations, (list, tuple)):
        explanations = [explanations]
    panels = panels or [None] * len(explanations)
    images = images or [None] * len(explanations)
    body = "".join(explanation_section(e, p, i) for e, p, i in zip(explanations, panels, images))
    return html_page(title, body)


def save_html(explanations, path, title: str = "XFERa explanations", panels=None, images=None):
    """Write the report atomically; returns the path."""
    return atomic_write_text(path, report_html(explanations, title=title, panels=panels, images=images))
