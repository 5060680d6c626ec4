"""The hand-made gold tables (tests/data/tables/) hold what they claim: every quote stands
verbatim on its page of the NTSB report as docchat's own parser reads it, or in its records
line; every value follows from its quote (dates, numbers, enums, paid or not, words); the sets
are as large and as varied as the benchmark needs. The scoring rules behave. Fast: no model."""

from __future__ import annotations

import hashlib
import re
from collections import Counter

import pytest

from tests.benchmarks.table_gold import (
    EVAL_PDFS,
    REPO,
    TABLES,
    TYPES,
    GoldCell,
    GoldColumn,
    GoldRow,
    boolean_in,
    correct,
    dates_in,
    load_ntsb,
    load_records,
    numbers_in,
    squash,
    supports,
    token_f1,
)

NTSB = load_ntsb()
RECORDS = load_records()
NTSB_COLUMNS = {c.name: c for c in NTSB.columns}
RECORD_COLUMNS = {c.name: c for c in RECORDS.columns}
CACHE_KEY = "docchat/tables-gold-pages"


def _filled(row: GoldRow) -> list[tuple[str, GoldCell]]:
    return [(name, cell) for name, cell in row.cells.items() if cell.value is not None]


def _record_lines() -> dict[str, list[str]]:
    files = sorted({row.file for row in RECORDS.rows})
    return {f: (TABLES / f).read_text(encoding="utf-8").splitlines() for f in files}


@pytest.fixture(scope="session")
def ntsb_pages(pytestconfig: pytest.Config) -> dict[str, tuple[str, ...]]:
    """Each report's page texts from ingest.pdf.parse_pdf, kept in pytest's cache until a PDF,
    the ingest code or pypdf changes."""
    import pypdf

    from ingest.pdf import parse_pdf

    if not (EVAL_PDFS / "ntsb").is_dir():
        pytest.skip(f"eval PDFs not found at {EVAL_PDFS} (the shared eval data is not checked out)")
    files = sorted(row.file for row in NTSB.rows)
    digest = hashlib.sha256(pypdf.__version__.encode())
    for source in sorted((REPO / "ingest").glob("*.py")):
        digest.update(source.name.encode() + source.read_bytes())
    for file in files:
        digest.update(file.encode() + (EVAL_PDFS / "ntsb" / file).read_bytes())
    cache = getattr(pytestconfig, "cache", None)
    if cache is not None:
        cached = cache.get(CACHE_KEY, None)
        if isinstance(cached, dict) and cached.get("digest") == digest.hexdigest():
            return {file: tuple(pages) for file, pages in cached["pages"].items()}
    texts = {}
    for file in files:
        data = (EVAL_PDFS / "ntsb" / file).read_bytes()
        texts[file] = tuple(p.text for p in parse_pdf(data, "gold", file, max_pages=100).pages)
    if cache is not None:
        cache.set(CACHE_KEY, {"digest": digest.hexdigest(),
                              "pages": {f: list(p) for f, p in texts.items()}})
    return texts


# --- both sets --------------------------------------------------------------------------

@pytest.mark.parametrize("columns", [NTSB.columns, RECORDS.columns], ids=["ntsb", "records"])
def test_columns_are_defined(columns: tuple[GoldColumn, ...]) -> None:
    assert len({c.name for c in columns}) == len(columns)
    for column in columns:
        assert re.fullmatch(r"[a-z_]{1,64}", column.name), column.name
        assert column.type in TYPES, column.name
        assert len(column.description) >= 30, f"{column.name}: say what goes there"
        assert bool(column.values) == (column.type == "enum"), column.name


def test_every_row_has_every_column_and_no_other() -> None:
    for table in (NTSB, RECORDS):
        names = {c.name for c in table.columns}
        for row in table.rows:
            assert set(row.cells) == names, (row.file, row.line)


def test_enum_values_are_the_columns_own() -> None:
    for table in (NTSB, RECORDS):
        for column in (c for c in table.columns if c.type == "enum"):
            for row in table.rows:
                cell = row.cells[column.name]
                if cell.value is not None:
                    assert cell.value in column.values, (row.file, row.line, cell.value)
                    assert set(cell.also) <= set(column.values), (row.file, row.line)


def test_values_have_their_types() -> None:
    for table in (NTSB, RECORDS):
        for column in table.columns:
            for row in table.rows:
                value = row.cells[column.name].value
                if value is None:
                    continue
                if column.type == "date":
                    assert isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\d", value)
                elif column.type == "number":
                    assert isinstance(value, float), (row.file, row.line, column.name)
                elif column.type == "boolean":
                    assert isinstance(value, bool), (row.file, row.line, column.name)
                else:
                    assert isinstance(value, str) and value.strip(), (row.file, column.name)


