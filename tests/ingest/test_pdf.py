"""PDF parsing on real files: text per page, and clear errors for what cannot be read."""

from __future__ import annotations

import pytest

from ingest.documents import IngestError
from ingest.pdf import is_pdf, parse_pdf
from tests.conftest import EVAL_PDFS, PDF_SAMPLES


def parse(path, max_pages=2000):
    return parse_pdf(path.read_bytes(), "doc1", path.name, max_pages=max_pages)


def test_real_report_gives_text_per_numbered_page(ntsb_pdf):
    document = parse(ntsb_pdf)
    assert [p.number for p in document.pages] == [1, 2, 3, 4, 5]
    assert "nosewheel dug into soft snow" in " ".join(document.pages[0].text.split())
    assert "Wausau Flying Service" in document.pages[2].text
    assert document.filename == ntsb_pdf.name


def test_content_decides_what_is_a_pdf_not_the_name() -> None:
    assert is_pdf(b"%PDF-1.7\n...")
    assert is_pdf(b"\xef\xbb\xbf  %PDF-1.4")  # header within the first 1024 bytes
    assert not is_pdf(b"PK\x03\x04 this is a zip named report.pdf")
    with pytest.raises(IngestError) as error:
        parse_pdf(b"hello, I am text", "d", "notes.pdf", max_pages=10)
    assert error.value.code == "not_a_pdf"


def test_password_protected_pdf_fails_with_clear_message() -> None:
    with pytest.raises(IngestError) as error:
        parse(PDF_SAMPLES / "005-libreoffice-writer-password" / "libreoffice-writer-password.pdf")
    assert error.value.code == "encrypted"
    assert "unlocked copy" in error.value.message


def test_image_only_pdf_fails_saying_ocr_is_needed() -> None:
    folder = PDF_SAMPLES / "007-imagemagick-images"
    with pytest.raises(IngestError) as error:
        parse(sorted(folder.glob("*.pdf"))[0])
    assert error.value.code == "no_text_layer"
    assert "OCR" in error.value.message


def test_truncated_pdf_fails_with_clear_message(ntsb_pdf, tmp_path):
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(ntsb_pdf.read_bytes()[:900])
    with pytest.raises(IngestError) as error:
        parse(broken)
    assert error.value.code in {"unreadable_pdf", "no_text_layer"}
    assert "broken.pdf" in error.value.message


def test_page_limit_is_enforced() -> None:
    path = EVAL_PDFS / "ntsb" / "20080104X00020.pdf"
    with pytest.raises(IngestError) as error:
        parse(path, max_pages=4)
    assert error.value.code == "too_many_pages"
    assert "5 pages" in error.value.message


def test_repeated_page_headers_are_removed_but_content_stays(ntsb_pdf) -> None:
    document = parse(ntsb_pdf)
    for page in document.pages[1:]:
        assert f"Page {page.number} of 5" not in page.text
    assert document.pages[2].text.startswith("Factual Information")


def test_two_columns_read_in_order_with_line_end_hyphens_joined() -> None:
    document = parse(PDF_SAMPLES / "026-latex-multicolumn" / "multicolumn.pdf")
    text = document.pages[0].text
    assert "consectetuer adipiscing elit" in " ".join(text.split())
    assert "adip-" not in text
    assert "filled" in text  # the "ﬁ" ligature unfolded
    # The left column comes before the right one.
    assert text.index("Lorem ipsum dolor") < text.index("pellentesque ante")


def test_pages_without_text_are_listed_and_the_rest_kept() -> None:
    document = parse(PDF_SAMPLES / "007-imagemagick-images" / "imagemagick-images.pdf")
    assert len(document.pages) == 6
    assert document.empty_pages == [4, 5]
    assert document.pages[0].text == "Background"
