"""The files of one upload are queued costliest first (scans, then the largest), and listed in
the request's order (web/api.py): the workers take the queue in order, so a costly file left
to the end would keep one busy after the others had finished. The queue is a real Redis list
that no worker reads."""

from __future__ import annotations

import base64
import io
import json
import uuid

import redis

from retrieval.core.settings import Settings
from tests.conftest import scanned_pdf
from web import create_app


def queued_ids(redis_url: str, queue: str) -> list[str]:
    """The document ids of the ingest tasks waiting in `queue`, the first to be taken first
    (kombu's Redis transport pushes on the left and takes from the right)."""
    messages = redis.Redis.from_url(redis_url).lrange(queue, 0, -1)
    bodies = [json.loads(base64.b64decode(json.loads(m)["body"])) for m in reversed(messages)]
    return [args[0] for args, _kwargs, _embed in bodies]


def test_a_scan_then_the_largest_file_of_an_upload_are_queued_first(tmp_path,
                                                                    redis_url: str) -> None:
    queue = f"docchat-order-{uuid.uuid4().hex[:8]}"
    settings = Settings(data_dir=tmp_path, redis_url=redis_url, queue=queue,
                        rate_limit_per_minute=0)
    scan = scanned_pdf([["Signed memo: the pumps ship in May."]])
    line = b"A longer line of meeting notes.\n"
    files = [("small.md", b"# Small\n\nOne line of notes.\n"),
             ("large.md", b"# Large\n\n" + line * (2 * len(scan) // len(line))),
             ("medium.md", b"# Medium\n\n" + b"A line of notes.\n" * 40),
             ("small copy.md", b"# Small\n\nOne line of notes.\n"),
             ("scan.pdf", scan)]
    try:
        response = create_app(settings).test_client().post(
            "/api/documents", data={"file": [(io.BytesIO(data), name) for name, data in files]},
            content_type="multipart/form-data")
        assert response.status_code == 202, response.get_json()
        documents = response.get_json()["documents"]
        queued = queued_ids(redis_url, queue)
    finally:
        redis.Redis.from_url(redis_url).delete(queue)

    # The answer keeps the request's order; the same bytes twice are one document, the
    # first of the request, and queued once.
    assert [(d["filename"], d["duplicate"]) for d in documents] == [
        ("small.md", False), ("large.md", False), ("medium.md", False), ("small.md", True),
        ("scan.pdf", False)]
    assert documents[3]["id"] == documents[0]["id"]
    names = {d["id"]: d["filename"] for d in documents}
    # The scan first although the largest file is twice its size: OCR reads its page.
    assert [names[i] for i in queued] == ["scan.pdf", "large.md", "medium.md", "small.md"]
