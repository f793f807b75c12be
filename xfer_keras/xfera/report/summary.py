"""``summary.csv``: one row per explained image (or face), columns in order of first appearance.

Written with the standard library: the explain command should not pay pandas' import for a
few hundred rows. Keys missing from a row are left empty; integers stay integers.
"""

from __future__ import annotations

import csv
import io


def rows_to_csv(rows: list[dict]) -> str:
    """CSV text (header + rows) of dict rows, the union of their keys as columns."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
