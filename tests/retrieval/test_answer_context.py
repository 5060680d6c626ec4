"""What the model reads with a question: sized from the window the server serves, capped by
DOCCHAT_ANSWER_CONTEXT_CHARS, shared between the documents of a small scope, counted with the
server's tokenizer; and what each citation quotes: the supporting sentence or table row."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from retrieval.answers.answer import Question
from retrieval.answers.attribution import claims_by_source
from retrieval.answers.context import ContextBudget, fit_tokens, interleave
from retrieval.answers.quotes import passage_units, supporting_quote
from retrieval.core.settings import Settings
from retrieval.runtime import Runtime
from retrieval.search.hybrid import Hit
from retrieval.search.indexing import index_document
from retrieval.storage.store import ChunkFilter
from tests.conftest import store_upload
from tests.scripted_llm import MODEL, ChatRequest, ScriptedLLM

TOPICS = ["pump maintenance", "warranty terms", "payment schedule", "delivery logistics",
          "safety training", "audit findings"]


def _report(tmp_path: Path, name: str, topic: str, paragraphs: int) -> Path:
    """A text document of `paragraphs` paragraphs (about 400 characters each) on one topic."""
    body = "\n\n".join(
        f"## Section {n}\n\nThe {topic} review, item {n}: the team checked the {topic} "
        f"records for site {n} and found {n * 3} open points, which the {topic} owner will "
        f"close before the next quarterly review of {topic}. Notes for site {n} list the "
        f"contacts, the dates and the figures agreed for {topic} at that site." for n in
        range(1, paragraphs + 1))
    path = tmp_path / name
    path.write_text(f"# {topic.title()}\n\n{body}\n")
    return path


def _sources(request: ChatRequest) -> str:
    """The passages of an answer prompt, fences and all."""
    return "".join(re.findall(r"<source .*?</source>", request.prompt, flags=re.S))


@pytest.fixture()
def llm():
    with ScriptedLLM(lambda request: "The review found open points [1].") as server:
        yield server


def _runtime(tmp_path: Path, embedder, llm: ScriptedLLM, **overrides) -> Runtime:
    settings = Settings(data_dir=tmp_path / "data", llm_base_url=llm.url, llm_model=MODEL,
                        **overrides)
    return Runtime(settings, embedder=embedder)


def _index(runtime: Runtime, path: Path) -> str:
    record = store_upload(runtime, path)
    index_document(runtime, record.id)
    return record.id


def test_a_large_served_window_gives_the_model_tens_of_thousands_of_characters(
        tmp_path, embedder, llm) -> None:
    runtime = _runtime(tmp_path, embedder, llm)
    document = _index(runtime, _report(tmp_path, "pumps.md", "pump maintenance", 150))
    where = ChunkFilter("default", document_ids=(document,))
    llm.context_window = 32768
    runtime.answerer.answer(Question("What did the pump maintenance review find?", where))
    large = len(_sources(llm.requests[-1]))

    small_window = _runtime(tmp_path, embedder, llm)  # a new ChatModel reads the window again
    llm.context_window = 2048
    small_window.answerer.answer(Question("What did the pump maintenance review find?", where))
    small = len(_sources(llm.requests[-1]))
    assert large > 30_000, large
    assert 2_000 < small < 6_000, small


def test_the_cap_setting_bounds_what_a_large_window_would_allow(tmp_path, embedder,
                                                               llm) -> None:
    runtime = _runtime(tmp_path, embedder, llm, answer_context_chars=3000)
    document = _index(runtime, _report(tmp_path, "pumps.md", "pump maintenance", 60))
    llm.context_window = 32768
    answer = runtime.answerer.answer(Question(
        "What did the pump maintenance review find?",
        ChunkFilter("default", document_ids=(document,))))
    passages = runtime.retriever.passages(answer.context, ChunkFilter("default"), 10**6)
    assert 2_000 < sum(len(hit.text) for hit in passages) <= 3000


def test_each_document_of_a_small_scope_gets_its_share(tmp_path, embedder, llm) -> None:
    """One long document on the question's words must not crowd out the others."""
    runtime = _runtime(tmp_path, embedder, llm, answer_context_chars=6000)
    long_one = _index(runtime, _report(tmp_path, "q1.md", "payment schedule", 80))
    others = [_index(runtime, _report(tmp_path, f"q{n}.md", topic, 6))
              for n, topic in enumerate(["payment terms", "invoice dates"], start=2)]
    where = ChunkFilter("default", document_ids=(long_one, *others))
    answer = runtime.answerer.answer(Question("How did the payment schedule change?", where))
    read = {ref.document_id: 0 for ref in answer.context}
    for hit in runtime.retriever.passages(answer.context, where, 10**6):
        read[hit.document_id] += len(hit.text)
    assert set(read) == {long_one, *others}
    assert all(chars >= 1000 for chars in read.values()), read
    # Alone, the long document fills the whole budget.
    alone = runtime.answerer.answer(Question(
        "How did the payment schedule change?",
        dataclasses.replace(where, document_ids=(long_one,))))
    assert sum(len(h.text) for h in runtime.retriever.passages(alone.context, where,
                                                                10**6)) > 4500


