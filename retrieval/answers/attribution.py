"""Tie every sentence of an answer to the passage it rests on.

Models cite unevenly (small ones hardly at all), so citations come from two places: numbers the
model wrote that match a retrieved passage are kept; an uncited sentence is matched to the
passage most similar to it in embedding space, and cited only when that similarity clears a
threshold. Numbers that match no retrieved passage are removed from the text, and where a
sentence ends in several sources ("… in Seward, AK [1]. [2]"), those that support it clearly
worse than the best of them are removed too: a small model cites every source it read. A
sentence whose sources all support it clearly worse than another passage does cites that one
instead: a small model often cites the page it read beside the one that holds the figure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from retrieval.answers.quotes import passage_units, unit_scores
from retrieval.search.embeddings import Embeds
from retrieval.search.hybrid import Hit

# Units of a passage compared with an uncited claim: a merged passage of a large budget can
# hold hundreds of lines; its first ones are the chunk search found.
MAX_UNITS_PER_PASSAGE = 40
CANDIDATE_PASSAGES = 5
# A source cited at the end of a sentence beside others is kept when its best unit supports
# the sentence (quotes.unit_scores: cosine, plus shares of the claim's words and numbers) within
# this much of the best cited source's.
TRIM_MARGIN = 0.2
# A sentence's sources give way to another passage of the answer's when that one supports it
# by this much more: a figure or a name of the sentence that it holds and they do not is worth
# up to 0.5 (quotes.unit_scores). Seen: "The target enrollment is 38 participants [2]." with
# 38 on the page before the cited one, and a report's "Dusk" cited to its first page.
RECITE_MARGIN = 0.3
# Units of a cited passage compared with the sentence that cites it.
MAX_TRIM_UNITS = 200

_CITATION = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")
# A sentence ends at . ! ? (or a line break) followed by whitespace; citation markers right
# after the punctuation stay with the sentence they follow, at the end of the text too.
_SENTENCE = re.compile(r".+?(?:[.!?](?:\s*\[\d+(?:\s*,\s*\d+)*\])*(?=\s|$)|\n|$)", re.S)


@dataclass(frozen=True)
class Attribution:
    text: str  # the answer with citation markers, invented ones removed
    cited: list[tuple[int, str]]  # (source number, "model" | "match") in order of first use


def cited_numbers(text: str) -> list[int]:
    """Citation numbers in order of first appearance: '[2] ... [1, 3]' -> [2, 1, 3]."""
    seen: list[int] = []
    for match in _CITATION.finditer(text):
        for number in match.group(1).split(","):
            n = int(number)
            if n not in seen:
                seen.append(n)
    return seen


def without_markers(text: str) -> str:
    """The text with its citation markers removed: 'It snowed [1, 2].' -> 'It snowed.'"""
    return _CITATION.sub("", text)


def claims_by_source(sentences: Sequence[str]) -> dict[int, list[str]]:
    """For each source number, the answer's sentences that cite it, markers removed."""
    found: dict[int, list[str]] = {}
    for sentence in sentences:
        claim = without_markers(sentence).strip()
        for n in cited_numbers(sentence):
            found.setdefault(n, []).append(claim)
    return found


def split_sentences(text: str) -> list[str]:
    return [m.group(0) for m in _SENTENCE.finditer(text) if m.group(0)]


def attribute(text: str, hits: list[Hit], embedder: Embeds, min_similarity: float,
              ) -> Attribution:
    sentences = split_sentences(text)
    valid = range(1, len(hits) + 1)
    kept, by_match = recite(
        trim_citations([_keep_valid_markers(_leading_to_end(s), valid) for s in sentences],
                       hits, embedder), hits, embedder)
    uncited = [i for i, s in enumerate(kept) if not cited_numbers(s) and is_claim(s)]
    if uncited and hits:
        claims = [kept[i].strip() for i in uncited]
        for i, best in zip(uncited, best_sources(claims, hits, embedder, min_similarity),
                           strict=True):
            if best is not None:
                kept[i] = _append_marker(kept[i], best)
                by_match.add(best)
    final = "".join(kept)
    order = cited_numbers(final)
    model_cited = {n for s in kept for n in cited_numbers(s)} - by_match
    return Attribution(
        text=final,
        cited=[(n, "model" if n in model_cited else "match") for n in order],
    )


