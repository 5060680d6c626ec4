"""Tables in PDFs: docchat's parse (plain text with layout-detected tables spliced in as
`label | v1 | v2` rows) against plain pypdf text alone, on every PDF in ../shared/eval/pdfs.

Speed: pages/s of the plain read (pypdf's plain extract_text, tidied, repeated margins
removed: docchat's parse before tables) and of docchat's parse_pdf, same files, same process.

Tables: how many parse_pdf writes (runs of two or more `|` rows). Quality: the reference rows
are the rows of the tables ingest.tables finds in pypdf's layout-mode text that hold a label
and at least one figure; a row is "together" in a text when one line of it holds the label
and then every figure, in order. Rows with an empty cell before a figure are counted too:
plain text cannot say which column such a figure is in (a schedule's X under month 12).

Prose: on pages where no table was written, the word multiset of parse_pdf's text against
the plain read's (shared words / the larger count); the same on pages with tables, `|` aside.

    python -m tests.benchmarks.pdf_tables
"""

from __future__ import annotations

import argparse
import io
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pypdf
from pypdf import PdfReader

from ingest.pdf import PYPDF_LIMITS, parse_pdf, remove_repeated_margins, tidy_text
from ingest.tables import CELL_SEPARATOR, find_tables, is_table_row
from tests.benchmarks.common import EVAL, header


@dataclass
class Tally:
    pages: int = 0
    plain_s: float = 0.0
    docchat_s: float = 0.0
    tables: int = 0
    table_pages: int = 0
    rows: int = 0
    rows_plain: int = 0
    rows_docchat: int = 0
    rows_with_gap: int = 0
    prose_overlaps: list[float] = field(default_factory=list)
    table_page_overlaps: list[float] = field(default_factory=list)


def plain_pages(data: bytes) -> list[str]:
    """docchat's page texts before tables: plain extraction, tidied, margins removed."""
    limits = pypdf.get_configuration().with_overwrites(**PYPDF_LIMITS)
    with pypdf.apply_configuration(limits):
        reader = PdfReader(io.BytesIO(data))
        texts = [tidy_text(page.extract_text() or "") for page in reader.pages]
    return remove_repeated_margins(texts)


def reference_rows(data: bytes) -> list[list[tuple[str, ...]]]:
    """Per page, the rows (label, figures...) of the tables found in layout-mode text."""
    reader = PdfReader(io.BytesIO(data))
    pages = []
    for page in reader.pages:
        rows = []
        for table in find_tables(page.extract_text(extraction_mode="layout"), tidy_text):
            rows.extend(row for row in table.rows[1:] if row[0] and any(row[1:]))
        pages.append(rows)
    return pages


def together(row: tuple[str, ...], lines: list[str]) -> bool:
    """One line holds the row's label and then each of its figures, in order."""
    wanted = [cell for cell in row if cell]
    for line in lines:
        at = 0
        for cell in wanted:
            at = line.find(cell, at)
            if at < 0:
                break
            at += len(cell)
        else:
            return True
    return False


def overlap(a: str, b: str) -> float:
    words_a = Counter(w for w in a.split() if w != CELL_SEPARATOR.strip())
    words_b = Counter(w for w in b.split() if w != CELL_SEPARATOR.strip())
    larger = max(sum(words_a.values()), sum(words_b.values()))
    return sum((words_a & words_b).values()) / larger if larger else 1.0


def table_count(text: str) -> int:
    count, run = 0, 0
    for line in [*text.splitlines(), ""]:
        if is_table_row(line):
            run += 1
            continue
        count += run >= 2
        run = 0
    return count


def measure(path: Path, tally: Tally) -> None:
    data = path.read_bytes()
    started = time.perf_counter()
    plain = plain_pages(data)
    tally.plain_s += time.perf_counter() - started
    started = time.perf_counter()
    try:
        document = parse_pdf(data, "bench", path.name, max_pages=5000)
    except Exception as exc:  # noqa: BLE001 - a scanned PDF: counted in neither
        print(f"#   {path.name}: {exc}")
        return
    tally.docchat_s += time.perf_counter() - started
    tally.pages += len(document.pages)
    for page, before, rows in zip(document.pages, plain, reference_rows(data), strict=True):
        tables = table_count(page.text)
        tally.tables += tables
        tally.table_pages += tables > 0
        (tally.table_page_overlaps if tables else tally.prose_overlaps).append(
            overlap(page.text, before))
        plain_lines, new_lines = before.splitlines(), page.text.splitlines()
        for row in rows:
            tally.rows += 1
            tally.rows_plain += together(row, plain_lines)
            tally.rows_docchat += together(row, new_lines)
            tally.rows_with_gap += any(not cell and any(row[k + 1:])
                                       for k, cell in enumerate(row[1:], start=1))


def report(name: str, tally: Tally) -> None:
    def share(part: int, whole: int) -> str:
        return f"{part}/{whole} ({100 * part / whole:.1f}%)" if whole else "0/0"

    def mean(values: list[float]) -> str:
        return f"{sum(values) / len(values):.4f} (min {min(values):.3f}, {len(values)} pages)" \
            if values else "-"

    print(f"## {name}")
    print(f"pages/s   plain {tally.pages / tally.plain_s:6.1f}   docchat "
          f"{tally.pages / tally.docchat_s:6.1f}   ({tally.pages} pages; "
          f"{tally.plain_s:.1f} s vs {tally.docchat_s:.1f} s)")
    print(f"tables written: {tally.tables} on {tally.table_pages} pages")
    print(f"table rows with label and figures on one line: plain "
          f"{share(tally.rows_plain, tally.rows)}, docchat {share(tally.rows_docchat, tally.rows)}")
    print(f"  reference rows with an empty cell before a figure (its column lost in plain): "
          f"{tally.rows_with_gap}")
    print(f"word overlap with plain, pages without tables: {mean(tally.prose_overlaps)}")
    print(f"word overlap with plain, pages with tables ('|' aside): "
          f"{mean(tally.table_page_overlaps)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pdfs", type=Path, default=EVAL / "pdfs")
    args = parser.parse_args()
    header("PDF tables: docchat parse_pdf vs plain pypdf text")
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    tallies: dict[str, Tally] = {}
    for path in sorted(args.pdfs.glob("*/*.pdf")):
        measure(path, tallies.setdefault(path.parent.name, Tally()))
    for name, tally in sorted(tallies.items()):
        report(name, tally)


if __name__ == "__main__":
    main()
