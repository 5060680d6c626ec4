"""Every branch of docchat that depends on what the LLM server answers, each forced by a
scripted OpenAI-compatible server (tests/scripted_llm.py) and checked on what was sent and what
came back: repair of invalid structured replies, detection of the structured-output mode,
context overflows (and the halving of a summary part that overflows), servers that fail or are
not there, turn numbers a model invents, and meeting parts whose replies are unusable."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel

from ingest.formats import parse_text_upload
from retrieval.core.settings import Settings
from retrieval.llm.client import (
    ChatModel,
    ContextOverflow,
    LLMUnavailable,
    StructuredOutputError,
    inline_refs,
)
from retrieval.meetings.request import MeetingInputError, MeetingRequest, run
from retrieval.meetings.segments import Meeting, meeting_from_document
from retrieval.meetings.summaries import DraftSummary, MeetingSummary, NoUsableSummary, summarize
from retrieval.runtime import Runtime
from tests.scripted_llm import (
    LLAMA_CPP_NO_JSON_SCHEMA,
    LLAMA_CPP_OVERFLOW,
    MODEL,
    SERVER_ERROR,
    VLLM_ENGINE_OVERFLOW,
    VLLM_OVERFLOW,
    ChatRequest,
    Error,
    ScriptedLLM,
    Text,
)
from web import create_app

QUESTION: list[BaseMessage] = [SystemMessage("You judge meetings."),
                               HumanMessage("Anna: I'll send the deck by Friday.")]
# Words of a parser's complaint, which a person reading a summary's warnings must not see.
PARSER_WORDS = ("Invalid JSON", "validation error", "EOF", "json_invalid", "Field required",
                "pydantic", "StructuredOutputError", "Traceback")


class Verdict(BaseModel):
    """A small schema with a nested model: pydantic refers to Reason by reference, which the
    schema sent to the server must not do."""

    class Reason(BaseModel):
        text: str
        turn: int

    answer: str
    reasons: list[Reason]


VALID_VERDICT = '{"answer": "a promise", "reasons": [{"text": "says I\'ll", "turn": 0}]}'


@pytest.fixture()
def llm():
    with ScriptedLLM() as server:
        yield server


def chat_model(server: ScriptedLLM, **overrides) -> ChatModel:
    return ChatModel(Settings(llm_base_url=server.url, llm_model=MODEL, **overrides))


def formats(server: ScriptedLLM) -> list[str | None]:
    return [request.format_type for request in server.requests]


# ---- structured output: repair ----

@pytest.mark.parametrize(("first_reply", "problem"), [
    ('{"answer": "a promise", "reasons": [{"text": "says', "Invalid JSON"),
    ('{"answer": "a promise"}', "reasons: Field required"),
])
def test_invalid_structured_reply_is_repaired_with_the_problem_and_the_schema(
        llm, first_reply, problem) -> None:
    llm.script(first_reply, VALID_VERDICT)
    verdict = chat_model(llm, llm_structured_output="json_schema").structured(QUESTION, Verdict)

    assert verdict == Verdict(answer="a promise",
                              reasons=[Verdict.Reason(text="says I'll", turn=0)])
    assert len(llm.requests) == 2 and llm.pending == []
    asked, repair = llm.requests
    assert asked.messages == [{"role": "system", "content": "You judge meetings."},
                              {"role": "user", "content": "Anna: I'll send the deck by Friday."}]
    # The repair carries the conversation so far, the model's own reply, then the complaint.
    assert repair.messages[:2] == asked.messages
    assert repair.messages[2] == {"role": "assistant", "content": first_reply}
    complaint = repair.messages[3]["content"]
    assert problem in complaint
    schema = inline_refs(Verdict.model_json_schema())
    assert json.dumps(schema) in complaint and '"$ref"' not in json.dumps(schema)
    assert repair.response_format == asked.response_format == {
        "type": "json_schema", "json_schema": {"name": "Verdict", "schema": schema}}
    assert repair.body["temperature"] == 0.0


def test_structured_reply_invalid_twice_fails_naming_the_model(llm) -> None:
    llm.script("Sure! Here is the verdict: a promise.", '{"answer": 3}')
    with pytest.raises(StructuredOutputError) as failure:
        chat_model(llm, llm_structured_output="json_schema").structured(QUESTION, Verdict)

    assert f"({MODEL})" in str(failure.value) and "Verdict" in str(failure.value)
    assert len(llm.requests) == 2, "one repair request, no more"
    assert llm.requests[1].messages[2]["content"] == "Sure! Here is the verdict: a promise."


# ---- structured output: which request shape the server takes ----

def test_auto_mode_falls_back_to_json_object_when_llama_cpp_refuses_json_schema(llm) -> None:
    llm.when(lambda request: request.format_type == "json_schema", LLAMA_CPP_NO_JSON_SCHEMA)
    llm.script(VALID_VERDICT, VALID_VERDICT)
    chat = chat_model(llm, llm_structured_output="auto")

    first = chat.structured(QUESTION, Verdict)
    assert formats(llm) == ["json_schema", "json_schema", "json_object"], (
        "json_schema, the openai client's one retry of the 500, then json_object")
    second = chat.structured(QUESTION, Verdict)

    assert first == second == Verdict.model_validate_json(VALID_VERDICT)
    assert formats(llm) == ["json_schema", "json_schema", "json_object", "json_object"]
    schema = inline_refs(Verdict.model_json_schema())
    assert llm.requests[2].response_format == {"type": "json_object", "schema": schema}
    assert [type(r.answer) for r in llm.requests] == [Error, Error, Text, Text]


def test_auto_mode_uses_json_schema_first_on_a_server_that_takes_it(llm) -> None:
    llm.script(VALID_VERDICT, VALID_VERDICT)
    chat = chat_model(llm, llm_structured_output="auto")

    assert chat.structured(QUESTION, Verdict).answer == "a promise"
    assert chat.structured(QUESTION, Verdict).answer == "a promise"
    assert formats(llm) == ["json_schema", "json_schema"]
    assert llm.requests[0].response_format == {
        "type": "json_schema",
        "json_schema": {"name": "Verdict", "schema": inline_refs(Verdict.model_json_schema())}}


# ---- context overflow ----

CALLS: dict[str, Callable[[ChatModel], object]] = {
    "complete": lambda chat: chat.complete(QUESTION),
    "stream": lambda chat: list(chat.stream(QUESTION)),
    "structured": lambda chat: chat.structured(QUESTION, Verdict),
}


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("overflow", [LLAMA_CPP_OVERFLOW, VLLM_OVERFLOW, VLLM_ENGINE_OVERFLOW],
                         ids=["llama.cpp", "vLLM", "vLLM engine"])
def test_context_overflow_is_raised_as_such_and_not_retried(llm, call, overflow) -> None:
    llm.script(overflow)
    with pytest.raises(ContextOverflow) as raised:
        CALLS[call](chat_model(llm))

    assert "8192" in str(raised.value)
    assert len(llm.requests) == 1, "no retry, and no other structured-output mode tried"
    assert llm.requests[0].answer == overflow
    assert llm.requests[0].streamed == (call == "stream")


def numbered_meeting(turns: int) -> Meeting:
    speakers = ("Anna", "Boris", "Chen")
    text = "\n".join(f"{speakers[n % 3]}: Point {n} is about the pump order for site {n}."
                     for n in range(turns))
    return meeting_from_document(parse_text_upload(text, "meeting", "sync.md"), text)


def turn_range(request: ChatRequest) -> tuple[int, int]:
    """The turns a map (or plain) request is about, from its 'sync.md, turns a-b:' line."""
    found = re.search(r"turns (\d+)-(\d+):", request.prompt)
    assert found, request.prompt
    return int(found.group(1)), int(found.group(2))


def is_map(request: ChatRequest) -> bool:
    return request.system.startswith("You summarize part of a meeting")


def is_plain(request: ChatRequest) -> bool:
    return request.system.startswith("Summarize this part of a meeting")


def is_reduce(request: ChatRequest) -> bool:
    return request.system.startswith("Below are summaries")


def draft_of(first: int, last: int) -> str:
    """A valid DraftSummary for turns first-last, with a decision on its first turn."""
    return DraftSummary.model_validate({
        "summary": f"Turns {first}-{last} were about pumps.",
        "decisions": [{"text": f"Order pumps for site {first}.", "turn_start": first,
                       "turn_end": first}],
        "open_questions": []}).model_dump_json()


INVALID_DRAFT = '{"summary": "Anna will send the deck'  # cut off, as max_tokens cuts it


def script_meeting(llm: ScriptedLLM, usable: Callable[[tuple[int, int]], bool],
                   plain: Callable[[tuple[int, int]], str]) -> None:
    """Map requests get a valid draft for ranges `usable` accepts, else cut-off JSON (repair
    requests too); plain requests get `plain(range)`; reduce requests join what they got."""
    llm.when(lambda r: is_map(r) and usable(turn_range(r)), lambda r: draft_of(*turn_range(r)))
    llm.when(is_map, INVALID_DRAFT)
    llm.when(is_plain, lambda r: plain(turn_range(r)))
    llm.when(is_reduce, lambda r: "Whole meeting: " + " | ".join(
        re.findall(r"Part \d+: (.*)", r.last)))


def summarize_in_parts(llm: ScriptedLLM, turns: int) -> MeetingSummary:
    """Parts of two or three turns each (64 tokens of transcript)."""
    return summarize(chat_model(llm), numbered_meeting(turns), reply_tokens=200,
                     part_tokens=64)


def map_ranges(llm: ScriptedLLM) -> list[tuple[int, int]]:
    """The range of each part, from the first structured request for it."""
    ranges = []
    for request in llm.requests:
        if is_map(request) and len(request.messages) == 2:
            ranges.append(turn_range(request))
    return ranges


def test_summary_part_that_overflows_is_halved_and_both_halves_are_asked(llm) -> None:
    meeting = numbered_meeting(8)
    llm.when(lambda r: is_map(r) and turn_range(r) == (0, 7), VLLM_OVERFLOW)
    llm.when(is_map, lambda r: draft_of(*turn_range(r)))
    llm.when(is_reduce, "The meeting ordered pumps for sites 0 and 4.")

    result = summarize(chat_model(llm), meeting, reply_tokens=200)

    assert [(is_map(r), is_reduce(r)) for r in llm.requests] == [
        (True, False), (True, False), (True, False), (False, True)]
    assert [turn_range(r) for r in llm.requests[:3]] == [(0, 7), (0, 3), (4, 7)]
    reduce = llm.requests[3].last
    assert "Part 1: Turns 0-3 were about pumps." in reduce
    assert "Part 2: Turns 4-7 were about pumps." in reduce
    assert result.summary == "The meeting ordered pumps for sites 0 and 4."
    assert [(p.text, p.start, p.end) for p in result.decisions] == [
        ("Order pumps for site 0.", 0, 0), ("Order pumps for site 4.", 4, 4)]
    assert result.parts == 1 and result.warnings == []


def test_points_on_turns_outside_their_part_are_tied_to_the_part(llm) -> None:
    """The model's turn numbers are checked against the part it was shown: an invented one
    ties the point to the whole part, reversed ones are put in order, and a decision two
    parts both report is kept once."""
    def draft(request: ChatRequest) -> str:
        first, last = turn_range(request)
        return json.dumps({
            "summary": f"Turns {first}-{last}.",
            "decisions": [{"text": "Order the pumps." if first == 0 else "order the PUMPS",
                           "turn_start": 99, "turn_end": 99}],
            "open_questions": [{"text": f"Who pays for site {first}?", "turn_start": last,
                                "turn_end": first}]})

    llm.when(is_map, draft).when(is_reduce, "Pumps were ordered.")
    result = summarize_in_parts(llm, 6)

    parts = map_ranges(llm)
    assert len(parts) >= 2 and result.summary == "Pumps were ordered."
    assert [(p.text, p.start, p.end) for p in result.decisions] == [
        ("Order the pumps.", *parts[0])]
    assert [(p.text, p.start, p.end) for p in result.open_questions] == [
        (f"Who pays for site {first}?", first, last) for first, last in parts]


# ---- a server that fails, or is not there ----

@pytest.mark.parametrize("call", CALLS)
def test_server_errors_make_the_model_unavailable(llm, call) -> None:
    llm.when(lambda request: True, LLAMA_CPP_NO_JSON_SCHEMA if call == "structured"
             else SERVER_ERROR)
    chat = chat_model(llm)
    with pytest.raises(LLMUnavailable) as raised:
        CALLS[call](chat)

    assert str(raised.value).startswith(f"The language model at {llm.url} is not answering")
    assert "literal_error" not in str(raised.value)
    if call == "structured":  # each mode tried, each 500 retried once by the openai client
        assert formats(llm) == ["json_schema", "json_schema", "json_object", "json_object",
                                None, None]
        assert "schema" in llm.requests[-1].last, "the prompt mode spells the schema out"
    else:
        assert len(llm.requests) == 2, "one retry of a 500, then the error"


@pytest.mark.parametrize("call", CALLS)
def test_unreachable_server_makes_the_model_unavailable(call) -> None:
    with ScriptedLLM() as gone:
        chat = chat_model(gone)
    with pytest.raises(LLMUnavailable) as raised:
        CALLS[call](chat)
    assert re.search(r"is not answering \(\w*ConnectionError\)", str(raised.value))


MEETING_NOTES = ("Anna: I'll send the deck to Boris by Friday.\n"
                 "Boris: Thanks. The pricing table still needs the EU numbers.\n"
                 "Chen: Staging moves to the new cluster next week.\n")


def summarize_through_api(server_url: str, tmp_path):
    app = create_app(Settings(data_dir=tmp_path, llm_base_url=server_url, llm_model=MODEL,
                              rate_limit_per_minute=0))
    return app.test_client().post("/api/meetings/summarize",
                                  json={"text": MEETING_NOTES, "mode": "wait"})


def assert_plain_503(response, server_url: str) -> None:
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["code"] == "llm_unavailable"
    assert error["message"].startswith(f"The language model at {server_url} is not answering")
    for leak in ("Traceback", 'File "', "line 376", "literal_error", "Error code", "{"):
        assert leak not in error["message"]


def test_summary_api_answers_503_in_plain_words_when_the_server_fails(tmp_path) -> None:
    with ScriptedLLM(lambda request: LLAMA_CPP_NO_JSON_SCHEMA) as llm:
        response = summarize_through_api(llm.url, tmp_path)
        assert len(llm.requests) == 6, "three structured-output modes, each retried once"
        assert_plain_503(response, llm.url)


def test_summary_api_answers_503_in_plain_words_when_the_server_is_not_there(tmp_path) -> None:
    with ScriptedLLM() as gone:
        url = gone.url
    assert_plain_503(summarize_through_api(url, tmp_path), url)


# ---- meeting parts whose replies are unusable ----

def test_parts_without_valid_structured_replies_are_summarized_as_plain_text(llm) -> None:
    script_meeting(llm, usable=lambda _: False,
                   plain=lambda turns: f"Plain summary of turns {turns[0]}-{turns[1]}.")
    result = summarize_in_parts(llm, 6)

    parts = map_ranges(llm)
    assert result.parts == len(parts) >= 2
    assert [r for first, last in parts for r in range(first, last + 1)] == list(range(6))
    plain = [turn_range(r) for r in llm.requests if is_plain(r)]
    assert plain == parts, "one plain request per part, for the same turns"
    repairs = [r for r in llm.requests if is_map(r) and len(r.messages) == 4]
    assert len(repairs) == len(parts)
    assert all(r.format_type is None for r in llm.requests if is_plain(r) or is_reduce(r))

    expected = " | ".join(f"Plain summary of turns {a}-{b}." for a, b in parts)
    assert result.summary == f"Whole meeting: {expected}"
    assert result.decisions == [] and result.open_questions == []
    assert len(result.warnings) == 1
    warning = result.warnings[0]
    assert warning.startswith("The language model did not return usable decisions")
    assert " and ".join(f"{a}-{b}" for a, b in parts) in warning and "summarized" in warning
    for word in PARSER_WORDS:
        assert word not in warning


def test_meeting_with_no_usable_model_output_is_refused(llm) -> None:
    script_meeting(llm, usable=lambda _: False, plain=lambda _: "  ")
    with pytest.raises(NoUsableSummary) as raised:
        summarize_in_parts(llm, 6)

    assert f"({MODEL})" in str(raised.value) and "larger model" in str(raised.value)
    assert len([r for r in llm.requests if is_plain(r)]) == len(map_ranges(llm)) >= 2
    assert not any(is_reduce(r) for r in llm.requests)


def test_meeting_request_with_no_usable_model_output_is_a_422_input_error(tmp_path) -> None:
    with ScriptedLLM() as llm:
        script_meeting(llm, usable=lambda _: False, plain=lambda _: "")
        settings = Settings(data_dir=tmp_path, llm_base_url=llm.url, llm_model=MODEL)
        with pytest.raises(MeetingInputError) as raised:
            run(Runtime(settings), MeetingRequest(task="summarize", text=MEETING_NOTES))

    assert (raised.value.status, raised.value.code) == (422, "model_output_unusable")
    assert f"({MODEL})" in raised.value.message
    assert [turn_range(r) for r in llm.requests if is_plain(r)] == [(0, 2)]


def test_summary_api_answers_422_when_no_model_output_is_usable(tmp_path) -> None:
    with ScriptedLLM() as llm:
        script_meeting(llm, usable=lambda _: False, plain=lambda _: "")
        response = summarize_through_api(llm.url, tmp_path)
        assert any(is_plain(r) for r in llm.requests)

    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "model_output_unusable"
    assert f"({MODEL})" in error["message"] and "larger model" in error["message"]
    for word in PARSER_WORDS:
        assert word not in error["message"]


def test_reduce_uses_only_the_parts_that_gave_a_summary(llm) -> None:
    ranges: list[tuple[int, int]] = []

    def usable(turns: tuple[int, int]) -> bool:
        """Every part but the second gives a valid draft."""
        if turns not in ranges:
            ranges.append(turns)
        return ranges.index(turns) != 1

    script_meeting(llm, usable=usable, plain=lambda _: "")
    result = summarize_in_parts(llm, 9)

    parts = map_ranges(llm)
    assert len(parts) >= 3
    failed = parts[1]
    good = [p for p in parts if p != failed]
    drafts = [f"Turns {first}-{last} were about pumps." for first, last in good]
    reduces = [r for r in llm.requests if is_reduce(r)]
    assert len(reduces) == 1, "the drafts fit one reduce request"
    assert re.findall(r"Part \d+: (.*)", reduces[0].last) == drafts
    assert [turn_range(r) for r in llm.requests if is_plain(r)] == [failed]
    assert result.summary == "Whole meeting: " + " | ".join(drafts)
    assert [p.start for p in result.decisions] == [first for first, _ in good]
    assert len(result.warnings) == 1
    assert f"turns {failed[0]}-{failed[1]}: the summary leaves them out" in result.warnings[0]


@pytest.mark.parametrize("usable", [{(0, 3)}, set()], ids=["second half fails", "both fail"])
def test_half_of_an_overflowing_part_that_fails_is_summarized_as_plain_text(
        llm, usable) -> None:
    meeting = numbered_meeting(8)
    llm.when(lambda r: not is_reduce(r) and turn_range(r) == (0, 7), VLLM_OVERFLOW)
    script_meeting(llm, usable=lambda turns: turns in usable,
                   plain=lambda turns: f"Plain summary of turns {turns[0]}-{turns[1]}.")

    result = summarize(chat_model(llm), meeting, reply_tokens=200)

    failed = [turns for turns in ((0, 3), (4, 7)) if turns not in usable]
    assert [turn_range(r) for r in llm.requests if is_plain(r)] == failed
    first = "Turns 0-3 were about pumps." if (0, 3) in usable else "Plain summary of turns 0-3."
    assert result.summary == f"Whole meeting: {first} | Plain summary of turns 4-7."
    assert "turns " + " and ".join(f"{a}-{b}" for a, b in failed) in result.warnings[0]
