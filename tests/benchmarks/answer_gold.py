"""The hand-made answer-quality gold set (tests/data/answer-quality/): questions asked of one
real PDF each (NTSB accident reports, NIH trial protocols), with the short facts a correct
answer must contain, the pages that hold them, and questions the document cannot answer.

Light to import: no model, no PDF parser. `fact_match` is the scoring rule: an answer is
right when it contains one accepted variant, compared after `normalize`, on word boundaries.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EVAL_PDFS = REPO.parent / "shared" / "eval" / "pdfs"
GOLD = REPO / "tests" / "data" / "answer-quality" / "questions.jsonl"


@dataclass(frozen=True)
class GoldQuestion:
    id: str
    file: str  # relative to EVAL_PDFS, e.g. "ntsb/20080116X00061.pdf"
    question: str
    answers: tuple[str, ...]  # answers[0] is verbatim on one of `pages`; the rest are variants
    pages: tuple[int, ...]  # 1-based pages that hold the fact
    topic: str  # "unanswerable" for questions the document does not answer

    @property
    def answerable(self) -> bool:
        return bool(self.answers)

    @property
    def path(self) -> Path:
        return EVAL_PDFS / self.file


def load_questions(path: Path = GOLD) -> list[GoldQuestion]:
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            questions.append(GoldQuestion(
                id=row["id"], file=row["file"], question=row["question"],
                answers=tuple(row["answers"]), pages=tuple(row["pages"]), topic=row["topic"],
            ))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: bad gold question ({exc})") from exc
    return questions


# "1,234" -> "1234" (a comma between a digit and exactly three more digits).
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
# Tokens: numbers that keep "." and "/" between digits (30.27, 11/29/2007), runs of letters and
# digits, and "%". Everything else (punctuation, symbols, "_", spaces) separates tokens.
_TOKEN = re.compile(r"\d+(?:[./]\d+)+|[^\W_]+|%")


# Numbers written as words, read as digits: "a ten-month study" states "10 months".
NUMBER_WORDS = {word: str(n) for n, word in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty".split())}
NUMBER_WORDS.update({"thirty": "30", "forty": "40", "fifty": "50", "sixty": "60",
                     "hundred": "100"})


def normalize(text: str) -> str:
    """NFKC, lower case, thousands commas dropped, punctuation runs to one space, number words
    as digits, a plural -s dropped (months, month), stripped."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _THOUSANDS.sub("", text)
    return " ".join(_singular(NUMBER_WORDS.get(token, token)) for token in _TOKEN.findall(text))


def _singular(token: str) -> str:
    return token[:-1] if len(token) > 3 and token.endswith("s") and not token.endswith("ss") \
        else token


def _holds(normalized_text: str, fact: str) -> bool:
    needle = normalize(fact)
    if not needle:
        return False
    return re.search(r"(?<!\S)" + re.escape(needle) + r"(?!\S)", normalized_text) is not None


def fact_match(answer: str, answers: Sequence[str]) -> bool:
    """True when some accepted variant occurs in the answer, on word boundaries."""
    text = normalize(answer)
    return any(_holds(text, variant) for variant in answers)


def page_holds(page_text: str, fact: str) -> bool:
    """True when a page's text holds the fact by the same rule as `fact_match`."""
    return _holds(normalize(page_text), fact)
