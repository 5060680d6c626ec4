"""Finished tables in one SQLite file per workspace, and read-only SQL over them.

Each table is a SQLite table named by its `sql_name` (t_<8 hex>): a `source` and `source_id`
column, then per column its value (REAL for numbers, INTEGER 0/1 for booleans, TEXT for the
rest: dates as ISO) and its evidence: `<name>_quote`, `<name>_page` or `<name>_line`,
`<name>_status`. Column names are the headers made safe for SQL ("Fuel on board (gal)" ->
fuel_on_board_gal).

The SQL box runs one SELECT at a time on a connection that cannot write: the file opened
read-only (`mode=ro`), an authorizer that allows only reading, selecting, functions and
recursive queries (no writes, ATTACH, DETACH, PRAGMA or transactions), a time limit checked
every thousand steps of the SQLite machine, a cap on the length of a value, and at most
MAX_ROWS rows (and MAX_RESULT_CHARS characters) back. A workspace's SQL sees its own file only.
"""

from __future__ import annotations

import hashlib
import math
import re
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.errors import DocchatError
from retrieval.tables.model import Cell, Column, Table

MAX_ROWS = 500
MAX_VALUE_BYTES = 1_000_000  # the longest value a query may make
MAX_RESULT_CHARS = 5_000_000  # what one answer holds at most (then `truncated`)
_RESERVED = {"source", "source_id", "row"}
_ALLOWED = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION,
            sqlite3.SQLITE_RECURSIVE}


def database_path(data_dir: Path, workspace: str) -> Path:
    """The workspace's tables file: named by a hash, so that no workspace name can reach
    another's file."""
    key = hashlib.sha256(workspace.encode("utf-8")).hexdigest()[:24]
    return data_dir / "tables" / f"{key}.sqlite3"


def sql_columns(columns: Sequence[Column]) -> list[str]:
    """Each column's SQL name: lower case, words joined by '_', unique, never one of the
    source columns."""
    names: list[str] = []
    for number, column in enumerate(columns, start=1):
        name = re.sub(r"\W+", "_", column.name.casefold()).strip("_") or f"column_{number}"
        if name[0].isdigit():
            name = f"c_{name}"
        base, suffix = name, 2
        while name in names or name in _RESERVED:
            name = f"{base}_{suffix}"
            suffix += 1
        names.append(name)
    return names


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_SQL_TYPES = {"number": "REAL", "boolean": "INTEGER"}


def save_table(path: Path, table: Table) -> None:
    """Write the table into the SQLite file at `path` (created when missing), replacing a table
    of the same name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    names = sql_columns(table.columns)
    where = where_name(table)
    definitions = ['"source" TEXT', '"source_id" TEXT']
    for column, name in zip(table.columns, names, strict=True):
        definitions += [f"{quoted(name)} {_SQL_TYPES.get(column.type, 'TEXT')}",
                        f"{quoted(name + '_quote')} TEXT", f"{quoted(name + '_' + where)} "
                        "INTEGER", f"{quoted(name + '_status')} TEXT"]
    rows = []
    for row in table.rows:
        values: list[Any] = [row.source_title, row.source_id]
        for column in table.columns:
            cell = row.cells[column.name]
            values += [sql_value(cell), cell.quote or None, cell_place(cell), cell.status]
        rows.append(values)
    db = sqlite3.connect(path, timeout=30)
    try:
        with db:
            db.execute(f"DROP TABLE IF EXISTS {quoted(table.sql_name)}")
            db.execute(f"CREATE TABLE {quoted(table.sql_name)} ({', '.join(definitions)})")
            if rows:
                marks = ", ".join("?" * len(rows[0]))
                db.executemany(f"INSERT INTO {quoted(table.sql_name)} VALUES ({marks})", rows)
    finally:
        db.close()


def where_name(table: Table) -> str:
    """'page' when the table's quotes are on pages (every cell that has a place), 'line'
    when they are on lines or turns."""
    lines = any(c.line is not None for r in table.rows for c in r.cells.values())
    pages = any(c.page is not None for r in table.rows for c in r.cells.values())
    return "line" if lines and not pages else "page"


def cell_place(cell: Cell) -> int | None:
    return cell.page if cell.page is not None else cell.line


def sql_value(cell: Cell) -> Any:
    if cell.status != "ok":
        return None
    if isinstance(cell.value, bool):
        return int(cell.value)
    return cell.value


# ---- read-only SQL ----

class SqlRefused(DocchatError):
    """SQL the box does not run: 400 with code sql_not_allowed, sql_invalid or sql_timeout."""


@dataclass(frozen=True)
class SqlResult:
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool


def run_sql(path: Path, sql: str, seconds: float, max_rows: int = MAX_ROWS) -> SqlResult:
    """The rows `sql` selects from the tables file at `path`, read-only, within `seconds`."""
    ensure_database(path)
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=2,
                         check_same_thread=False)
    refused: list[str] = []

    def authorize(action: int, first: str | None, second: str | None, database: str | None,
                  trigger: str | None) -> int:
        if action in _ALLOWED:
            return sqlite3.SQLITE_OK
        refused.append(str(action))
        return sqlite3.SQLITE_DENY

    deadline = time.monotonic() + seconds
    timed_out: list[bool] = []

    def check_time() -> int:
        if time.monotonic() > deadline:
            timed_out.append(True)
            return 1
        return 0

    try:
        db.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
        db.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        db.set_authorizer(authorize)
        db.set_progress_handler(check_time, 1000)
        rows: list[list[Any]] = []
        truncated, size = False, 0
        try:
            cursor = db.execute(sql)
            columns = [d[0] for d in cursor.description or ()]
            for row in cursor:
                size += sum(len(str(v)) for v in row)
                if len(rows) == max_rows or size > MAX_RESULT_CHARS:
                    truncated = True
                    break
                rows.append([json_value(v) for v in row])
        except (sqlite3.Error, sqlite3.Warning, OverflowError, ValueError) as exc:
            raise _refusal(exc, refused, bool(timed_out), seconds) from exc
    finally:
        db.close()
    if not columns:
        raise SqlRefused(400, "sql_not_allowed", "Only SELECT queries run here.")
    return SqlResult(columns, rows, truncated)


def _refusal(exc: Exception, refused: list[str], timed_out: bool, seconds: float) -> SqlRefused:
    if timed_out:
        return SqlRefused(400, "sql_timeout", f"The query ran longer than {seconds:g} seconds "
                                              "and was stopped: narrow it.")
    if refused:
        return SqlRefused(400, "sql_not_allowed", "Only SELECT queries that read the tables run "
                                                  "here: no writes, ATTACH or PRAGMA.")
    # SQLite's message is about the caller's own SQL ("no such column: x"): safe to show.
    message = str(exc).strip() or type(exc).__name__
    return SqlRefused(400, "sql_invalid", f"The query is not valid: {message[:300]}")


def ensure_database(path: Path) -> None:
    """Create the tables file when the workspace has none yet (a read-only connection cannot)."""
    if path.is_file():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    sqlite3.connect(path).close()


def json_value(value: Any) -> Any:
    """A SQLite value as JSON takes it: blobs as their size, infinities as text."""
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value

