"""Who promised what, to whom, by when: the mistakes users saw, each as a meeting the
extractor must read right, in English and Russian. No model is asked: these run in
milliseconds and cannot depend on what a model says."""

from __future__ import annotations

from datetime import date

import pytest

from ingest.formats import parse_text_upload
from retrieval.meetings.commitments import extract_commitments
from retrieval.meetings.segments import meeting_from_document

DAY = date(2026, 3, 10)  # a Tuesday


def commitments(text: str, when: date | None = DAY) -> list[dict]:
    """The commitments as the API's JSON has them."""
    meeting = meeting_from_document(parse_text_upload(text, "m", "sync.md"), text, when)
    return [c.model_dump(mode="json") for c in extract_commitments(meeting).commitments]


def one(text: str, when: date | None = DAY) -> dict:
    found = commitments(text, when)
    assert len(found) == 1, found
    return found[0]


def test_a_first_person_promise_is_the_speakers_with_its_own_words_as_quote() -> None:
    item = one("Anna: Welcome everyone.\nBoris: I'll send the signed contract to Anna by Friday.\n"
               "Anna: Thanks.\n")
    assert item["who"] == "Boris" and item["to_whom"] == "Anna"
    assert item["quote"] == "I'll send the signed contract to Anna by Friday."
    assert item["what"] == "send the signed contract to Anna by Friday"
    assert (item["due"], item["due_text"]) == ("2026-03-13", "by Friday")
    assert (item["turn_start"], item["turn_end"]) == (1, 1)


def test_a_reported_promise_is_the_named_participants_not_the_speakers() -> None:
    """Seen: "Also, Dmitry agreed to prepare the demo…" came back with who: Anna."""
    item = one("Anna: Quick update. Also, Dmitry agreed to prepare the demo for the board.\n"
               "Dmitry: Yes, that's right.\nAnna: Good, next topic.\n")
    assert item["who"] == "Dmitry" and "prepare the demo" in item["what"]
    assert "Dmitry agreed to prepare the demo" in item["quote"]


def test_the_quote_is_the_promise_itself_never_an_unrelated_line() -> None:
    """Seen: Иван's promise to call the client came back quoting "Про новый офис пока ничего не
    решаем." """
    found = commitments("Ольга: Про новый офис пока ничего не решаем.\n"
                        "Иван: Клиенту позвоню завтра и всё уточню.\nОльга: Спасибо.\n")
    assert [(c["who"], c["quote"]) for c in found] == [
        ("Иван", "Клиенту позвоню завтра и всё уточню.")]
    assert found[0]["due"] == "2026-03-11"


@pytest.mark.parametrize("said", [
    "Nobody needs to do anything about the office move yet.",
    "We discussed rotating keys quarterly but did not decide anything.",
    "I merged the fix yesterday, it's on staging already.",
    "Can you send me the list?",
    "Maybe someone should write a rollback runbook.",
    "Not this sprint, sorry, SSO will eat all my time.",
    "I'd like to look at the pricing page at some point.",
    "We'll see how the timeline looks after planning.",
    "Поставщик вчера прислал свою редакцию.",
    "Отчёт за март мы сдали ещё в понедельник.",
    "Предлагаю сделать общий шаблон для всех отделов.",
    "Я бы взялась, но у меня отпуск.",
    "Про новый офис пока ничего не решаем.",
])
def test_things_that_are_no_promises_give_no_item(said: str) -> None:
    assert commitments(f"Maya: Let's go round.\nLena: {said}\nMaya: Thanks.\n") == []


@pytest.mark.parametrize(("said", "due"), [
    ("I'll send the deck next week.", "2026-03-20"),
    ("I'll finish the migration before the release on March 20.", "2026-03-20"),
    ("I'll call them on Monday.", "2026-03-16"),
    ("I'll have the draft ready by EOD tomorrow.", "2026-03-11"),
    ("Пришлю схему через неделю.", "2026-03-17"),
    ("Сделаю к 15 апреля.", "2026-04-15"),
    ("Договор подпишу до конца месяца.", "2026-03-31"),
])
def test_deadlines_are_read_from_the_promise(said: str, due: str) -> None:
    item = one(f"Maya: Next item.\nLena: {said}\nMaya: Thanks.\n")
    assert item["due"] == due and item["due_text"] and item["due_text"] in said


def test_russian_aspect_tells_a_promise_from_a_thing_done() -> None:
    found = commitments("Алексей: Что с отчётом?\nМарина: Отчёт сделали, отправили вчера.\n"
                        "Марина: Презентацию сделаю к пятнице и пришлю Алексею.\n")
    assert [(c["who"], c["due"], c["to_whom"]) for c in found] == [
        ("Марина", "2026-03-13", "Алексей")]


def test_an_accepted_request_is_a_promise_of_the_one_who_accepts() -> None:
    item = one("Maya: Tom, can you own the rollback runbook by Friday?\n"
               "Tom: Yes, I'll write the rollback runbook and share it in the ops channel.\n")
    assert item["who"] == "Tom" and item["to_whom"] == "Maya"
    assert item["due"] == "2026-03-13"  # the deadline came with the request


def test_a_short_yes_to_a_request_takes_the_task_from_the_request() -> None:
    item = one("Борис: Оля, сможешь прислать смету до четверга?\nОльга: Ок, пришлю.\n"
               "Борис: Отлично.\n")
    assert item["who"] == "Ольга" and item["to_whom"] == "Борис"
    assert "смету" in item["what"] and item["due"] == "2026-03-12"


def test_a_promise_taken_back_at_once_is_dropped_and_the_taker_over_kept() -> None:
    found = commitments(
        "Nora: Who writes the changelog?\n"
        "Kofi: I'll write the changelog for the release. Actually no, I'm on call all next "
        "week. Anna, can you take it instead?\n"
        "Anna: Sure, I'll take the changelog and have it ready before the release on March 20.\n")
    assert [(c["who"], c["due"]) for c in found] == [("Anna", "2026-03-20")]


def test_a_recap_repeats_promises_but_adds_none() -> None:
    found = commitments(
        "Lena: I'll rewrite the export query and open a PR by Thursday.\n"
        "Tom: I'll write the rollback runbook by Friday.\n"
        "Maya: To recap: Lena has the export PR, Tom the runbook. I'll book the demo room.\n")
    assert [c["who"] for c in found] == ["Lena", "Tom", "Maya"]


def test_the_same_promise_said_twice_by_one_person_is_one_item() -> None:
    found = commitments("Денис: Починю кеш на CI до пятницы.\nАнна: Спасибо.\n"
                        "Денис: Да, кеш на CI починю до пятницы, точно.\n")
    assert len(found) == 1 and found[0]["turn_start"] == 0


def test_notes_without_dates_keep_the_phrase_and_no_date() -> None:
    item = one("Maya: Next.\nLena: I'll send the report on Friday.\n", when=None)
    assert (item["due"], item["due_text"]) == (None, "on Friday")


def test_a_meeting_without_promises_gives_an_empty_list() -> None:
    assert commitments("Anna: The release is planned for April.\n"
                       "Boris: The dry run went fine last week.\n") == []
