"""Split documents into chunks measured in the embedding model's tokens.

PDF chunks never cross a page, so each cites one page; text documents split at headings and
paragraphs first; a table stays in one chunk, or splits between rows under its header row;
meeting chunks are runs of whole speaker turns, so each cites a turn range.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from itertools import groupby
from typing import Literal

from langchain_text_splitters import RecursiveCharacterTextSplitter

from ingest.documents import Chunk, Document, Turn
from ingest.tables import is_table_row

TokenCounter = Callable[[str], int]

# Paragraphs, then lines, then sentences, then words, then characters.
_PROSE = ["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""]
# Markdown headings first (docx headings arrive as Markdown headings too).
_MARKDOWN = ["\n# ", "\n## ", "\n### ", "\n#### ", *_PROSE]


def chunk_document(
    document: Document,
    count_tokens: TokenCounter,
    chunk_tokens: int,
    overlap_tokens: int,
    max_tokens: int,
) -> list[Chunk]:
    """Chunks of at most `max_tokens` tokens (aiming at `chunk_tokens`), in reading order.

    `count_tokens` counts the tokens the embedding model reads for a text (no special tokens);
    `max_tokens` is the hard ceiling the model can read, so no chunk is silently truncated.
    """
    if not 0 < chunk_tokens <= max_tokens:
        raise ValueError(f"chunk_tokens must be in 1..{max_tokens}, got {chunk_tokens}")
    if not 0 <= overlap_tokens < chunk_tokens:
        raise ValueError("overlap_tokens must be smaller than chunk_tokens")
    sizes = _Sizes(count_tokens, chunk_tokens, overlap_tokens, max_tokens)
    base = Chunk(document_id=document.document_id, filename=document.filename, ordinal=0,
                 text="")
    if document.kind == "meeting":
        pieces = _meeting_chunks(base, document.turns, sizes)
    else:
        separators = _PROSE if document.kind == "pdf" else _MARKDOWN
        pieces = _page_chunks(base, document, sizes, separators)
    return [replace(piece, ordinal=i) for i, piece in enumerate(pieces)]


class _Sizes:
    def __init__(self, count: TokenCounter, target: int, overlap: int, ceiling: int) -> None:
        self.count, self.target, self.overlap, self.ceiling = count, target, overlap, ceiling

    def splitter(self, separators: list[str]) -> RecursiveCharacterTextSplitter:
        # A heading opens the section after it; a full stop closes the sentence before it.
        keep: Literal["start", "end"] = "start" if separators is _MARKDOWN else "end"
        return RecursiveCharacterTextSplitter(
            separators=separators, chunk_size=self.target, chunk_overlap=self.overlap,
            length_function=self.count, keep_separator=keep, strip_whitespace=True,
        )

    def split(self, text: str, separators: list[str]) -> list[str]:
        return [part for piece in self.splitter(separators).split_text(text)
                for part in _within_limit(piece, self.count, self.ceiling)]


def _page_chunks(base: Chunk, document: Document, sizes: _Sizes, separators: list[str],
                 ) -> Iterator[Chunk]:
    for page in document.pages:
        if not page.text.strip():
            continue
        for text in _page_texts(page.text, sizes, separators):
            yield replace(base, text=text, page=page.number if document.kind == "pdf" else None)


def _page_texts(text: str, sizes: _Sizes, separators: list[str]) -> list[str]:
    """A page's chunk texts: prose through the splitter, each table (a run of rows written
    "label | v1 | v2") whole when it fits, else split between rows under its header row.
    A piece is joined to its neighbour across a prose/table border when both fit in one."""
    parts = _prose_and_tables(text)
    if not any(is_table for is_table, _ in parts):
        return sizes.split("\n" + text, separators)
    texts: list[str] = []
    for is_table, lines in parts:
        pieces = (_table_texts(lines, sizes) if is_table
                  else sizes.split("\n" + "\n".join(lines), separators))
        if texts and pieces and sizes.count(texts[-1] + "\n" + pieces[0]) <= sizes.target:
            texts[-1] += "\n" + pieces.pop(0)
        texts.extend(pieces)
    return texts


def _prose_and_tables(text: str) -> list[tuple[bool, list[str]]]:
    """The page's lines in runs: (True, rows) for a table of two rows or more, else
    (False, lines)."""
    parts: list[tuple[bool, list[str]]] = []
    for is_row, run in groupby(text.splitlines(), key=is_table_row):
        lines = list(run)
        is_table = is_row and len(lines) >= 2
        if parts and not is_table and not parts[-1][0]:
            parts[-1][1].extend(lines)  # a lone row is prose: join the prose around it
        else:
            parts.append((is_table, lines))
    return parts


def _table_texts(rows: list[str], sizes: _Sizes) -> list[str]:
    """Rows grouped up to the target size; every group after the first starts with the
    header row again (unless the header alone takes half the target), so a figure keeps
    its row label and its column. A row too long for any chunk is cut under the ceiling."""
    whole = "\n".join(rows)
    if sizes.count(whole) <= sizes.target:
        return [whole]
    header, body = rows[0], rows[1:]
    repeat = sizes.count(header) <= sizes.target // 2
    texts: list[str] = []
    group = [header]
    fresh = len(group)  # the lines a group starts with
    for row in body:
        if len(group) > fresh and sizes.count("\n".join([*group, row])) > sizes.target:
            texts.append("\n".join(group))
            group = [header] if repeat else []
            fresh = len(group)
        group.append(row)
    texts.append("\n".join(group))
    return [part for text in texts for part in _within_limit(text, sizes.count, sizes.ceiling)]


def _meeting_chunks(base: Chunk, turns: list[Turn], sizes: _Sizes) -> Iterator[Chunk]:
    """Runs of whole turns up to the target size, without overlap (retrieval merges
    neighbouring runs instead, which spends a context budget better: measured on QMSum).
    A turn longer than a chunk is split alone, with the prose overlap."""
    run: list[Turn] = []
    run_tokens = 0
    for turn in (t for t in turns if t.text):
        line = _line(turn)
        tokens = sizes.count(line) + 1  # +1 for the line break that joins turns
        if tokens > sizes.target:
            if run:
                yield _turn_chunk(base, run)
                run, run_tokens = [], 0
            for part in sizes.split(turn.text, _PROSE):
                yield from _turn_parts(base, turn, part, sizes)
            continue
        if run and run_tokens + tokens > sizes.target:
            yield _turn_chunk(base, run)
            run, run_tokens = [], 0
        run.append(turn)
        run_tokens += tokens
    if run:
        yield _turn_chunk(base, run)


def _turn_parts(base: Chunk, turn: Turn, part: str, sizes: _Sizes) -> Iterator[Chunk]:
    """One piece of a long turn, still labelled with its speaker and within the ceiling."""
    labelled = f"{turn.speaker}: {part}"
    for text in _within_limit(labelled, sizes.count, sizes.ceiling):
        yield _turn_chunk(base, [turn], text)


def _line(turn: Turn) -> str:
    return f"{turn.speaker}: {turn.text}"


def _turn_chunk(base: Chunk, run: list[Turn], text: str | None = None) -> Chunk:
    speakers = tuple(dict.fromkeys(turn.speaker for turn in run))  # first-appearance order
    return replace(
        base,
        text=text if text is not None else "\n".join(_line(t) for t in run),
        speakers=speakers,
        turn_start=run[0].index,
        turn_end=run[-1].index,
        start=run[0].start,
        end=run[-1].end or run[-1].start,
    )


def _within_limit(text: str, count_tokens: TokenCounter, max_tokens: int) -> list[str]:
    """Halve a text until every part fits: the splitter's sums of token counts are estimates."""
    if count_tokens(text) <= max_tokens:
        return [text]
    middle = len(text) // 2
    cut = text.rfind(" ", 0, middle)
    cut = cut if cut > 0 else middle
    head, tail = text[:cut].strip(), text[cut:].strip()
    return [
        part
        for half in (head, tail)
        if half
        for part in _within_limit(half, count_tokens, max_tokens)
    ]
