"""The benchmarks' recording proxy (tests/benchmarks/llm_replay.py) in front of a scripted
server: a request made before is answered from the recording without reaching the model; a
changed one reaches it; an error the server gives to the request itself is recorded too,
one of a busy server is passed on and asked again."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from tests.benchmarks.llm_replay import replaying
from tests.scripted_llm import MODEL, VLLM_OVERFLOW, Error, ScriptedLLM


def ask(url: str, question: str) -> str:
    client = openai.OpenAI(base_url=url, api_key="none", max_retries=0)
    reply = client.chat.completions.create(
        model=MODEL, temperature=0, messages=[{"role": "user", "content": question}])
    return reply.choices[0].message.content or ""


def test_a_request_made_before_is_answered_from_the_recording(tmp_path: Path) -> None:
    answers = iter(["first", "second", "third"])
    with ScriptedLLM(lambda request: next(answers)) as llm:
        with replaying(llm.url, tmp_path) as (url, counts):
            assert ask(url, "one?") == "first"
            assert ask(url, "one?") == "first"  # recorded: the model is not asked again
            assert ask(url, "two?") == "second"
        assert [r.last for r in llm.requests] == ["one?", "two?"]
        assert (counts.hits, counts.misses) == (1, 2)
        with replaying(llm.url, tmp_path) as (url, counts):  # a later run, the same folder
            assert ask(url, "two?") == "second"
            assert ask(url, "three?") == "third"
        assert (counts.hits, counts.misses) == (1, 1)
        assert len(llm.requests) == 3


def test_an_answer_to_the_request_itself_is_recorded_a_busy_server_is_not(tmp_path: Path,
                                                                         ) -> None:
    busy = Error(503, "The server is busy.")
    with ScriptedLLM(lambda request: "fine").script(VLLM_OVERFLOW, busy) as llm:
        with replaying(llm.url, tmp_path) as (url, counts):
            for _ in range(2):  # the second from the recording
                with pytest.raises(openai.BadRequestError, match="maximum context length"):
                    ask(url, "long?")
            with pytest.raises(openai.InternalServerError, match="busy"):
                ask(url, "short?")
            assert ask(url, "short?") == "fine"  # asked again: the 503 was not kept
        assert [r.last for r in llm.requests] == ["long?", "short?", "short?"]
        assert (counts.hits, counts.misses) == (1, 3)
