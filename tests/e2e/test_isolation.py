"""Workspaces are isolated in retrieval itself: with its own API key, team blue attacks team
red's documents through every route — crafted filters, red's document and job ids, red's
passage positions — and gets nothing of red's, while red still sees all of it."""

from __future__ import annotations

import dataclasses
import io

import pytest

from tests.conftest import text_pdf, wait_indexed
from web import create_app

pytestmark = pytest.mark.e2e

RED_SECRET = "Project Aurora launch codes are kept in the vault in Zurich."
RED_PDF = text_pdf([["Red team plans.", RED_SECRET]])
BLUE_PDF = text_pdf([["Blue team plans.", "The picnic is on Saturday near the river."]])


@pytest.fixture(scope="module")
def teams(settings, worker):
    app = create_app(dataclasses.replace(settings, auth="required"))
    accounts = app.extensions["docchat"].accounts
    keys = {team: accounts.create_api_key(team, "tests")[1] for team in ("red", "blue")}
    client = app.test_client()
    ids = {}
    for team, data in (("red", RED_PDF), ("blue", BLUE_PDF)):
        response = client.post("/api/documents", headers=auth(keys[team]),
                               data={"file": (io.BytesIO(data), f"{team}-plans.pdf")},
                               content_type="multipart/form-data")
        assert response.status_code == 202, response.get_json()
        ids[team] = response.get_json()["documents"][0]["id"]
    for team in ids:
        wait_indexed(client, ids[team], headers=auth(keys[team]))
    return app, keys, ids


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_red_finds_its_own_document(teams) -> None:
    app, keys, ids = teams
    hits = app.test_client().post("/api/search", headers=auth(keys["red"]),
                                  json={"query": "Aurora launch codes vault"}).get_json()["hits"]
    assert hits and hits[0]["document_id"] == ids["red"]


@pytest.mark.parametrize("body", [
    {"query": "Aurora launch codes vault Zurich"},
    {"query": "Aurora launch codes vault Zurich", "document_ids": ["RED"]},
    {"query": "Aurora launch codes vault Zurich", "collection": "default"},
    {"query": "Aurora launch codes vault Zurich", "document_ids": ["RED"], "kinds": ["pdf"]},
])
def test_search_never_returns_another_workspaces_chunks(teams, body) -> None:
    app, keys, ids = teams
    if "document_ids" in body:
        body = {**body, "document_ids": [ids["red"]]}
    hits = app.test_client().post("/api/search", headers=auth(keys["blue"]),
                                  json=body).get_json()["hits"]
    assert all(h["document_id"] != ids["red"] for h in hits)
    assert all("Aurora" not in h["text"] for h in hits)


def test_answers_never_read_another_workspaces_passages(teams) -> None:
    app, keys, ids = teams
    client = app.test_client()
    crafted = client.post("/api/ask", headers=auth(keys["blue"]), json={
        "question": "Where are the Aurora launch codes kept?",
        "context": [{"document_id": ids["red"], "first_ordinal": 0, "last_ordinal": 5}],
    }).get_json()
    assert all(c["document_id"] != ids["red"] for c in crafted["citations"])
    assert "Zurich" not in crafted["answer"]
    plain = client.post("/api/ask", headers=auth(keys["blue"]), json={
        "question": "Where are the Aurora launch codes kept?",
        "document_ids": [ids["red"]]}).get_json()
    assert plain["citations"] == [] and plain["grounded"] is False


@pytest.mark.parametrize("method,path", [
    ("GET", "/api/documents/{red}"),
    ("GET", "/api/documents/{red}/file"),
    ("POST", "/api/documents/{red}/reindex"),
    ("POST", "/api/documents/{red}/slack"),
    ("DELETE", "/api/documents/{red}"),
    ("GET", "/passage/{red}"),
])
def test_another_workspaces_document_ids_lead_nowhere(teams, method, path) -> None:
    app, keys, ids = teams
    client = app.test_client()
    response = client.open(path.format(red=ids["red"]), method=method,
                           headers=auth(keys["blue"]))
    assert response.status_code == 404
    still = client.get(f"/api/documents/{ids['red']}", headers=auth(keys["red"])).get_json()
    assert still["status"] == "indexed"


def test_listings_show_only_the_callers_workspace(teams) -> None:
    app, keys, ids = teams
    client = app.test_client()
    listed = client.get("/api/documents", headers=auth(keys["blue"])).get_json()
    assert [d["id"] for d in listed["documents"]] == [ids["blue"]] and listed["total"] == 1
    collections = client.get("/api/collections", headers=auth(keys["blue"])).get_json()
    assert collections["collections"] == [
        {"name": "default", "documents": 1,
         "by_status": {"queued": 0, "processing": 0, "indexed": 1, "failed": 0}}]


def test_meetings_and_jobs_stay_in_their_workspace(teams) -> None:
    app, keys, ids = teams
    client = app.test_client()
    stolen = client.post("/api/meetings/summarize", headers=auth(keys["blue"]),
                         json={"document_id": ids["red"]})
    assert stolen.status_code == 404
    job = client.post("/api/meetings/summarize", headers=auth(keys["red"]),
                      json={"text": "Anna: I will send the plan.", "mode": "background"})
    assert job.status_code == 202
    job_id = job.get_json()["job_id"]
    assert client.get(f"/api/jobs/{job_id}", headers=auth(keys["blue"])).status_code == 404
    assert client.get(f"/api/jobs/{job_id}", headers=auth(keys["red"])).status_code == 200


def test_collection_settings_are_per_workspace(teams) -> None:
    app, keys, _ = teams
    client = app.test_client()
    url = "http://127.0.0.1:9/red-channel"
    assert client.put("/api/collections/default/slack-webhook", headers=auth(keys["red"]),
                      json={"url": url}).status_code == 200
    blue = client.get("/api/collections/default/slack-webhook", headers=auth(keys["blue"]))
    assert blue.get_json()["slack_webhook"] is None
    red = client.get("/api/collections/default/slack-webhook", headers=auth(keys["red"]))
    assert red.get_json()["slack_webhook"] is not None
