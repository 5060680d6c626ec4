"""Scanned PDF pages read by OCR (Tesseract through OCRmyPDF): text, origin and confidence per
page, in English and Russian; and what the reader is told when OCR is off or not installed."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from ingest import sandbox
from ingest.documents import IngestError
from ingest.ocr import (
    OcrOptions,
    OcrPage,
    one_alphabet_per_word,
    page_read,
    word_confidence,
)
from ingest.pdf import parse_pdf
from ingest.sandbox import parse_isolated
from tests.conftest import PDF_SAMPLES, joined_pdf, scanned_pdf, text_pdf

ENGLISH = ["Appendix D: Study Protocol Class Procedures",
           "Participants practise chair-based yoga twice a week.",
           "Blood pressure is measured before and after each class."]
RUSSIAN = ["Протокол заседания рабочей группы",
           "Решили завершить обработку архива до 29 марта.",
           "Ответственный за исполнение: Белов А. Г."]


def scan(*pages: list[str], sideways: bool = False) -> bytes:
    return scanned_pdf(list(pages), sideways=sideways)


def folded(text: str) -> str:
    return " ".join(text.split())


def read(data: bytes, name: str = "scan.pdf", **options) -> object:
    return parse_pdf(data, "doc", name, max_pages=100, ocr=OcrOptions(**options))


def test_a_scan_is_read_by_ocr_and_each_page_says_where_its_text_came_from() -> None:
    document = read(joined_pdf(text_pdf([["This first page has a text layer of its own."]]),
                               scan(ENGLISH)))
    first, second = document.pages
    assert (first.origin, first.confidence) == ("text_layer", None)
    assert "text layer of its own" in first.text
    assert second.origin == "ocr"
    assert 0.8 <= second.confidence <= 1.0, second.confidence
    for line in ENGLISH:
        assert line in folded(second.text), second.text
    assert document.empty_pages == []


def test_russian_and_a_sideways_page_are_read_with_the_default_languages() -> None:
    document = read(scan(RUSSIAN, sideways=True), "протокол.pdf")
    (page,) = document.pages
    assert page.origin == "ocr" and page.confidence >= 0.8, page
    for line in RUSSIAN:
        assert line in folded(page.text), page.text


def test_with_ocr_off_a_scan_fails_saying_how_to_turn_it_on() -> None:
    with pytest.raises(IngestError) as error:
        parse_pdf(scan(ENGLISH), "doc", "scan.pdf", max_pages=100, ocr=None)
    assert error.value.code == "no_text_layer"
    assert "scan.pdf" in error.value.message and "DOCCHAT_OCR=true" in error.value.message


def test_without_tesseract_a_scan_fails_saying_what_to_install(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no tesseract on it
    with pytest.raises(IngestError) as error:
        read(scan(ENGLISH))
    assert error.value.code == "no_text_layer"
    message = error.value.message
    assert "Debian package tesseract-ocr)" in message and "make ocr-tools" in message
    assert "tesseract-ocr-eng" in message and "tesseract-ocr-rus" in message


def test_a_language_without_its_data_is_named_with_its_package() -> None:
    with pytest.raises(IngestError) as error:
        read(scan(ENGLISH), languages="eng+chi_sim")
    assert error.value.code == "no_text_layer"
    assert "tesseract-ocr-chi-sim" in error.value.message
    assert "tesseract-ocr-eng" not in error.value.message  # installed: not asked for


def test_without_ocr_a_partly_scanned_pdf_keeps_its_text_pages(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    document = read((PDF_SAMPLES / "007-imagemagick-images" / "imagemagick-images.pdf")
                    .read_bytes())
    assert document.empty_pages == [4, 5]
    assert document.pages[0].text == "Background"


def test_a_picture_without_text_fails_with_no_text_found() -> None:
    path = PDF_SAMPLES / "019-grayscale-image" / "grayscale-image.pdf"  # a drawing of a boy
    with pytest.raises(IngestError) as error:
        read(path.read_bytes(), path.name)
    assert error.value.code == "no_text_found"
    assert path.name in error.value.message and "OCR" in error.value.message


def test_confidence_is_the_mean_of_tesseracts_word_confidences() -> None:
    hocr = ("<span class='ocr_line' title='bbox 0 0 9 9; x_size 40'>"
            "<span class='ocrx_word' id='word_1_1' title='bbox 1 1 5 5; x_wconf 90'>Yoga</span> "
            "<span class='ocrx_word' id='word_1_2' title='bbox 6 1 9 5; x_wconf 60'>Nidra</span>"
            "</span>")
    assert word_confidence(hocr) == 0.75
    assert word_confidence("<div class='ocr_page'></div>") == 0.0


def test_a_page_tesseract_gave_up_on_stays_empty(tmp_path) -> None:
    # What OCRmyPDF leaves for a page whose Tesseract run timed out.
    (tmp_path / "000001_ocr_hocr.hocr").write_text("", encoding="utf-8")
    (tmp_path / "000001_ocr_hocr.txt").write_text("[skipped page]", encoding="utf-8")
    assert page_read(tmp_path, 1) == OcrPage("", 0.0)
    assert page_read(tmp_path, 2) == OcrPage("", 0.0)  # a page it skipped: nothing at all


def test_words_read_in_the_wrong_alphabet_are_put_back_in_the_pages() -> None:
    # As Tesseract read the NIH scan and a reference list with eng+rus: Cyrillic look-alikes.
    english = ("Week 2 Pre-Class \u0412\u0420 Chair-based yoga, Natural breath, Yoga Nidra. "
               "Hepatitis \u0421 [Internet]. Division of Viral Hepatitis, National Center.")
    assert one_alphabet_per_word(english) == (
        "Week 2 Pre-Class BP Chair-based yoga, Natural breath, Yoga Nidra. "
        "Hepatitis C [Internet]. Division of Viral Hepatitis, National Center.")
    russian = ("Смирнова отметила, что качество сканов неоднородно: чаcть "  # a Latin c
               "страниц повёрнута. B Москве, переговорная No 3.")
    assert one_alphabet_per_word(russian) == (
        "Смирнова отметила, что качество сканов неоднородно: ча\u0441ть "
        "страниц повёрнута. \u0412 Москве, переговорная No 3.")  # N has no Cyrillic twin
    # Both alphabets in earnest: words in one alphabet stay as they are.
    both = "Протокол Yoga for a Healthy Heart: занятия по вторникам, BP до и после."
    assert one_alphabet_per_word(both) == both


def test_the_parse_time_limit_grows_with_the_pages_read_by_ocr(tmp_path) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(scan(ENGLISH, ENGLISH))
    started = time.monotonic()
    document = parse_isolated(path, "pdf", "doc", path.name, max_pages=100, time_limit=1,
                              memory_mb=2048, ocr=OcrOptions(seconds_per_page=60))
    assert time.monotonic() - started > 1  # past the limit it started with
    assert [p.origin for p in document.pages] == ["ocr", "ocr"]
    assert ENGLISH[1] in folded(document.pages[1].text)


def test_a_parse_stopped_at_its_time_limit_takes_what_it_started_with_it() -> None:
    """What the parse runs (Tesseract) is in its process group, which goes with it."""
    report, reported = os.pipe()
    pid = os.fork()
    if pid == 0:  # a parse that starts a program and then hangs
        try:
            os.setpgid(0, 0)
            started = subprocess.Popen(["sleep", "60"])
            os.write(reported, str(started.pid).encode())
            time.sleep(60)
        finally:
            os._exit(0)
    os.close(reported)
    started_pid = int(os.read(report, 100))
    os.close(report)
    extensions, asking = os.pipe()
    os.close(asking)
    exitcode, timed_out, allowed = sandbox._wait(pid, 0.5, extensions, 0)
    os.close(extensions)
    assert timed_out and allowed == 0.5
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _running(started_pid):
        time.sleep(0.05)
    assert not _running(started_pid)


def test_a_parse_dies_with_its_zygote(tmp_path, monkeypatch) -> None:
    """A worker that gives up on a parse (its task's time limit) kills the zygote: the OCR
    under way must not run on for nobody."""
    path = tmp_path / "scan.pdf"
    path.write_bytes(scan(*[ENGLISH] * 8))  # seconds of OCR after the first page
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # where the killed parse leaves its scratch
    zygote = sandbox._Zygote()
    request = {"path": str(path), "kind": "pdf", "document_id": "doc", "filename": path.name,
               "max_pages": 100, "memory_mb": 2048, "time_limit": 60, "most_extension": 600,
               "ocr": {"languages": "eng+rus", "seconds_per_page": 60}}
    parsing = threading.Thread(target=zygote.parse, args=(request,))
    parsing.start()
    deadline, children, reading = time.monotonic() + 60, [], False
    while not reading and time.monotonic() < deadline:  # until Tesseract reads the first page
        time.sleep(0.02)
        children = _children(zygote.process.pid)
        reading = any("_ocr_hocr" in _command(grandchild)
                      for child in children for grandchild in _children(child))
    assert reading, "the parse started no OCR"
    zygote.stop()
    parsing.join(30)
    time.sleep(0.5)
    assert not any(_running(pid) for pid in children)


def _children(parent: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == parent:
            found.append(int(stat.parent.name))
    return found


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan waits to be reaped by init)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
