"""One table as a file: CSV and XLSX (a column per table column, each followed by its quote and
its page or line, after the source), or a SQLite file holding the table as the SQL box sees it."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path
from typing import Any

from retrieval.tables.database import cell_place, save_table, where_name
from retrieval.tables.model import Cell, Table


def header(table: Table) -> list[str]:
    where = where_name(table)
    names = ["source"]
    for column in table.columns:
        names += [column.name, f"{column.name} quote", f"{column.name} {where}"]
    return names


def shown(cell: Cell) -> Any:
    """A cell's value as a spreadsheet shows it: the number, the ISO date, yes or no, the
    text; empty unless verified."""
    if cell.status != "ok" or cell.value is None:
        return ""
    if isinstance(cell.value, bool):
        return "yes" if cell.value else "no"
    if isinstance(cell.value, float) and cell.value.is_integer():
        return int(cell.value)
    return cell.value


def records(table: Table) -> list[list[Any]]:
    out = []
    for row in table.rows:
        values: list[Any] = [row.source_title]
        for column in table.columns:
            cell = row.cells[column.name]
            place = cell_place(cell) if cell.status == "ok" else None
            values += [shown(cell), cell.quote if cell.status == "ok" else "",
                       "" if place is None else place]
        out.append(values)
    return out


def _inert(value: Any) -> Any:
    """Text a spreadsheet would run as a formula (= + - @ first) kept as text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return f"'{value}"
    return value


def table_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_inert(h) for h in header(table)])
    for values in records(table):
        writer.writerow([_inert(v) for v in values])
    return out.getvalue()


def table_xlsx(table: Table) -> bytes:
    from openpyxl import Workbook  # only exports need it
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    def clean(values: list[Any]) -> list[Any]:  # control characters a PDF's text may hold
        return [ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in values]

    book = Workbook()
    sheet = book.active
    title = (table.title or "")[:31].translate(str.maketrans("[]:*?/\\", "       "))
    sheet.title = ILLEGAL_CHARACTERS_RE.sub("", title).strip() or "Table"
    sheet.append(clean(header(table)))
    for values in records(table):
        sheet.append(clean(values))
    # openpyxl writes a string that starts with '=' as a formula: every string is text here.
    for row in sheet.iter_rows():
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"
    sheet.freeze_panes = "B2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def table_sqlite(table: Table) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "table.sqlite3"
        save_table(path, table)
        return path.read_bytes()
