"""PDF bytes to pages of text with pypdf; each failure is an IngestError that says what to do.

Tables come out as rows of cells joined by " | " (ingest.tables); the rest as plain text.
"""

from __future__ import annotations

import io
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pypdf
from pypdf import PageObject, PdfReader
from pypdf._text_extraction import _layout_mode
from pypdf.constants import PageAttributes
from pypdf.errors import (
    DependencyError,
    FileNotDecryptedError,
    LimitReachedError,
    PdfReadError,
    PyPdfError,
)
from pypdf.generic import ArrayObject, ContentStream, NameObject, StreamObject

from ingest.documents import Document, IngestError, Page
from ingest.ocr import OcrFailed, OcrOptions, OcrPage, missing_for_ocr, read_pages
from ingest.tables import Table, find_tables, splice_tables

log = logging.getLogger(__name__)

PDF_MAGIC = b"%PDF-"
# The PDF spec lets the header start anywhere in the first 1024 bytes.
_HEADER_WINDOW = 1024

# pypdf's safety limits, raised where its defaults reject real documents: long filings carry
# content streams, xref streams and arrays bigger than 75 MB / 100,000 entries / 2 million
# operands. Every limit stays finite, so decompression bombs and absurd object counts still
# stop with LimitReachedError; the parse also runs under a time limit and a memory ceiling
# (ingest.sandbox). The README's configuration reference lists these values.
PYPDF_LIMITS = {
    "maximum_declared_stream_length": 500_000_000,
    "array_based_stream_maximum_output_length": 500_000_000,
    "zlib_maximum_output_length": 500_000_000,
    "lzw_maximum_output_length": 500_000_000,
    "run_length_maximum_output_length": 500_000_000,
    "array_maximum_element_count": 2_000_000,
    "dictionary_maximum_element_count": 1_000_000,
    "stream_decoding_work_maximum_length": 2_000_000_000,
    "stream_parsing_work_maximum_count": 50_000_000,
    "xform_maximum_invocations_per_extraction": 50_000,
}

_READ_ERRORS = (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, AttributeError,
                IndexError, RecursionError, AssertionError, OverflowError, ZeroDivisionError)


def is_pdf(head: bytes) -> bool:
    """True when the first bytes of a file carry a PDF header (content, not the filename)."""
    return PDF_MAGIC in head[:_HEADER_WINDOW]


# An image XObject's dictionary (a stream's, so never hidden in an object stream), and its size.
_IMAGE = re.compile(rb"/Subtype\s*/Image\b")
_WIDTH = re.compile(rb"/Width\s+(\d{1,6})\b")
_HEIGHT = re.compile(rb"/Height\s+(\d{1,6})\b")
# A scanned page's image: at least this many pixels each way (a letter page at 150 dpi is
# 1275 x 1650); logos, figures and signatures are smaller.
_PAGE_PIXELS = 1000
_IMAGES_LOOKED_AT = 200


def looks_scanned(data: bytes) -> bool:
    """Whether a PDF's raw bytes hold an image the size of a scanned page, so that some of its
    pages are likely read by OCR (seconds a page) rather than from a text layer. A guess from
    the bytes alone, nothing parsed: good enough to order work by, never to decide how a file
    is read (a text PDF with a full-page photograph looks scanned too)."""
    for n, image in enumerate(_IMAGE.finditer(data)):
        if n == _IMAGES_LOOKED_AT:
            break
        around = data[max(0, image.start() - 400):image.end() + 400]  # its dictionary
        width, height = _WIDTH.search(around), _HEIGHT.search(around)
        if width and height and min(int(width[1]), int(height[1])) >= _PAGE_PIXELS:
            return True
    return False


