"""What a table is made of: the columns asked for, the sources read (pages or lines), and rows of
cells that each carry the quote they came from and where it is."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

ColumnType = Literal["text", "number", "date", "enum", "boolean"]
COLUMN_TYPES: tuple[str, ...] = get_args(ColumnType)
RowMode = Literal["one", "many"]  # one row per document | many rows per document (records)
CellStatus = Literal["ok", "unverified", "missing"]
UnitKind = Literal["page", "line"]


@dataclass(frozen=True)
class Column:
    name: str  # 1..64 characters: the header, and (sanitized) the SQL column's name
    type: ColumnType = "text"
    description: str = ""  # one line telling the model what goes there
    values: tuple[str, ...] = ()  # enum only: the allowed values

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "description": self.description,
                "values": list(self.values)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Column:
        return cls(str(data["name"]), data.get("type", "text"), str(data.get("description") or ""),
                   tuple(str(v) for v in data.get("values") or ()))


@dataclass(frozen=True)
class SourceUnit:
    """A page of a PDF (its number), or a line or turn of a text or meeting (1-based)."""

    label: int
    text: str


@dataclass(frozen=True)
class Source:
    id: str  # a document's id, or "pasted"
    title: str
    unit_kind: UnitKind
    units: tuple[SourceUnit, ...]


@dataclass(frozen=True)
class Cell:
    # Normalized: ISO "YYYY-MM-DD" for dates, float for numbers, bool for booleans, one of the
    # column's values for enums, str for text; None unless `status` is "ok".
    value: str | float | bool | None
    text: str  # the value as shown ("1,250 kg"); "" unless ok
    unit: str | None  # numbers: the unit written with it ("kg", "USD", "руб."), else None
    quote: str  # the source's own words that hold the value ("" when there are none)
    page: int | None  # where the quote is, when the source has pages
    line: int | None  # ... or lines
    status: CellStatus
    reason: str = ""  # why unverified, in plain words

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "text": self.text, "unit": self.unit, "quote": self.quote,
                "page": self.page, "line": self.line, "status": self.status,
                "reason": self.reason}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Cell:
        return cls(data.get("value"), str(data.get("text") or ""), data.get("unit"),
                   str(data.get("quote") or ""), data.get("page"), data.get("line"),
                   data.get("status", "missing"), str(data.get("reason") or ""))


MISSING = Cell(None, "", None, "", None, None, "missing")


@dataclass(frozen=True)
class Row:
    source_id: str
    source_title: str
    cells: dict[str, Cell]  # by column name, every column present

    def to_json(self) -> dict[str, Any]:
        return {"source": {"id": self.source_id, "title": self.source_title},
                "cells": {name: cell.to_json() for name, cell in self.cells.items()}}


@dataclass(frozen=True)
class Table:
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    id: str = ""  # the job's id
    title: str = ""
    sql_name: str = ""  # its name in the workspace's SQLite file: t_<8 hex>
    warnings: tuple[str, ...] = field(default=())

    def stats(self) -> dict[str, int]:
        cells = [cell for row in self.rows for cell in row.cells.values()]
        verified = sum(cell.status == "ok" for cell in cells)
        unverified = sum(cell.status == "unverified" for cell in cells)
        return {"rows": len(self.rows), "cells": len(cells), "filled": verified,
                "verified": verified, "unverified": unverified,
                "missing": len(cells) - verified - unverified}

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "sql_name": self.sql_name,
                "columns": [c.to_json() for c in self.columns],
                "rows": [r.to_json() for r in self.rows], "stats": self.stats(),
                "warnings": list(self.warnings)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Table:
        columns = tuple(Column.from_json(c) for c in data["columns"])
        rows = tuple(Row(str(r["source"]["id"]), str(r["source"]["title"]),
                         {name: Cell.from_json(cell) for name, cell in r["cells"].items()})
                     for r in data["rows"])
        return cls(columns, rows, str(data.get("id", "")), str(data.get("title", "")),
                   str(data.get("sql_name", "")), tuple(data.get("warnings") or ()))
