"""Plain text, Markdown and .docx files to text documents; bytes to str with a sane encoding."""

from __future__ import annotations

import io
import re
import zipfile

from ingest.documents import Document, IngestError, Page
from ingest.pdf import tidy_text

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def decode_text(data: bytes) -> str | None:
    """The text in `data` (UTF-8, UTF-16 with BOM, or Windows-1251 as used for Russian),
    or None when it is binary."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            return None
    if b"\x00" in data:
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of a sniffed prefix is still UTF-8.
        if exc.start >= len(data) - 3 and exc.reason.startswith("unexpected end"):
            text = data[: exc.start].decode("utf-8-sig")
        else:
            try:
                text = data.decode("cp1251")
            except UnicodeDecodeError:
                return None
    controls = len(_CONTROL.findall(text[:65536]))
    return None if controls > max(2, len(text[:65536]) // 100) else text


def parse_text(text: str, document_id: str, filename: str) -> Document:
    body = tidy_text(text)
    if not body:
        raise IngestError("empty_document", f"{filename} has no text: check the file.")
    return Document(document_id=document_id, filename=filename, kind="text",
                    pages=[Page(number=1, text=body)])


def is_docx(data: bytes) -> bool:
    if not data.startswith(b"PK\x03\x04"):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "word/document.xml" in archive.namelist()
    except zipfile.BadZipFile:
        return False


def parse_docx(data: bytes, document_id: str, filename: str) -> Document:
    """Paragraphs in order; headings become Markdown headings so chunking can follow them;
    table rows become lines of cells separated by ' | '."""
    # python-docx, imported here so plain-text work does not pay for it.
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise IngestError("unreadable_docx",
                          f"{filename} could not be read as a Word document ({exc}): "
                          "save it again as .docx and re-upload.") from exc
    lines: list[str] = []
    for block in document.element.body.iterchildren():
        tag = block.tag.rsplit("}", 1)[-1]
        if tag == "p":
            lines.append(_paragraph_line(Paragraph(block, document)))
        elif tag == "tbl":
            table = Table(block, document)
            lines.extend(" | ".join(cell.text.strip() for cell in row.cells)
                         for row in table.rows)
            lines.append("")
    return parse_text("\n".join(lines), document_id, filename)


def _paragraph_line(paragraph: object) -> str:
    text = paragraph.text.strip()  # type: ignore[attr-defined]
    style = getattr(getattr(paragraph, "style", None), "name", "") or ""
    match = re.match(r"Heading (\d)", style)
    if text and (match or style == "Title"):
        level = int(match.group(1)) if match else 1
        return f"\n{'#' * min(level, 6)} {text}\n"
    return text + "\n"
