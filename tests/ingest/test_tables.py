"""Tables in PDFs: found where columns line up, written as `label | v1 | v2` rows under their
header, chunked between rows with the header repeated; prose pages read as before."""

from __future__ import annotations

import io

import pytest
from pypdf import PageObject, PdfReader

from ingest.chunking import chunk_document
from ingest.documents import Document, Page
from ingest.pdf import parse_pdf, tidy_text
from ingest.tables import find_tables
from tests.conftest import EVAL_PDFS, helvetica_pdf, pdf_escape

# x positions (points) of the table's columns, and one line's height.
COLUMNS = (60, 230, 330, 450)
LINE = 14

HEADER = ("Dose level", "Cohort size", "Dose (mg/kg)", "DLTs")
PROSE = ("The escalation follows a standard three plus three design with a safety review "
         "committee meeting after every cohort has completed the first treatment cycle.")


def placed_pdf(pages: list[list[tuple[float, float, str]]]) -> bytes:
    """A PDF whose pages hold each text at (x, y) points, in 10-point Helvetica."""
    return helvetica_pdf([
        b"\n".join(b"BT /F1 10 Tf %.1f %.1f Td (%s) Tj ET" % (x, y, pdf_escape(text))
                    for x, y, text in items)
        for items in pages])


def table_items(rows: list[tuple[str, ...]], top: float) -> list[tuple[float, float, str]]:
    return [(x, top - r * LINE, cell)
            for r, row in enumerate(rows) for x, cell in zip(COLUMNS, row, strict=True) if cell]


def dose_rows(count: int) -> list[tuple[str, ...]]:
    return [(f"Level {n}", "3", f"{n * 0.5:.1f}", str(n % 2)) for n in range(1, count + 1)]


def prose_items(lines: list[str], x: float, top: float) -> list[tuple[float, float, str]]:
    return [(x, top - r * LINE, line) for r, line in enumerate(lines)]


def parse(data: bytes) -> Document:
    return parse_pdf(data, "doc", "trial.pdf", max_pages=50)


def plain_texts(data: bytes) -> list[str]:
    """What docchat read before tables: pypdf's plain text, tidied."""
    return [tidy_text(page.extract_text() or "") for page in PdfReader(io.BytesIO(data)).pages]


def words(text: str) -> int:
    return len(text.split())


def test_a_table_comes_out_as_rows_of_cells_under_its_header() -> None:
    page = ([(60, 740, "Table 2. Dose escalation")]
            + table_items([HEADER, *dose_rows(4)], top=710)
            + [(60, 620, "Doses are given on day 1 of each cycle.")])
    text = parse(placed_pdf([page])).pages[0].text
    lines = text.splitlines()
    assert "Dose level | Cohort size | Dose (mg/kg) | DLTs" in lines
    assert "Level 1 | 3 | 0.5 | 1" in lines
    assert "Level 4 | 3 | 2.0 | 0" in lines
    # The header comes first, then the rows in order; the prose around stays where it was.
    header = lines.index("Dose level | Cohort size | Dose (mg/kg) | DLTs")
    assert lines[header + 1:header + 5] == [f"Level {n} | 3 | {n * 0.5:.1f} | {n % 2}"
                                           for n in range(1, 5)]
    assert lines[0] == "Table 2. Dose escalation"
    assert lines[-1] == "Doses are given on day 1 of each cycle."


def test_an_empty_cell_keeps_the_figures_after_it_in_their_columns() -> None:
    rows = [HEADER, ("Level 1", "3", "0.5", "0"), ("Level 2", "", "1.0", "1"),
            ("Level 3", "6", "1.5", "")]
    text = parse(placed_pdf([table_items(rows, top=700)])).pages[0].text
    assert "Level 2 | | 1.0 | 1" in text.splitlines()
    assert "Level 3 | 6 | 1.5" in text.splitlines()  # trailing empty cells are left off


def test_detection_finds_the_table_in_layout_text() -> None:
    layout = "\n".join([
        "Results by site",
        "",
        "Site            Enrolled     Completed",
        "Boston                12            10",
        "Denver                 8             8",
        "Austin                15            11",
    ])
    (table,) = find_tables(layout, tidy_text)
    assert table.lines() == ["Site | Enrolled | Completed", "Boston | 12 | 10",
                             "Denver | 8 | 8", "Austin | 15 | 11"]


def test_a_long_table_splits_between_rows_and_every_chunk_repeats_the_header() -> None:
    document = parse(placed_pdf([table_items([HEADER, *dose_rows(40)], top=740)]))
    chunks = chunk_document(document, words, chunk_tokens=40, overlap_tokens=5, max_tokens=50)
    header = "Dose level | Cohort size | Dose (mg/kg) | DLTs"
    assert len(chunks) > 3
    assert all(c.text.splitlines()[0] == header for c in chunks)
    assert all(words(c.text) <= 50 for c in chunks)
    rows = [line for c in chunks for line in c.text.splitlines() if line != header]
    assert rows == [f"Level {n} | 3 | {n * 0.5:.1f} | {n % 2}" for n in range(1, 41)]