def test_every_value_follows_from_its_quote() -> None:
    wrong = []
    for table, columns in ((NTSB, NTSB_COLUMNS), (RECORDS, RECORD_COLUMNS)):
        for row in table.rows:
            for name, cell in _filled(row):
                if not cell.quote or not supports(columns[name], cell.value, cell.quote):
                    wrong.append((row.file, row.line, name, cell.value, cell.quote))
    assert not wrong


# --- NTSB --------------------------------------------------------------------------------

def test_ntsb_has_one_row_per_report_and_six_columns() -> None:
    assert [c.name for c in NTSB.columns] == ["date", "location", "aircraft", "registration",
                                              "injuries", "phase_of_flight"]
    files = [row.file for row in NTSB.rows]
    assert len(files) == len(set(files)) == 20
    if (EVAL_PDFS / "ntsb").is_dir():
        assert set(files) == {p.name for p in (EVAL_PDFS / "ntsb").glob("*.pdf")}


def test_ntsb_cells_name_their_page_and_empty_ones_say_why() -> None:
    filled = 0
    for row in NTSB.rows:
        for name, cell in row.cells.items():
            if cell.value is None:
                assert len(cell.why) > 20 and not cell.quote, (row.file, name)
            else:
                filled += 1
                assert isinstance(cell.page, int) and cell.page >= 1, (row.file, name)
    assert filled >= 110  # a few reports abroad do not state every fact: not many


@pytest.mark.parametrize("row", NTSB.rows, ids=lambda row: row.file)
def test_ntsb_quotes_stand_on_their_pages(row: GoldRow, ntsb_pages: dict[str, tuple[str, ...]],
                                          ) -> None:
    pages = ntsb_pages[row.file]
    for name, cell in _filled(row):
        assert cell.page is not None and cell.page <= len(pages), (name, cell.page)
        assert "|" not in cell.quote, f"{name}: a quote holds one form cell, not the bar"
        holding = [n for n, text in enumerate(pages, start=1) if squash(cell.quote) in squash(text)]
        assert cell.page in holding, (
            f"{name}: {cell.quote!r} is on pages {holding}, not on page {cell.page}")


# --- records -----------------------------------------------------------------------------

def test_records_cover_every_line_once_in_both_languages() -> None:
    lines = _record_lines()
    assert sum(len(v) for v in lines.values()) >= 50
    for file, text in lines.items():
        rows = sorted(row.line for row in RECORDS.rows if row.file == file)
        assert rows == list(range(1, len(text) + 1)), file
        assert all(line.strip() for line in text), f"{file}: a blank line shifts the numbering"
    languages = Counter(row.language for row in RECORDS.rows)
    assert languages["en"] >= 20 and languages["ru"] >= 20, languages
    for row in RECORDS.rows:
        text = lines[row.file][row.line - 1]
        cyrillic = bool(re.search(r"[а-яё]{3}", text, re.IGNORECASE))
        assert cyrillic == (row.language == "ru"), (row.file, row.line)


def test_record_quotes_stand_in_their_lines() -> None:
    lines = _record_lines()
    missing = [(row.file, row.line, name, cell.quote) for row in RECORDS.rows
               for name, cell in _filled(row)
               if squash(cell.quote) not in squash(lines[row.file][row.line - 1])]
    assert not missing


def test_records_are_messy_enough() -> None:
    """Dates, numbers and yes/no written the many ways people write them, and some lines
    without a field."""
    quotes: dict[str, list[str]] = {}
    for row in RECORDS.rows:
        for name, cell in _filled(row):
            quotes.setdefault(name, []).append(cell.quote)
    forms = {
        "ISO": r"^\d{4}-\d\d-\d\d$", "US m/d/y": r"^\d\d/\d\d/\d{4}$",
        "d.m.y": r"^\d\d\.\d\d\.\d{4}$", "d Mon y": r"^\d{1,2} [A-Z][a-z]+ \d{4}$",
        "Mon d, y": r"^[A-Z][a-z]+ \d{1,2},? \d{4}$", "d месяца y": r"^\d{1,2} [а-я]+ \d{4}",
    }
    for form, pattern in forms.items():
        assert sum(bool(re.search(pattern, q)) for q in quotes["date"]) >= 2, form
    numbers = quotes["quantity"] + quotes["amount"]
    separators = {"1,250": r"\d,\d{3}(?!\d)", "1 250": r"\d \d{3}(?!\d)",
                  "decimal comma": r"\d,\d\d(?!\d)", "decimal point": r"\d\.\d\d(?!\d)"}
    for form, pattern in separators.items():
        assert sum(bool(re.search(pattern, q)) for q in numbers) >= 2, form
    currencies = Counter(row.cells["currency"].value for row in RECORDS.rows)
    assert all(currencies[c] >= 5 for c in ("USD", "EUR", "RUB")), currencies
    paid = Counter(row.cells["paid"].value for row in RECORDS.rows)
    assert paid[True] >= 10 and paid[False] >= 10 and paid[None] >= 2, paid
    for name in ("date", "quantity", "amount"):
        assert sum(row.cells[name].value is None for row in RECORDS.rows) >= 2, name