def parse_pdf(data: bytes, document_id: str, filename: str, max_pages: int,
              ocr: OcrOptions | None = None) -> Document:
    """Read a PDF's text page by page; pages keep their 1-based numbers.

    Pages without a text layer are read by OCR (`ocr`; None: not at all). Pages that end
    without text are kept (empty) and listed in `empty_pages`; a PDF with no text at all fails
    with `no_text_layer` (OCR off or not installed: the message says what to set or install),
    `no_text_found` (OCR read nothing) or `ocr_failed`.
    """
    if not is_pdf(data):
        raise IngestError("not_a_pdf", f"{filename} is not a PDF file: upload a PDF document.")
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # font warnings are noise to users
    limits = pypdf.get_configuration().with_overwrites(**PYPDF_LIMITS)
    with pypdf.apply_configuration(limits):
        try:
            reader = _open_reader(data, filename)
            page_count = _page_count(reader, filename)
            if page_count > max_pages:
                raise IngestError(
                    "too_many_pages",
                    f"{filename} has {page_count} pages; the limit is {max_pages}. "
                    "Split the document and upload the parts.",
                )
            read = [_page_text(reader, i, filename) for i in range(page_count)]
            without_text = [i for i, (text, _) in enumerate(read) if not text.strip()]
            by_ocr = _read_by_ocr(reader, without_text, filename, ocr,
                                  nothing_else=len(without_text) == page_count)
        except LimitReachedError as exc:
            raise IngestError(
                "pdf_too_complex",
                f"{filename} exceeds docchat's safety limits for PDFs ({exc}). It may be damaged "
                "or built to exhaust memory; re-export it (print to PDF) and upload again.",
            ) from exc
    plain = [by_ocr[i].text if i in by_ocr else text for i, (text, _) in enumerate(read)]
    texts = _with_tables(plain, [tables for _, tables in read])
    pages = [Page(number=i + 1, text=text, origin="ocr" if i in by_ocr else "text_layer",
                  confidence=by_ocr[i].confidence if i in by_ocr else None)
             for i, text in enumerate(texts)]
    empty = [p.number for p in pages if not p.text.strip()]
    if len(empty) == len(pages):
        raise IngestError(
            "no_text_found",
            f"{filename} has no text layer, and OCR found no text on its pages (they look like "
            "pictures): there is nothing in it docchat can search. Upload a version with text.",
        )
    return Document(document_id=document_id, filename=filename, kind="pdf", pages=pages,
                    empty_pages=empty)


def _read_by_ocr(reader: PdfReader, indexes: list[int], filename: str, ocr: OcrOptions | None,
                 nothing_else: bool) -> dict[int, OcrPage]:
    """The pages at these 0-based indexes (those without a text layer) read by OCR, by index;
    only those where it found text. Blank pages are passed by. When OCR is off, not installed
    or fails, a PDF with text elsewhere keeps these pages empty (logged); one with
    `nothing_else` fails saying why."""
    indexes = [i for i in indexes if not _blank(reader, i)]
    if not indexes:
        if nothing_else:
            raise IngestError("no_text_found", f"{filename} has no text: its pages are blank.")
        return {}
    if ocr is None:
        if nothing_else:
            raise IngestError(
                "no_text_layer",
                f"{filename} has no text layer (it looks scanned or image-only) and reading "
                "scans by OCR is turned off here: ask your administrator to set "
                "DOCCHAT_OCR=true, or run OCR on it yourself and upload the searchable PDF.",
            )
        return {}
    missing = missing_for_ocr(ocr.language_codes)
    if missing:
        log.warning("%s: %d pages without a text layer not read: OCR needs %s", filename,
                    len(indexes), "; ".join(missing))
        if nothing_else:
            raise IngestError(
                "no_text_layer",
                f"{filename} has no text layer (it looks scanned or image-only), and docchat "
                f"cannot read it by OCR on this server: it needs {_listed(missing)}. Ask your "
                "administrator to install them (`make ocr-tools` installs the Debian packages), "
                "then re-index the document.",
            )
        return {}
    try:
        read = read_pages(reader, indexes, ocr)
    except (OcrFailed, *_READ_ERRORS) as exc:
        log.warning("%s: OCR of %d pages failed: %s", filename, len(indexes), exc)
        if nothing_else:
            raise IngestError(
                "ocr_failed",
                f"{filename} has no text layer, and reading it by OCR failed. Re-export it "
                "(print to PDF) and upload it again, or upload a version with text.",
            ) from exc
        return {}
    tidied = {i: OcrPage(tidy_text(page.text), page.confidence) for i, page in read.items()}
    return {i: page for i, page in tidied.items() if page.text}


