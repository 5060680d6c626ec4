"""Questions about a real NTSB report through the real worker and index: with the real LLM
server (the bundled model) each question reaches the model with the page that answers it in
what the model reads, and every citation quotes a line of the page it names; with a scripted
server that answers like a capable model, without citing, docchat cites the page that holds
the fact."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tests.conftest import EVAL_PDFS, asked_the_model, upload_bytes, wait_indexed
from tests.scripted_llm import MODEL, ScriptedLLM
from web import create_app

pytestmark = pytest.mark.e2e

COLLECTION = "ntsb-seward"
REPORT = EVAL_PDFS / "ntsb" / "20080116X00061.pdf"  # Piper PA-18, Seward, AK, 11/29/2007
LOCATION_PAGE, WEATHER_PAGE = 1, 3


@pytest.fixture(scope="module")
def report(app) -> str:
    if not Path(REPORT).exists():
        pytest.skip(f"{REPORT} is not there (../shared/eval)")
    client = app.test_client()
    document_id = upload_bytes(client, REPORT.read_bytes(), REPORT.name, COLLECTION)
    wait_indexed(client, document_id)
    return document_id


def ask(client, question: str, **extra) -> dict:
    response = client.post("/api/ask", json={"question": question, "collection": COLLECTION,
                                             "temperature": 0, **extra})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def pages_read(app, body: dict) -> dict[int, str]:
    """The pages of the passages the model read, each with the text it read of it."""
    store = app.extensions["docchat"].store
    read: dict[int, str] = {}
    for ref in body["context"]:
        for chunk in store.chunks_in_range(ref["document_id"], ref["first_ordinal"],
                                           ref["last_ordinal"]):
            read[chunk.page] = read.get(chunk.page, "") + "\n" + chunk.text
    return read


def assert_quotes_stand_on_their_pages(app, body: dict) -> None:
    read = pages_read(app, body)
    for citation in body["citations"]:
        assert citation["page"] in read, citation
        for line in citation["quote"].splitlines():  # a table row comes under its header
            assert line in read[citation["page"]], (line, citation["page"])
        assert len(citation["quote"]) < 400, citation["quote"]


def test_where_it_happened_reaches_the_model_with_page_one(app, client, report) -> None:
    body = ask(client, "Where did the accident happen?")
    assert asked_the_model(body), body["answer"]
    read = pages_read(app, body)
    assert "Seward, AK" in read.get(LOCATION_PAGE, ""), sorted(read)
    assert_quotes_stand_on_their_pages(app, body)


def test_the_weather_question_is_not_refused(app, client, report) -> None:
    """It was refused before the model was asked, with the Meteorological Information
    passage among the search hits."""
    body = ask(client, "What was the weather like?")
    assert asked_the_model(body), body["answer"]
    assert "Meteorological Information" in pages_read(app, body).get(WEATHER_PAGE, "")
    assert_quotes_stand_on_their_pages(app, body)


def test_a_follow_up_is_rewritten_into_a_question(app, client, report) -> None:
    history = [{"role": "user", "content": "What was the probable cause of the accident?"},
               {"role": "assistant", "content": "The pilot's failure to maintain directional "
                                                "control during takeoff [1]."}]
    body = ask(client, "And where did it happen?", history=history)
    standalone = body["standalone_question"]
    assert standalone.rstrip().endswith("?") or standalone.lower().startswith(
        ("where", "what", "which", "how", "and where")), standalone
    assert asked_the_model(body), body["answer"]
    assert "Seward, AK" in pages_read(app, body).get(LOCATION_PAGE, "")


ANSWERS = {
    "Where did the accident happen?": "The accident happened in Seward, AK.",
    "What was the weather like?": "The sky was thin overcast at 1000 ft agl with 10 miles "
                                  "visibility, calm wind and no precipitation.",
    # The report says neither: the figures are the model's own.
    "How much was the airplane worth?": "The airplane was worth $245,000 [1].",
    # Asked an amount the report does not give, the model copies out the probable cause.
    "How much fuel was on board when the airplane landed?":
        "The probable cause was the pilot's failure to maintain directional control during "
        "takeoff [1].",
    # Asked what something cost, the model gives a figure of another kind from the passages.
    "How much did the flight cost?":
        "The flight cost was thin overcast at 1000 ft agl with 10 miles visibility [1].",
    "Where did it happen, and what did the repairs cost?":
        "The accident happened in Seward, AK. The repairs cost $18,517 [2].",
}


@pytest.fixture(scope="module")
def capable(settings, worker, report):
    """The same data and worker; the model answers as a capable one would, citing nothing."""
    with ScriptedLLM(lambda request: next(
            (reply for question, reply in ANSWERS.items() if question in request.last),
            "I cannot tell.")) as llm:
        app = create_app(dataclasses.replace(settings, llm_base_url=llm.url, llm_model=MODEL))
        yield app


@pytest.mark.parametrize(("question", "page", "fact"), [
    ("Where did the accident happen?", LOCATION_PAGE, "Seward, AK"),
    ("What was the weather like?", WEATHER_PAGE, "Thin Overcast"),
])
def test_an_uncited_answer_is_cited_to_the_page_that_holds_the_fact(capable, question, page,
                                                                    fact) -> None:
    body = ask(capable.test_client(), question)
    assert body["answer"].endswith("[1].") and len(body["citations"]) == 1, body["answer"]
    citation = body["citations"][0]
    assert (citation["page"], citation["by"]) == (page, "match")
    assert fact in citation["quote"]
    assert_quotes_stand_on_their_pages(capable, body)


def test_an_answer_of_figures_no_page_holds_says_the_documents_do_not_say(capable) -> None:
    body = ask(capable.test_client(), "How much was the airplane worth?")
    assert body["grounded"] is False and body["citations"] == [], body
    assert body["answer"].startswith("The documents do not say"), body["answer"]
    assert "245" not in body["answer"]


def test_an_answer_to_how_much_that_gives_no_amount_says_the_documents_do_not_say(capable,
                                                                              ) -> None:
    body = ask(capable.test_client(), "How much fuel was on board when the airplane landed?")
    assert body["grounded"] is False and body["citations"] == [], body
    assert body["answer"].startswith("The documents do not say"), body["answer"]
    assert "asks for an amount" in body["answer"]
    assert any("directional control" in s for s in body["withdrawn"]), body["withdrawn"]


def test_an_answer_to_what_it_cost_that_gives_no_money_says_the_documents_do_not_say(
        capable) -> None:
    body = ask(capable.test_client(), "How much did the flight cost?")
    assert body["grounded"] is False and body["citations"] == [], body
    assert "asks what something costs" in body["answer"], body["answer"]
    assert any("1000 ft" in s for s in body["withdrawn"]), body["withdrawn"]


def test_a_sentence_with_an_invented_figure_is_dropped_and_the_rest_kept(capable) -> None:
    body = ask(capable.test_client(), "Where did it happen, and what did the repairs cost?")
    assert body["grounded"] is True
    assert body["answer"] == "The accident happened in Seward, AK [1].", body["answer"]
    assert body["citations"][0]["page"] == LOCATION_PAGE
