"""A quote the model gave, found in the text it claims to come from.

The standard of commitments' quotes (retrieval/meetings/commitments.py): a quote counts only
when it occurs in the source. Compared on letters and digits alone, case folded, so that what
a PDF's text layer or a model changes without changing the words does not matter: line breaks
and hyphens at line ends ("acci-\\ndent"), typographic quotes and dashes, spacing around
punctuation, ё for е. An ellipsis in the quote ("The pilot … reported") skips words: its
pieces must occur in order, close together. The quote kept is the source's own text of the
match (white space collapsed), and where it is: the page or line it starts on.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache

from retrieval.tables.model import Source

# The most characters of source an ellipsis may skip between two pieces of a quote.
MAX_GAP = 400
_ELLIPSIS = re.compile(r"\.{3,}|…|\[\.\.\.\]")
_SPACE = re.compile(r"\s+")
_FOLD = str.maketrans({"ё": "е", "Ё": "е", "й": "и", "Й": "и"})


@dataclass(frozen=True)
class Found:
    """A quote as it stands in the source."""

    quote: str  # the source's text, white space collapsed
    label: int  # the page or line it starts on
    start: int  # offsets in Index.text
    end: int


class Index:
    """A source's text, units joined by new lines, folded to letters and digits with a map back
    to the original offsets."""

    def __init__(self, source: Source) -> None:
        self.source = source
        parts, starts, offset = [], [], 0
        for unit in source.units:
            starts.append(offset)
            parts.append(unit.text)
            offset += len(unit.text) + 1
        self.text = "\n".join(parts)
        self.unit_starts = starts
        self.folded, self.where = fold(self.text)

    def label_at(self, offset: int) -> int:
        """The label of the unit holding `offset`."""
        low, high = 0, len(self.unit_starts) - 1
        while low < high:
            middle = (low + high + 1) // 2
            if self.unit_starts[middle] <= offset:
                low = middle
            else:
                high = middle - 1
        return self.source.units[low].label

    def find(self, quote: str, prefer: Collection[int] = ()) -> Found | None:
        """The quote's occurrence in the source: in a unit of `prefer` when one is there, at
        word boundaries when one is; None when it does not occur."""
        pieces = [fold(p)[0] for p in _ELLIPSIS.split(quote)]
        pieces = [p for p in pieces if p]
        if not pieces:
            return None
        matches = list(self._matches(pieces))
        if not matches:
            return None

        def rank(span: tuple[int, int]) -> tuple[bool, bool]:
            start, end = span
            return (self.label_at(self.where[start]) not in prefer,
                    not self._at_word_boundaries(start, end))

        start, end = min(matches, key=rank)
        first, last = self.where[start], self.where[end - 1] + 1
        first, last = widened(self.text, first, last, quote)
        return Found(_SPACE.sub(" ", self.text[first:last]).strip(), self.label_at(first),
                     first, last)

    def line_holding(self, words: str, units: Collection[int]) -> Found | None:
        """The line (of a page, or the line unit) that holds `words`, when they occur exactly
        once in `units`, at word boundaries; None otherwise."""
        folded = fold(words)[0]
        if len(folded) < 2:
            return None
        spans = [span for span in self._matches([folded])
                 if self.label_at(self.where[span[0]]) in units
                 and self._at_word_boundaries(*span)]
        if len(spans) != 1:
            return None
        first, last = self.where[spans[0][0]], self.where[spans[0][1] - 1] + 1
        start = self.text.rfind("\n", 0, first) + 1
        end = self.text.find("\n", last)
        end = len(self.text) if end < 0 else end
        line = _SPACE.sub(" ", self.text[start:end]).strip()
        return Found(line, self.label_at(first), start, end)

    def _matches(self, pieces: list[str]) -> list[tuple[int, int]]:
        """(start, end) in `folded` of each occurrence of the pieces in order, each within
        MAX_GAP characters of the one before (at most 50 occurrences looked at)."""
        found: list[tuple[int, int]] = []
        head, rest = pieces[0], pieces[1:]
        at = self.folded.find(head)
        while at >= 0 and len(found) < 50:
            end = at + len(head)
            for piece in rest:
                window = self.folded[end:end + MAX_GAP + len(piece)]
                offset = window.find(piece)
                if offset < 0:
                    end = -1
                    break
                end += offset + len(piece)
            if end >= 0:
                found.append((at, end))
            at = self.folded.find(head, at + 1)
        return found

    def _at_word_boundaries(self, start: int, end: int) -> bool:
        first, last = self.where[start], self.where[end - 1]
        before = self.text[first - 1] if first > 0 else " "
        after = self.text[last + 1] if last + 1 < len(self.text) else " "
        return not before.isalnum() and not after.isalnum()


def widened(text: str, first: int, last: int, quote: str) -> tuple[int, int]:
    """The span text[first:last] (letters and digits matched) widened by the signs the quote
    starts and ends with where the text has them too: "$12k", "руб.", "«Ромашка»", "injured."."""
    claimed = quote.strip()
    tail = claimed[len(claimed.rstrip(_SIGNS)):]
    end, at = last, last
    for sign in tail:
        if sign.isspace():
            continue
        while at < len(text) and text[at] in " \t":
            at += 1
        if at >= len(text) or text[at] != sign:
            break
        at += 1
        end = at
    head = claimed[:len(claimed) - len(claimed.lstrip(_SIGNS))]
    start, at = first, first
    for sign in reversed(head):
        if sign.isspace():
            continue
        while at > 0 and text[at - 1] in " \t":
            at -= 1
        if at <= 0 or text[at - 1] != sign:
            break
        at -= 1
        start = at
    return start, end


# What may stand around a quote's words: punctuation, quotation marks, currency and other signs.
_SIGNS = "".join(chr(c) for c in range(0x2200) if not chr(c).isalnum() and chr(c) not in "\n\r")


def fold(text: str) -> tuple[str, list[int]]:
    """`text` as its letters and digits, case folded (ё as е), and for each folded character
    the offset of the character it came from."""
    out: list[str] = []
    where: list[int] = []
    for offset, char in enumerate(text):
        if not char.isalnum():
            continue
        for folded in char.casefold().translate(_FOLD):
            out.append(folded)
            where.append(offset)
    return "".join(out), where


@lru_cache(maxsize=64)
def index_of(source: Source) -> Index:
    """The source's index, built once per source (sources are frozen, hashed by value)."""
    return Index(source)


def occurs(needle: str, haystack: str) -> bool:
    """Whether `needle` occurs in `haystack` by the same comparison as quotes."""
    folded = fold(needle)[0]
    return bool(folded) and folded in fold(haystack)[0]