def _blank(reader: PdfReader, index: int) -> bool:
    """A page that draws nothing at all (no content stream, or an empty one)."""
    try:
        contents = reader.pages[index].get_contents()
        return contents is None or not contents.get_data().strip()
    except LimitReachedError:
        raise
    except _READ_ERRORS:
        return False  # unreadable to pypdf: the rasterizer may still draw it


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _open_reader(data: bytes, filename: str) -> PdfReader:
    try:
        reader = PdfReader(io.BytesIO(data))
        encrypted = reader.is_encrypted
    except LimitReachedError:
        raise
    except _READ_ERRORS as exc:
        raise _unreadable(filename, exc) from exc
    if encrypted:
        try:
            opened = reader.decrypt("")
        except (DependencyError, NotImplementedError, *_READ_ERRORS) as exc:
            raise _encrypted(filename) from exc
        if not opened:
            raise _encrypted(filename)
    return reader


def _page_count(reader: PdfReader, filename: str) -> int:
    try:
        return len(reader.pages)
    except FileNotDecryptedError as exc:
        raise _encrypted(filename) from exc
    except LimitReachedError:
        raise
    except _READ_ERRORS as exc:
        raise _unreadable(filename, exc) from exc


def _with_tables(plain: list[str], tables: list[list[Table]]) -> list[str]:
    """Page texts without repeated headers and footers, each page's tables spliced in.

    Margins are found on the plain texts (as before tables); a table row that reads as a
    repeated header or footer line is dropped too, so it cannot bring one back.
    """
    boilerplate = repeated_margins(plain)
    texts = _without_margins(plain, boilerplate)
    if texts is plain:
        boilerplate = set()

    def is_margin(row: str) -> bool:
        return _shape(row) in boilerplate

    return [splice_tables(text, [table.without_rows(is_margin) for table in page_tables])
            for text, page_tables in zip(texts, tables, strict=True)]


def _page_text(reader: PdfReader, index: int, filename: str) -> tuple[str, list[Table]]:
    try:
        page = reader.pages[index]
        with _contents_parsed_once(page) as contents:
            text = tidy_text(page.extract_text() or "")
    except LimitReachedError:
        raise
    except _READ_ERRORS as exc:
        # One broken page should not sink a whole contract: keep the rest, log this one.
        log.warning("page %d of %s could not be read: %s", index + 1, filename, exc)
        return "", []
    return text, _layout_tables(page, contents, index, filename) if text else []


@contextmanager
def _contents_parsed_once(page: PageObject) -> Iterator[ContentStream | None]:
    """The page's content stream, decoded, as both of its readings use it (None: the page has
    none); inside the block the page holds it in place of its own.

    pypdf parses a page's content stream into operations for each reading: the plain text
    and the layout text (for tables) parsed it twice, over a third of all parsing time. Held
    in the page, the stream is parsed once, by whichever reading comes first; `_layout_text`
    reads the same operations. Decoding it here also lets a decompression limit surface:
    extract_text() swallows one and returns "", which would report a bomb as a scan.
    """
    key = NameObject(PageAttributes.CONTENTS)
    own = page.get(key)
    resolved = own.get_object() if own is not None else None
    if not isinstance(resolved, (ArrayObject, StreamObject)):
        yield None
        return
    contents = ContentStream(resolved, page.pdf, "bytes")
    page[key] = contents
    try:
        yield contents
    finally:
        page[key] = own


def _layout_tables(page: PageObject, contents: ContentStream | None, index: int,
                   filename: str) -> list[Table]:
    """The tables in pypdf's layout-mode text of a page (which keeps columns apart); none
    when layout mode fails on a page that plain extraction read."""
    try:
        layout = _layout_text(page, contents)
    except LimitReachedError:
        raise
    except _READ_ERRORS as exc:
        log.warning("page %d of %s: layout text failed (%s); plain text kept", index + 1,
                    filename, exc)
        return []
    try:
        return find_tables(layout, tidy_text)
    except (ValueError, IndexError, KeyError, StopIteration) as exc:
        # Finding tables is a refinement: a page it cannot read keeps its plain text.
        log.warning("page %d of %s: tables not read (%s); plain text kept", index + 1,
                    filename, exc)
        return []


