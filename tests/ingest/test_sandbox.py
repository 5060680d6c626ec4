"""Parsing in a child process: bombs, memory hogs and slow files fail cleanly and quickly."""

from __future__ import annotations

import time

import pytest

from ingest.documents import IngestError
from ingest.sandbox import parse_isolated
from tests.conftest import PDF_SAMPLES, flate_bomb_pdf


def run(path, time_limit: float = 60, memory_mb: int = 2048):
    return parse_isolated(path, "pdf", "doc", path.name, max_pages=2000,
                          time_limit=time_limit, memory_mb=memory_mb)


def test_a_real_pdf_parses_the_same_in_the_sandbox(ntsb_pdf) -> None:
    document = run(ntsb_pdf)
    assert document.kind == "pdf" and len(document.pages) == 5
    assert "nosewheel" in document.pages[0].text


def test_decompression_bomb_is_stopped_by_the_limits(tmp_path) -> None:
    bomb = tmp_path / "bomb.pdf"
    bomb.write_bytes(flate_bomb_pdf(1024))  # 1 MB on disk, 1 GB inflated
    started = time.monotonic()
    with pytest.raises(IngestError) as error:
        run(bomb)
    assert error.value.code in {"pdf_too_complex", "parse_memory"}
    assert "bomb.pdf" in error.value.message
    assert time.monotonic() - started < 30


def test_memory_ceiling_stops_a_file_that_balloons(tmp_path) -> None:
    bomb = tmp_path / "balloon.pdf"
    bomb.write_bytes(flate_bomb_pdf(300))  # under pypdf's limits, over this ceiling
    with pytest.raises(IngestError) as error:
        run(bomb, memory_mb=256)
    assert error.value.code == "parse_memory"
    assert "more memory" in error.value.message


def test_slow_parse_fails_with_parse_timeout() -> None:
    book = PDF_SAMPLES / "009-pdflatex-geotopo" / "GeoTopo-komprimiert.pdf"  # ~4 s to read
    started = time.monotonic()
    with pytest.raises(IngestError) as error:
        run(book, time_limit=0.5)
    assert error.value.code == "parse_timeout"
    assert time.monotonic() - started < 5
