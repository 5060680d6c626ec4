"""Tables from sources with a scripted model: a row per document or a row per record, every
cell checked against the text (a quote the text lacks, or one that does not hold the value,
leaves the cell empty and marked), windows that fit the context, columns proposed from a
sample."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from retrieval.core.settings import Settings
from retrieval.llm.client import ChatModel, estimate_tokens
from retrieval.tables.extraction import extract_table, propose_columns
from retrieval.tables.model import Column
from retrieval.tables.sources import pasted_source, pdf_source
from tests.scripted_llm import MODEL, ChatRequest, ScriptedLLM

COLUMNS = (Column("Date", "date", "the day of the accident"),
           Column("Aircraft", "text", "make and model"),
           Column("Fuel", "number", "fuel on board, gallons"),
           Column("Injuries", "enum", "the worst injury", ("None", "Minor", "Serious", "Fatal")))
FIRST = pdf_source("a", "first.pdf", [
    "On January 4, 2008, about 1430, a Cessna 172N was substantially damaged near Hancock.",
    "The airplane carried 22 gallons of fuel. The pilot was not injured."])
SECOND = pdf_source("b", "second.pdf", [
    "On February 11, 2008, a Piper PA-28 struck trees. The pilot sustained minor injuries."])


def schema_of(request: ChatRequest) -> dict[str, Any]:
    form = request.response_format or {}
    return dict(form.get("json_schema", {}).get("schema") or form.get("schema") or {})


def asked(request: ChatRequest) -> list[str]:
    """The columns a one-row request asks for (the keys of its schema)."""
    return list(schema_of(request).get("properties", {}))


def pages(request: ChatRequest) -> list[int]:
    return [int(n) for n in re.findall(r"\[page (\d+)\]", request.last)]


def cells(**given: tuple[object, str]) -> dict[str, dict[str, object]]:
    return {name: {"quote": quote, "value": value} for name, (value, quote) in given.items()}


# What the scripted model answers for each page (a later page's answer wins in a window of
# both): an invented quote (Fuel of the second), values their quotes do not hold (Injuries of
# the first page, "Fatal"; of the second document, "Serious"), and absent ones.
ANSWERS = {
    ("first.pdf", 1): cells(Date=("2008-01-04", "On January 4, 2008, about 1430"),
                            Aircraft=("Cessna 172N", "a Cessna 172N was substantially damaged"),
                            Fuel=(None, ""), Injuries=("Fatal", "substantially damaged")),
    ("first.pdf", 2): cells(Fuel=("22", "carried 22 gallons of fuel"),
                            Injuries=("None", "The pilot was not injured.")),
    ("second.pdf", 1): cells(Date=("2008-02-11", "On February 11, 2008"),
                             Aircraft=("Piper PA-28", "a Piper PA-28 struck trees"),
                             Fuel=("40", "The tanks held 40 gallons"),
                             Injuries=("Serious", "The pilot sustained minor injuries.")),
}


def one_row_reply(request: ChatRequest) -> str:
    title = request.last.split(",", 1)[0]
    reply: dict[str, object] = {}
    for page in pages(request):
        for name, cell in ANSWERS.get((title, page), {}).items():
            if name in asked(request):
                reply[name] = cell
    for name in asked(request):
        reply.setdefault(name, {"quote": "", "value": None})
    return json.dumps(reply)


@pytest.fixture()
def scripted() -> Iterator[ScriptedLLM]:
    with ScriptedLLM(one_row_reply) as server:
        yield server


def chat(server: ScriptedLLM, **overrides: Any) -> ChatModel:
    return ChatModel(Settings(llm_base_url=server.url, llm_model=MODEL, **overrides))


def by_column(row) -> dict[str, tuple]:
    return {name: (c.status, c.value, c.page) for name, c in row.cells.items()}


def test_one_row_per_document_keeps_only_cells_their_quotes_hold(scripted) -> None:
    heard: list[tuple[int, int, str]] = []
    table = extract_table([FIRST, SECOND], COLUMNS, "one", chat(scripted), context_tokens=8192,
                          progress=lambda done, total, label: heard.append((done, total, label)))
    first, second = table.rows
    assert (first.source_id, second.source_title) == ("a", "second.pdf")
    assert by_column(first) == {"Date": ("ok", "2008-01-04", 1),
                                "Aircraft": ("ok", "Cessna 172N", 1),
                                "Fuel": ("ok", 22.0, 2), "Injuries": ("ok", "None", 2)}
    assert first.cells["Fuel"].quote == "carried 22 gallons of fuel"
    assert by_column(second) == {"Date": ("ok", "2008-02-11", 1),
                                 "Aircraft": ("ok", "Piper PA-28", 1),
                                 "Fuel": ("unverified", None, None),
                                 "Injuries": ("unverified", None, None)}
    assert second.cells["Fuel"].reason == "The quote is not in the text."
    assert second.cells["Injuries"].reason == "The quote does not say 'Serious'."
    assert second.cells["Injuries"].quote == "The pilot sustained minor injuries."
    assert table.stats() == {"rows": 2, "cells": 8, "filled": 6, "verified": 6,
                             "unverified": 2, "missing": 0}
    labels = [label for _, _, label in heard]
    assert labels[0] == "Reading document 1 of 2…" and "Reading document 2 of 2…" in labels
    assert heard[-1][0] == heard[-1][1]


FILLER = " The investigation reviewed the maintenance records and the weather." * 16
LONG_FIRST = pdf_source("a", "first.pdf", [page.text + FILLER for page in FIRST.units])


def test_windows_fit_the_context_and_later_ones_ask_only_for_what_is_missing(scripted) -> None:
    context = 1400
    table = extract_table([LONG_FIRST], COLUMNS, "one", chat(scripted), context_tokens=context,
                          reply_tokens=200)
    windows = scripted.requests
    assert [pages(r) for r in windows] == [[1], [2]]  # a page a window: both don't fit one
    for request in windows:
        prompt = sum(estimate_tokens(m["content"]) for m in request.messages)
        assert prompt + request.body["max_tokens"] <= context
    # The first page gave a verified date and aircraft (and an injury its quote does not
    # hold); the second is asked for the rest only, and its answers replace the unverified one.
    assert asked(windows[0]) == ["Date", "Aircraft", "Fuel", "Injuries"]
    assert asked(windows[1]) == ["Fuel", "Injuries"]
    assert by_column(table.rows[0]) == {"Date": ("ok", "2008-01-04", 1),
                                        "Aircraft": ("ok", "Cessna 172N", 1),
                                        "Fuel": ("ok", 22.0, 2), "Injuries": ("ok", "None", 2)}


def test_a_context_too_small_for_the_instructions_says_so(scripted) -> None:
    from retrieval.llm.client import ContextOverflow

    with pytest.raises(ContextOverflow, match="fewer columns"):
        extract_table([FIRST], COLUMNS, "one", chat(scripted), context_tokens=300,
                      reply_tokens=200)
    assert scripted.requests == []


RECORDS = ("Orders, March 2024\n"
           "2024-03-05 ACME Corp ordered bolts for 1,250.50 USD\n"
           "5 марта 2024 г. — ООО Ромашка, гайки, 3 400 руб.\n"
           "note: the next one was cancelled\n"
           "03/07/2024 Globex, washers, $12k\n")
ORDER_COLUMNS = (Column("Date", "date"), Column("Customer"), Column("Amount", "number"))


def records_reply(request: ChatRequest) -> str:
    rows = []
    for number in re.findall(r"^\[(\d+)\] ", request.last, flags=re.M):
        line = int(number)
        if line == 2:
            rows.append({"line": 2, **cells(Date=("2024-03-05", "2024-03-05"),
                                            Customer=("ACME Corp", "ACME Corp"),
                                            Amount=("1250.50", "1,250.50 USD"))})
        elif line == 3:
            rows.append({"line": 3, **cells(Date=("2024-03-05", "5 марта 2024 г."),
                                            Customer=("ООО Ромашка", "ООО Ромашка"),
                                            Amount=(3400, "3 400 руб."))})
        elif line == 4:  # nothing in it holds: the row is dropped
            rows.append({"line": 4, **cells(Date=("2024-03-06", "the next one"),
                                            Customer=("Initech", "Initech"),
                                            Amount=(None, ""))})
        elif line == 5:
            rows.append({"line": 5, **cells(Date=("2024-03-07", "03/07/2024"),
                                            Customer=("Globex", "Globex"),
                                            Amount=("12000", "$12k"))})
    return json.dumps({"rows": rows})


def test_many_rows_turn_each_record_into_a_row_with_its_line() -> None:
    with ScriptedLLM(records_reply) as server:
        table = extract_table([pasted_source(RECORDS)], ORDER_COLUMNS, "many", chat(server),
                              context_tokens=4096)
    got = [(r.cells["Date"].value, r.cells["Customer"].value, r.cells["Amount"].value,
            r.cells["Amount"].unit, r.cells["Date"].line) for r in table.rows]
    assert got == [("2024-03-05", "ACME Corp", 1250.5, "USD", 2),
                   ("2024-03-05", "ООО Ромашка", 3400.0, "руб.", 3),
                   ("2024-03-07", "Globex", 12000.0, "$", 5)]
    assert all(r.source_id == "pasted" for r in table.rows)


def test_many_rows_windows_hold_no_more_lines_than_the_reply_has_room_for() -> None:
    text = "\n".join(f"2024-03-{day:02d} Customer{day} paid {day * 10} USD"
                     for day in range(1, 29))
    with ScriptedLLM(lambda r: json.dumps({"rows": []})) as server:
        table = extract_table([pasted_source(text)], ORDER_COLUMNS, "many", chat(server),
                              context_tokens=8192, reply_tokens=600)
        lines = [re.findall(r"^\[(\d+)\]", r.last, flags=re.M) for r in server.requests]
    assert len(lines) > 1 and sum(len(w) for w in lines) == 28
    assert max(len(w) for w in lines) <= 600 // (45 * 3 + 16) + 1
    assert table.rows == ()


def test_an_unusable_reply_leaves_its_cells_missing_with_a_warning() -> None:
    with ScriptedLLM(lambda r: "not JSON at all") as server:
        table = extract_table([SECOND], COLUMNS, "one", chat(server), context_tokens=8192)
    assert {c.status for c in table.rows[0].cells.values()} == {"missing"}
    assert table.warnings and "second.pdf" in table.warnings[0]


def test_proposed_columns_are_named_once_typed_and_enums_have_values() -> None:
    drafts = {"columns": [
        {"name": "Date", "type": "date", "description": "when", "values": []},
        {"name": "date", "type": "date", "description": "again", "values": []},
        {"name": "Injuries", "type": "enum", "description": "worst",
         "values": ["None", "Minor", "Fatal"]},
        {"name": "Phase", "type": "enum", "description": "no values given", "values": []},
        {"name": "Fuel", "type": "quantity", "description": "gallons", "values": []},
        {"name": "  ", "type": "text", "description": "", "values": []}]}
    with ScriptedLLM(lambda r: json.dumps(drafts)) as server:
        columns = propose_columns([FIRST, SECOND], chat(server), rows="one", limit=8)
        sample = server.requests[0].last
    assert [(c.name, c.type, c.values) for c in columns] == [
        ("Date", "date", ()), ("Injuries", "enum", ("None", "Minor", "Fatal")),
        ("Phase", "text", ()), ("Fuel", "text", ())]
    assert "Cessna 172N" in sample and "Piper PA-28" in sample


def test_a_records_cells_come_from_its_own_lines_and_a_repeated_row_counts_once() -> None:
    def reply(request: ChatRequest) -> str:
        acme = {"line": 2, **cells(Date=("2024-03-05", "2024-03-05"),
                                   Customer=("ACME Corp", "ACME Corp"),
                                   Amount=("1250.50", "1,250.50 USD"))}
        # Line 5's row with line 2's amount: the amount is not this record's.
        globex = {"line": 5, **cells(Date=("2024-03-07", "03/07/2024"),
                                     Customer=("Globex", "Globex"),
                                     Amount=("1250.50", "1,250.50 USD"))}
        return json.dumps({"rows": [acme, globex, acme]})

    with ScriptedLLM(reply) as server:
        table = extract_table([pasted_source(RECORDS)], ORDER_COLUMNS, "many", chat(server),
                              context_tokens=4096)
    assert [r.cells["Customer"].value for r in table.rows] == ["ACME Corp", "Globex"]
    amount = table.rows[1].cells["Amount"]
    assert (amount.status, amount.value, amount.reason) == (
        "unverified", None, "The quote is from another record's line.")


def _rows_bounds(request: ChatRequest) -> tuple[int | None, int | None]:
    """The row count the request's JSON schema asks the server to decode."""
    form = request.body.get("response_format") or {}
    schema = form.get("schema") or (form.get("json_schema") or {}).get("schema") or {}
    rows = schema.get("properties", {}).get("rows", {})
    return rows.get("minItems"), rows.get("maxItems")


