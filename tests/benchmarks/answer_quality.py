"""Answer quality on real PDFs: does the model read the gold page, state the gold fact, cite
the page that holds it, and decline only what the documents cannot answer?

The gold set (tests/data/answer-quality/questions.jsonl) was written by hand from the NTSB
reports and NIH protocols in ../shared/eval/pdfs; every gold fact is checked to stand on its
gold page (tests/test_answer_gold.py). Each question is asked scoped to its document.

docchat: the real ingest path and answerer (budget from the served window, relevance gate,
citations). The recipe: LangChain's RetrievalQA "stuff" chain as its docs show it —
PyPDFLoader pages, RecursiveCharacterTextSplitter 1,000/200, the same all-MiniLM-L6-v2, FAISS,
the 4 best chunks of the document, the chain's chat prompt — on the same model, same
temperature (0) and reply length, in the same run.

    python -m tests.benchmarks.answer_quality [--quality-model] [--sample N] [--no-llm]
        [--pipelines docchat,recipe] [--context-chars N] [--results FILE]

(a) gold page in what the model reads; (b) fact match: an accepted form of the gold fact
occurs in the answer (normalized, on word boundaries; no model judges); (c) citation
precision: cited pages that hold the fact, over the answers that state it (the citations of
the sentences that state it; an uncited one counts as a miss); (d) refusals of
answerable questions and answers to unanswerable ones. `--no-llm` measures (a) and docchat's
gate (the part of (d) decided before a model is asked) on every question in seconds.
`--results` keeps each answer as a JSON line and skips questions already there, so a long run
on a CPU can be stopped and resumed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from retrieval.answers.answer import GATE_PASSAGES, Question
from retrieval.answers.attribution import cited_numbers, split_sentences
from retrieval.core.language import language_of
from retrieval.core.settings import Settings
from retrieval.runtime import Runtime
from retrieval.search.hybrid import PassageRef
from retrieval.search.indexing import index_document
from retrieval.storage.store import ChunkFilter
from tests.benchmarks.answer_gold import GoldQuestion, fact_match, load_questions, page_holds
from tests.benchmarks.common import configured_llm, header, langchain_embeddings, timed
from tests.conftest import store_upload

RECIPE_K = 4
# What "the documents do not say" looks like in a reply, in either pipeline's words.
_REFUSAL = re.compile(
    r"\b(?:do(?:es)? not (?:say|mention|specify|provide|contain|state|include|give|answer)"
    r"|don'?t know|not (?:mentioned|specified|provided|stated|given|available|found|included)"
    r"|no (?:information|mention|details?)|(?:cannot|can'?t|unable to) (?:be )?(?:determine|"
    r"find|answer|tell|predict|provide|say)|не (?:сказано|указано|упоминается|могу|знаю)"
    r"|нет (?:информации|данных))\b", re.I)


@dataclass
class Result:
    """One pipeline's answer to one question, as kept in the results file."""

    pipeline: str
    id: str
    answer: str
    refused: bool
    context_pages: list[int]
    cited_pages: list[int] = field(default_factory=list)
    seconds: float = 0.0
    relevance: float | None = None  # docchat's gate score, in --no-llm runs
    withdrawn: list[str] = field(default_factory=list)  # docchat: sentences the checks dropped


@dataclass
class Tally:
    context: list[bool] = field(default_factory=list)
    facts: list[bool] = field(default_factory=list)
    citations: list[bool] = field(default_factory=list)
    refused_answerable: list[bool] = field(default_factory=list)
    answered_unanswerable: list[bool] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def is_refusal(text: str) -> bool:
    return bool(_REFUSAL.search(text))


def sample(questions: list[GoldQuestion], size: int | None, seed: int = 15,
           ) -> list[GoldQuestion]:
    """`size` questions, answerable and unanswerable in the set's proportions, every topic
    represented as evenly as the size allows; all of them when `size` is None."""
    if size is None or size >= len(questions):
        return questions
    rng = random.Random(seed)
    unanswerable = [q for q in questions if not q.answerable]
    wanted = round(size * len(unanswerable) / len(questions))
    chosen = rng.sample(unanswerable, wanted)
    by_topic: dict[str, list[GoldQuestion]] = {}
    for q in questions:
        if q.answerable:
            by_topic.setdefault(f"{q.file.split('/')[0]}:{q.topic}", []).append(q)
    for group in by_topic.values():
        rng.shuffle(group)
    while len(chosen) < size:
        for group in by_topic.values():
            if group and len(chosen) < size:
                chosen.append(group.pop())
    return sorted(chosen, key=lambda q: q.id)


