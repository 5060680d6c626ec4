"""Finished tables in a workspace's SQLite file, and the SQL box over it: SELECTs run; writes,
ATTACH, PRAGMA and runaway queries are refused; another workspace's tables are not there.
Exports: CSV and XLSX with the evidence beside each value, and a SQLite file."""

from __future__ import annotations

import csv
import io
import sqlite3
from pathlib import Path

import pytest

from retrieval.tables.database import SqlRefused, database_path, run_sql, save_table, sql_columns
from retrieval.tables.exports import table_csv, table_sqlite, table_xlsx
from retrieval.tables.model import MISSING, Cell, Column, Row, Table

COLUMNS = (Column("Date", "date"), Column("Fuel on board (gal)", "number"),
           Column("Pilot injured", "boolean"), Column("Narrative"))


def ok(value, text: str, quote: str, page: int) -> Cell:
    return Cell(value, text, None, quote, page, None, "ok")


TABLE = Table(COLUMNS, (
    Row("d1", "first.pdf", {
        "Date": ok("2008-01-04", "2008-01-04", "On January 4, 2008", 1),
        "Fuel on board (gal)": ok(22.0, "22 gallons", "carried 22 gallons of fuel", 2),
        "Pilot injured": ok(False, "no", "The pilot was not injured.", 1),
        "Narrative": ok("=HYPERLINK(\"x\")", "=HYPERLINK(\"x\")", "=HYPERLINK(\"x\")", 3)}),
    Row("d2", "second.pdf", {
        "Date": ok("2008-02-11", "2008-02-11", "February 11, 2008", 1),
        "Fuel on board (gal)": Cell(None, "", None, "about 30 gallons", None, None,
                                    "unverified", "The quote does not state the number 40."),
        "Pilot injured": MISSING, "Narrative": MISSING}),
), id="job1", title="Accidents", sql_name="t_0a1b2c3d")


@pytest.fixture()
def tables(tmp_path: Path) -> Path:
    path = database_path(tmp_path, "red")
    save_table(path, TABLE)
    return path


def test_sql_names_are_safe_unique_and_keep_the_words() -> None:
    assert sql_columns(COLUMNS) == ["date", "fuel_on_board_gal", "pilot_injured", "narrative"]
    assert sql_columns([Column("Source"), Column("2nd"), Column("a b"), Column("A-B"),
                        Column("Дата"), Column("!!!")]) == [
        "source_2", "c_2nd", "a_b", "a_b_2", "дата", "column_6"]


def test_selects_read_values_and_evidence(tables: Path) -> None:
    result = run_sql(tables, "SELECT source, date, fuel_on_board_gal, fuel_on_board_gal_page, "
                             "pilot_injured, fuel_on_board_gal_status FROM t_0a1b2c3d "
                             "ORDER BY date", 2)
    assert result.columns == ["source", "date", "fuel_on_board_gal", "fuel_on_board_gal_page",
                              "pilot_injured", "fuel_on_board_gal_status"]
    assert result.rows == [["first.pdf", "2008-01-04", 22.0, 2, 0, "ok"],
                           ["second.pdf", "2008-02-11", None, None, None, "unverified"]]
    assert result.truncated is False
    counted = run_sql(tables, "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n "
                              "WHERE x < 600) SELECT x FROM n", 2)
    assert len(counted.rows) == 500 and counted.truncated


@pytest.mark.parametrize("sql", [
    "DELETE FROM t_0a1b2c3d", "UPDATE t_0a1b2c3d SET date = 'x'", "DROP TABLE t_0a1b2c3d",
    "INSERT INTO t_0a1b2c3d (source) VALUES ('x')", "CREATE TABLE x (a)",
    "ATTACH DATABASE '/tmp/other.sqlite3' AS other", "PRAGMA table_info(t_0a1b2c3d)",
    "SELECT * FROM pragma_table_info('t_0a1b2c3d')", "PRAGMA journal_mode=DELETE",
    "BEGIN", "VACUUM",
])
def test_anything_but_reading_is_refused(tables: Path, sql: str) -> None:
    with pytest.raises(SqlRefused) as refused:
        run_sql(tables, sql, 2)
    assert refused.value.code in ("sql_not_allowed", "sql_invalid"), refused.value.message
    assert run_sql(tables, "SELECT count(*) FROM t_0a1b2c3d", 2).rows == [[2]]