def test_many_rows_ask_for_a_row_per_line_and_a_silent_line_joins_the_record_above() -> None:
    """The schema asks for exactly one row per numbered line (a small model left to choose
    stops after the first record); a line whose row is all null goes on with the record
    above, whose cells may be quoted from it."""
    text = ("2024-03-05 ACME Corp ordered bolts\n"
            "   total 1,250.50 USD, paid on delivery\n"
            "03/07/2024 Globex, washers, $12k\n")

    def reply(request: ChatRequest) -> str:
        return json.dumps({"rows": [
            {"line": 1, **cells(Date=("2024-03-05", "2024-03-05"),
                                Customer=("ACME Corp", "ACME Corp"),
                                Amount=("1250.50", "1,250.50 USD"))},
            {"line": 2, **cells(Date=(None, ""), Customer=(None, ""), Amount=(None, ""))},
            {"line": 3, **cells(Date=("2024-03-07", "03/07/2024"),
                                Customer=("Globex", "Globex"), Amount=("12000", "$12k"))}]})

    with ScriptedLLM(reply) as server:
        table = extract_table([pasted_source(text)], ORDER_COLUMNS, "many", chat(server),
                              context_tokens=4096)
        bounds = [_rows_bounds(r) for r in server.requests]
    assert bounds == [(3, 3)]
    got = [(r.cells["Customer"].value, r.cells["Amount"].value, r.cells["Amount"].line)
           for r in table.rows]
    assert got == [("ACME Corp", 1250.5, 2), ("Globex", 12000.0, 3)]