def page_texts(runtime: Runtime, document_id: str) -> dict[int, str]:
    """Each page's text as docchat indexed it (its chunks joined), to check cited pages."""
    pages: dict[int, list[str]] = {}
    for chunk in runtime.store.chunks_in_range(document_id, 0, 10**9):
        if chunk.page is not None:
            pages.setdefault(chunk.page, []).append(chunk.text)
    return {page: "\n".join(texts) for page, texts in pages.items()}


class Docchat:
    """The real thing: uploads indexed by docchat's ingest path, questions to its answerer."""

    name = "docchat"

    def __init__(self, settings: Settings, files: Iterable[Path]) -> None:
        self.runtime = Runtime(settings)
        self.documents: dict[str, str] = {}  # eval-relative file -> document id
        for path in sorted(set(files)):
            record = store_upload(self.runtime, path)
            index_document(self.runtime, record.id)
            self.documents[f"{path.parent.name}/{path.name}"] = record.id
        self.pages = {file: page_texts(self.runtime, document_id)
                      for file, document_id in self.documents.items()}

    def question(self, gold: GoldQuestion) -> Question:
        where = ChunkFilter("default", document_ids=(self.documents[gold.file],))
        return Question(gold.question, where=where, temperature=0.0)

    def gate(self, gold: GoldQuestion) -> Result:
        """What docchat decides before a model is asked: the passages and the gate."""
        answerer = self.runtime.answerer
        question = self.question(gold)
        budget = answerer.budget(gold.question, language_of(gold.question))
        hits = answerer.passages(question, gold.question, budget)
        relevance = answerer.relevance(gold.question, self.runtime.retriever.search(
            gold.question, k=GATE_PASSAGES, where=question.where))
        return Result(self.name, gold.id, "", relevance < answerer.min_relevance,
                      sorted({h.page for h in hits if h.page is not None}),
                      relevance=relevance)

    def answer(self, gold: GoldQuestion) -> Result:
        with timed() as elapsed:
            answer = self.runtime.answerer.answer(self.question(gold))
        pages = self._context_pages(answer.context)
        return Result(self.name, gold.id, answer.answer,
                      not answer.grounded or is_refusal(answer.answer), pages,
                      [c.hit.page for c in answer.citations if c.hit.page is not None],
                      elapsed[0], withdrawn=answer.withdrawn)

    def _context_pages(self, refs: Sequence[PassageRef]) -> list[int]:
        pages: set[int] = set()
        for ref in refs:
            rows = self.runtime.store.chunks_in_range(ref.document_id, ref.first_ordinal,
                                                      ref.last_ordinal)
            pages.update(row.page for row in rows if row.page is not None)
        return sorted(pages)


class Recipe:
    """LangChain's RetrievalQA "stuff" recipe, one FAISS store per document."""

    name = "recipe"
    SYSTEM = ("Use the following pieces of context to answer the user's question. \n"
              "If you don't know the answer, just say that you don't know, don't try to make "
              "up an answer.\n----------------\n{context}")

    def __init__(self, settings: Settings | None, files: Iterable[Path]) -> None:
        from langchain_community.document_loaders import PyPDFLoader
        from langchain_community.vectorstores import FAISS
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
        embeddings = langchain_embeddings()
        self.stores = {}
        for path in sorted(set(files)):
            chunks = splitter.split_documents(PyPDFLoader(str(path)).load())
            self.stores[f"{path.parent.name}/{path.name}"] = FAISS.from_documents(chunks,
                                                                                  embeddings)
        self.llm = None
        if settings is not None:
            from langchain_openai import ChatOpenAI

            self.llm = ChatOpenAI(
                base_url=settings.llm_url, api_key=settings.llm_api_key,  # type: ignore[arg-type]
                model=settings.llm_model, temperature=0, timeout=900, max_retries=0,
                extra_body={"max_tokens": settings.llm_max_tokens})

    def _chunks(self, gold: GoldQuestion) -> list:  # type: ignore[type-arg]
        return self.stores[gold.file].similarity_search(gold.question, k=RECIPE_K)

    def gate(self, gold: GoldQuestion) -> Result:
        pages = sorted({int(c.metadata["page"]) + 1 for c in self._chunks(gold)})
        return Result(self.name, gold.id, "", False, pages)

    def answer(self, gold: GoldQuestion) -> Result:
        from langchain_core.prompts import ChatPromptTemplate

        assert self.llm is not None
        chunks = self._chunks(gold)
        prompt = ChatPromptTemplate.from_messages([("system", self.SYSTEM),
                                                   ("human", "{question}")])
        messages = prompt.format_messages(
            context="\n\n".join(c.page_content for c in chunks), question=gold.question)
        with timed() as elapsed:
            reply = self.llm.invoke(messages)
        text = reply.content if isinstance(reply.content, str) else ""
        return Result(self.name, gold.id, text, is_refusal(text),
                      sorted({int(c.metadata["page"]) + 1 for c in chunks}), [], elapsed[0])


