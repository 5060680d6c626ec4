"""A table cell is kept only when its quote occurs in the text and holds its value, by type:
numbers as people write them, dates to ISO, enums, yes/no, text."""

from __future__ import annotations

import pytest

from retrieval.tables.model import Column
from retrieval.tables.quotes import Index
from retrieval.tables.sources import pasted_source, pdf_source
from retrieval.tables.values import cell_of, number_readings, numbers_in

REPORT = pdf_source("doc1", "report.pdf", [
    "NTSB Identification: NYC08LA071\nOn January 4, 2008, about 1430 eastern standard time, a "
    "Cessna 172N, N734ZW, was substantially damaged during a forced land-\ning near Hancock, "
    "Maryland. The certificated private pilot was not injured.",
    "The airplane had about 1,250.5 hours of total time and carried 22 gallons of fuel. "
    "Estimated cost of repairs: $12k. Weather: wind 270 at 8 knots.",
])
RECORDS = pasted_source("Orders:\n2024-03-05 ACME Corp ordered 1 250,50 руб. of bolts\n"
                        "5 марта 2024 г. — Ромашка: 3.5 million RUB, paid: no\n"
                        "03/07/2024 Globex 45% discount")


def cell(column: Column, value: object, quote: str, source=REPORT):
    return cell_of(column, value, quote, Index(source))


@pytest.mark.parametrize(("written", "readings"), [
    ("1,250.50", [1250.5]), ("1 250,50", [1250.5]), ("1.250", [1.25, 1250.0]),
    ("1,250", [1250.0, 1.25]), ("1.250.000", [1250000.0]), ("-3", [-3.0]), ("12,5", [12.5]),
    ("0.75", [0.75]),
])
def test_written_numbers_are_read_every_way_they_can_mean(written, readings) -> None:
    assert number_readings(written) == readings


def test_numbers_keep_their_units_and_multipliers() -> None:
    found = numbers_in("Costs: $12k, 22 gallons, 1 250,50 руб. and 45% off; 3.5 million RUB")
    assert [(n.text, n.unit, n.factor) for n in found] == [
        ("$12k", "$", 1000.0), ("22 gallons", "gallons", 1.0), ("1 250,50 руб.", "руб.", 1.0),
        ("45%", "%", 1.0), ("3.5 million RUB", "RUB", 1e6)]


def test_a_number_its_quote_states_is_kept_with_unit_and_page() -> None:
    hours = cell(Column("Total time", "number"), "1250.5", "about 1,250.5 hours of total time")
    assert (hours.status, hours.value, hours.text, hours.unit, hours.page) == (
        "ok", 1250.5, "1,250.5 hours", "hours", 2)
    cost = cell(Column("Repairs", "number"), 12, "Estimated cost of repairs: $12k.")
    assert (cost.status, cost.value, cost.text, cost.unit) == ("ok", 12000.0, "$12k", "$")


def test_a_number_the_quote_does_not_state_is_unverified_and_empty() -> None:
    wrong = cell(Column("Fuel", "number"), 25, "carried 22 gallons of fuel")
    assert (wrong.status, wrong.value, wrong.text) == ("unverified", None, "")
    assert "25" in wrong.reason
    assert cell(Column("Fuel", "number"), "plenty", "carried 22 gallons of fuel").status == (
        "unverified")


def test_a_quote_not_in_the_text_is_unverified_even_when_it_holds_the_value() -> None:
    invented = cell(Column("Fuel", "number"), 22, "The tanks held 22 gallons")
    assert invented.status == "unverified" and invented.value is None
    assert invented.reason == "The quote is not in the text."
    assert cell(Column("Fuel", "number"), 22, "").status == "unverified"


def test_nothing_found_is_missing_not_unverified() -> None:
    for empty in (None, "", "null", "N/A", "unknown"):
        assert cell(Column("Fuel", "number"), empty, "whatever").status == "missing"


def test_quotes_match_across_line_break_hyphens_case_and_typography() -> None:
    found = cell(Column("Damage"), "substantially damaged",
                 "Was Substantially Damaged During A Forced Landing Near “Hancock”")
    assert found.status == "ok" and found.page == 1
    assert found.quote.startswith("was substantially damaged during a forced land-")


