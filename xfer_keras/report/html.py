"""Self-contained HTML report of one or more explanations.

Images are inlined as base64 PNG (no external file, no network); every piece of text coming from
an Explanation (file names, explanation text, AU names...) goes through :func:`html.escape`.
"""

from __future__ import annotations

import base64
import html

from xfer_keras.atomic import atomic_write_text
from xfer_keras.explanation import Explanation

_CSS = """body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
h1{font-size:1.4em} h2{font-size:1.15em;margin-top:2em} table{border-collapse:collapse;font-size:.9em}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left} .hot{color:#c00;font-weight:bold}
.box{background:#f6f6f6;border-left:4px solid #1f4e79;padding:.6em 1em;margin:1em 0}
img{max-width:100%} .imgs img{width:30%;margin-right:1%}"""


def _e(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def png_data_uri(image_or_png) -> str:
    """``data:image/png;base64,...`` for PNG bytes or a uint8 RGB array."""
    if isinstance(image_or_png, (bytes, bytearray)):
        data = bytes(image_or_png)
    else:
        from xfer_keras.report.panel import png_bytes

        data = png_bytes(image_or_png)
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def explanation_section(exp: Explanation, panel: bytes | None = None,
                        images: dict | None = None) -> str:
    """One explanation's HTML; ``panel`` (PNG bytes) and ``images`` (the panel's
    :func:`~xfer_keras.report.panel.overlays`) are reused when the caller already made them."""
    from xfer_keras.report.panel import overlays, panel_png

    images = images or overlays(exp)
    panel = panel if panel is not None else panel_png(exp, images)
    probs = "".join(f"<tr><td>{_e(k)}</td><td>{float(v):.3f}</td></tr>"
                    for k, v in sorted(exp.probabilities.items(), key=lambda kv: -kv[1]))
    au_rows = []
    for label, info in sorted(exp.aus.items()):
        cls = ' class="hot"' if label in exp.hot_aus else ""
        intensity = info.get("intensity")
        au_rows.append(
            f"<tr{cls}><td>{_e(label)}</td><td>{_e(info.get('name'))}</td>"
            f"<td>{_e(info.get('description'))}</td>"
            f"<td>{'-' if intensity is None else f'{intensity:.3f}'}</td>"
            f"<td>{_e(info.get('present'))}</td><td>{float(info.get('hot_fraction') or 0):.2f}</td>"
            f"<td>{_e(info.get('final_score') if info.get('final_score') is None else round(info['final_score'], 3))}</td></tr>")
    return f"""
<section>
<h2>{_e(exp.image)}</h2>
<div class="box">
<p><b>Expected emotion:</b> {_e(exp.emotion.capitalize())} &nbsp; <b>Confidence level:</b> {_e(exp.confidence_level)}</p>
<p><b>Matching AUs:</b> {_e(', '.join(exp.matching_aus) or '-')} &nbsp; <b>Missing AUs:</b> {_e(', '.join(exp.missing_aus) or '-')}</p>
<p>{_e(exp.explanation)}</p>
<p><small>narrator: {_e(exp.narrator)}{' (fallback: ' + _e(exp.narrator_fallback) + ')' if exp.narrator_fallback else ''}
 &middot; AU source: {_e(exp.au_source)} &middot; model: {_e(exp.model)}</small></p>
</div>
<div class="imgs"><img alt="face crop" src="{png_data_uri(images['crop'])}">
<img alt="Grad-CAM" src="{png_data_uri(images['gradcam'])}">
<img alt="hot and cold landmarks" src="{png_data_uri(images['landmarks'])}"></div>
<p><img alt="explanation panel" src="{png_data_uri(panel)}"></p>
<h3>Probabilities</h3><table><tr><th>emotion</th><th>p</th></tr>{probs}</table>
<h3>Action Units</h3>
<table><tr><th>AU</th><th>name</th><th>movement</th><th>intensity ({_e(exp.au_source)})</th><th>present</th>
<th>hot fraction</th><th>score</th></tr>{''.join(au_rows)}</table>
<p><small>hot landmarks (0-based): {_e(', '.join(map(str, exp.hot_landmarks)) or '-')}
 &middot; threshold {float(exp.heat_threshold or 0):.3f} (mean + {float(exp.k or 1):g}&middot;std)</small></p>
</section>"""


def report_html(explanations: Explanation | list[Explanation], title: str = "XFERa explanations",
                panels: list[bytes] | None = None, images: list[dict] | None = None) -> str:
    if isinstance(explanations, Explanation):
        explanations = [explanations]
    panels = panels or [None] * len(explanations)
    images = images or [None] * len(explanations)
    body = "".join(explanation_section(e, p, i) for e, p, i in zip(explanations, panels, images))
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
            f"<h1>{_e(title)}</h1>{body}</body></html>\n")


def save_html(explanations, path, title: str = "XFERa explanations", panels=None, images=None):
    """Write the report atomically; returns the path."""
    return atomic_write_text(path, report_html(explanations, title=title, panels=panels, images=images))