def test_a_record_is_asked_for_its_marked_values_before_its_free_text() -> None:
    """Numbers, dates, enums and yes/no come first in a record's reply and in the prompt's
    list (a small model writing a text cell first takes the quantity into the item, then
    shifts every number a column on); the table keeps its own column order."""
    columns = (Column("Customer"), Column("Item"), Column("Quantity", "number"),
               Column("Date", "date"), Column("Paid", "boolean"))

    def reply(request: ChatRequest) -> str:
        return json.dumps({"rows": [{"line": 1, **cells(
            Customer=("Acme", "Acme"), Item=("steel rebar", "steel rebar"),
            Quantity=("1250", "1,250 kg"), Date=("2024-03-05", "2024-03-05"),
            Paid=("no", "unpaid"))}]})

    with ScriptedLLM(reply) as server:
        table = extract_table([pasted_source("2024-03-05 Acme ordered 1,250 kg steel rebar, "
                                             "unpaid")], columns, "many", chat(server),
                              context_tokens=4096)
        (request,) = server.requests
    form = request.body["response_format"]
    schema = form.get("schema") or form["json_schema"]["schema"]
    asked = list(schema["properties"]["rows"]["items"]["properties"])
    assert asked == ["line", "Quantity", "Date", "Paid", "Customer", "Item"]
    listed = re.findall(r'^- "(\w+)"', request.system, flags=re.M)
    assert listed == ["Quantity", "Date", "Paid", "Customer", "Item"]
    (row,) = table.rows
    assert list(row.cells) == ["Customer", "Item", "Quantity", "Date", "Paid"]
    assert [row.cells[c.name].value for c in columns] == [
        "Acme", "steel rebar", 1250.0, "2024-03-05", False]


