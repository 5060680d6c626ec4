"""The one client of the LLM server (retrieval/llm/client.py), against the scripted
OpenAI-compatible server on loopback: streamed answers with and without the server's token
count, a reader who stops closing the request, the model list sent with the API key (vLLM
started with --api-key answers 401 without it) and used by the context window, the start-up
wait and the readiness check, and a context window that could not be read asked again."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from retrieval.core.settings import Settings
from retrieval.llm.client import (
    ChatModel,
    LLMCall,
    LLMUnavailable,
    ServedModel,
    add_llm_listener,
    estimate_tokens,
    list_models,
)
from retrieval.llm.server import wait_for_llm
from tests.scripted_llm import MODEL, Error, ScriptedLLM, Text
from web import create_app

QUESTION: list[BaseMessage] = [SystemMessage("Answer from the passages."),
                               HumanMessage("How long is the warranty?")]
ANSWER = "The hardware warranty period is 24 months from the delivery date [1]."
KEY = "s3cret-key"

calls: list[LLMCall] = []
add_llm_listener(calls.append)


@pytest.fixture()
def llm() -> Iterator[ScriptedLLM]:
    calls.clear()
    with ScriptedLLM(lambda request: ANSWER) as server:
        yield server


def chat_model(server: ScriptedLLM, **overrides) -> ChatModel:
    return ChatModel(Settings(llm_base_url=server.url, llm_model=MODEL, **overrides))


def last_call() -> LLMCall:
    assert calls, "no LLM request was told to the listeners"
    return calls[-1]


# ---- streamed answers ----

def test_streamed_answer_arrives_in_pieces_and_counts_the_servers_tokens(llm) -> None:
    llm.script(Text(ANSWER, tokens=17))
    pieces = list(chat_model(llm, llm_max_tokens=99).stream(QUESTION, temperature=0.7))

    assert len(pieces) == len(ANSWER.split(" ")) and "".join(pieces) == ANSWER
    request = llm.requests[-1]
    assert request.streamed and request.body["stream_options"] == {"include_usage": True}
    assert request.body["max_tokens"] == 99 and request.body["temperature"] == 0.7
    assert request.messages == [
        {"role": "system", "content": "Answer from the passages."},
        {"role": "user", "content": "How long is the warranty?"}]
    call = last_call()
    assert (call.kind, call.outcome, call.tokens) == ("stream", "ok", 17), (
        "the usage chunk's completion_tokens, not the number of pieces")


def test_a_stream_without_a_usage_chunk_counts_its_pieces(llm) -> None:
    """llama-cpp-python's server ignores stream_options and sends no usage."""
    llm.stream_usage = False
    llm.script(Text(ANSWER, tokens=17))
    pieces = list(chat_model(llm).stream(QUESTION))

    assert "".join(pieces) == ANSWER
    assert (last_call().outcome, last_call().tokens) == ("ok", len(pieces))


def test_closing_a_stream_hangs_up_on_the_server(llm) -> None:
    long_answer = " ".join([ANSWER] * 20)
    llm.word_delay = 0.05
    llm.script(long_answer)
    stream = chat_model(llm).stream(QUESTION)
    assert next(stream) == "The"
    stream.close()  # what the answer does when the reader presses Stop

    request = llm.requests[-1]
    deadline = time.monotonic() + 10
    while not request.hung_up and time.monotonic() < deadline:
        time.sleep(0.05)
    assert request.hung_up, f"the server was still asked for words ({request.words_sent} sent)"
    assert request.words_sent < len(long_answer.split(" ")) / 2
    assert last_call().outcome == "closed"


# ---- the model list and the API key ----