def test_writes_are_refused_as_not_allowed(tables: Path) -> None:
    for sql in ("DELETE FROM t_0a1b2c3d", "ATTACH DATABASE ':memory:' AS x",
                "PRAGMA writable_schema = 1"):
        with pytest.raises(SqlRefused) as refused:
            run_sql(tables, sql, 2)
        assert refused.value.code == "sql_not_allowed"


def test_a_slow_query_stops_at_the_time_limit(tables: Path) -> None:
    with pytest.raises(SqlRefused) as refused:
        run_sql(tables, "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) "
                        "SELECT count(*) FROM n", 0.3)
    assert refused.value.code == "sql_timeout" and "0.3 seconds" in refused.value.message


def test_bad_sql_says_what_sqlite_says(tables: Path) -> None:
    with pytest.raises(SqlRefused) as refused:
        run_sql(tables, "SELECT nope FROM t_0a1b2c3d", 2)
    assert refused.value.code == "sql_invalid" and "no such column: nope" in (
        refused.value.message)
    with pytest.raises(SqlRefused) as two:
        run_sql(tables, "SELECT 1; SELECT 2", 2)
    assert two.value.code == "sql_invalid"


def test_another_workspaces_tables_are_not_there(tables: Path, tmp_path: Path) -> None:
    blue = database_path(tmp_path, "blue")
    assert blue != tables
    with pytest.raises(SqlRefused) as refused:
        run_sql(blue, "SELECT * FROM t_0a1b2c3d", 2)
    assert refused.value.code == "sql_invalid" and "no such table" in refused.value.message
    assert run_sql(blue, "SELECT name FROM sqlite_master", 2).rows == []


def test_csv_puts_quote_and_page_beside_each_value_and_defuses_formulas() -> None:
    rows = list(csv.reader(io.StringIO(table_csv(TABLE))))
    assert rows[0] == ["source", "Date", "Date quote", "Date page", "Fuel on board (gal)",
                       "Fuel on board (gal) quote", "Fuel on board (gal) page",
                       "Pilot injured", "Pilot injured quote", "Pilot injured page",
                       "Narrative", "Narrative quote", "Narrative page"]
    assert rows[1][:10] == ["first.pdf", "2008-01-04", "On January 4, 2008", "1", "22",
                            "carried 22 gallons of fuel", "2", "no",
                            "The pilot was not injured.", "1"]
    assert rows[1][10].startswith("'=")  # a spreadsheet shows it, never runs it
    assert rows[2][4:7] == ["", "", ""]  # unverified: empty, never the model's guess


def test_xlsx_holds_the_same_cells_as_text_not_formulas() -> None:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(table_xlsx(TABLE)))
    sheet = book.active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0][:4] == ["source", "Date", "Date quote", "Date page"]
    assert values[1][:5] == ["first.pdf", "2008-01-04", "On January 4, 2008", 1, 22]
    assert sheet.cell(2, 11).data_type == "s" and values[1][10] == "=HYPERLINK(\"x\")"


def test_sqlite_export_is_the_table_as_the_sql_box_sees_it(tmp_path: Path) -> None:
    path = tmp_path / "export.sqlite3"
    path.write_bytes(table_sqlite(TABLE))
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT source, date, fuel_on_board_gal FROM t_0a1b2c3d").fetchall()
    finally:
        db.close()
    assert rows == [("first.pdf", "2008-01-04", 22.0), ("second.pdf", "2008-02-11", None)]