def test_a_table_that_fits_stays_in_one_chunk_with_its_caption() -> None:
    page = [(60, 740, "Table 2. Dose escalation")] + table_items([HEADER, *dose_rows(5)],
                                                                    top=710)
    chunks = chunk_document(parse(placed_pdf([page])), words, chunk_tokens=80,
                            overlap_tokens=10, max_tokens=100)
    assert len(chunks) == 1
    assert chunks[0].text.startswith("Table 2. Dose escalation\nDose level | Cohort size")


def test_a_row_longer_than_the_ceiling_is_cut_under_it() -> None:
    long_row = "Level 9 | " + " ".join(["note"] * 120) + " | 4.5 | 1"
    text = "\n".join(["Dose level | Cohort size | Dose (mg/kg) | DLTs", "Level 1 | 3 | 0.5 | 0",
                      long_row, "Level 10 | 3 | 5.0 | 0"])
    document = Document("d", "a.pdf", kind="pdf", pages=[Page(1, text)])
    chunks = chunk_document(document, words, chunk_tokens=40, overlap_tokens=0, max_tokens=50)
    assert all(words(c.text) <= 50 for c in chunks)
    assert "Level 10 | 3 | 5.0 | 0" in chunks[-1].text
    assert chunks[-1].text.startswith("Dose level | Cohort size")


def test_prose_pages_read_exactly_as_plain_text() -> None:
    pages = [prose_items([PROSE[:80], PROSE[80:], "A second paragraph follows here."],
                         x=60, top=740)] * 2
    data = placed_pdf(pages)
    assert [p.text for p in parse(data).pages] == plain_texts(data)


def test_two_columns_of_prose_are_not_a_table_nor_interleaved() -> None:
    left = ["The left column opens the article and", "carries on for several lines of",
            "ordinary prose that wraps at the", "gutter before the right column starts."]
    right = ["The right column continues the story", "with more sentences of the same",
             "kind, set beside the left column", "on the very same baselines."]
    data = placed_pdf([prose_items(left, x=60, top=740) + prose_items(right, x=320, top=740)])
    text = parse(data).pages[0].text
    assert "|" not in text
    assert text == plain_texts(data)[0]
    assert text.index("gutter before the right column") < text.index("The right column")


def test_a_bulleted_list_is_not_a_table() -> None:
    items = [(72, 700 - r * LINE, "-") for r in range(4)] + [
        (90, 700 - r * LINE, f"Visit {r + 1} includes a blood draw and vital signs")
        for r in range(4)]
    data = placed_pdf([items])
    assert "|" not in parse(data).pages[0].text


def test_a_page_where_layout_mode_fails_keeps_its_plain_text(monkeypatch) -> None:
    data = placed_pdf([table_items([HEADER, *dose_rows(4)], top=700)])

    def failing(self):  # layout mode reads the page's fonts its own way; a broken one fails
        raise KeyError("/Widths")

    monkeypatch.setattr(PageObject, "_layout_mode_fonts", failing)
    assert [p.text for p in parse(data).pages] == plain_texts(data)


@pytest.mark.skipif(not EVAL_PDFS.is_dir(), reason="the eval PDFs are not on this machine")
def test_a_real_report_keeps_each_form_value_beside_its_label() -> None:
    path = EVAL_PDFS / "ntsb" / "20080104X00020.pdf"
    page = parse_pdf(path.read_bytes(), "d", path.name, max_pages=10).pages[2].text
    lines = page.splitlines()
    assert "Certificate: | Private | Age: | 61, Male" in lines
    # Plain text puts "None" two lines below its label; the table keeps them on one row.
    assert "Operator: | Wausau Flying Service | Operating Certificate(s) Held: | None" in lines
    assert "Airframe Total Time: | 5950 Hours at time of accident | Engine Manufacturer: | " \
           "Textron Lycoming" in lines
    assert page.startswith("Factual Information")  # the repeated page header is still removed


@pytest.mark.skipif(not EVAL_PDFS.is_dir(), reason="the eval PDFs are not on this machine")
def test_a_real_schedule_of_events_keeps_each_mark_in_its_visit_column() -> None:
    path = EVAL_PDFS / "nih" / "NCT06151600_Prot_000.pdf"
    page = parse_pdf(path.read_bytes(), "d", path.name, max_pages=100).pages[25].text
    lines = page.splitlines()
    assert "Informed Consent | | X" in lines  # screening only
    assert "Medical Information | | | X | X | X" in lines  # baseline, month 12, month 24
    assert "Wearable devices | X | X | X | X" in lines


def test_a_label_that_strays_just_past_its_column_does_not_break_the_page() -> None:
    """A figure's labels in a textbook (GeoTopo, page 57): 'z' sits within the slack of the
    column 'z2' opened but touches no column; it joins the nearest one."""
    layout = "i        z2\n             z\n    ϕϕ\n"
    assert find_tables(layout, tidy_text) == []  # three scraps are no table, and no crash
