"""Figures an answer states that none of its passages holds.

Asked what a document does not say ("How much did the insurer pay?"), a small model often
fills the gap with an amount of its own ("$245,000"). A figure is checked mechanically: the
answer's sentence stands only when every figure in it is one that the passages or the
question hold, read with either separator as the decimal point ("1,5" is "1.5"; "245,000",
"245 000" and "245000" are one number, as is 2,400,000 with "2.4 x 106", a power of ten
whose superscript the PDF's text flattened). Citation markers, list numbers and counts up to 12,
which documents often write in words, are not checked. A sentence that stops where its answer
should be ("The student pilot's name is [1].") states nothing and goes too. An answer left
with no claim is replaced by "the documents do not say".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from retrieval.attribution import without_markers

log = logging.getLogger(__name__)

_FIGURE = re.compile(r"\d+(?:[.,\u00a0\u202f]\d+)*")
# "245 000": thousands separated by plain spaces, as Russian writes them.
_SPACED = re.compile(r"(?<![\d.,])\d{1,3}(?: \d{3})+(?![\d.,]| \d)")
_LIST_MARKER = re.compile(r"(?m)^\s*\d+[.)]\s+")
# The last word of a sentence that stops before its answer.
_UNFINISHED = re.compile(
    r"(?:\b(?:is|are|was|were|be|been|of|the|a|an|to|by|at|in|on|as|это|был|была|было|были|"
    r"является|составляет)|[:—–-])\W*$", re.I)


def states_nothing(sentence: str, last: bool = True) -> bool:
    """Whether `sentence` stops where its answer should be: 'The pilot's name is [1].' A
    colon introduces what follows ("The visits are:" before a list) unless nothing does."""
    body = without_markers(sentence).strip()
    if body.endswith(":") and not last:
        return False
    return bool(_UNFINISHED.search(body.rstrip(".!?… ")))


def values(figure: str) -> set[float]:
    """The numbers a written figure can be: separators read as thousands, or the last one as
    the decimal point, except a comma before three digits, which separates thousands.
    '1,5' -> {15, 1.5}; '1.750' -> {1750, 1.75}; '245,000' -> {245000}; '03' -> {3}."""
    parts = re.split(r"[.,\u00a0\u202f ]", figure)
    read = {float("".join(parts))}
    thousands = len(parts) > 1 and len(parts[-1]) == 3 and figure[-4] == ","
    if len(parts) > 1 and not thousands:
        read.add(float(f"{''.join(parts[:-1])}.{parts[-1]}"))
    return read


# "2.4 x 106 IU/m2": 2.4 × 10⁶ with the exponent flattened into the line by the PDF's text.
_POWER = re.compile(r"(\d+(?:[.,]\d+)?)\s*[x×*]\s*10\^?([1-9]|1[0-9])(?!\d)")


def figures(text: str) -> list[str]:
    """The figures written in `text`, citation markers and list numbers left out."""
    text = _LIST_MARKER.sub(" ", without_markers(text))
    return _FIGURE.findall(text)


def _small(figure: str) -> bool:
    """A count a document may write in words ("two passengers", "day one"): not checked."""
    return figure.isdigit() and int(figure) <= 12


def known_values(texts: Iterable[str]) -> set[float]:
    known: set[float] = set()
    for text in texts:
        for figure in _FIGURE.findall(text) + _SPACED.findall(text):
            known |= values(figure)
        for mantissa, power in _POWER.findall(text):
            known |= {round(v * 10 ** int(power), 6) for v in values(mantissa)}
    return known


@dataclass(frozen=True)
class Grounded:
    sentences: list[str]  # the sentences kept, as given
    # (sentence, its figures that no passage holds; none when it stops before its answer)
    dropped: list[tuple[str, list[str]]]


def check_figures(sentences: Sequence[str], passages: Sequence[str], question: str,
                  ) -> Grounded:
    """Keeps the sentences whose figures all occur in `passages` or `question` and that
    state something."""
    known = known_values([*passages, question])
    kept: list[str] = []
    dropped: list[tuple[str, list[str]]] = []
    last = max((i for i, s in enumerate(sentences) if s.strip()), default=-1)
    for i, sentence in enumerate(sentences):
        unknown = [f for f in figures(sentence) if not values(f) & known and not _small(f)]
        if sentence.strip() and states_nothing(sentence, last=i >= last):
            dropped.append((sentence, []))
        elif unknown:
            dropped.append((sentence, unknown))
        else:
            kept.append(sentence)
    for sentence, unknown in dropped:
        why = f"no passage holds {', '.join(unknown)}" if unknown else "it states nothing"
        log.info("answer sentence dropped: %s: %r", why, sentence.strip()[:300])
    return Grounded(kept, dropped)
