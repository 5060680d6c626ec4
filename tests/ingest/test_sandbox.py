"""Parsing in a child process: bombs, memory hogs and slow files fail cleanly and quickly."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest

from ingest import sandbox
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


def zygote_pids() -> set[int]:
    return {z.process.pid for z in sandbox._idle}


def test_parses_reuse_one_zygote_and_a_dead_one_is_replaced(ntsb_pdf) -> None:
    run(ntsb_pdf)
    first = zygote_pids()
    run(ntsb_pdf)
    assert zygote_pids() == first and len(first) == 1
    os.kill(first.pop(), signal.SIGKILL)
    time.sleep(0.2)
    assert len(run(ntsb_pdf).pages) == 5
    assert len(zygote_pids()) == 1


def test_the_zygote_serves_on_after_a_child_is_stopped(ntsb_pdf) -> None:
    book = PDF_SAMPLES / "009-pdflatex-geotopo" / "GeoTopo-komprimiert.pdf"
    with pytest.raises(IngestError):
        run(book, time_limit=0.5)
    before = zygote_pids()
    assert len(run(ntsb_pdf).pages) == 5
    assert zygote_pids() == before


def test_parses_in_threads_run_side_by_side(ntsb_pdf) -> None:
    book = PDF_SAMPLES / "009-pdflatex-geotopo" / "GeoTopo-komprimiert.pdf"  # ~4 s to read
    slow = threading.Thread(target=lambda: pytest.raises(IngestError, run, book,
                                                         time_limit=3))
    slow.start()
    time.sleep(0.3)
    started = time.monotonic()
    assert len(run(ntsb_pdf).pages) == 5  # not queued behind the slow one
    assert time.monotonic() - started < 2.5
    slow.join()


def test_an_unexpected_parser_error_is_logged_not_shown(tmp_path, caplog) -> None:
    folder = tmp_path / "notes.txt"
    folder.mkdir()  # a folder where the file should be: an OSError inside the parser's process
    with pytest.raises(IngestError) as error:
        parse_isolated(folder, "text", "doc", "notes.txt", max_pages=10, time_limit=30,
                       memory_mb=2048)
    assert error.value.code == "parse_failed"
    assert "Directory" not in error.value.message and "Errno" not in error.value.message
    assert "IsADirectoryError" in caplog.text


def test_a_forked_process_starts_its_own_zygote(ntsb_pdf) -> None:
    """A Celery pool process is forked from the worker: it must not share the worker's
    zygote (two processes writing requests to one pipe)."""
    run(ntsb_pdf)
    parent = zygote_pids()
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child reports the zygote it used, then leaves at once
        try:
            run(ntsb_pdf)
            os.write(writer, json.dumps(sorted(zygote_pids())).encode())
        finally:
            os._exit(0)
    os.close(writer)
    used = set(json.loads(os.read(reader, 1000) or b"[]"))
    os.waitpid(pid, 0)
    assert used and not used & parent
