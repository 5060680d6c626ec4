"""Tables on a PDF page: found in pypdf's layout text, where columns stay apart as runs of
spaces, and written as rows of cells joined by " | " (header row first) into the page's text.

Only the table travels from the layout text: everything else on the page stays as plain
extraction reads it, because layout mode interleaves the lines of multi-column prose.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from statistics import median

CELL_SEPARATOR = " | "

# Columns are at least this many spaces apart; a single space separates words in a cell.
_MIN_GAP = 2
# How far (in characters) a lone wrapped piece may stray outside its column.
_SLACK = 3
# A table spans at most this many blank layout lines in a row (layout mode adds blank lines
# for vertical space; two or more end a table).
_MAX_BLANK_LINES = 1
# A table has at least this many rows with two filled cells...
_MIN_ROWS = 3
# ...and at least this share of short cells: two columns of prose align like a table, but
# their cells are whole lines of words.
_SHORT_CELL_WORDS = 4
_MIN_SHORT_SHARE = 0.65
# Row labels are short (a column of prose lines is not)...
_MAX_LABEL_WORDS = 6
# ...and are not list markers: a bulleted or numbered list aligns like a table too.
_MAX_MARKER_SHARE = 0.6
_LIST_MARKER = re.compile(r"[^\w\s]|o|\(?([a-zA-Z]|[ivxIVX]{1,5})[.)]|\d{1,3}(\.\d{1,3})*[.)]?")
# The table replaces the plain-text lines that are its own only when they hold this share of
# its words (else plain extraction put it elsewhere, and the page keeps its plain text).
_MIN_COVERAGE = 0.8
# A plain-text line is the table's when this share of its words are a row's.
_MIN_OWNED_SHARE = 0.9
# Lines of other text that may sit between a table's lines in plain extraction order.
_MAX_FOREIGN_LINES = 2

_GAP = re.compile(" " * _MIN_GAP + "+")
_WORD = re.compile(r"\w+")
_SPACES = re.compile(r"[ \t\u00a0]+")


@dataclass(frozen=True)
class Table:
    """Rows of cells, the header row first; every row has one cell per column."""

    rows: tuple[tuple[str, ...], ...]

    def without_rows(self, unwanted: Callable[[str], bool]) -> Table:
        """The table less the rows whose text (cells joined by spaces) is `unwanted`."""
        return Table(tuple(row for row in self.rows
                           if not unwanted(" ".join(cell for cell in row if cell))))

    def lines(self) -> list[str]:
        """Each row as `label | v1 | v2`; trailing empty cells are left off."""
        return [render_row(row) for row in self.rows]


def render_row(cells: tuple[str, ...]) -> str:
    filled = list(cells)
    while len(filled) > 2 and not filled[-1]:
        filled.pop()
    return _SPACES.sub(" ", CELL_SEPARATOR.join(filled)).strip()


def is_table_row(line: str) -> bool:
    """True for a line written by `Table.lines` (or a docx table row)."""
    return CELL_SEPARATOR in line or line.endswith(" |") or line.startswith("| ")


@dataclass
class _Segment:
    start: int
    end: int
    text: str


def find_tables(layout_text: str, tidy: Callable[[str], str]) -> list[Table]:
    """The tables in a page's layout-mode text, top to bottom; `tidy` cleans a cell's text
    (the page's own text cleaning, so that cells read as the plain text does)."""
    lines = [_segments(line) for line in layout_text.splitlines()]
    tables: list[Table] = []
    i = 0
    while i < len(lines):
        if len(lines[i]) < 2:
            i += 1
            continue
        spans, block, i = _block(lines, i)
        table = _table(spans, block, tidy)
        if table is not None:
            tables.append(table)
    return tables


def _segments(line: str) -> list[_Segment]:
    segments = []
    start = 0
    for gap in _GAP.finditer(line):
        if line[start:gap.start()].strip():
            segments.append(_Segment(start, gap.start(), line[start:gap.start()]))
        start = gap.end()
    if line[start:].strip():
        text = line[start:].rstrip()
        segments.append(_Segment(start, start + len(text), text))
    # A leading run of spaces makes an empty first piece: shift it onto the text.
    for segment in segments:
        stripped = segment.text.lstrip()
        segment.start += len(segment.text) - len(stripped)
        segment.text = stripped
    return segments


def _block(lines: list[list[_Segment]], first: int,
           ) -> tuple[list[tuple[int, int]], list[list[_Segment]], int]:
    """The column spans (first and past-last character) of the run of lines from `first`
    whose pieces stay inside them, the run, and the index to go on from. `first` is a line
    of two or more pieces."""
    spans = [(s.start, s.end) for s in lines[first]]
    block = [lines[first]]
    blanks = 0
    i = first + 1
    while i < len(lines):
        if not lines[i]:
            blanks += 1
            if blanks > _MAX_BLANK_LINES:
                break
            i += 1
            continue
        if len(lines[i]) == 1:
            # A lone piece (a wrapped cell, a section label) must sit inside a column: a
            # line of prose below a table would otherwise stretch the first column.
            widened = spans if _inside(spans, lines[i][0]) else None
        else:
            widened = _fit(spans, lines[i])
        if widened is None:
            break
        spans = widened
        block.extend([[]] * blanks)
        block.append(lines[i])
        blanks = 0
        i += 1
    # Lines of one piece after a blank line at the end are a caption or a footnote.
    while len(block) > 1 and len(block[-1]) == 1 and not block[-2]:
        block.pop()
    while block and not block[-1]:
        block.pop()
    return spans, block, i


def _inside(spans: list[tuple[int, int]], segment: _Segment) -> bool:
    return any(a - _SLACK <= segment.start and segment.end <= b + _SLACK for a, b in spans)


def _fit(spans: list[tuple[int, int]], line: list[_Segment]) -> list[tuple[int, int]] | None:
    """The column spans widened to take this line, or None when a piece bridges a gap."""
    widened = list(spans)
    for segment in line:
        touching = [k for k, (a, b) in enumerate(widened)
                    if segment.start < b + _MIN_GAP and segment.end + _MIN_GAP > a]
        if len(touching) > 1:
            return None
        if touching:
            a, b = widened[touching[0]]
            widened[touching[0]] = (min(a, segment.start), max(b, segment.end))
        else:
            widened.append((segment.start, segment.end))
    widened.sort()
    if any(widened[k + 1][0] - widened[k][1] < _MIN_GAP for k in range(len(widened) - 1)):
        return None
    return widened


def _table(spans: list[tuple[int, int]], block: list[list[_Segment]],
           tidy: Callable[[str], str]) -> Table | None:
    if len(spans) < 2:
        return None
    rows: list[list[list[str]]] = []
    for line in block:
        if not line:
            continue
        cells: list[list[str]] = [[] for _ in spans]
        for segment in line:
            cells[_column(spans, segment)].append(segment.text)
        if rows and (not cells[0] or _wrapped_label(rows[-1][0], cells)):
            # The wrapped second line of the row above (or of the header).
            for held, more in zip(rows[-1], cells, strict=True):
                if more:
                    held.append("\n" + " ".join(more))
        else:
            rows.append([[" ".join(parts)] if parts else [] for parts in cells])
    table = tuple(tuple(tidy("".join(parts)).replace("\n", " ") for parts in row)
                  for row in rows)
    return Table(table) if _looks_like_a_table(table) else None


def _column(spans: list[tuple[int, int]], segment: _Segment) -> int:
    """The column a piece of a line belongs to: the one it touches, else the nearest (a
    wrapped piece that strayed within the slack `_inside` allows)."""
    def distance(span: tuple[int, int]) -> int:
        a, b = span
        if segment.start < b + _MIN_GAP and segment.end + _MIN_GAP > a:
            return 0
        return min(abs(segment.start - b), abs(a - segment.end))

    return min(range(len(spans)), key=lambda k: distance(spans[k]))


def _wrapped_label(label_above: list[str], cells: list[list[str]]) -> bool:
    """A lone label that continues the one above: it starts in lower case, or the label
    above breaks off mid-phrase (a hyphen, a comma, an open parenthesis)."""
    if any(cells[1:]) or not label_above:
        return False
    above = "".join(label_above).rstrip()
    return (cells[0][0][:1].islower() or above.endswith(("-", ","))
            or above.count("(") > above.count(")"))


def _looks_like_a_table(rows: tuple[tuple[str, ...], ...]) -> bool:
    if sum(1 for row in rows if sum(1 for cell in row if cell) >= 2) < _MIN_ROWS:
        return False
    labels = [row[0] for row in rows if row[0]]
    markers = sum(1 for label in labels if _LIST_MARKER.fullmatch(label))
    if not labels or markers >= _MAX_MARKER_SHARE * len(labels):
        return False  # a bulleted or numbered list, or numbered headings
    if median(len(label.split()) for label in labels) > _MAX_LABEL_WORDS:
        return False  # prose, split where justified lines leave wide gaps
    cells = [cell for row in rows for cell in row if cell]
    short = sum(1 for cell in cells if len(cell.split()) <= _SHORT_CELL_WORDS)
    return short >= _MIN_SHORT_SHARE * len(cells)


def splice_tables(text: str, tables: list[Table]) -> str:
    """Plain text with the lines that hold each table's words replaced by the table's rows.

    A table whose words plain extraction did not keep together is left out, so the page
    keeps the plain text it would have had.
    """
    lines = text.splitlines()
    after = 0  # tables come top to bottom: each is looked for below the one before
    for table in tables:
        found = _table_span(lines, table, after)
        if found is None:
            continue
        first, last, own = found
        rows = table.lines()
        others = [lines[k] for k in range(first, last + 1) if k not in own]
        lines[first:last + 1] = rows + others
        after = first + len(rows)
    return "\n".join(lines)


def _table_span(lines: list[str], table: Table, after: int,
                ) -> tuple[int, int, set[int]] | None:
    """First and last line of the plain text's run of the table's lines, and which lines
    in it are the table's; None when they hold too little of the table.

    A line is the table's when its words are those of one row, or of two rows in a row
    (plain extraction may join or break rows differently)."""
    rows = [Counter(_words(line)) for line in table.lines()]
    pairs = [rows[k] + rows[k + 1] for k in range(len(rows) - 1)] or rows
    words = sum(rows, Counter())
    if not words:
        return None
    best: tuple[int, int, set[int], int] | None = None
    run: set[int] = set()
    covered: Counter[str] = Counter()
    foreign = 0
    for k in range(after, len(lines) + 1):
        line_words = _words(lines[k]) if k < len(lines) else None
        if line_words is not None and not line_words:
            continue  # blank lines neither extend nor break a run
        if (line_words is not None and _owned(line_words, words - covered)
                and any(_owned(line_words, pair) for pair in pairs)):
            run.add(k)  # (a line the table already took the words of is a second copy)
            covered.update(line_words)
            foreign = 0
            continue
        foreign += 1
        if line_words is None or foreign > _MAX_FOREIGN_LINES:
            found = sum((covered & words).values())
            if run and (best is None or found > best[3]):
                best = (min(run), max(run), set(run), found)
            run, covered, foreign = set(), Counter(), 0
    if best is None or best[3] < _MIN_COVERAGE * sum(words.values()):
        return None
    first, last, own, _ = best
    return first, last, own


def _owned(words: list[str], row: Counter[str]) -> bool:
    # Not all: plain text joins a word hyphenated across two rows ("parent-" "proxy").
    return sum((Counter(words) & row).values()) >= _MIN_OWNED_SHARE * len(words)


def _words(line: str) -> list[str]:
    return _WORD.findall(line.lower())
