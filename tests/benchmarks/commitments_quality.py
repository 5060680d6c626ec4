"""Commitment extraction against the hand-made gold set in tests/data/commitments/ (English and
Russian): precision and recall of "who promised what", deadline accuracy, and how many items
quote verification dropped — for whichever LLM is configured.

docchat: schema-constrained output per part, quotes verified against the turns, deadlines
resolved from the meeting date. Baseline: the plain LangChain recipe — the whole transcript in
one prompt, `JsonOutputParser`, no verification.

A predicted item matches a gold one when the promiser is the same person and their quotes
overlap (one contains the other, or they share at least half their words); one-to-one.

    python -m tests.benchmarks.commitments_quality [--quality-model] [--meetings N]
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from langchain_core.output_parsers import JsonOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_openai import ChatOpenAI

from ingest.formats import parse_text_upload
from retrieval.commitments import extract_commitments, normalize
from retrieval.llm import ChatModel
from retrieval.meetings import meeting_from_document
from retrieval.settings import Settings
from tests.benchmarks.common import REPO, configured_llm, header, timed

GOLD = REPO / "tests" / "data" / "commitments"


@dataclass
class Score:
    predicted: int = 0
    gold: int = 0
    matched: int = 0
    due_right: int = 0
    dropped: int = 0
    errors: int = 0
    seconds: float = 0.0
    per_language: dict[str, list[int]] = field(default_factory=dict)

    def add(self, language: str, predicted: int, gold: int, matched: int) -> None:
        self.predicted += predicted
        self.gold += gold
        self.matched += matched
        counts = self.per_language.setdefault(language, [0, 0, 0])
        for i, n in enumerate((predicted, gold, matched)):
            counts[i] += n

    def line(self, name: str) -> str:
        precision = self.matched / self.predicted if self.predicted else 0.0
        recall = self.matched / self.gold if self.gold else 0.0
        by_language = "  ".join(
            f"{lang}: P {m / p if p else 0:.2f} R {m / g if g else 0:.2f}"
            for lang, (p, g, m) in sorted(self.per_language.items()))
        due = f"{self.due_right}/{self.matched}" if self.matched else "-"
        return (f"{name:<10} precision {precision:.2f}  recall {recall:.2f}  "
                f"(matched {self.matched} of {self.predicted} predicted, {self.gold} gold)  "
                f"due right {due}  dropped unverified {self.dropped}  failed requests "
                f"{self.errors}  {self.seconds:.0f}s   [{by_language}]")


def gold_meetings(limit: int | None) -> list[tuple[Path, dict]]:
    pairs = []
    for expected in sorted(GOLD.glob("*.expected.json")):
        stem = expected.name.removesuffix(".expected.json")
        source = next(p for p in GOLD.glob(f"{stem}.*") if p != expected)
        pairs.append((source, json.loads(expected.read_text(encoding="utf-8"))))
    return pairs[:limit]


def same_person(a: str | None, b: str | None) -> bool:
    first = [re.findall(r"\w+", normalize(x or ""))[:1] for x in (a, b)]
    return bool(first[0]) and first[0] == first[1]


def quotes_overlap(a: str, b: str) -> bool:
    x, y = normalize(a), normalize(b)
    if not x or not y:
        return False
    if x in y or y in x:
        return True
    wx, wy = set(re.findall(r"\w+", x)), set(re.findall(r"\w+", y))
    return len(wx & wy) >= 0.5 * min(len(wx), len(wy))


def match(predicted: list[dict], gold: list[dict]) -> list[tuple[dict, dict]]:
    pairs, free = [], list(gold)
    for item in predicted:
        for g in free:
            if same_person(item.get("who"), g["who"]) and quotes_overlap(
                    str(item.get("quote") or ""), g["quote"]):
                pairs.append((item, g))
                free.remove(g)
                break
    return pairs


def docchat_run(settings: Settings, meetings: list[tuple[Path, dict]]) -> Score:
    chat, score = ChatModel(settings), Score()
    for source, expected in meetings:
        text = source.read_text(encoding="utf-8")
        document = parse_text_upload(text, "gold", source.name)
        meeting = meeting_from_document(document, text,
                                        date.fromisoformat(expected["meeting_date"]))
        with timed() as elapsed:
            found = extract_commitments(chat, meeting, settings.summary_max_tokens)
        score.seconds += elapsed[0]
        items = [c.to_json(meeting.unit) for c in found.items]
        pairs = match(items, expected["commitments"])
        score.add(expected["language"], len(items), len(expected["commitments"]), len(pairs))
        score.due_right += sum(1 for p, g in pairs if p.get("due") == g.get("due"))
        score.dropped += found.dropped_unverified
        score.errors += len(found.warnings)
        print(f"  docchat  {source.name:<40} {len(pairs)}/{len(expected['commitments'])} "
              f"found, {len(items)} predicted, {found.dropped_unverified} dropped, "
              f"{elapsed[0]:.0f}s", flush=True)
    return score


_RECIPE = ChatPromptTemplate.from_messages([
    ("system", "Extract the commitments (promises to do something) from the meeting. "
               "Return a JSON list of objects with keys who, what, to_whom, due, quote."),
    ("human", "{transcript}"),
])


def recipe_run(settings: Settings, meetings: list[tuple[Path, dict]]) -> Score:
    llm = ChatOpenAI(base_url=settings.llm_url, api_key=settings.llm_api_key,  # type: ignore[arg-type]
                     model=settings.llm_model, temperature=0, timeout=settings.llm_timeout,
                     max_completion_tokens=settings.summary_max_tokens)
    chain = _RECIPE | llm | JsonOutputParser()
    score = Score()
    for source, expected in meetings:
        with timed() as elapsed:
            try:
                reply = chain.invoke({"transcript": source.read_text(encoding="utf-8")})
            except Exception as exc:  # the recipe has no error handling: count its failures
                print(f"  recipe   {source.name:<40} failed: {type(exc).__name__}")
                reply, score.errors = [], score.errors + 1
        score.seconds += elapsed[0]
        if isinstance(reply, dict):
            reply = next((v for v in reply.values() if isinstance(v, list)), [reply])
        items = [r for r in reply if isinstance(r, dict)] if isinstance(reply, list) else []
        pairs = match(items, expected["commitments"])
        score.add(expected["language"], len(items), len(expected["commitments"]), len(pairs))
        score.due_right += sum(1 for p, g in pairs if p.get("due") == g.get("due"))
        print(f"  recipe   {source.name:<40} {len(pairs)}/{len(expected['commitments'])} "
              f"found, {len(items)} predicted, {elapsed[0]:.0f}s", flush=True)
    return score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quality-model", action="store_true",
                        help="use Qwen2.5-Coder-1.5B-Instruct (fetched on first use, 1.1 GB)")
    parser.add_argument("--meetings", type=int, default=None)
    args = parser.parse_args()
    meetings = gold_meetings(args.meetings)
    header("Commitments: precision/recall against tests/data/commitments")
    with configured_llm(args.quality_model) as settings:
        print(f"# model: {settings.llm_model} at {settings.llm_url} "
              f"(context {ChatModel(settings).context_window()} tokens)")
        print(f"# meetings: {len(meetings)}, gold commitments: "
              f"{sum(len(e['commitments']) for _, e in meetings)}")
        ours = docchat_run(settings, meetings)
        theirs = recipe_run(settings, meetings)
    print(ours.line("docchat"))
    print(theirs.line("recipe"))


if __name__ == "__main__":
    main()
