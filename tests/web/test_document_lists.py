"""The library's lists: documents a page at a time with filters, and collections with counts."""

from __future__ import annotations

import pytest

from retrieval.core.settings import Settings
from tests.conftest import TEST_DATA, store_upload
from web import create_app


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory):
    """An app over eight documents in two collections, in every status but processing; the
    documents are recorded the way an upload records them (listing needs no worker)."""
    app = create_app(Settings(data_dir=tmp_path_factory.mktemp("data")))
    runtime = app.extensions["docchat"]
    ids = []
    for number, status in enumerate(["indexed", "failed", "queued", "indexed", "indexed"]):
        record = store_upload(runtime, TEST_DATA / "notes.md", f"red-{number}.md", "red")
        ids.append(record.id)
        if status == "indexed":
            runtime.store.mark_indexed(record.id, 1)
        elif status == "failed":
            runtime.store.mark_failed(record.id, "empty_document", "Nothing to read.")
    for number in range(3):
        record = store_upload(runtime, TEST_DATA / "standup.vtt", f"blue-{number}.vtt", "blue")
        runtime.store.mark_indexed(record.id, 1)
        ids.append(record.id)
    return app, ids[::-1]  # newest first


def get(app, url: str):
    response = app.test_client().get(url)
    return response.status_code, response.get_json()


def test_documents_come_a_page_at_a_time_newest_first_without_gaps_or_overlap(library) -> None:
    app, newest_first = library
    seen, url, pages = [], "/api/documents?limit=3", 0
    while url:
        status, page = get(app, url)
        assert status == 200
        assert page["total"] == 8 and page["limit"] == 3 and page["offset"] == 3 * pages
        seen += [d["id"] for d in page["documents"]]
        url, pages = page["next"], pages + 1
    assert pages == 3 and seen == newest_first


def test_existing_callers_get_every_document_on_one_default_page(library) -> None:
    app, newest_first = library
    status, page = get(app, "/api/documents")
    assert status == 200 and page["limit"] == 50 and page["offset"] == 0
    assert [d["id"] for d in page["documents"]] == newest_first and page["next"] is None


def test_an_offset_past_the_end_is_an_empty_last_page(library) -> None:
    app, _ = library
    status, page = get(app, "/api/documents?offset=100")
    assert status == 200 and page["documents"] == [] and page["total"] == 8
    assert page["next"] is None


def test_filters_narrow_the_page_and_the_total_and_next_keeps_them(library) -> None:
    app, _ = library
    _, page = get(app, "/api/documents?collection=red&status=indexed&limit=2")
    assert page["total"] == 3 and len(page["documents"]) == 2
    assert {(d["collection"], d["status"]) for d in page["documents"]} == {("red", "indexed")}
    _, rest = get(app, page["next"])
    assert len(rest["documents"]) == 1 and rest["documents"][0]["collection"] == "red"
    assert rest["documents"][0]["status"] == "indexed" and rest["next"] is None
    _, failed = get(app, "/api/documents?status=failed")
    assert [d["filename"] for d in failed["documents"]] == ["red-1.md"]
    assert failed["documents"][0]["error"]["code"] == "empty_document"
    _, blue = get(app, "/api/documents?collection=blue&status=")  # empty: no status filter
    assert blue["total"] == 3
    _, nothing = get(app, "/api/documents?collection=green")
    assert nothing["total"] == 0 and nothing["documents"] == []


@pytest.mark.parametrize(("query", "field"), [
    ("limit=0", "'limit'"), ("limit=201", "'limit'"), ("limit=ten", "'limit'"),
    ("offset=-1", "'offset'"), ("offset=1.5", "'offset'"), ("status=done", "'status'"),
    ("collection=../etc", "collection name"),
])
def test_bad_paging_values_are_400s_that_say_which_and_how(library, query, field) -> None:
    app, _ = library
    status, body = get(app, f"/api/documents?{query}")
    assert status == 400, body
    assert body["error"]["code"] in ("bad_request", "bad_collection")
    assert field in body["error"]["message"]


def test_collections_list_their_documents_by_status(library) -> None:
    app, _ = library
    status, body = get(app, "/api/collections")
    assert status == 200
    assert body == {"collections": [
        {"name": "blue", "documents": 3,
         "by_status": {"queued": 0, "processing": 0, "indexed": 3, "failed": 0}},
        {"name": "red", "documents": 5,
         "by_status": {"queued": 1, "processing": 0, "indexed": 3, "failed": 1}},
    ]}
