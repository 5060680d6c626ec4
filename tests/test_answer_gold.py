"""The hand-made answer-quality gold set (tests/data/answer-quality/) obeys its README: every
question names a real eval PDF, every answerable fact (answers[0]) stands on one of its pages
in the text docchat's own PDF parser gives, unanswerable questions carry no answers, and the
scoring rule (normalize / fact_match) behaves. Fast: no model, no network."""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest

from tests.benchmarks.answer_gold import (
    EVAL_PDFS,
    GOLD,
    REPO,
    GoldQuestion,
    fact_match,
    load_questions,
    normalize,
    page_holds,
)

if not EVAL_PDFS.is_dir():
    pytest.skip(f"eval PDFs not found at {EVAL_PDFS} (the shared eval data is not checked out)",
                allow_module_level=True)

QUESTIONS = load_questions(GOLD)
ANSWERABLE = [q for q in QUESTIONS if q.answerable]
UNANSWERABLE = [q for q in QUESTIONS if not q.answerable]

CACHE_KEY = "docchat/answer-gold-pages"
TOPICS = {
    "ntsb": {"location", "date", "aircraft", "injuries", "weather", "phase", "probable_cause"},
    "nih": {"sponsor", "phase", "enrollment", "primary_endpoint", "inclusion", "schedule"},
}
# Variants so common that "the answer contains it" says nothing.
TOO_COMMON = {"none", "yes", "no", "the pilot", "pilot", "unknown", "n a", "the", "study",
              "patients", "trial", "airplane", "aircraft"}


def _source(q: GoldQuestion) -> str:
    return q.file.split("/", 1)[0]


def _parse(file: str) -> tuple[str, ...]:
    from ingest.pdf import parse_pdf

    path = EVAL_PDFS / file
    doc = parse_pdf(path.read_bytes(), "x", path.name, max_pages=2000)
    return tuple(page.text for page in doc.pages)


def _parser_digest(files: list[str]) -> str:
    """What the parsed texts depend on: the PDFs, docchat's ingest code, pypdf's version."""
    import pypdf

    digest = hashlib.sha256(pypdf.__version__.encode())
    for source in sorted((REPO / "ingest").glob("*.py")):
        digest.update(source.name.encode() + source.read_bytes())
    for file in files:
        digest.update(file.encode() + (EVAL_PDFS / file).read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="session")
def page_texts(pytestconfig: pytest.Config) -> dict[str, tuple[str, ...]]:
    """Every gold PDF's page texts, parsed once and kept in pytest's cache until a PDF, the
    ingest code or pypdf changes: parsing them all takes half a minute. In this process: a
    fork of the test process (threads of earlier tests' clients and torch) can deadlock."""
    files = sorted({q.file for q in ANSWERABLE})
    digest = _parser_digest(files)
    cache = getattr(pytestconfig, "cache", None)
    if cache is not None:
        cached = cache.get(CACHE_KEY, None)
        if isinstance(cached, dict) and cached.get("digest") == digest:
            return {file: tuple(pages) for file, pages in cached["pages"].items()}
    texts = {file: _parse(file) for file in files}
    if cache is not None:
        cache.set(CACHE_KEY, {"digest": digest, "pages": {f: list(p) for f, p in texts.items()}})
    return texts


def test_ids_are_unique() -> None:
    counts = Counter(q.id for q in QUESTIONS)
    assert not [i for i, n in counts.items() if n > 1]


def test_every_file_exists() -> None:
    missing = sorted({q.file for q in QUESTIONS if not q.path.is_file()})
    assert not missing


def test_enough_questions() -> None:
    assert len(ANSWERABLE) >= 100
    assert len(UNANSWERABLE) >= 20
    by_source = Counter(_source(q) for q in ANSWERABLE)
    assert by_source["ntsb"] >= 60 and by_source["nih"] >= 50, by_source
    unanswerable = Counter(_source(q) for q in UNANSWERABLE)
    assert unanswerable["ntsb"] >= 10 and unanswerable["nih"] >= 10, unanswerable


