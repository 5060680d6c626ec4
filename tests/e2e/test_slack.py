"""The Slack side end to end: a receiver on 127.0.0.1 plays Slack (no network). Signed slash
commands are acknowledged at once and answered at their response_url as Block Kit by the real
worker with the real LLM; forged and stale requests get 401; a delivery that meets a 500 is
retried; meeting summaries go to the webhook set for their collection."""

from __future__ import annotations

import dataclasses
import io
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.conftest import TEST_DATA, slack_signed, wait_until
from tests.slack_receiver import SlackReceiver
from web import create_app

pytestmark = pytest.mark.e2e

NOTES = (TEST_DATA / "notes.md").read_text()


@pytest.fixture(scope="module")
def slack() -> Iterator[SlackReceiver]:
    with SlackReceiver() as receiver:
        yield receiver


def new_path(kind: str = "commands") -> str:
    return f"/{kind}/T0001/{uuid.uuid4().hex[:10]}/{uuid.uuid4().hex}"


signed = slack_signed


def command_body(command: str, text: str, response_url: str) -> bytes:
    return urlencode({
        "token": "deprecated-verification-token", "team_id": "T0001", "team_domain": "acme",
        "channel_id": "C0001", "channel_name": "general", "user_id": "U0001",
        "user_name": "anna", "command": command, "text": text, "response_url": response_url,
        "trigger_id": "1.2.3"}).encode()


def send_command(client, command: str, text: str, response_url: str, **signing: Any):
    body = command_body(command, text, response_url)
    return client.post("/slack/commands", data=body,
                       content_type="application/x-www-form-urlencoded",
                       headers=signed(body, **signing))


def assert_valid_block_kit(message: dict[str, Any]) -> list[dict[str, Any]]:
    """What Slack's API would accept from us: fallback text, 1-50 known blocks, text objects of
    the right type within their limits."""
    assert isinstance(message["text"], str) and message["text"].strip()
    blocks = message["blocks"]
    assert 1 <= len(blocks) <= 50
    for block in blocks:
        kind = block["type"]
        assert kind in ("header", "section", "divider", "context"), block
        if kind == "header":
            assert block["text"]["type"] == "plain_text"
            assert 0 < len(block["text"]["text"]) <= 150
        elif kind == "section":
            assert block["text"]["type"] == "mrkdwn"
            assert 0 < len(block["text"]["text"]) <= 3000
        elif kind == "context":
            assert 1 <= len(block["elements"]) <= 10
            for element in block["elements"]:
                assert element["type"] == "mrkdwn" and 0 < len(element["text"]) <= 3000
    return blocks


def mrkdwn(blocks: list[dict[str, Any]]) -> str:
    return "\n".join([b["text"]["text"] for b in blocks if "text" in b]
                     + [e["text"] for b in blocks for e in b.get("elements", [])])


@pytest.fixture(scope="module")
def meeting(client_module) -> dict[str, Any]:
    """notes.md, uploaded to a collection of its own and indexed."""
    collection = f"slack {uuid.uuid4().hex[:8]}"
    response = client_module.post("/api/documents", data={
        "file": (io.BytesIO(NOTES.encode()), "notes.md"), "collection": collection},
        content_type="multipart/form-data")
    assert response.status_code == 202, response.get_json()
    document_id = response.get_json()["documents"][0]["id"]
    record = wait_until(lambda: (r := client_module.get(f"/api/documents/{document_id}")
                                 .get_json())["status"] in ("indexed", "failed") and r,
                        120, what="notes.md to be indexed")
    assert record["status"] == "indexed" and record["kind"] == "meeting", record
    return record


@pytest.fixture(scope="module")
def client_module(app):
    return app.test_client()


