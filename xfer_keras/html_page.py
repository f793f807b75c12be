"""Self-contained HTML pages for the reports of both methods: one style, escaped text, inlined
PNGs (no external file, no network)."""

from __future__ import annotations

import base64
import html

REPORT_CSS = """body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
h1{font-size:1.4em} h2{font-size:1.15em;margin-top:2em} table{border-collapse:collapse;font-size:.9em}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left} .hot{color:#c00;font-weight:bold}
.box{background:#f6f6f6;border-left:4px solid #1f4e79;padding:.6em 1em;margin:1em 0}
img{max-width:100%} .imgs img{width:30%;margin-right:1%}"""


def escape_html(value) -> str:
    """``value`` as HTML text (None: empty), quotes escaped."""
    return html.escape("" if value is None else str(value), quote=True)


def png_bytes_uri(data: bytes) -> str:
    """``data:image/png;base64,...`` for PNG bytes."""
    return "data:image/png;base64," + base64.b64encode(bytes(data)).decode("ascii")


def html_page(title: str, body: str) -> str:
    """A whole HTML document: ``title`` as its title and first heading, then ``body`` (HTML)."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{escape_html(title)}</title><style>{REPORT_CSS}</style></head><body>\n"
            f"<h1>{escape_html(title)}</h1>\n{body}\n</body></html>\n")