def _layout_text(page: PageObject, contents: ContentStream | None) -> str:
    """`page.extract_text(extraction_mode="layout")` over operations parsed already: the steps
    of pypdf's PageObject._layout_mode_text with its defaults (tests/ingest/test_pdf_layout.py
    holds the two equal on every page of the test PDFs, so a pypdf that changes them fails
    there)."""
    if contents is None:
        return ""
    groups = _layout_mode.text_show_operations(iter(contents.operations),
                                               page._layout_mode_fonts(), True, None)
    if not groups:
        return ""
    return _layout_mode.fixed_width_page(_layout_mode.y_coordinate_groups(groups, None),
                                         _layout_mode.fixed_char_width(groups, 1.25), True, 1)


_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")
# "adip-\niscing" -> "adipiscing": a hyphen at a line end between two lower-case letters.
_LINE_END_HYPHEN = re.compile(r"(?<=[a-zà-ÿа-яё])-\n(?=[a-zà-ÿа-яё])")


def tidy_text(text: str) -> str:
    """Ligatures unfolded, spaces collapsed, words hyphenated across lines joined."""
    text = unicodedata.normalize("NFKC", text.replace("\x00", ""))
    text = _SPACES.sub(" ", text)
    text = "\n".join(line.strip() for line in text.splitlines())
    text = _LINE_END_HYPHEN.sub("", text)
    return _BLANK_LINES.sub("\n\n", text).strip()


# Header and footer lines: the first and last few lines of a page.
_MARGIN_LINES = 3
_DIGITS = re.compile(r"\d+")


def remove_repeated_margins(texts: list[str], min_pages: int = 3, share: float = 0.6,
                            ) -> list[str]:
    """Drop header/footer lines that repeat (digits aside) at the top or bottom of most pages.

    "Page 2 of 5 CHI08CA047" on every page is boilerplate, not content; a line must stand in
    the margin of at least `share` of the pages, and the document have `min_pages` pages.
    Returns `texts` itself when nothing is dropped.
    """
    return _without_margins(texts, repeated_margins(texts, min_pages, share))


def _without_margins(texts: list[str], boilerplate: set[str]) -> list[str]:
    """`texts` less the margin lines of these shapes; `texts` itself when none goes."""
    if not boilerplate:
        return texts
    cleaned = [_without(text, boilerplate) for text in texts]
    # When the repeated lines are all the text there is, they are the content.
    return cleaned if any(t.strip() for t in cleaned) else texts


def repeated_margins(texts: list[str], min_pages: int = 3, share: float = 0.6) -> set[str]:
    """The shapes (lower case, digits as #) of the margin lines `remove_repeated_margins`
    drops."""
    pages_with_text = [t for t in texts if t.strip()]
    if len(pages_with_text) < min_pages:
        return set()
    seen: Counter[str] = Counter()
    for text in pages_with_text:
        seen.update({_shape(line) for line in _margins(text.splitlines())})
    threshold = share * len(pages_with_text)
    return {shape for shape, count in seen.items() if count >= threshold and shape}


def _margins(lines: list[str]) -> list[str]:
    kept = [line for line in lines if line.strip()]
    return kept[:_MARGIN_LINES] + kept[-_MARGIN_LINES:]


def _shape(line: str) -> str:
    return _DIGITS.sub("#", line.strip().lower())


def _without(text: str, boilerplate: set[str]) -> str:
    lines = text.splitlines()
    nonempty = [i for i, line in enumerate(lines) if line.strip()]
    margin = set(nonempty[:_MARGIN_LINES] + nonempty[-_MARGIN_LINES:])
    kept = [line for i, line in enumerate(lines)
            if not (i in margin and _shape(line) in boilerplate)]
    return "\n".join(kept).strip()


def _encrypted(filename: str) -> IngestError:
    return IngestError(
        "encrypted",
        f"{filename} is password-protected: upload an unlocked copy.",
    )


def _unreadable(filename: str, exc: Exception) -> IngestError:
    return IngestError(
        "unreadable_pdf",
        f"{filename} could not be read as a PDF ({exc}). "
        "The file may be damaged: export or download it again and re-upload.",
    )