def test_dates_are_iso_and_must_be_the_day_the_quote_states() -> None:
    date = Column("Date", "date")
    ok = cell(date, "2008-01-04", "On January 4, 2008, about 1430 eastern standard time")
    assert (ok.status, ok.value, ok.text) == ("ok", "2008-01-04", "2008-01-04")
    assert cell(date, "2008-04-01", "On January 4, 2008").status == "unverified"
    assert cell(date, "January 4 2008", "On January 4, 2008").value == "2008-01-04"
    russian = cell(date, "2024-03-05", "5 марта 2024 г.", RECORDS)
    assert (russian.value, russian.line) == ("2024-03-05", 3)
    us = cell(date, "2024-03-07", "03/07/2024 Globex", RECORDS)
    assert (us.status, us.value, us.line) == ("ok", "2024-03-07", 4)


def test_a_date_without_its_year_takes_it_only_from_the_page() -> None:
    source = pdf_source("d", "d", ["Report of 2008. The flight on January 4 ended well."])
    date = Column("Date", "date")
    assert cell(date, "2008-01-04", "The flight on January 4", source).value == "2008-01-04"
    assert cell(date, "2009-01-04", "The flight on January 4", source).status == "unverified"


def test_enum_values_must_be_allowed_and_said() -> None:
    injuries = Column("Injuries", "enum", values=("None", "Minor", "Serious", "Fatal"))
    none = cell(injuries, "none", "The certificated private pilot was not injured.")
    assert (none.status, none.value) == ("ok", "None")
    assert cell(injuries, "Fatal", "The certificated private pilot was not injured.").status == (
        "unverified")
    other = cell(injuries, "Unhurt", "The certificated private pilot was not injured.")
    assert other.status == "unverified" and "not one of the column's values" in other.reason
    damage = Column("Damage", "enum", values=("Destroyed", "Substantial", "Minor"))
    assert cell(damage, "substantial", "was substantially damaged").value == "Substantial"


def test_booleans_follow_the_quotes_negation() -> None:
    paid = Column("Paid", "boolean")
    assert cell(paid, "no", "paid: no", RECORDS).value is False
    assert cell(paid, True, "paid: no", RECORDS).status == "unverified"
    injured = Column("Pilot injured", "boolean")
    assert cell(injured, False, "The certificated private pilot was not injured.").value is False


def test_text_values_must_be_the_quotes_words() -> None:
    aircraft = Column("Aircraft")
    ok = cell(aircraft, "cessna 172n", "a Cessna 172N, N734ZW, was substantially damaged")
    assert (ok.status, ok.value) == ("ok", "Cessna 172N")
    assert cell(aircraft, "Piper PA-28", "a Cessna 172N, N734ZW").status == "unverified"


def test_a_text_value_rewritten_by_the_model_is_its_short_quotes_words() -> None:
    place = Column("Location")
    source = pdf_source("d", "d", ["Location: Belen, NM. Date: 12/29/2007. The airplane "
                                   "departed Belen, New Mexico airport on a local flight."])
    expanded = cell(place, "Belen, New Mexico", "Belen, NM", source)
    assert (expanded.status, expanded.value, expanded.quote) == ("ok", "Belen, NM", "Belen, NM")
    assert cell(place, "Albuquerque, New Mexico", "Belen, NM", source).status == "unverified"
    long = cell(place, "Belen", "The airplane departed Belen, New Mexico airport on a local "
                "flight.", source)  # a sentence that holds the value: the value, as before
    assert (long.status, long.value) == ("ok", "Belen")
    sentence = cell(place, "Belen, Socorro County", "The airplane departed Belen, New Mexico "
                    "airport on a local flight.", source)
    assert sentence.status == "unverified"  # a long quote is not a value
    lines = pasted_source("Acme - 3 chairs - $300\nGlobex - 2 desks - $900")
    own = cell_of(Column("Customer"), "Acme Incorporated", "Acme Inc.", Index(lines), [1],
                  within=[1])  # misquoted: its own line is not taken for the value
    assert own.status == "unverified"