def score(results: dict[str, Result], questions: list[GoldQuestion],
          pages: dict[str, dict[int, str]]) -> Tally:
    tally = Tally()
    for gold in questions:
        result = results.get(gold.id)
        if result is None:
            continue
        tally.seconds.append(result.seconds)
        refused = result.refused or is_refusal(result.answer)
        if not gold.answerable:
            tally.answered_unanswerable.append(not refused)
            continue
        tally.context.append(any(p in gold.pages for p in result.context_pages))
        # "The dose is 16 mg/kg; the frequency is not stated." states the fact: an answer
        # that holds it is no refusal, whatever else it says it cannot find.
        stated = fact_match(result.answer, gold.answers)
        tally.refused_answerable.append(refused and not stated)
        tally.facts.append(stated)
        if stated:
            held = pages.get(gold.file, {})
            tally.citations.extend(
                p is not None and any(page_holds(held.get(p, ""), a) for a in gold.answers)
                for p in fact_citations(result, gold))
    return tally


def fact_citations(result: Result, gold: GoldQuestion) -> list[int | None]:
    """The pages cited for the gold fact: those of the sentences that state it ("It happened
    in Seward [1]. The pilot was hurt [2]." cites page [1] for the location), or of the whole
    answer when no one sentence does; None for a sentence that states it with no citation."""
    sentences = [s for s in split_sentences(result.answer) if fact_match(s, gold.answers)]
    if not sentences:
        return list(result.cited_pages)
    cited: list[int | None] = []
    for sentence in sentences:
        numbers = cited_numbers(sentence)
        cited.extend(result.cited_pages[n - 1] if n <= len(result.cited_pages) else None
                     for n in numbers)
        if not numbers:
            cited.append(None)
    return cited


def share(values: list[bool]) -> str:
    return f"{sum(values) / len(values):.2f} ({sum(values)}/{len(values)})" if values else "—"


def load_results(path: Path | None) -> dict[tuple[str, str], Result]:
    if path is None or not path.exists():
        return {}
    kept: dict[tuple[str, str], Result] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            result = Result(**json.loads(line))
            kept[(result.pipeline, result.id)] = result
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quality-model", action="store_true",
                        help="Qwen2.5-Coder-1.5B-Instruct, 8k context (default: the configured "
                             "LLM, the bundled one unless DOCCHAT_LLM_BASE_URL says otherwise)")
    parser.add_argument("--sample", type=int, default=None,
                        help="this many questions, every topic represented (default: all)")
    parser.add_argument("--no-llm", action="store_true",
                        help="only what is decided before a model is asked: (a) and the gate")
    parser.add_argument("--pipelines", default="docchat,recipe")
    parser.add_argument("--only", choices=("answerable", "unanswerable"), default=None,
                        help="only the questions of this kind (after --sample)")
    parser.add_argument("--match", default=None,
                        help="only the questions whose id matches this regular expression")
    parser.add_argument("--context", type=int, default=8192,
                        help="the model's context window in tokens (default 8192)")
    parser.add_argument("--context-chars", type=int, default=None,
                        help="cap docchat's passages at this many characters "
                             "(DOCCHAT_ANSWER_CONTEXT_CHARS; default: the setting's)")
    parser.add_argument("--results", type=Path, default=None,
                        help="a JSON-lines file: answers are appended, finished ones skipped")
    parser.add_argument("--score-only", action="store_true",
                        help="score the answers in --results that every pipeline gave, "
                             "asking no model (a run stopped early)")
    args = parser.parse_args()
    if args.score_only:
        _score_only(args)
        return
    header("Answer quality: NTSB reports and NIH protocols, each question scoped to its PDF")
    questions = selected(args)
    files = [q.path for q in questions]
    pipelines = args.pipelines.split(",")
    print(f"# questions: {sum(q.answerable for q in questions)} answerable, "
          f"{sum(not q.answerable for q in questions)} unanswerable, "
          f"{len(set(files))} documents")
    with tempfile.TemporaryDirectory() as tmp, _llm(args) as settings:
        settings = dataclasses.replace(settings, data_dir=Path(tmp))
        if args.context_chars is not None:
            settings = dataclasses.replace(settings, answer_context_chars=args.context_chars)
        print(f"# model: {settings.llm_model if not args.no_llm else 'none'}; window "
              f"{settings.llm_context} tokens; docchat cap {settings.answer_context_chars} "
              f"chars; recipe {RECIPE_K} chunks of 1,000 chars", flush=True)
        docchat = Docchat(settings, files)  # also what each page says, to check citations
        pages = docchat.pages
        runners: dict[str, Docchat | Recipe] = {}
        if "docchat" in pipelines:
            runners["docchat"] = docchat
        if "recipe" in pipelines:
            runners["recipe"] = Recipe(None if args.no_llm else settings, files)
        done = load_results(None if args.no_llm else args.results)
        results: dict[str, dict[str, Result]] = {name: {} for name in runners}
        # Question by question, each pipeline in turn: a run stopped early still compares
        # the pipelines on the same questions.
        for number, gold in enumerate(questions, start=1):
            for name, runner in runners.items():
                if (name, gold.id) in done:
                    results[name][gold.id] = done[(name, gold.id)]
                    continue
                result = runner.gate(gold) if args.no_llm else runner.answer(gold)
                results[name][gold.id] = result
                if args.results is not None and not args.no_llm:
                    with args.results.open("a") as out:
                        out.write(json.dumps(dataclasses.asdict(result)) + "\n")
                if not args.no_llm:
                    print(f"# {name} {number}/{len(questions)} {gold.id} "
                          f"{result.seconds:.0f}s: {result.answer[:100]!r}", flush=True)
            if args.no_llm and number % 50 == 0:
                print(f"# {number}/{len(questions)}", flush=True)
        rows = [(name, score(results[name], questions, pages)) for name in runners]
        sweep = _sweep(results["docchat"], questions) if "docchat" in results else []
    _report(rows, args.no_llm)
    if args.no_llm and sweep:
        print("\n| DOCCHAT_MIN_RELEVANCE | answerable refused by the gate "
              "| unanswerable passed by the gate |\n| --- | --- | --- |")
        for line in sweep:
            print(line)