def test_passages_are_trimmed_to_what_the_tokenizer_counts() -> None:
    hits = [Hit(chunk_id=n, document_id="d", filename="f.pdf", page=n, text="word " * 200,
                score=1.0, first_ordinal=n * 10, last_ordinal=n * 10) for n in range(10)]
    # A tokenizer that counts every word as two tokens: 10 passages of 400 tokens each.
    kept = fit_tokens(hits, 1500, lambda text: 2 * len(text.split()))
    counted = sum(2 * len(h.text.split()) for h in kept)
    assert kept == hits[:len(kept)] and counted <= 1500 and len(kept) >= 3
    assert fit_tokens(hits[:1], 10, lambda text: 10**6) == hits[:1]


def test_budget_leaves_room_for_the_reply_the_prompt_and_a_margin() -> None:
    budget = ContextBudget(window=8192, reply_tokens=384, prompt_tokens=200, cap_chars=10**6)
    assert budget.tokens == 8192 - 384 - 200 - 819
    assert ContextBudget(8192, 384, 200, cap_chars=5000).chars == 5000
    assert ContextBudget(512, 384, 200, cap_chars=5000).tokens == 0


def test_interleave_gives_every_document_a_front_seat() -> None:
    a, b = (Hit(chunk_id=i, document_id=d, filename=d, page=1, text=d, score=0.0)
            for i, d in ((1, "a"), (2, "b")))
    a2 = dataclasses.replace(a, chunk_id=3)
    assert interleave([[a, a2], [b]]) == [a, b, a2]


TABLE_PASSAGE = """Schedule of assessments
Visit | Day | Vital signs | Blood draw
Screening | -28 to -1 | X | X
Visit 2 | 14 | X |
Visit 3 | 28 | X | X
The investigator reviews each visit's results within two days."""


def test_a_table_row_is_quoted_under_its_header() -> None:
    units = passage_units(TABLE_PASSAGE)
    assert "Visit | Day | Vital signs | Blood draw\nVisit 2 | 14 | X |" in units
    assert units[0] == "Schedule of assessments"
    assert units[-1] == "The investigator reviews each visit's results within two days."


def test_the_quote_is_the_row_or_sentence_that_supports_the_claim(embedder) -> None:
    quote = supporting_quote(["Visit 3 takes place on day 28 [1]."], TABLE_PASSAGE, embedder)
    assert quote == "Visit 3 | 28 | X | X"
    prose = ("The airplane departed from Anchorage at 0930. The pilot reported light winds and "
             "good visibility. Snow had fallen the night before, and the runway was icy. The "
             "airplane slid off the runway during the landing roll.")
    assert supporting_quote(["The runway was icy after snow [2]."], prose, embedder) == (
        "Snow had fallen the night before, and the runway was icy.")
    # Nothing cites it: the whole passage.
    assert supporting_quote([], prose, embedder) == prose


# Page 4 of NTSB report 20080104X00020 as ingest writes it: a form of rows, prose around it.
FORM_PASSAGE = """Wreckage and Impact Information
Crew Injuries: | 1 None | Aircraft Damage: | Substantial
Passenger Injuries: | N/A | Aircraft Fire: | None
Ground Injuries: | N/A | Aircraft Explosion: | None
Total Injuries: | 1 None | Latitude, Longitude: | 44.926111, -89.626389
Administrative Information
Investigator In Charge (IIC): Jim Silliman Report Date: 01/31/2008"""


@pytest.mark.parametrize("claim", [
    "Nobody on the ground was injured and nothing exploded [1].",
    "The accident site was at latitude 44.926111, longitude -89.626389 [1].",
    "The aircraft was substantially damaged [1].",
    "There was no fire [1].",
    "Jim Silliman was the investigator [1].",
])
def test_a_quote_is_text_of_the_passage_not_rows_the_page_keeps_apart(embedder, claim) -> None:
    # A row is judged under its header row, but the header is not glued to a row further
    # down: the passage view must find the quote on the page to mark it.
    quote = supporting_quote([claim], FORM_PASSAGE, embedder)
    assert quote and " ".join(quote.split()) in " ".join(FORM_PASSAGE.split())
    assert quote in FORM_PASSAGE.splitlines() or "|" not in quote


def test_claims_are_gathered_per_source() -> None:
    claims = claims_by_source(["It snowed [1]. ", "The runway was icy [1, 2]."])
    assert claims == {1: ["It snowed.", "The runway was icy."], 2: ["The runway was icy."]}
