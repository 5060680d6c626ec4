"""Commitment extraction against the hand-made gold set in tests/data/commitments/ (English and
Russian; `--gold DIR` for another set, e.g. tests/data/commitments-heldout): precision and
recall of "who promised what" and deadline accuracy, docchat against the one-prompt recipe on
the configured LLM (`--quality-model`: Qwen2.5-Coder-1.5B-Instruct).

docchat: `retrieval.meetings.commitments.extract_commitments` (promise cues, rules, withdrawn and
repeated promises, deadlines from the words; it asks the model nothing — see that module for
why). Baseline: the plain LangChain recipe — the whole note in one prompt with a clear
instruction, JSON with exact quotes and ISO due dates, `JsonOutputParser`, no verification.

A predicted item matches a gold one when the promiser is the same person and their quotes
overlap (one contains the other, or they share at least half the words of the shorter; three
words at least) or their actions do (half the content words of the shorter); one-to-one.
Per-meeting lines, then precision, recall and due-date accuracy (on matched items whose gold
item has a due date) for all meetings and per language.

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
from retrieval.core.settings import Settings
from retrieval.llm.client import ChatModel
from retrieval.meetings.commitments import extract_commitments, normalize
from retrieval.meetings.segments import meeting_from_document
from tests.benchmarks.common import REPO, configured_llm, header, timed

GOLD = REPO / "tests" / "data" / "commitments"
# The recipe writes every item of a long meeting in one reply: room for it, so that it is not
# judged on a cut-off list.
RECIPE_REPLY_TOKENS = 2048


@dataclass
class Counts:
    predicted: int = 0
    gold: int = 0
    matched: int = 0
    with_due: int = 0  # matched items whose gold item has a due date
    due_right: int = 0  # ... and the predicted due is that date

    def add(self, other: Counts) -> None:
        for name in ("predicted", "gold", "matched", "with_due", "due_right"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def text(self) -> str:
        precision = self.matched / self.predicted if self.predicted else 0.0
        recall = self.matched / self.gold if self.gold else 0.0
        due = self.due_right / self.with_due if self.with_due else 0.0
        return (f"precision {precision:.2f}  recall {recall:.2f}  due {due:.2f} "
                f"({self.due_right}/{self.with_due})  matched {self.matched} of "
                f"{self.predicted} predicted, {self.gold} gold")


@dataclass
class Score:
    total: Counts = field(default_factory=Counts)
    per_language: dict[str, Counts] = field(default_factory=dict)
    dropped: int = 0
    errors: int = 0
    seconds: float = 0.0

    def add(self, language: str, predicted: list[dict], gold: list[dict]) -> Counts:
        pairs = match(predicted, gold)
        counts = Counts(len(predicted), len(gold), len(pairs),
                        sum(1 for _, g in pairs if g.get("due")),
                        sum(1 for p, g in pairs if g.get("due") and p.get("due") == g["due"]))
        self.total.add(counts)
        self.per_language.setdefault(language, Counts()).add(counts)
        return counts

    def lines(self, name: str) -> list[str]:
        head = (f"{name:<8} all  {self.total.text()}  dropped {self.dropped}  failed "
                f"requests {self.errors}  {self.seconds:.0f}s")
        return [head] + [f"{name:<8} {language:<4} {counts.text()}"
                         for language, counts in sorted(self.per_language.items())]


def gold_meetings(limit: int | None, folder: Path = GOLD) -> list[tuple[Path, dict]]:
    pairs = []
    for expected in sorted(folder.glob("*.expected.json")):
        stem = expected.name.removesuffix(".expected.json")
        source = next(p for p in folder.glob(f"{stem}.*") if p != expected)
        pairs.append((source, json.loads(expected.read_text(encoding="utf-8"))))
    return pairs[:limit]


def same_person(a: str | None, b: str | None) -> bool:
    first = [re.findall(r"\w+", normalize(x or ""))[:1] for x in (a, b)]
    return bool(first[0]) and first[0] == first[1]


def quotes_overlap(a: str, b: str) -> bool:
    """One quote holds the other, or they share half the words of the shorter; either way at
    least three words, so that "I'll do it" matches nothing by itself."""
    x, y = normalize(a), normalize(b)
    wx, wy = set(re.findall(r"\w+", x)), set(re.findall(r"\w+", y))
    if min(len(wx), len(wy)) < 3:
        return False
    if x in y or y in x:
        return True
    shared = len(wx & wy)
    return shared >= 3 and shared >= 0.5 * min(len(wx), len(wy))


def actions_overlap(a: str, b: str) -> bool:
    """The two `what`s share half the content words (stems of five letters) of the shorter,
    and at least two."""
    x, y = (_stems(t) for t in (a, b))
    shared = len(x & y)
    return shared >= 2 and shared >= 0.5 * min(len(x), len(y))


def _stems(text: str) -> set[str]:
    return {w[:5] for w in re.findall(r"\w+", normalize(text)) if len(w) >= 4}


def match(predicted: list[dict], gold: list[dict]) -> list[tuple[dict, dict]]:
    """One-to-one pairs: the same promiser, and an overlapping quote or action."""
    pairs, free = [], list(gold)
    for item in predicted:
        for g in free:
            if same_person(str(item.get("who") or ""), g["who"]) and (
                    quotes_overlap(str(item.get("quote") or ""), g["quote"])
                    or actions_overlap(str(item.get("what") or ""), g["what"])):
                pairs.append((item, g))
                free.remove(g)
                break
    return pairs


def docchat_run(meetings: list[tuple[Path, dict]]) -> Score:
    score = Score()
    for source, expected in meetings:
        text = source.read_text(encoding="utf-8")
        document = parse_text_upload(text, "gold", source.name)
        meeting = meeting_from_document(document, text,
                                        date.fromisoformat(expected["meeting_date"]))
        with timed() as elapsed:
            found = extract_commitments(meeting)
        score.seconds += elapsed[0]
        items = [c.model_dump(mode="json") for c in found.commitments]
        counts = score.add(expected["language"], items, expected["commitments"])
        score.dropped += found.dropped_unverified
        score.errors += len(found.warnings)
        print(f"  docchat  {source.name:<40} {counts.matched}/{counts.gold} found, "
              f"{counts.predicted} predicted, due {counts.due_right}/{counts.with_due}, "
              f"{found.dropped_unverified} turned down, {elapsed[0]:.0f}s", flush=True)
    return score


# The one-prompt recipe a user would try first: the whole note, a clear instruction, JSON with
# exact quotes, no verification. Its due is the date the model writes, given the meeting date.
_RECIPE = ChatPromptTemplate.from_messages([
    ("system", "List the commitments made in this meeting: promises by a participant to do "
               "something (including agreeing to a request). Return only a JSON list of "
               "objects with the keys who (the person who promised), what, to_whom (or null), "
               "due (the deadline as a YYYY-MM-DD date, or null; the meeting was on "
               "{meeting_date}) and quote (the exact words of the promise, copied from the "
               "notes)."),
    ("human", "{transcript}"),
])


def recipe_run(settings: Settings, meetings: list[tuple[Path, dict]]) -> Score:
    llm = ChatOpenAI(base_url=settings.llm_url, api_key=settings.llm_api_key,  # type: ignore[arg-type]
                     model=settings.llm_model, temperature=0, timeout=600,
                     max_completion_tokens=RECIPE_REPLY_TOKENS,
                     extra_body={"max_tokens": RECIPE_REPLY_TOKENS})
    chain = _RECIPE | llm | JsonOutputParser()
    score = Score()
    for source, expected in meetings:
        with timed() as elapsed:
            try:
                reply = chain.invoke({"transcript": source.read_text(encoding="utf-8"),
                                      "meeting_date": expected["meeting_date"]})
            except Exception as exc:  # the recipe has no error handling: count its failures
                print(f"  recipe   {source.name:<40} failed: {type(exc).__name__}")
                reply, score.errors = [], score.errors + 1
        score.seconds += elapsed[0]
        if isinstance(reply, dict):
            reply = next((v for v in reply.values() if isinstance(v, list)), [reply])
        items = [r for r in reply if isinstance(r, dict)] if isinstance(reply, list) else []
        counts = score.add(expected["language"], items, expected["commitments"])
        print(f"  recipe   {source.name:<40} {counts.matched}/{counts.gold} found, "
              f"{counts.predicted} predicted, due {counts.due_right}/{counts.with_due}, "
              f"{elapsed[0]:.0f}s", flush=True)
    return score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quality-model", action="store_true",
                        help="use Qwen2.5-Coder-1.5B-Instruct (fetched on first use, 1.1 GB)")
    parser.add_argument("--meetings", type=int, default=None)
    parser.add_argument("--gold", type=Path, default=GOLD, help="folder of meeting/expected "
                        "pairs (default: tests/data/commitments)")
    parser.add_argument("--no-recipe", action="store_true",
                        help="docchat only (it needs no LLM): seconds instead of an hour")
    args = parser.parse_args()
    meetings = gold_meetings(args.meetings, args.gold.resolve())
    header(f"Commitments: precision/recall against {args.gold.resolve()}")
    print(f"# meetings: {len(meetings)}, gold commitments: "
          f"{sum(len(e['commitments']) for _, e in meetings)}")
    ours = docchat_run(meetings)
    lines = ours.lines("docchat")
    if not args.no_recipe:
        with configured_llm(args.quality_model) as settings:
            print(f"# recipe model: {settings.llm_model} at {settings.llm_url} "
                  f"(context {ChatModel(settings).context_window()} tokens)")
            lines += recipe_run(settings, meetings).lines("recipe")
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
