"""Tables from documents and from messy records, against the hand-made gold tables in
tests/data/tables/: cell accuracy and the share of filled cells with verified evidence, docchat
against the one-prompt recipe on the same model, in the same run.

- NTSB: one row per report (the 20 PDFs in ../shared/eval/pdfs/ntsb) x date, location,
  aircraft, registration, injuries, phase of flight.
- Records: one row per line of records_en.txt and records_ru.txt (sales typed by people, in
  English and Russian) x date, customer, item, quantity, amount, currency, paid.

docchat: `retrieval.tables.extraction.extract_table`: one-row mode over `pdf_source` of each
report's pages as docchat's parser reads them; many-rows mode over `pasted_source` of each
records file. The recipe, the way LangChain's docs would have it: the whole document
(PyPDFLoader's pages joined, cut to fit the context) or all the record lines in one prompt,
"extract these fields as JSON" with the same column descriptions, asking for each value and the
exact quote that states it, `ChatOpenAI` + `JsonOutputParser` on the same server, temperature 0.

Scoring (tests/benchmarks/table_gold.py, printed with the figures): type-aware cell accuracy
over all gold cells; evidence share over filled cells. Record rows are paired one to one with
the gold lines, best agreeing pairs first; a gold line left unpaired counts all its cells wrong.

    python -m tests.benchmarks.table_extraction [--quality-model] [--only ntsb|records]
        [--limit N] [--pipelines docchat,recipe] [--results FILE] [--replay [DIR]]

Target, with --quality-model: docchat's cell accuracy >= 0.9, >= 0.98 of its filled cells with
verified evidence, and a higher accuracy than the recipe.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from langchain_community.document_loaders import PyPDFLoader
from langchain_core.output_parsers import JsonOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_openai import ChatOpenAI

from ingest.pdf import parse_pdf
from retrieval.core.settings import Settings
from retrieval.llm.client import ChatModel, estimate_tokens
from retrieval.tables.extraction import extract_table
from retrieval.tables.model import Cell, Column, Row
from retrieval.tables.sources import pasted_source, pdf_source
from tests.benchmarks.common import REPO, configured_llm, header, timed
from tests.benchmarks.llm_replay import Counts, replaying
from tests.benchmarks.table_gold import (
    EVAL_PDFS,
    TABLES,
    GoldColumn,
    GoldRow,
    as_json,
    correct,
    is_empty,
    load_ntsb,
    load_records,
    quote_in,
    rule_lines,
    supports,
)

PIPELINES = ("docchat", "recipe")
# The recipe's reply: room for every cell of every row with its quote (a long reply cut off
# would judge the recipe on a broken list), within the model's window.
RECIPE_ONE_ROW_TOKENS = 512
RECIPE_TOKENS_PER_CELL = 32
# Tokens kept free next to the recipe's prompt: chat template and the counter's error.
RECIPE_MARGIN = 96
TARGET_ACCURACY = 0.9
TARGET_EVIDENCE = 0.98
REPLIES = REPO / "data" / "llm-replies"


@dataclass
class Case:
    """One document the pipelines read: a report (one gold row) or a records file (many)."""

    set: str  # "ntsb" | "records"
    name: str  # the file's name
    columns: tuple[GoldColumn, ...]
    gold: list[GoldRow]
    texts: list[str]  # docchat's reading: a report's pages, or the records' lines
    recipe_text: str  # what the recipe reads: PyPDFLoader's pages joined, or the lines
    evidence_texts: list[str]  # where a quote may stand: both readings


@dataclass
class Prediction:
    value: Any
    quote: str
    status: str = ""  # docchat's cell status; "" for the recipe
    reason: str = ""  # docchat: why a cell is unverified


@dataclass
class Outcome:
    """One gold cell, as a pipeline filled it (a line of --results)."""

    pipeline: str
    set: str
    file: str
    line: int | None
    column: str
    gold: Any
    predicted: Any
    quote: str
    status: str
    reason: str
    correct: bool
    filled: bool
    quote_found: bool
    evidence: bool


@dataclass
class Run:
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    failures: int = 0
    extra_rows: int = 0


def columns_of(gold: Sequence[GoldColumn]) -> list[Column]:
    return [Column(c.name, c.type, c.description, c.values) for c in gold]  # type: ignore[arg-type]


# ---- the cases ----------------------------------------------------------------------------

def ntsb_cases(limit: int | None) -> list[Case]:
    table = load_ntsb()
    cases = []
    for row in table.rows[:limit]:
        path = EVAL_PDFS / "ntsb" / row.file
        pages = [p.text for p in parse_pdf(path.read_bytes(), path.stem, path.name,
                                           max_pages=100).pages]
        loaded = [d.page_content for d in PyPDFLoader(str(path)).load()]
        cases.append(Case("ntsb", row.file, table.columns, [row], pages, "\n\n".join(loaded),
                          pages + loaded))
    return cases


def records_cases(limit: int | None) -> list[Case]:
    table = load_records()
    cases = []
    for file in sorted({row.file for row in table.rows}):
        lines = (TABLES / file).read_text(encoding="utf-8").splitlines()[:limit]
        gold = [row for row in table.rows if row.file == file and row.line <= len(lines)]
        cases.append(Case("records", file, table.columns, gold, lines, "\n".join(lines),
                          ["\n".join(lines)]))
    return cases


# ---- docchat ------------------------------------------------------------------------------

def docchat_rows(case: Case, llm: ChatModel) -> list[dict[str, Prediction]]:
    columns = columns_of(case.columns)
    if case.set == "ntsb":
        source = pdf_source(Path(case.name).stem, case.name, case.texts)
        table = extract_table([source], columns, "one", llm)
    else:
        source = pasted_source("\n".join(case.texts), title=case.name)
        table = extract_table([source], columns, "many", llm)
    return [_predictions(row) for row in table.rows]


def _predictions(row: Row) -> dict[str, Prediction]:
    def shown(cell: Cell) -> Prediction:
        return Prediction(cell.value, cell.quote, cell.status, cell.reason)

    return {name: shown(cell) for name, cell in row.cells.items()}


# ---- the recipe ---------------------------------------------------------------------------

def _field_lines(columns: Sequence[GoldColumn]) -> str:
    lines = []
    for c in columns:
        kind = {"date": "a date as YYYY-MM-DD", "number": "a number", "boolean": "true or false",
                "text": "text"}.get(c.type, "one of: " + ", ".join(c.values))
        lines.append(f"- {c.name} ({kind}): {c.description}")
    return "\n".join(lines)


_ONE_ROW = (
    "Extract these fields from the document as JSON:\n{fields}\n\nReturn only a JSON object "
    "with one key per field; each value is an object {{{{\"value\": ..., \"quote\": ...}}}} "
    "where quote is the exact words copied from the document that state the value. Use "
    "null for a value the document does not state.")
_MANY_ROWS = (
    "Each line below is one record. Extract these fields from every record as JSON:\n"
    "{fields}\n\nReturn only a JSON list with one object per line, in order; each object has "
    "one key per field, whose value is an object {{{{\"value\": ..., \"quote\": ...}}}} where "
    "quote is the exact words copied from the line that state the value. Use null for a value "
    "the line does not state.")


class Recipe:
    def __init__(self, settings: Settings, llm: ChatModel) -> None:
        self.settings = settings
        self.llm = llm
        self.context = llm.context_window()

    def rows(self, case: Case) -> list[dict[str, Prediction]]:
        many = case.set == "records"
        fields = _field_lines(case.columns).replace("{", "{{").replace("}", "}}")
        system = (_MANY_ROWS if many else _ONE_ROW).format(fields=fields)
        if many:  # every line's row in one reply: what the window leaves, half of it at least
            wanted = RECIPE_TOKENS_PER_CELL * len(case.columns) * len(case.texts)
            prompt_tokens = self.llm.count_tokens(f"{system}\n{case.recipe_text}") + RECIPE_MARGIN
            reply_tokens = min(wanted, max(self.context // 2, self.context - prompt_tokens))
        else:
            reply_tokens = min(RECIPE_ONE_ROW_TOKENS, self.context // 2)
        text = self.fitted(case.recipe_text, system, reply_tokens)
        prompt = ChatPromptTemplate.from_messages([("system", system), ("human", "{document}")])
        llm = ChatOpenAI(base_url=self.settings.llm_url,
                         api_key=self.settings.llm_api_key,  # type: ignore[arg-type]
                         model=self.settings.llm_model, temperature=0, timeout=900,
                         max_retries=0, max_completion_tokens=reply_tokens,
                         extra_body={"max_tokens": reply_tokens})
        reply = (prompt | llm | JsonOutputParser()).invoke({"document": text})
        if many:
            if isinstance(reply, dict):
                reply = next((v for v in reply.values() if isinstance(v, list)), [reply])
            items = [r for r in reply if isinstance(r, dict)] if isinstance(reply, list) else []
        else:
            items = [reply] if isinstance(reply, dict) else []
        return [{c.name: _recipe_cell(item.get(c.name)) for c in case.columns} for item in items]

    def fitted(self, text: str, system: str, reply_tokens: int) -> str:
        """The text cut to what the window holds next to the instruction and the reply."""
        budget = self.context - reply_tokens - estimate_tokens(system) - RECIPE_MARGIN
        for _ in range(6):
            tokens = self.llm.count_tokens(text)
            if tokens <= budget:
                return text
            text = text[:int(len(text) * budget / tokens * 0.97)]
        return text


def _recipe_cell(raw: Any) -> Prediction:
    if isinstance(raw, dict):
        quote = raw.get("quote")
        return Prediction(raw.get("value"), quote if isinstance(quote, str) else "")
    return Prediction(raw, "")


# ---- scoring ------------------------------------------------------------------------------

def pair_rows(predicted: list[dict[str, Prediction]], gold: list[GoldRow],
              columns: Sequence[GoldColumn]) -> dict[int, int]:
    """Gold row index -> predicted row index, one to one, the pairs with the most right cells
    first (a pair with none is no pair)."""
    scored = []
    for p, row in enumerate(predicted):
        for g, gold_row in enumerate(gold):
            right = sum(correct(c, row[c.name].value, gold_row.cells[c.name]) for c in columns
                        if gold_row.cells[c.name].value is not None)
            if right:
                scored.append((-right, g, p))
    pairs: dict[int, int] = {}
    taken: set[int] = set()
    for _, g, p in sorted(scored):
        if g not in pairs and p not in taken:
            pairs[g] = p
            taken.add(p)
    return pairs


def is_filled(column: GoldColumn, value: Any) -> bool:
    """A value was given ("None" is one of the NTSB injuries, not an empty cell)."""
    if column.type == "enum" and isinstance(value, str):
        return any(value.strip().casefold() == v.casefold() for v in column.values) \
            or not is_empty(value)
    return not is_empty(value)


def score_case(pipeline: str, case: Case, predicted: list[dict[str, Prediction]]) -> Run:
    run = Run()
    pairs = ({0: 0} if predicted else {}) if case.set == "ntsb" else \
        pair_rows(predicted, case.gold, case.columns)
    run.extra_rows = len(predicted) - len(pairs)
    for g, gold_row in enumerate(case.gold):
        row = predicted[pairs[g]] if g in pairs else None
        for column in case.columns:
            gold = gold_row.cells[column.name]
            guess = row[column.name] if row is not None else Prediction(None, "", "absent")
            filled = is_filled(column, guess.value)
            found = filled and quote_in(guess.quote, case.evidence_texts)
            verified = found and supports(column, guess.value, guess.quote) and (
                pipeline != "docchat" or guess.status == "ok")
            run.outcomes.append(Outcome(
                pipeline, case.set, case.name, gold_row.line, column.name, gold.value,
                as_json(guess.value), guess.quote, guess.status, guess.reason,
                row is not None and correct(column, guess.value, gold), filled, found, verified))
    return run


def run_pipeline(pipeline: str, cases: list[Case], extract: Any) -> Run:
    total = Run()
    for case in cases:
        with timed() as elapsed:
            try:
                predicted = extract(case)
            except Exception as exc:  # noqa: BLE001 - a failed request counts, the run goes on
                print(f"  {pipeline:<8} {case.name:<24} failed: {type(exc).__name__}: "
                      f"{str(exc)[:160]}", flush=True)
                predicted, total.failures = [], total.failures + 1
        run = score_case(pipeline, case, predicted)
        total.seconds += elapsed[0]
        total.outcomes += run.outcomes
        total.extra_rows += run.extra_rows
        right = sum(o.correct for o in run.outcomes)
        print(f"  {pipeline:<8} {case.name:<24} {right}/{len(run.outcomes)} cells right, "
              f"{sum(o.evidence for o in run.outcomes)}/{sum(o.filled for o in run.outcomes)} "
              f"filled with evidence, {len(predicted)} rows, {elapsed[0]:.0f}s", flush=True)
    return total


# ---- report -------------------------------------------------------------------------------

def _share(part: int, whole: int) -> str:
    return f"{part / whole:.3f} ({part}/{whole})" if whole else "-"


def figures(outcomes: list[Outcome]) -> tuple[float, float]:
    filled = [o for o in outcomes if o.filled]
    accuracy = sum(o.correct for o in outcomes) / len(outcomes) if outcomes else 0.0
    evidence = sum(o.evidence for o in filled) / len(filled) if filled else 0.0
    return accuracy, evidence


def report(runs: dict[str, Run], sets: Sequence[str], columns: dict[str, tuple[GoldColumn, ...]],
           ) -> Iterator[str]:
    for name in sets:
        yield f"## {name}: accuracy | evidence (filled cells with a verified quote) | " \
              "quote found"
        for column in [c.name for c in columns[name]] + ["all"]:
            cells = []
            for pipeline, run in runs.items():
                mine = [o for o in run.outcomes if o.set == name
                        and (column == "all" or o.column == column)]
                filled = [o for o in mine if o.filled]
                cells.append(f"{pipeline} {_share(sum(o.correct for o in mine), len(mine))} | "
                             f"{_share(sum(o.evidence for o in filled), len(filled))} | "
                             f"{_share(sum(o.quote_found for o in filled), len(filled))}")
            yield f"{column:<16} " + "    ".join(cells)
    yield "## overall"
    for pipeline, run in runs.items():
        accuracy, evidence = figures(run.outcomes)
        filled = sum(o.filled for o in run.outcomes)
        yield (f"{pipeline:<8} cell accuracy {accuracy:.3f} ({sum(o.correct for o in run.outcomes)}"
               f"/{len(run.outcomes)})  evidence {evidence:.3f} of {filled} filled  extra rows "
               f"{run.extra_rows}  failed requests {run.failures}  {run.seconds:.0f}s")
    if "docchat" in runs:
        accuracy, evidence = figures(runs["docchat"].outcomes)
        above = "recipe" not in runs or accuracy > figures(runs["recipe"].outcomes)[0]
        met = accuracy >= TARGET_ACCURACY and evidence >= TARGET_EVIDENCE and above
        yield (f"target (quality model): docchat accuracy >= {TARGET_ACCURACY}, evidence >= "
               f"{TARGET_EVIDENCE}, above the recipe: {'met' if met else 'not met'} "
               f"(accuracy {accuracy:.3f}, evidence {evidence:.3f}"
               + (f", recipe {figures(runs['recipe'].outcomes)[0]:.3f})" if "recipe" in runs
                  else ")"))


@contextmanager
def replayed(settings: Settings, folder: Path | None,
             ) -> Iterator[tuple[Settings, Counts | None]]:
    """The settings the pipelines use: the server's own, or with `folder` the recording proxy
    in front of it (a folder per model and context when `folder` is REPLIES)."""
    if folder is None:
        yield settings, None
        return
    if folder == REPLIES:
        folder = REPLIES / f"{settings.llm_model}-{settings.llm_context}".replace("/", "_")
    with replaying(settings.llm_url, folder) as (url, counts):
        yield dataclasses.replace(settings, llm_base_url=url), counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quality-model", action="store_true",
                        help="use Qwen2.5-Coder-1.5B-Instruct (fetched on first use, 1.1 GB)")
    parser.add_argument("--only", choices=("ntsb", "records"), default=None)
    parser.add_argument("--limit", type=int, default=None,
                        help="the first N reports, and the first N lines of each records file")
    parser.add_argument("--pipelines", default=",".join(PIPELINES))
    parser.add_argument("--results", type=Path, default=None,
                        help="write each gold cell's outcome as a JSON line")
    parser.add_argument("--replay", type=Path, nargs="?", const=REPLIES, default=None,
                        help="record the model's replies in this folder and answer a request "
                             "made before from it (tests/benchmarks/llm_replay.py; default "
                             f"{REPLIES.relative_to(REPO)}/<model>-<context>)")
    args = parser.parse_args()
    pipelines = [p for p in args.pipelines.split(",") if p]
    if not set(pipelines) <= set(PIPELINES):
        parser.error(f"--pipelines takes {', '.join(PIPELINES)}")
    sets = [args.only] if args.only else ["ntsb", "records"]
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    header("Tables: cell accuracy and verified evidence against tests/data/tables")
    cases = (ntsb_cases(args.limit) if "ntsb" in sets else []) + \
        (records_cases(args.limit) if "records" in sets else [])
    print(f"# cases: {len(cases)}, gold cells: "
          f"{sum(len(r.cells) for c in cases for r in c.gold)}")
    for line in rule_lines():
        print(f"# {line}")
    runs: dict[str, Run] = {}
    with timed() as elapsed, configured_llm(args.quality_model) as served, \
            replayed(served, args.replay) as (settings, counts):
        llm = ChatModel(settings)
        print(f"# model: {settings.llm_model} at {served.llm_url} (context "
              f"{llm.context_window()} tokens)", flush=True)
        for pipeline in pipelines:
            if pipeline == "docchat":
                runs[pipeline] = run_pipeline(pipeline, cases, lambda c: docchat_rows(c, llm))
            else:
                recipe = Recipe(settings, llm)
                runs[pipeline] = run_pipeline(pipeline, cases, recipe.rows)
    if args.results is not None:
        args.results.parent.mkdir(parents=True, exist_ok=True)
        with args.results.open("w", encoding="utf-8") as out:
            for run in runs.values():
                for outcome in run.outcomes:
                    out.write(json.dumps(asdict(outcome), ensure_ascii=False) + "\n")
    columns = {"ntsb": load_ntsb().columns, "records": load_records().columns}
    for line in report(runs, sets, columns):
        print(line)
    if counts is not None:
        print(f"# replies: {counts.misses} asked of the model, {counts.hits} recorded before "
              f"(--replay {args.replay})")
    print(f"# elapsed: {elapsed[0]:.0f}s (model server start included)")


if __name__ == "__main__":
    main()