def test_documents_covered() -> None:
    ntsb = {q.file for q in ANSWERABLE if _source(q) == "ntsb"}
    nih = {q.file for q in ANSWERABLE if _source(q) == "nih"}
    assert ntsb == {f"ntsb/{p.name}" for p in (EVAL_PDFS / "ntsb").glob("*.pdf")}
    assert len(nih) >= 15


@pytest.mark.parametrize("source", sorted(TOPICS))
def test_every_core_topic_asked_three_times(source: str) -> None:
    counts = Counter(q.topic for q in ANSWERABLE if _source(q) == source)
    thin = {topic: counts[topic] for topic in TOPICS[source] if counts[topic] < 3}
    assert not thin


def test_unanswerable_questions_carry_nothing() -> None:
    for q in UNANSWERABLE:
        assert q.topic == "unanswerable" and not q.pages, q.id
    assert all(q.topic != "unanswerable" for q in ANSWERABLE)


def test_answer_variants_are_usable() -> None:
    for q in ANSWERABLE:
        assert q.pages and all(isinstance(p, int) and p >= 1 for p in q.pages), q.id
        normalized = [normalize(a) for a in q.answers]
        assert all(normalized), q.id
        assert len(set(normalized)) == len(normalized), f"{q.id}: duplicate variants"
        assert not TOO_COMMON & set(normalized), f"{q.id}: a variant is too common to score"
        assert fact_match(q.answers[0], q.answers), q.id


@pytest.mark.parametrize("q", ANSWERABLE, ids=lambda q: q.id)
def test_fact_stands_on_its_pages(q: GoldQuestion, page_texts: dict[str, tuple[str, ...]],
                                  ) -> None:
    texts = page_texts[q.file]
    assert max(q.pages) <= len(texts), f"{q.file} has {len(texts)} pages"
    holding = [n for n in range(1, len(texts) + 1) if page_holds(texts[n - 1], q.answers[0])]
    assert set(q.pages) & set(holding), (
        f"{q.answers[0]!r} is on pages {holding} of {q.file}, not on {list(q.pages)}")


# --- the scoring rule -------------------------------------------------------------------


def test_normalize() -> None:
    assert normalize("  Seward,\n AK. ") == "seward ak"
    assert normalize("2,319 hours") == "2319 hour"  # plural -s dropped on both sides
    assert normalize("a ten-month study") == "a 10 month study" == normalize("a 10 Months study")
    assert normalize("Glass") == "glass"
    assert normalize("1,234,567") == "1234567"
    assert normalize("11/29/2007") == "11/29/2007"
    assert normalize("30.27 inches Hg") == "30.27 inche hg"
    assert normalize("LANDING - FLARE/TOUCHDOWN") == "landing flare touchdown"
    assert normalize("16 mg/kg") == "16 mg kg"
    assert normalize("80%") == "80 %"
    assert normalize("ﬁnal ｆｌａｒｅ") == "final flare"  # NFKC: ligature and full-width


def test_fact_match() -> None:
    assert fact_match("The pilot had 1234 hours.", ["1,234"])
    assert fact_match("The pilot had 1,234 hours.", ["1234"])
    assert not fact_match("It had 118 seats.", ["18"])
    assert not fact_match("Version 18.5", ["18"])
    assert fact_match("It happened near Seward, AK.", ["Seward, AK"])
    # Word order and each word count: "Seward, Alaska (AK)" is not "Seward AK"; the short
    # variant "Seward" is what lets that answer score.
    assert not fact_match("It happened in Seward, Alaska (AK).", ["Seward, AK"])
    assert fact_match("It happened in Seward, Alaska (AK).", ["Seward, AK", "Seward"])
    assert fact_match("Phase: landing - flare/touchdown", ["LANDING - FLARE/TOUCHDOWN"])
    assert not fact_match("anything at all", [])
    assert not fact_match("anything at all", [""])


def test_page_holds() -> None:
    page = "Location: Seward, AK Accident Number: ANC08CA024\nFlight Time: 2640 hours (Total"
    assert page_holds(page, "Seward, AK")
    assert page_holds(page, "2,640 hours")
    assert not page_holds(page, "264")
    assert not page_holds(page, "")
