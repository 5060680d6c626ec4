"""Meeting summaries against QMSum's reference answers to "Summarize the whole meeting."
(val), scored with ROUGE-L F1 — for whichever LLM is configured.

docchat: map-reduce over parts that fit the context window. Baseline: the plain LangChain
recipe — the transcript cut to what fits the window, one "summarize" prompt.

    python -m tests.benchmarks.summary_rouge [--quality-model] [--meetings N]

Each meeting is hours of transcript: on a 2-core CPU a 1.5B model takes minutes per meeting,
so the default is 3 meetings; --meetings 26 scores them all.
"""

from __future__ import annotations

import argparse
import json
import re

from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_openai import ChatOpenAI

from ingest.transcripts import turns_from_json
from retrieval.core.settings import Settings
from retrieval.llm.client import ChatModel, estimate_tokens
from retrieval.meetings.segments import meeting_from_document
from retrieval.meetings.summaries import summarize
from tests.benchmarks.common import EVAL, configured_llm, header, timed

QUERY = "summarize the whole meeting"


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 over lower-cased word tokens (longest common subsequence)."""
    a, b = re.findall(r"\w+", candidate.lower()), re.findall(r"\w+", reference.lower())
    if not a or not b:
        return 0.0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if x == y else max(previous[j], current[-1]))
        previous = current
    lcs = previous[-1]
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(a), lcs / len(b)
    return 2 * precision * recall / (precision + recall)


def meetings_with_reference(limit: int) -> list[tuple[dict, str]]:
    found = []
    for line in (EVAL / "qmsum" / "val.jsonl").open(encoding="utf-8"):
        meeting = json.loads(line)
        for query in meeting.get("general_query_list", []):
            if query["query"].strip().rstrip(".").lower() == QUERY:
                found.append((meeting, query["answer"]))
                break
    return found[:limit]


_RECIPE = ChatPromptTemplate.from_messages([
    ("system", "Summarize the whole meeting."),
    ("human", "{transcript}"),
])


def recipe_summary(settings: Settings, turns: list[dict], context: int) -> str:
    """The transcript cut to what the window holds (by the same conservative token estimate),
    then one prompt."""
    room = context - settings.summary_max_tokens - 200
    lines, used = [], 0
    for turn in turns:
        line = f"{turn['speaker']}: {turn['content']}"
        used += estimate_tokens(line)
        if used > room:
            break
        lines.append(line)
    llm = ChatOpenAI(base_url=settings.llm_url, api_key=settings.llm_api_key,  # type: ignore[arg-type]
                     model=settings.llm_model, temperature=0, timeout=settings.llm_timeout,
                     max_completion_tokens=settings.summary_max_tokens)
    chain = _RECIPE | llm | StrOutputParser()
    return str(chain.invoke({"transcript": "\n".join(lines)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quality-model", action="store_true",
                        help="use Qwen2.5-Coder-1.5B-Instruct (fetched on first use, 1.1 GB)")
    parser.add_argument("--meetings", type=int, default=3)
    args = parser.parse_args()
    header("Meeting summaries: ROUGE-L F1 against QMSum 'Summarize the whole meeting.'")
    meetings = meetings_with_reference(args.meetings)
    with configured_llm(args.quality_model) as settings:
        chat = ChatModel(settings)
        context = chat.context_window()
        print(f"# model: {settings.llm_model} (context {context} tokens); "
              f"meetings: {len(meetings)}")
        ours, theirs = [], []
        for number, (raw, reference) in enumerate(meetings, start=1):
            document = turns_from_json(raw["meeting_transcripts"], f"m{number}", f"m{number}")
            meeting = meeting_from_document(document)
            with timed() as ours_s:
                summary = summarize(chat, meeting, settings.summary_max_tokens)
            with timed() as theirs_s:
                baseline = recipe_summary(settings, raw["meeting_transcripts"], context)
            ours.append(rouge_l(summary.summary, reference))
            theirs.append(rouge_l(baseline, reference))
            print(f"  meeting {number}: {len(meeting.segments)} turns, {summary.parts} parts  "
                  f"docchat {ours[-1]:.3f} ({ours_s[0]:.0f}s)  recipe {theirs[-1]:.3f} "
                  f"({theirs_s[0]:.0f}s)", flush=True)
    print(f"docchat   ROUGE-L F1 {sum(ours) / len(ours):.3f}  (map-reduce over the whole "
          "meeting)")
    print(f"recipe    ROUGE-L F1 {sum(theirs) / len(theirs):.3f}  (first "
          f"{context}-token window only)")


if __name__ == "__main__":
    main()
