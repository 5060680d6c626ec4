"""One parse of a page's content stream serves both of its readings (ingest.pdf): each reading
must stay what pypdf's own extract_text gives, page by page, on real PDFs of several makers."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from ingest.pdf import _contents_parsed_once, _layout_text
from tests.conftest import EVAL_PDFS, PDF_SAMPLES

PDFS = [
    EVAL_PDFS / "ntsb" / "20080104X00020.pdf",  # form fields in columns
    EVAL_PDFS / "nih" / "NCT06159946_Prot_000.pdf",  # protocol with a schedule table
    PDF_SAMPLES / "015-arabic" / "habibi.pdf",
    PDF_SAMPLES / "026-latex-multicolumn" / "multicolumn.pdf",
    PDF_SAMPLES / "011-google-doc-document" / "google-doc-document.pdf",
]


@pytest.mark.parametrize("path", PDFS, ids=lambda p: p.name)
def test_both_readings_equal_pypdfs_own_on_every_page(path) -> None:
    if not path.is_file():
        pytest.skip(f"{path} is not on this machine")
    data = path.read_bytes()
    theirs = PdfReader(io.BytesIO(data)).pages
    ours = PdfReader(io.BytesIO(data)).pages
    read = 0
    for their_page, our_page in zip(theirs, ours, strict=True):
        plain = their_page.extract_text()
        layout = their_page.extract_text(extraction_mode="layout")
        with _contents_parsed_once(our_page) as contents:
            assert our_page.extract_text() == plain
        assert _layout_text(our_page, contents) == layout
        read += bool(plain.strip())
    assert read, f"{path.name}: no page with text, so nothing was compared"


def test_the_page_keeps_its_own_contents_after_the_readings(ntsb_pdf) -> None:
    page = PdfReader(ntsb_pdf).pages[0]
    own = page["/Contents"]
    with _contents_parsed_once(page) as contents:
        assert contents is not None
        assert page["/Contents"] is contents
    assert page["/Contents"] is own