def test_a_records_text_value_loses_the_quantity_or_date_another_cell_holds() -> None:
    """The quality model wrote "500 m of copper cable" as the item beside "500 m" as the
    quantity: the item is "copper cable". Only numbers and dates are cut, at word boundaries,
    and never a whole value."""
    columns = (Column("Item"), Column("Quantity", "number"), Column("Date", "date"),
               Column("Customer"))
    text = ("500 m of copper cable for Initech, 2024-03-20\n"
            "20 tires to Studio 200, 2024-03-21\n")

    def reply(request: ChatRequest) -> str:
        return json.dumps({"rows": [
            {"line": 1, **cells(Item=("500 m of copper cable", "500 m of copper cable"),
                                Quantity=("500", "500 m"), Date=("2024-03-20", "2024-03-20"),
                                Customer=("Initech, 2024-03-20", "Initech, 2024-03-20"))},
            {"line": 2, **cells(Item=("20 tires", "20 tires"), Quantity=("20", "20"),
                                Date=(None, ""), Customer=("Studio 200", "Studio 200"))}]})

    with ScriptedLLM(reply) as server:
        table = extract_table([pasted_source(text)], columns, "many", chat(server),
                              context_tokens=4096)
    got = [(r.cells["Item"].value, r.cells["Item"].quote, r.cells["Customer"].value)
           for r in table.rows]
    assert got == [("copper cable", "500 m of copper cable", "Initech"),
                   ("tires", "20 tires", "Studio 200")]


