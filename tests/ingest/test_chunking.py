"""Chunking by a token counter: page-bound PDF chunks, heading-aware text chunks, and meeting
chunks made of whole speaker turns, none above the model's limit."""

from __future__ import annotations

import pytest

from ingest.chunking import chunk_document
from ingest.documents import Document, Page, Turn


def words(text: str) -> int:
    return len(text.split())


def pdf(*pages: str) -> Document:
    return Document("d", "a.pdf", kind="pdf",
                    pages=[Page(i + 1, text) for i, text in enumerate(pages)])


def test_chunks_keep_their_page_and_order() -> None:
    document = pdf(" ".join(f"alpha{i}" for i in range(50)), "",
                   " ".join(f"gamma{i}" for i in range(50)))
    chunks = chunk_document(document, words, chunk_tokens=20, overlap_tokens=5, max_tokens=30)
    assert {c.page for c in chunks} == {1, 3}
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert all("alpha" in c.text for c in chunks if c.page == 1)
    assert all(words(c.text) <= 20 for c in chunks)
    # Overlap: the start of each chunk repeats the end of the one before on the same page.
    page1 = [c.text.split() for c in chunks if c.page == 1]
    assert page1[1][0] in page1[0]


def test_sentences_end_chunks_with_their_full_stop() -> None:
    text = " ".join(f"Sentence number {i} says something." for i in range(30))
    chunks = chunk_document(pdf(text), words, chunk_tokens=20, overlap_tokens=0, max_tokens=30)
    assert all(c.text.endswith(".") for c in chunks[:-1])
    assert not any(c.text.startswith(".") for c in chunks)


def test_text_the_splitter_cannot_break_is_still_cut_under_the_limit() -> None:
    # A counter that charges one token per character: a 'word' of 500 letters has no separator.
    chunks = chunk_document(pdf("x" * 500 + " tail"), len, chunk_tokens=100, overlap_tokens=0,
                            max_tokens=120)
    assert chunks and all(len(c.text) <= 120 for c in chunks)
    assert "".join(c.text for c in chunks).replace(" ", "").startswith("x" * 500)


def test_markdown_sections_start_at_their_headings() -> None:
    body = " ".join(["filler"] * 15)
    text = f"# Budget\n{body}\n\n# Hiring\n{body}\n\n# Risks\n{body}"
    document = Document("d", "notes.md", kind="text", pages=[Page(1, text)])
    chunks = chunk_document(document, words, chunk_tokens=20, overlap_tokens=0, max_tokens=30)
    assert [c.text.split("\n")[0] for c in chunks] == ["# Budget", "# Hiring", "# Risks"]
    assert all(c.page is None for c in chunks)


def meeting(*turns: tuple[str, str]) -> Document:
    return Document("m", "standup.vtt", kind="meeting",
                    turns=[Turn(i, s, t, f"00:00:{i:02d}.000") for i, (s, t) in enumerate(turns)])


def test_meeting_chunks_are_whole_turns_with_their_range_and_speakers() -> None:
    turns = [("Anna", "one two three four five"), ("Boris", "six seven eight nine ten"),
             ("Anna", "eleven twelve thirteen fourteen"), ("Chen", "fifteen sixteen seventeen"),
             ("Boris", "eighteen nineteen twenty")]
    chunks = chunk_document(meeting(*turns), words, chunk_tokens=14, overlap_tokens=4,
                            max_tokens=20)
    assert len(chunks) > 1
    for chunk in chunks:
        lines = chunk.text.split("\n")
        covered = range(chunk.turn_start, chunk.turn_end + 1)
        assert lines == [f"{turns[i][0]}: {turns[i][1]}" for i in covered]  # never cut
        assert chunk.speakers == tuple(dict.fromkeys(turns[i][0] for i in covered))
        assert chunk.start == f"00:00:{chunk.turn_start:02d}.000"
    assert chunks[0].turn_start == 0 and chunks[-1].turn_end == 4
    assert [c.turn_start for c in chunks[1:]] == [c.turn_end + 1 for c in chunks[:-1]]


def test_a_turn_longer_than_a_chunk_is_split_alone_and_keeps_its_speaker() -> None:
    long_turn = " ".join(f"w{i}" for i in range(60))
    chunks = chunk_document(meeting(("Anna", "hi all"), ("Boris", long_turn), ("Chen", "bye")),
                            words, chunk_tokens=20, overlap_tokens=0, max_tokens=25)
    middle = [c for c in chunks if c.turn_start == 1]
    assert len(middle) >= 3
    assert all(c.turn_end == 1 and c.text.startswith("Boris: ") for c in middle)
    assert all(words(c.text) <= 25 for c in chunks)


def test_nonsense_sizes_are_rejected() -> None:
    with pytest.raises(ValueError):
        chunk_document(pdf("text"), words, chunk_tokens=300, overlap_tokens=0, max_tokens=254)
    with pytest.raises(ValueError):
        chunk_document(pdf("text"), words, chunk_tokens=50, overlap_tokens=50, max_tokens=254)