def best_sources(claims: list[str], hits: list[Hit], embedder: Embeds,
                 min_similarity: float) -> list[int | None]:
    """For each claim, the number (1-based) of the passage that supports it, or None.

    A claim is compared with each sentence and table row of the passages as well as with
    whole passages: "It happened at Seward, AK." restates one line of a report's first page,
    not the page. It is supported when its best cosine similarity, to a unit or a passage,
    reaches `min_similarity`; among the units, the claim's numbers and words decide between
    two that read alike (quotes.unit_scores)."""
    passages = embedder.embed([hit.text for hit in hits])  # (hits, dim)
    claim_vectors = embedder.embed(claims)  # (claims, dim)
    # Units of the passages closest to some claim only: a large budget holds hundreds.
    closest = {int(n) for row in claim_vectors @ passages.T
               for n in np.argsort(-row)[:CANDIDATE_PASSAGES]}
    owners: list[int] = []
    units: list[str] = []
    for n in sorted(closest):
        for unit in passage_units(hits[n].text)[:MAX_UNITS_PER_PASSAGE]:
            owners.append(n + 1)
            units.append(unit)
    unit_vectors = embedder.embed(units) if units else passages[:0]  # (units, dim)
    chosen: list[int | None] = []
    for row, claim in enumerate(claim_vectors):
        by_passage = passages @ claim
        best, best_cosine = int(np.argmax(by_passage)) + 1, float(np.max(by_passage))
        if len(units):
            similarity = unit_vectors @ claim
            scores = unit_scores(claims[row], units, similarity)
            top = int(np.argmax(scores))
            if float(similarity[top]) >= best_cosine or float(similarity[top]) >= min_similarity:
                best, best_cosine = owners[top], max(best_cosine, float(similarity[top]))
        chosen.append(best if best_cosine >= min_similarity else None)
    return chosen


# A claim is held by the passages when some sentence or row of the passages closest to it, or
# of those it cites, supports it this well (quotes.unit_scores: cosine, plus the shares of the
# claim's words and numbers the unit holds). On the NTSB reports a restated fact scores 0.8-1.5
# ("The accident occurred during the landing flare." 0.79), a cause the report never gives
# ("… a failure in the aircraft's landing gear system") 0.54.
SUPPORT_FLOOR = 0.65


def support_scores(claims: list[str], hits: list[Hit], embedder: Embeds) -> list[float]:
    """For each claim (its citation markers are ignored), how well the best sentence or table
    row of the passages closest to it, or of the passages it cites, supports it."""
    if not claims or not hits:
        return [0.0] * len(claims)
    texts = [without_markers(claim).strip() for claim in claims]
    claim_vectors = embedder.embed(texts)  # (claims, dim)
    passages = embedder.embed([hit.text for hit in hits])  # (hits, dim)
    valid = range(1, len(hits) + 1)
    candidates = [
        {int(n) + 1 for n in np.argsort(-(passages @ vector))[:CANDIDATE_PASSAGES]}
        | {n for n in cited_numbers(claim) if n in valid}
        for claim, vector in zip(claims, claim_vectors, strict=True)]
    units = _embedded_units(hits, set().union(*candidates), embedder)
    return [max(_support(text, vector, units[n]) for n in numbers)
            for text, vector, numbers in zip(texts, claim_vectors, candidates, strict=True)]


Units = tuple[list[str], np.ndarray]  # a passage's sentences and rows, and their vectors


def _embedded_units(hits: list[Hit], numbers: Iterable[int], embedder: Embeds,
                    ) -> dict[int, Units]:
    """The sentences and rows (the first MAX_TRIM_UNITS; the whole passage when it has none) of
    the passages `numbers` (1-based), embedded."""
    units: dict[int, Units] = {}
    for n in sorted(numbers):
        texts = passage_units(hits[n - 1].text)[:MAX_TRIM_UNITS] or [hits[n - 1].text]
        units[n] = (texts, embedder.embed(texts))
    return units


def _support(claim: str, vector: np.ndarray, units: Units) -> float:
    """How well the best of `units` supports `claim` (quotes.unit_scores)."""
    texts, vectors = units
    return float(np.max(unit_scores(claim, texts, vectors @ vector)))


# The markers a sentence ends with, and the stops between them: "… AK [1]. [2]".
_TRAILING = re.compile(r"(?:\s*\[\d+(?:\s*,\s*\d+)*\][.!?]*)+\s*$")


def trim_citations(sentences: list[str], hits: list[Hit], embedder: Embeds) -> list[str]:
    """The sentences with, among the sources each one ends with, only those that support it
    about as well as the best of them: 'The visit is on day 15 [1, 2].' keeps [2] alone when
    only passage 2 holds day 15. Markers inside a sentence cite the clause before them and
    are kept."""
    ends = [_ending_sources(s) for s in sentences]
    several = [i for i, numbers in enumerate(ends) if len(numbers) > 1]
    if not several:
        return sentences
    units = _embedded_units(hits, {n for i in several for n in ends[i]}, embedder)
    claims = {i: without_markers(sentences[i]).strip() for i in several}
    vectors = dict(zip(several, embedder.embed([claims[i] for i in several]), strict=True))
    trimmed: list[str] = []
    for i, (sentence, numbers) in enumerate(zip(sentences, ends, strict=True)):
        if len(numbers) < 2:
            trimmed.append(sentence)
            continue
        claim, vector = claims[i], vectors[i]
        support = {n: _support(claim, vector, units[n]) for n in numbers}
        best = max(support.values())
        drop = {n for n, score in support.items() if score < best - TRIM_MARGIN}
        trimmed.append(_without_sources(sentence, drop) if drop else sentence)
    return trimmed