def test_a_records_quote_not_in_its_words_falls_back_to_its_own_line_when_that_states_it() -> None:
    """The model quoting its own rendering ("USD 4,300" for "$4,300"): the record's line is the
    evidence when it states the value; a value the line does not state stays unverified."""
    text = "2024-03-05 Acme Corp ordered steel, $4,300, unpaid\n"

    def reply(request: ChatRequest) -> str:
        return json.dumps({"rows": [
            {"line": 1, **cells(Date=("2024-03-05", "5 March 2024"),
                                Customer=("Acme Corp", "Acme Corp"),
                                Amount=("4300", "USD 4,300"))}]})

    with ScriptedLLM(reply) as server:
        table = extract_table([pasted_source(text)], ORDER_COLUMNS, "many", chat(server),
                              context_tokens=4096)
    (row,) = table.rows
    assert (row.cells["Amount"].status, row.cells["Amount"].value, row.cells["Amount"].line,
            row.cells["Amount"].quote) == ("ok", 4300.0, 1, text.strip())
    assert (row.cells["Date"].status, row.cells["Date"].value) == ("ok", "2024-03-05")

    def wrong(request: ChatRequest) -> str:
        return json.dumps({"rows": [
            {"line": 1, **cells(Date=("2024-03-06", "6 March 2024"),
                                Customer=("Acme Corp", "Acme Corp"),
                                Amount=("4400", "USD 4,400"))}]})

    with ScriptedLLM(wrong) as server:
        table = extract_table([pasted_source(text)], ORDER_COLUMNS, "many", chat(server),
                              context_tokens=4096)
    (row,) = table.rows
    assert row.cells["Amount"].status == "unverified" and row.cells["Amount"].value is None
    assert row.cells["Date"].status == "unverified" and row.cells["Date"].value is None
