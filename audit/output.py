"""Rendering rows for a terminal (aligned plain table) or a script (CSV)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

Cell = object


def cell(value: Cell) -> str:
    """One cell as text: None is empty, line breaks become spaces."""
    if value is None:
        return ""
    return " ".join(str(value).split("\n"))


def table(columns: Sequence[str], rows: Sequence[Sequence[Cell]]) -> str:
    """An aligned plain-text table with a header row; the last column is not padded."""
    texts = [[cell(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in texts]) for i, c in enumerate(columns)]
    lines = []
    for row in [list(columns), *texts]:
        padded = [text.ljust(widths[i]) for i, text in enumerate(row[:-1])] + [row[-1]]
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines)


def csv_text(columns: Sequence[str], rows: Sequence[Sequence[Cell]]) -> str:
    """CSV with a header row (RFC 4180 quoting, `\\r\\n` line ends as the csv module)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue()