def recite(sentences: list[str], hits: list[Hit], embedder: Embeds,
           ) -> tuple[list[str], set[int]]:
    """The sentences with the sources each one ends with replaced by the passage closest to
    it that supports it RECITE_MARGIN better than all of them ('Enrollment is 38 [2].' cites
    [3] when only passage 3 holds 38), and the numbers of the passages cited that way."""
    ends = {i: _ending_sources(s) for i, s in enumerate(sentences)}
    cited = [i for i, numbers in ends.items() if numbers and is_claim(sentences[i])]
    if not cited:
        return sentences, set()
    claims = {i: without_markers(sentences[i]).strip() for i in cited}
    vectors = dict(zip(cited, embedder.embed([claims[i] for i in cited]), strict=True))
    passages = embedder.embed([hit.text for hit in hits])  # (hits, dim)
    closest = {i: {int(n) + 1 for n in np.argsort(-(passages @ vectors[i]))[:CANDIDATE_PASSAGES]}
               - set(ends[i]) for i in cited}
    units = _embedded_units(hits, set().union(*closest.values(), *(ends[i] for i in cited)),
                            embedder)
    recited = list(sentences)
    chosen: set[int] = set()
    for i in cited:
        if not closest[i]:
            continue
        support = {n: _support(claims[i], vectors[i], units[n])
                   for n in closest[i] | set(ends[i])}
        best = max(sorted(closest[i]), key=lambda n: support[n])
        if support[best] >= max(support[n] for n in ends[i]) + RECITE_MARGIN:
            recited[i] = _append_marker(_without_sources(sentences[i], set(ends[i])), best)
            chosen.add(best)
    return recited, chosen


def _ending_sources(sentence: str) -> list[int]:
    match = _TRAILING.search(sentence)
    return cited_numbers(match.group(0)) if match else []


def _without_sources(sentence: str, drop: set[int]) -> str:
    """The sentence with `drop` removed from the markers it ends with, the rest written as one
    marker before its stop: 'It is AK [1]. [2]\n' without 2 -> 'It is AK [1].\n'."""
    match = _TRAILING.search(sentence)
    assert match is not None
    ending = match.group(0)
    kept = [n for n in cited_numbers(ending) if n not in drop]
    stop = next(iter(re.findall(r"[.!?]", ending)), "")
    space = ending[len(ending.rstrip()):]
    marker = f" [{', '.join(str(n) for n in kept)}]" if kept else ""
    return f"{sentence[:match.start()]}{marker}{stop}{space}"


def _keep_valid_markers(sentence: str, valid: range) -> str:
    """The sentence with markers of sources that exist only, each source cited once:
    'It snowed [1]. [1, 9]' -> 'It snowed [1].' with 9 not a source."""
    seen: set[int] = set()

    def keep(match: re.Match[str]) -> str:
        numbers = [n for n in (int(x) for x in match.group(1).split(","))
                   if n in valid and n not in seen]
        seen.update(numbers)
        if not numbers:
            return ""
        return f" [{', '.join(str(n) for n in numbers)}]"

    return _CITATION.sub(keep, sentence)


_LEADING = re.compile(r"^(\s*)((?:\[\d+(?:\s*,\s*\d+)*\]\s*)+)(?=\S)")


def _leading_to_end(sentence: str) -> str:
    """' [1] The accident happened on 12/08/2007.' -> ' The accident happened on 12/08/2007
    [1].': a small model sometimes writes the source before the sentence it supports."""
    match = _LEADING.match(sentence)
    if not match:
        return sentence
    return match.group(1) + _append_marker(sentence[match.end():],
                                           *cited_numbers(match.group(2)))


def is_claim(sentence: str) -> bool:
    """Worth a citation: has a few words, not just a heading, a list marker or a greeting."""
    return len(re.findall(r"\w+", sentence)) >= 4


def _append_marker(sentence: str, *numbers: int) -> str:
    """'It snowed.' -> 'It snowed [2].' (whitespace after the sentence is kept)."""
    stripped = sentence.rstrip()
    trailing = sentence[len(stripped):]
    body, stop = (stripped[:-1], stripped[-1]) if stripped[-1:] in ".!?" else (stripped, "")
    return f"{body} [{', '.join(map(str, numbers))}]{stop}{trailing}"


def renumbered(attribution: Attribution) -> tuple[Attribution, list[int]]:
    """The same answer with its sources numbered 1..n in the order they are first cited, and,
    for each new number, the source number it had ('[4] … [2]' reads '[1] … [2]' and gives
    [4, 2]): a reader sees [1] first, whatever rank retrieval gave the passage."""
    order = [n for n, _ in attribution.cited]
    new = {old: i for i, old in enumerate(order, start=1)}

    def rewrite(match: re.Match[str]) -> str:
        numbers = [new[int(x)] for x in match.group(1).split(",") if int(x) in new]
        return f" [{', '.join(str(n) for n in numbers)}]" if numbers else ""

    text = _CITATION.sub(rewrite, attribution.text)
    return Attribution(text, [(new[n], by) for n, by in attribution.cited]), order
