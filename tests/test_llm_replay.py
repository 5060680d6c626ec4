"""The benchmarks' recording proxy (tests/benchmarks/llm_replay.py) in front of a scripted
server: a request made before is answered from the recording without reaching the model; a
changed one reaches it; an error is passed on and never recorded."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from tests.benchmarks.llm_replay import replaying
from tests.scripted_llm import MODEL, VLLM_OVERFLOW, ScriptedLLM


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


def test_an_error_is_passed_on_and_not_recorded(tmp_path: Path) -> None:
    with ScriptedLLM(lambda request: "fine").script(VLLM_OVERFLOW) as llm:
        with replaying(llm.url, tmp_path) as (url, counts):
            with pytest.raises(openai.BadRequestError, match="maximum context length"):
                ask(url, "long?")
            assert ask(url, "long?") == "fine"  # asked again: the error was not kept
        assert len(llm.requests) == 2
        assert len(list(tmp_path.glob("*.json"))) == 1