# --- the rules ---------------------------------------------------------------------------

def test_dates_in_reads_each_written_form() -> None:
    assert dates_in("12/08/2007, 1730 EST") == ["2007-12-08"]  # US: month first
    assert dates_in("12.03.2024 ИП Петров") == ["2024-03-12"]
    assert dates_in("5 марта 2024 г.") == ["2024-03-05"]
    assert dates_in("on 5 Mar 2024 for") == ["2024-03-05"]
    assert dates_in("March 18, 2024: Globex") == ["2024-03-18"]
    assert dates_in("May 6 2024 - and 2024-05-08") == ["2024-05-06", "2024-05-08"]
    assert dates_in("13/45/2024 and 1,250 kg") == []


def test_numbers_in_reads_separators() -> None:
    assert numbers_in("1,250 kg") == [1250.0]
    assert numbers_in("12 500,50 руб.") == [12500.5]
    assert numbers_in("$1,140.50") == [1140.5]
    assert numbers_in("1,5 т") == [1.5]
    assert numbers_in("1 080 000 руб.") == [1080000.0]
    assert numbers_in("1,237.50 EUR") == [1237.5]


def test_boolean_in_hears_not_paid_first() -> None:
    assert boolean_in("paid in full") is True
    assert boolean_in("unpaid") is False
    assert boolean_in("не оплачено") is False
    assert boolean_in("оплачено") is True
    assert boolean_in("оплата ожидается") is False
    assert boolean_in("price TBD") is None


def test_correct_compares_by_type() -> None:
    date = GoldColumn("date", "date", "d")
    assert correct(date, "2024-03-05", GoldCell("2024-03-05"))
    assert correct(date, "5 March 2024", GoldCell("2024-03-05"))
    assert not correct(date, "2024-05-03", GoldCell("2024-03-05"))
    number = GoldColumn("amount", "number", "d")
    assert correct(number, 4300.0, GoldCell(4300.0))
    assert correct(number, "4,310", GoldCell(4300.0))  # within 0.5%
    assert not correct(number, 4400, GoldCell(4300.0))
    enum = GoldColumn("injuries", "enum", "d", ("Fatal", "None"))
    assert correct(enum, "none", GoldCell("None"))  # "None" is a value here, not an empty cell
    assert not correct(enum, "Fatal", GoldCell("None"))
    phase = GoldColumn("phase", "enum", "d", ("Takeoff", "Climb"))
    assert correct(phase, "Climb", GoldCell("Takeoff", also=("Climb",)))
    paid = GoldColumn("paid", "boolean", "d")
    assert correct(paid, False, GoldCell(False))
    assert not correct(paid, None, GoldCell(False))
    text = GoldColumn("customer", "text", "d")
    assert correct(text, "Ромашка", GoldCell("ООО «Ромашка»"))
    assert correct(text, "цемент", GoldCell("цемента"))
    assert not correct(text, "Cessna", GoldCell("Cessna 172"))
    assert correct(text, "Sorrell SNJ-7", GoldCell("Godwin, David P Sorrell SNJ-7",
                                                   also=("Sorrell SNJ-7",)))
    # An empty gold cell is right only when left empty.
    assert correct(text, "", GoldCell(None)) and correct(text, None, GoldCell(None))
    assert not correct(text, "N12345", GoldCell(None))


def test_token_f1() -> None:
    assert token_f1("Cessna 172", "Cessna Skyhawk 172") == pytest.approx(0.8)
    assert token_f1("Cessna 172S", "Cessna 172") == pytest.approx(0.5)  # 172S is not 172
    assert token_f1("бутылки", "бутылок") == 1.0
    assert token_f1("", "anything") == 0.0


def test_supports_needs_the_value_in_the_quote() -> None:
    amount = GoldColumn("amount", "number", "d")
    assert supports(amount, 12500.0, "12 500 руб.")
    assert not supports(amount, 12500.0, "125 руб.")
    currency = GoldColumn("currency", "enum", "d", ("USD", "EUR", "RUB"))
    assert supports(currency, "RUB", "12 500 руб.") and supports(currency, "USD", "$4,300")
    assert not supports(currency, "EUR", "$4,300")
    text = GoldColumn("item", "text", "d")
    assert supports(text, "steel rebar", "1,250 kg steel rebar")
    assert not supports(text, "copper cable", "steel rebar")
