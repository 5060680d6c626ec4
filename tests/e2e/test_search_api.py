"""Search through the API: filters, budgets, deletion; real worker, real index."""

from __future__ import annotations

import io

import pytest

from tests.conftest import EVAL_PDFS, TEST_DATA, wait_until

pytestmark = pytest.mark.e2e


def upload(client, path, collection: str) -> str:
    response = client.post("/api/documents", data={
        "file": (io.BytesIO(path.read_bytes()), path.name), "collection": collection},
        content_type="multipart/form-data")
    assert response.status_code in (200, 202), response.get_json()
    document_id = response.get_json()["documents"][0]["id"]

    def indexed() -> bool:
        doc = client.get(f"/api/documents/{document_id}").get_json()
        assert doc["status"] != "failed", doc
        return doc["status"] == "indexed"

    wait_until(indexed, 120, 0.3, what=f"{path.name} to be indexed")
    return str(document_id)


@pytest.fixture(scope="module")
def two_teams(app):
    client = app.test_client()
    return {
        "red": upload(client, EVAL_PDFS / "ntsb" / "20080116X00055.pdf", "red-team"),
        "blue": upload(client, EVAL_PDFS / "ntsb" / "20080117X00064.pdf", "blue-team"),
        "meeting": upload(client, TEST_DATA / "standup.vtt", "blue-team"),
    }


def search(client, **body):
    response = client.post("/api/search", json={"query": "probable cause", **body})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["hits"]


def test_collection_and_kind_filters_narrow_inside_the_search(client, two_teams) -> None:
    assert {h["document_id"] for h in search(client, collection="red-team")} == {two_teams["red"]}
    blue = search(client, collection=["blue-team"], kinds=["pdf"])
    assert {h["document_id"] for h in blue} == {two_teams["blue"]}
    meetings = search(client, collection="blue-team", kinds=["meeting"],
                      speakers=["Chen Wu"])
    assert meetings and all("Chen Wu" in h["speakers"] for h in meetings)
    assert search(client, collection="red-team", date_to="2000-01-01") == []
    only = search(client, document_ids=[two_teams["blue"]])
    assert only and {h["document_id"] for h in only} == {two_teams["blue"]}


def test_budget_caps_the_characters_returned(client, two_teams) -> None:
    hits = search(client, collection=["red-team", "blue-team"], budget_chars=1500, k=50)
    assert hits and sum(len(h["text"]) for h in hits) <= 1500


def test_bad_filters_are_400s_that_say_why(client) -> None:
    for body, word in (({"kinds": ["video"]}, "kinds"), ({"date_from": "last week"}, "date_from"),
                       ({"collection": 5}, "collection"), ({"budget_chars": 10}, "budget_chars")):
        response = client.post("/api/search", json={"query": "x", **body})
        assert response.status_code == 400 and word in response.get_json()["error"]["message"]


def test_delete_removes_a_document_from_search_and_the_library(client, two_teams) -> None:
    assert client.delete(f"/api/documents/{two_teams['red']}").get_json() == {
        "deleted": two_teams["red"]}
    assert search(client, collection="red-team") == []
    assert client.get(f"/api/documents/{two_teams['red']}").status_code == 404
    assert client.delete(f"/api/documents/{two_teams['red']}").status_code == 404
    assert search(client, collection="blue-team")  # the other team's documents stay


def test_index_status_names_the_model_and_a_rebuild_is_only_queued_when_needed(
        client, two_teams) -> None:
    status = client.get("/api/index").get_json()
    assert status["model"].startswith("bundled") and status["rebuild"] is None
    assert status["vectors"] > 0 and status["index_type"] == "flat"
    assert status["device"] == "cpu"
    response = client.post("/api/index/rebuild")
    assert response.status_code == 200 and response.get_json()["status"] == "current"
