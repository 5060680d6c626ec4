"""What a citation quotes: the sentence or table row of its passage that supports the claims
citing it, not the whole passage (which the passage view shows)."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from ingest.tables import is_table_row
from retrieval.search.embeddings import Embeds

# A sentence ends at . ! ? followed by whitespace; a line longer than this is cut at its
# sentences, a unit still longer stays whole (a form's run-on line).
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")
_LONG_UNIT = 400
_WORD = re.compile(r"\w+")
_NUMBER = re.compile(r"\d+(?:[.,/:]\d+)*")


def passage_units(passage: str) -> list[str]:
    """The passage as units to compare claims with: each table row (ingest.tables writes cells
    joined by ' | ') under its header row, so a figure is read with its column, and the
    sentences of the prose between tables (PDF lines joined first: a line break is layout,
    not the end of a sentence)."""
    return [scored for scored, _ in _units(passage)]


def _units(passage: str) -> list[tuple[str, str]]:
    """Each unit as (what is compared, what is quoted): a table row is compared under its
    header row but quoted alone, so that a quote is text of the page (whitespace aside) that
    the passage view can find and mark, not two rows the page keeps apart."""
    units: list[tuple[str, str]] = []
    prose: list[str] = []
    header: str | None = None

    def flush() -> None:
        sentences = _sentences(" ".join(prose).strip())
        # A form's lines ("Location: Seward, AK Accident Number: ...") have no full stops:
        # joined, they would make one unit of the whole form.
        chosen = prose if any(len(s) > _LONG_UNIT for s in sentences) else sentences
        units.extend((text, text) for text in chosen)
        prose.clear()

    for line in (ln.strip() for ln in passage.splitlines()):
        if is_table_row(line):
            flush()
            if header is None:
                header = line
                units.append((line, line))
            else:
                units.append((f"{header}\n{line}", line))
            continue
        header = None
        if line:
            prose.append(line)
        else:
            flush()
    flush()
    return units


def _sentences(text: str) -> list[str]:
    return [p.strip() for p in _SENTENCE_END.split(text) if p.strip()]


def supporting_quote(claims: Sequence[str], passage: str, embedder: Embeds) -> str:
    """The sentence or table row of `passage` that best supports `claims`: most similar in
    meaning, with the claims' numbers and words counting extra (a figure or a name decides
    between two rows that read alike). A row is judged under its header row and quoted alone.
    The whole passage when it is one unit or nothing cites it."""
    units = _units(passage)
    claim = " ".join(c for c in claims if c.strip())
    if len(units) <= 1 or not claim:
        return passage.strip()
    compared = [scored for scored, _ in units]
    vectors = embedder.embed([claim] + compared)  # (1 + units, dim), normalized
    best = int(np.argmax(unit_scores(claim, compared, vectors[1:] @ vectors[0])))
    return units[best][1]


def unit_scores(claim: str, units: Sequence[str], similarity: np.ndarray) -> np.ndarray:
    """How well each unit supports `claim`: its cosine similarity (`similarity`: (units,)),
    with the claim's numbers and words counting extra (a figure or a name decides between two
    rows that read alike)."""
    words = _words(claim)
    numbers = set(_NUMBER.findall(claim))
    return np.array([float(similarity[i]) + 0.5 * _share(words, _words(unit))
                     + 0.5 * _share(numbers, set(_NUMBER.findall(unit)))
                     for i, unit in enumerate(units)])


def _words(text: str) -> set[str]:
    return {w[:5] for w in _WORD.findall(text.lower()) if len(w) >= 4}


def _share(wanted: set[str], present: set[str]) -> float:
    return len(wanted & present) / len(wanted) if wanted else 0.0