def test_a_long_quote_is_cut_to_the_sentence_that_holds_the_value() -> None:
    page = ("The pilot had flown for many years in the area and knew the field well. The "
            "airplane had about 1,250.5 hours of total time and carried 22 gallons of fuel. "
            "Estimated cost of repairs: $12k. Weather: wind 270 at 8 knots, visibility ten "
            "miles, few clouds at 4,500 feet.")
    source = pdf_source("d", "d", ["Cover page.", page])
    fuel = cell(Column("Fuel", "number"), 22, page, source)
    assert (fuel.status, fuel.value, fuel.page) == ("ok", 22.0, 2)
    assert fuel.quote == ("The airplane had about 1,250.5 hours of total time and carried 22 "
                          "gallons of fuel.")


def test_currency_enums_read_signs_and_yes_no_reads_not_yet() -> None:
    lines = pasted_source("2024-03-05 Acme Corp, $4,300, unpaid\n"
                          "ООО «Ромашка», 12 500 руб., ждём оплату\n"
                          "Globex, EUR 8,960, paid by wire\n")
    currency = Column("Currency", "enum", values=("USD", "EUR", "RUB"))
    assert cell(currency, "USD", "$4,300", lines).value == "USD"
    assert cell(currency, "rub", "12 500 руб.", lines).value == "RUB"
    assert cell(currency, "USD", "EUR 8,960", lines).status == "unverified"
    assert cell(currency, "$", "$4,300", lines).value == "USD"  # the sign for the code
    unpaid = pasted_source("Vandelay ordered latex, $7,920, not paid")
    bare = cell_of(Column("Paid", "boolean"), "no", "no", Index(unpaid), [1], within=[1])
    assert (bare.value, bare.quote) == (False, "Vandelay ordered latex, $7,920, not paid")
    assert cell(currency, "руб.", "12 500 руб.", lines).value == "RUB"
    assert cell(currency, "€", "$4,300", lines).status == "unverified"
    paid = Column("Paid", "boolean")
    assert cell(paid, False, "unpaid", lines).value is False
    assert cell(paid, "no", "ждём оплату", lines).value is False
    assert cell(paid, True, "paid by wire", lines).value is True
    assert cell(paid, True, "unpaid", lines).status == "unverified"


def test_an_enum_answer_that_names_one_allowed_value_is_that_value() -> None:
    phase = Column("Phase", "enum", values=("Takeoff", "Landing", "Go-around"))
    source = pdf_source("d", "d", ["Phase of Operation: LANDING - ROLL. Then a GO-AROUND."])
    assert cell(phase, "LANDING - ROLL", "LANDING - ROLL", source).value == "Landing"
    assert cell(phase, "go around", "GO-AROUND", source).value == "Go-around"
    assert cell(phase, "Landing, Go-around", "LANDING - ROLL", source).status == "unverified"


def test_a_text_value_the_model_misquoted_takes_its_line_when_it_occurs_once() -> None:
    page = ["Location: Wausau, WI Accident Number: CHI08CA047\nAircraft: Cessna Skyhawk 172 "
            "Damage: Substantial\nThe Cessna landed on runway 04."]
    source = pdf_source("d", "d", page)
    index = Index(source)
    found = cell_of(Column("Location"), "Wausau, WI", "the accident happened in Wausau", index,
                    {1})
    assert (found.status, found.value, found.page) == ("ok", "Wausau, WI", 1)
    assert found.quote == "Location: Wausau, WI Accident Number: CHI08CA047"
    # "Cessna" occurs twice: which line holds the answer is not known, so no evidence.
    assert cell_of(Column("Make"), "Cessna", "made by Cessna", index, {1}).status == (
        "unverified")
    # Only in the pages the model read, and never for other types.
    assert cell_of(Column("Location"), "Wausau, WI", "in Wausau", index, {2}).status == (
        "unverified")
    assert cell_of(Column("Damage", "enum", values=("Substantial", "Minor")), "Substantial",
                   "damage was substantial", index, {1}).status == "unverified"