def test_the_model_list_is_asked_with_the_api_key_as_bearer_token() -> None:
    with ScriptedLLM(api_key=KEY, context_window=32768) as llm:
        chat = chat_model(llm, llm_api_key=KEY, llm_context=2048)
        assert chat.context_window() == 32768, "the server's window, not the configured one"
        assert chat.models() == [ServedModel(MODEL, 32768)]
        assert [h.get("authorization") for h in llm.models_requests] == [f"Bearer {KEY}"] * 2

        with pytest.raises(LLMUnavailable) as refused:
            list_models(llm.url, "wrong-key", timeout=2)
        assert str(refused.value) == f"the LLM server at {llm.url} answered 401 to GET /models"
        assert llm.models_requests[-1]["authorization"] == "Bearer wrong-key"


def test_waiting_for_the_server_needs_its_key() -> None:
    with ScriptedLLM(api_key=KEY) as llm:
        wait_for_llm(llm.url, 5, api_key=KEY)
        with pytest.raises(TimeoutError):
            wait_for_llm(llm.url, 0.5)  # the default key: 401 until the time is up
    first, *without_key = [h["authorization"] for h in llm.models_requests]
    assert first == f"Bearer {KEY}" and set(without_key) == {"Bearer not-needed"}


def test_readyz_asks_the_llm_server_with_the_key(tmp_path) -> None:
    with ScriptedLLM(api_key=KEY) as llm:
        def llm_check(key: str) -> dict:
            app = create_app(Settings(data_dir=tmp_path / "data", llm_base_url=llm.url,
                                      llm_model=MODEL, llm_api_key=key))
            return app.test_client().get("/readyz").get_json()["checks"]["llm"]

        assert llm_check(KEY) == {"ok": True, "detail": f"{llm.url} serves {MODEL}"}
        assert llm_check("wrong-key") == {
            "ok": False, "error": f"the LLM server at {llm.url} answered 401 to GET /models"}
    assert [h["authorization"] for h in llm.models_requests] == [
        f"Bearer {KEY}", "Bearer wrong-key"]


def test_an_unreachable_server_is_named_with_the_setting_to_check() -> None:
    with ScriptedLLM() as gone:
        url = gone.url
    with pytest.raises(LLMUnavailable) as raised:
        list_models(url, KEY, timeout=2)
    assert str(raised.value).startswith(f"the LLM server at {url} is not reachable (")
    assert str(raised.value).endswith("): check DOCCHAT_LLM_BASE_URL")


# ---- the context window ----

def test_a_failed_context_window_read_is_asked_again_and_a_good_one_is_kept() -> None:
    loading = Error(503, "Loading model", type="unavailable_error")
    with ScriptedLLM(context_window=32768, models_error=loading, retry_after_ms=None) as llm:
        chat = chat_model(llm, llm_context=2048)
        assert chat.context_window() == 2048, "the configured window while the server fails"
        assert len(llm.models_requests) == 1, "asked once, not retried within the call"

        llm.models_error = None
        assert chat.context_window() == 32768, "asked again once the server answers"
        assert chat.context_window() == 32768
        assert len(llm.models_requests) == 2, "a window the server reported is kept"


# ---- token counts ----

@pytest.mark.parametrize("route", ["/tokenize", "/extras/tokenize/count", None],
                         ids=["vLLM", "llama.cpp", "none"])
def test_a_token_count_route_the_server_lacks_is_not_asked_again(route) -> None:
    """vLLM has /tokenize and no /extras/tokenize/count: after its first 404 each count is one
    request, with the key; a server with neither gets the estimate without being asked."""
    with ScriptedLLM(api_key="secret-key", tokenize_route=route) as server:
        chat = chat_model(server, llm_api_key="secret-key")
        first = chat.count_tokens("The pump was serviced in May")
        server.other_posts.clear()
        second = chat.count_tokens("Five words are counted here")

    if route is None:
        assert (first, second) == (estimate_tokens("The pump was serviced in May"),
                                   estimate_tokens("Five words are counted here"))
        assert server.other_posts == []
    else:
        assert (first, second) == (6, 5)
        assert server.other_posts == [route]