def selected(args: argparse.Namespace) -> list[GoldQuestion]:
    """The questions --sample, --only and --match choose."""
    return [q for q in sample(load_questions(), args.sample)
            if (args.only is None or q.answerable == (args.only == "answerable"))
            and (args.match is None or re.search(args.match, q.id))]


def _score_only(args: argparse.Namespace) -> None:
    header("Answer quality: answers kept in a results file, scored")
    done = load_results(args.results)
    pipelines = args.pipelines.split(",")
    questions = [q for q in selected(args) if all((name, q.id) in done for name in pipelines)]
    print(f"# questions every pipeline answered: {sum(q.answerable for q in questions)} "
          f"answerable, {sum(not q.answerable for q in questions)} unanswerable, from "
          f"{args.results}")
    with tempfile.TemporaryDirectory() as tmp:
        settings = dataclasses.replace(Settings.from_env(), data_dir=Path(tmp),
                                       llm_base_url="http://127.0.0.1:9/v1")
        pages = Docchat(settings, [q.path for q in questions]).pages
    rows = [(name, score({q.id: done[(name, q.id)] for q in questions}, questions, pages))
            for name in pipelines]
    _report(rows, no_llm=False)


def _sweep(results: dict[str, Result], questions: list[GoldQuestion]) -> list[str]:
    """The gate's refusals at other thresholds, from the scores of this run."""
    lines = []
    refused_now = [q.id + (f" (gate {results[q.id].relevance:.2f})"
                           if results[q.id].relevance is not None else " (after the model)")
                   for q in questions if q.answerable and results[q.id].refused]
    print(f"# answerable questions refused: {', '.join(refused_now) or 'none'}")
    for threshold in (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4):
        refused = [(results[q.id].relevance or 0.0) < threshold for q in questions
                   if q.answerable]
        passed = [(results[q.id].relevance or 0.0) >= threshold for q in questions
                  if not q.answerable]
        lines.append(f"| {threshold:.2f} | {share(refused)} | {share(passed)} |")
    return lines


def _llm(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    if args.no_llm:
        from contextlib import nullcontext

        # No server: the window is taken as --context, tokens are estimated.
        return nullcontext(dataclasses.replace(
            Settings.from_env(), llm_base_url="http://127.0.0.1:9/v1",
            llm_context=args.context))
    return configured_llm(args.quality_model, args.context)


def _report(rows: list[tuple[str, Tally]], no_llm: bool) -> None:
    print()
    if no_llm:
        print("| pipeline | (a) gold page in context | answerable refused by the gate "
              "| unanswerable passed by the gate |")
        print("| --- | --- | --- | --- |")
        for name, t in rows:
            gate = name == "docchat"
            print(f"| {name} | {share(t.context)} | "
                  f"{share(t.refused_answerable) if gate else '—'} | "
                  f"{share(t.answered_unanswerable) if gate else '—'} |")
        return
    print("| pipeline | (a) gold page in context | (b) fact match | (c) citation precision "
          "| (d) answerable refused | (d) unanswerable answered | s/answer |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, t in rows:
        mean = sum(t.seconds) / len(t.seconds) if t.seconds else 0.0
        print(f"| {name} | {share(t.context)} | {share(t.facts)} | {share(t.citations)} | "
              f"{share(t.refused_answerable)} | {share(t.answered_unanswerable)} | "
              f"{mean:.0f} |")


if __name__ == "__main__":
    main()
