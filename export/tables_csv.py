"""``--tables-csv DIR``: every table element as a CSV file, for a spreadsheet.

The grid comes from the element's sanitized HTML through ``pandas.read_html`` (which
repeats the value of a merged cell in every cell it spans); a table without HTML falls
back to its plain-text rendering (`` | ``-separated rows).
"""

from __future__ import annotations

import csv
import io
import logging
import re
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def csv_name(source: str, page: int | None, element_id: str) -> str:
    """``<doc-stem>_p<page>_<element_id>.csv`` (page 0: a format without pages, DOCX)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(source).stem).strip("._") or "document"
    return f"{stem}_p{page or 0}_{element_id}.csv"


def write_table_csv(folder: Path, row: dict[str, Any]) -> Path | None:
    """Write the CSV of a table elements row; None when the table has no cells."""
    target = folder / csv_name(row["source"], row.get("page"), row["id"])
    html = row.get("html")
    if html and _write_html(html, target):
        return target
    rows = [line.split(" | ") for line in (row.get("text") or "").splitlines() if line.strip()]
    if not rows:
        return None
    with target.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return target


def _write_html(html: str, target: Path) -> bool:
    import pandas as pd

    from folio.sanitize import sanitize_table_html

    try:
        frames = pd.read_html(io.StringIO(sanitize_table_html(html)), keep_default_na=False)
    except ValueError as e:  # "No tables found": the text rendering is used instead
        log.debug("%s: no table in the HTML (%s)", target.name, e)
        return False
    df = frames[0]
    if df.columns.nlevels == 1:  # an empty header cell is named "Unnamed: 0" by pandas
        df.columns = ["" if re.fullmatch(r"Unnamed: \d+", str(c)) else c for c in df.columns]
    # Without a <thead>, pandas numbers the columns 0..n: those are not a header row.
    header = not all(isinstance(c, int) for c in df.columns)
    df.to_csv(target, index=False, header=header)
    return True
