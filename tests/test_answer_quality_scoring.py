"""How the answer-quality benchmark scores an answer (tests/benchmarks/answer_quality.py):
the citations of the fact are those of the sentences that state it. Fast: no model."""

from __future__ import annotations

from tests.benchmarks.answer_gold import GoldQuestion
from tests.benchmarks.answer_quality import Result, fact_citations, score

GOLD = GoldQuestion(id="q", file="ntsb/r.pdf", question="Where did it happen?",
                    answers=("Seward",), pages=(1,), topic="location")
PAGES = {"ntsb/r.pdf": {1: "Location: Seward, AK", 2: "The pilot was not injured.",
                        3: "Weather: clear"}}


def result(answer: str, cited: list[int]) -> Result:
    return Result("docchat", "q", answer, False, [1, 2, 3], cited)


def test_the_fact_is_cited_by_the_sentences_that_state_it() -> None:
    answer = result("It happened in Seward, AK [1]. The pilot was not injured [2].", [1, 2])
    assert fact_citations(answer, GOLD) == [1]
    assert score({"q": answer}, [GOLD], PAGES).citations == [True]


def test_a_wrong_page_beside_the_right_one_counts_against_the_answer() -> None:
    answer = result("It happened in Seward, AK [1, 2].", [1, 3])
    assert score({"q": answer}, [GOLD], PAGES).citations == [True, False]


def test_a_fact_stated_without_a_citation_is_a_miss() -> None:
    answer = result("It happened in Seward. The weather was clear [1].", [3])
    assert fact_citations(answer, GOLD) == [None]
    assert score({"q": answer}, [GOLD], PAGES).citations == [False]


def test_a_fact_spread_over_sentences_is_cited_by_the_whole_answer() -> None:
    gold = GoldQuestion(id="q", file="ntsb/r.pdf", question="Where?",
                        answers=("Seward, AK",), pages=(1,), topic="location")
    answer = result("It was Seward,\nAK [1]. Clear [2].", [1, 3])
    assert fact_citations(answer, gold) == [1, 3]
