"""POST /api/ask with "stream": true: status events before the text (searching, reading N
passages from M documents, writing), and a reader who goes away stops the model too."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from retrieval.core.settings import Settings
from retrieval.search.indexing import index_document
from tests.conftest import text_pdf, upload_bytes
from tests.scripted_llm import MODEL, SERVER_ERROR, ScriptedLLM
from web import create_app

QUESTION = {"question": "How long is the hardware warranty period?", "stream": True}
ANSWER = "The hardware warranty period is 24 months from the delivery date [1]."


@pytest.fixture(scope="module")
def llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM(lambda request: ANSWER) as server:
        yield server


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, llm: ScriptedLLM):
    app = create_app(Settings(data_dir=tmp_path_factory.mktemp("stream"), llm_base_url=llm.url,
                              llm_model=MODEL, rate_limit_per_minute=0))
    client = app.test_client()
    for name, line in (("warranty.pdf", "The hardware warranty period is 24 months."),
                       ("terms.pdf", "Hardware warranty: 24 months from delivery.")):
        index_document(app.extensions["docchat"],
                       upload_bytes(client, text_pdf([[line]]), name))
    return app


def events(body: str) -> list[tuple[str, dict]]:
    found = []
    for block in body.split("\n\n"):
        if block.strip():
            name, data = block.split("\n", 1)
            found.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return found


def test_stream_says_searching_then_reading_passages_then_writing_before_the_text(app) -> None:
    response = app.test_client().post("/api/ask", json=QUESTION)
    assert response.status_code == 200
    stream = events(response.get_data(as_text=True))
    names = [name for name, _ in stream]
    assert names[:3] == ["status", "status", "status"] and names[3] == "token", names
    assert names[-1] == "answer" and set(names[4:-1]) == {"token"}, names
    searching, reading, writing = (data for _, data in stream[:3])
    assert searching["stage"] == "searching" and writing["stage"] == "writing"
    final = stream[-1][1]
    assert reading == {"stage": "reading", "passages": len(final["context"]),
                       "documents": len({ref["document_id"] for ref in final["context"]})}
    assert reading["documents"] == 2
    assert "".join(data["text"] for name, data in stream if name == "token") == ANSWER


def test_an_answer_without_stream_has_no_status_and_the_same_fields(app) -> None:
    body = app.test_client().post("/api/ask", json={**QUESTION, "stream": False}).get_json()
    assert set(body) == {"answer", "citations", "language", "standalone_question", "grounded",
                         "context", "withdrawn", "html"}
    assert body["answer"] == ANSWER and body["grounded"]


def test_a_reader_who_hangs_up_stops_the_model(app, llm: ScriptedLLM) -> None:
    long_answer = " ".join([ANSWER] * 20)
    llm.word_delay = 0.1
    llm.script(long_answer)
    try:
        response = app.test_client().post("/api/ask", json=QUESTION, buffered=False)
        chunks = iter(response.response)
        while b"event: token" not in next(chunks):
            pass
        response.close()  # what the server does when the browser's Stop aborts the fetch
        request = llm.requests[-1]
        deadline = time.monotonic() + 10
        while not request.hung_up and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        llm.word_delay = 0.0
    assert request.hung_up, request.words_sent
    assert request.words_sent < len(long_answer.split(" ")) / 2


def test_a_draft_that_only_declines_is_asked_again_of_the_best_passages(
        app, llm: ScriptedLLM) -> None:
    """Seen on NIH protocols: "The documents do not say." with the fact on a page it read."""
    llm.requests.clear()
    llm.script("The documents do not say.", ANSWER)
    stream = events(app.test_client().post("/api/ask", json=QUESTION).get_data(as_text=True))
    stages = [data["stage"] for name, data in stream if name == "status"]
    assert stages == ["searching", "reading", "writing", "rereading"], stages
    again = next(i for i, (name, data) in enumerate(stream) if data.get("stage") == "rereading")
    assert stream[again][1]["passages"] == 2
    assert "".join(data["text"] for name, data in stream[again:] if name == "token") == ANSWER
    assert stream[-1][0] == "answer" and stream[-1][1]["answer"] == ANSWER
    assert stream[-1][1]["citations"], stream[-1][1]
    first, second = llm.requests[-2:]
    assert "If they do not state it" in first.last
    assert "If they do not state it" not in second.last
    assert second.last.rstrip().endswith("Answer:")


def test_when_the_second_look_declines_too_the_first_draft_stands(app, llm: ScriptedLLM) -> None:
    llm.requests.clear()
    llm.script("The documents do not say.", "The warranty period is [1].")
    body = app.test_client().post("/api/ask", json={**QUESTION, "stream": False}).get_json()
    assert body["answer"].startswith("The documents do not say")
    assert "warranty period is" not in body["answer"]
    assert len(llm.requests) == 2


def test_an_answer_is_not_asked_again(app, llm: ScriptedLLM) -> None:
    llm.requests.clear()
    app.test_client().post("/api/ask", json={**QUESTION, "stream": False})
    assert len(llm.requests) == 1


def test_a_second_look_the_model_fails_leaves_the_first_draft(app, llm: ScriptedLLM) -> None:
    llm.requests.clear()
    # Every request of the second look fails as a server that fell over does, retries too.
    llm.when(lambda request: "If they do not state it" not in request.last, SERVER_ERROR,
             times=2)
    llm.script("The documents do not say.")
    stream = events(app.test_client().post("/api/ask", json=QUESTION).get_data(as_text=True))
    assert [name for name, _ in stream][-1] == "answer", stream
    assert stream[-1][1]["answer"].startswith("The documents do not say")


@pytest.mark.parametrize("second", [
    # Seen: a decline, then the report's boilerplate copied out.
    "The warranty period is not provided in the given sources. The terms apply from delivery "
    "and the hardware is covered [1].",
    # Seen: "The student pilot's name is Student."
    "The hardware warranty period is the warranty period [1].",
])
def test_a_second_look_that_declines_or_gives_the_question_back_leaves_the_first(
        app, llm: ScriptedLLM, second: str) -> None:
    llm.script("The documents do not say.", second)
    body = app.test_client().post("/api/ask", json={**QUESTION, "stream": False}).get_json()
    assert body["answer"].startswith("The documents do not say"), body["answer"]