def test_signed_ask_is_acknowledged_at_once_and_answered_at_response_url(
        client, slack, meeting) -> None:
    path = new_path()
    started = time.monotonic()
    response = send_command(client, "/ask",
                            f'collection:"{meeting["collection"]}" When does Anna send the deck?',
                            slack.url(path))
    assert time.monotonic() - started < 3
    assert response.status_code == 200
    assert response.get_json() == {"response_type": "ephemeral", "text": "Working on it…"}
    (post,) = slack.wait_for(path)
    assert post.content_type.startswith("application/json")
    assert post.body["response_type"] == "ephemeral"
    blocks = assert_valid_block_kit(post.body)
    assert blocks[0]["type"] == "context"
    assert "When does Anna send the deck?" in blocks[0]["elements"][0]["text"]
    assert meeting["collection"] in blocks[0]["elements"][0]["text"]
    assert blocks[1]["type"] == "section" and blocks[1]["text"]["text"].strip()
    sources = [b for b in blocks if b["type"] == "section"
               and b["text"]["text"].startswith("*[")]
    for source in sources:  # each citation names its file and turns, with the quote
        assert "notes.md, turn" in source["text"]["text"] and "\n> " in source["text"]["text"]


def test_summarize_pasted_notes_delivers_summary_and_commitments(client, slack) -> None:
    path = new_path()
    response = send_command(client, "/summarize", NOTES, slack.url(path))
    assert response.status_code == 200
    assert response.get_json()["text"] == "Working on it…"
    (post,) = slack.wait_for(path)
    blocks = assert_valid_block_kit(post.body)
    assert blocks[0]["type"] == "header"
    assert blocks[0]["text"]["text"] == "Summary: Weekly sync — 3 June"  # the notes' heading
    assert blocks[1]["type"] == "section" and blocks[1]["text"]["text"].strip()
    assert any(b["type"] == "section" and b["text"]["text"].startswith("*Commitments*")
               for b in blocks)
    assert "<" not in mrkdwn(blocks).replace("&lt;", "")


def test_summarize_by_name_uses_the_uploaded_meeting(client, slack, meeting) -> None:
    path = new_path()
    response = send_command(client, "/docchat", "summarize notes.md", slack.url(path))
    assert response.get_json()["text"] == "Working on it…"
    (post,) = slack.wait_for(path)
    assert assert_valid_block_kit(post.body)[0]["text"]["text"] == "Summary: notes.md"


def test_summarize_refuses_what_it_cannot_summarize_right_away(client, slack) -> None:
    path = new_path()
    for text, says in (("", "Paste the meeting notes"),
                       ("missing-file.vtt", "No uploaded document is called missing-file.vtt")):
        response = send_command(client, "/summarize", text, slack.url(path))
        assert response.status_code == 200
        body = response.get_json()
        assert body["response_type"] == "ephemeral" and says in body["text"]
    usage = send_command(client, "/docchat", "dance", slack.url(path)).get_json()
    assert "/summarize" in usage["text"] and "/ask" in usage["text"]
    time.sleep(1)
    assert slack.posts_to(path) == []


def test_forged_signature_is_refused_with_401(client, slack) -> None:
    path = new_path()
    body = command_body("/ask", "What is the budget?", slack.url(path))
    forged = signed(body, secret="not-the-signing-secret")
    response = client.post("/slack/commands", data=body, headers=forged,
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "bad_signature"
    tampered = client.post("/slack/commands", data=body.replace(b"budget", b"salary"),
                           headers=signed(body),
                           content_type="application/x-www-form-urlencoded")
    assert tampered.status_code == 401
    unsigned = client.post("/slack/commands", data=body,
                           content_type="application/x-www-form-urlencoded")
    assert unsigned.status_code == 401
    assert unsigned.get_json()["error"]["code"] == "unsigned_request"


def test_stale_timestamp_is_refused_with_401(client, slack) -> None:
    response = send_command(client, "/ask", "What is the budget?", slack.url(new_path()),
                            timestamp=int(time.time()) - 6 * 60)
    assert response.status_code == 401
    error = response.get_json()["error"]
    assert error["code"] == "stale_request" and "5 minutes" in error["message"]


def test_response_url_off_the_allowed_hosts_is_never_posted_to(client) -> None:
    for url in ("https://evil.example/commands/x", "http://169.254.169.254/latest/meta-data",
                "https://hooks.slack.com/commands/x"):  # not allowed in the tests' settings
        response = send_command(client, "/ask", "What is the budget?", url)
        assert response.status_code == 400
        assert response.get_json()["error"]["code"] == "bad_response_url"


def test_without_a_signing_secret_the_command_is_503(settings, tmp_path) -> None:
    off = dataclasses.replace(settings, data_dir=tmp_path, slack_signing_secret="")
    response = send_command(create_app(off).test_client(), "/ask", "q",
                            "http://127.0.0.1:9/commands/x")
    assert response.status_code == 503
    assert "DOCCHAT_SLACK_SIGNING_SECRET" in response.get_json()["error"]["message"]


def test_delivery_is_retried_when_slack_answers_500(client, slack) -> None:
    path = new_path()
    slack.plan(path, 500)
    nothing = f"collection:empty-{uuid.uuid4().hex[:8]} What is the budget?"
    assert send_command(client, "/ask", nothing, slack.url(path)).status_code == 200
    first, second = slack.wait_for(path, count=2, timeout=60)
    assert (first.answered, second.answered) == (500, 200)
    assert first.body == second.body
    assert_valid_block_kit(second.body)
    time.sleep(1.5)
    assert len(slack.posts_to(path)) == 2  # delivered once it succeeded, and not again


def test_collection_webhook_is_set_masked_and_cleared(client, slack) -> None:
    collection = f"hooks-{uuid.uuid4().hex[:8]}"
    route = f"/api/collections/{collection}/slack-webhook"
    assert client.get(route).get_json() == {"collection": collection, "slack_webhook": None}
    secret_path = new_path("services")
    response = client.put(route, json={"url": slack.url(secret_path)})
    assert response.status_code == 200
    masked = response.get_json()["slack_webhook"]
    assert masked.startswith("http://127.0.0.1:") and secret_path[-4:] in masked
    assert secret_path not in masked and secret_path.split("/")[3] not in masked
    assert client.get(route).get_json()["slack_webhook"] == masked
    refused = client.put(route, json={"url": "https://evil.example/services/x"})
    assert refused.status_code == 400
    assert refused.get_json()["error"]["code"] == "bad_webhook_url"
    assert client.put(route, json={}).status_code == 400
    assert client.delete(route).status_code == 200
    assert client.get(route).get_json()["slack_webhook"] is None
    assert client.delete(route).get_json()["error"]["code"] == "no_slack_webhook"


def test_meeting_summary_is_posted_to_its_collections_webhook(client, slack, meeting) -> None:
    collection = meeting["collection"]
    route = f"/api/documents/{meeting['id']}/slack"
    missing = client.post(route)
    assert missing.status_code == 409
    assert missing.get_json()["error"]["code"] == "no_slack_webhook"
    assert "PUT /api/collections/" in missing.get_json()["error"]["message"]
    path = new_path("services")
    assert client.put(f"/api/collections/{collection}/slack-webhook",
                      json={"url": slack.url(path)}).status_code == 200
    response = client.post(route)
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["collection"] == collection and path not in body["slack_webhook"]
    (post,) = slack.wait_for(path)
    blocks = assert_valid_block_kit(post.body)
    assert blocks[0]["text"]["text"] == "Summary: notes.md"
    assert f"collection {collection}" in blocks[-1]["elements"][0]["text"]
    assert "response_type" not in post.body
    job = client.get(body["status_url"]).get_json()
    assert job["status"] == "done" and job["result"]["title"] == "notes.md"


def test_posting_needs_an_indexed_meeting(client) -> None:
    assert client.post(f"/api/documents/{uuid.uuid4().hex}/slack").status_code == 404
    collection = f"docs-{uuid.uuid4().hex[:8]}"
    upload = client.post("/api/documents", data={
        "file": (io.BytesIO((TEST_DATA / "handbook.md").read_bytes()), "handbook.md"),
        "collection": collection}, content_type="multipart/form-data")
    document_id = upload.get_json()["documents"][0]["id"]
    early = client.post(f"/api/documents/{document_id}/slack")
    record = wait_until(lambda: (r := client.get(f"/api/documents/{document_id}")
                                 .get_json())["status"] in ("indexed", "failed") and r,
                        120, what="handbook.md to be indexed")
    assert early.status_code == 409
    assert early.get_json()["error"]["code"] in ("not_indexed", "not_a_meeting")
    assert record["kind"] == "text"
    response = client.post(f"/api/documents/{document_id}/slack")
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "not_a_meeting" and "not a meeting" in error["message"]
