"""Slack: the slash commands `/summarize` and `/ask` (POST /slack/commands), and posting a
meeting's summary to a channel through the incoming webhook set for its collection.

A command is checked against Slack's request signature, acknowledged at once, and worked on by
a Celery task that posts the result to the command's response_url (workers/slack.py).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable
from urllib.parse import parse_qs

from flask import Blueprint, Response, jsonify, request, url_for

from ingest.slack import readable
from retrieval.meetings.request import MeetingRequest
from retrieval.runtime import Runtime
from retrieval.storage.store import (
    COLLECTION_RULE,
    DocumentFilter,
    DocumentRecord,
    is_collection_name,
)
from web.bodies import MAX_QUESTION_CHARS, MAX_TEXT_CHARS, body_bytes, json_body
from web.context import current_runtime
from web.contract.requests import SlackWebhookRequest
from web.contract.validation import validated
from web.documents import checked_collection, owned_document
from web.enqueue import QueueUnavailable, enqueue
from web.errors import ApiError
from web.identity import workspace
from web.ratelimit import current_limiter
from workers import SLACK_ANSWER_TASK, SLACK_SUMMARY_TASK, SLACK_WEBHOOK_TASK
from workers.slack import SlackUrlRefused, check_slack_url, mask_url
from workers.slack_blocks import notice

bp = Blueprint("slack", __name__)

# Slack's advice: refuse a request whose timestamp is more than five minutes away from now, so
# that a captured request cannot be replayed later.
MAX_AGE_SECONDS = 5 * 60
# Far above what Slack sends (a message holds at most 40,000 characters), and read before the
# signature can be checked, so kept small.
MAX_COMMAND_BYTES = 1024 * 1024

USAGE = ("docchat understands `/summarize <meeting notes>` (or the name of an uploaded "
         "meeting) and `/ask <question>`; start a question with `collection:NAME` to ask one "
         "collection only.")
QUEUE_DOWN = ("docchat's processing queue is not reachable right now: try again in a minute; "
              "if it keeps failing, ask your administrator to check Redis (DOCCHAT_REDIS_URL).")

_COMMAND = re.compile(r"(?:^|[-_])(summarize|ask)$")
_COLLECTION_PREFIX = re.compile(r'^collection:(?:"([^"]+)"|(\S+))\s*(.*)$', re.S | re.I)
_LOOKS_LIKE_A_FILE = re.compile(r"^(?:\S+\.\w{1,8}|[0-9a-f]{32})$", re.I)


class CommandRefused(Exception):
    """A command docchat cannot work on; the message is shown to the person who typed it."""


def verify_signature(secret: str, timestamp: str | None, signature: str | None, body: bytes,
                     now: float) -> None:
    """Raise ApiError 401 unless the request is signed the way Slack signs: `X-Slack-Signature`
    is `v0=` and the hex HMAC-SHA256, keyed with the signing secret, of `v0:{timestamp}:{raw
    body}`, and `X-Slack-Request-Timestamp` is within five minutes of `now`."""
    if not timestamp or not signature:
        raise ApiError(401, "unsigned_request",
                       "The request has no Slack signature (X-Slack-Signature and "
                       "X-Slack-Request-Timestamp): only Slack may call this URL.")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise ApiError(401, "bad_signature",
                       "X-Slack-Request-Timestamp is not a Unix time in seconds.")
    if abs(now - int(timestamp)) > MAX_AGE_SECONDS:
        raise ApiError(401, "stale_request",
                       "The request's Slack timestamp is more than 5 minutes away from this "
                       "server's clock: a replayed request, or a clock that is wrong (check "
                       "NTP).")
    base = b"v0:" + timestamp.encode("ascii") + b":" + body
    expected = "v0=" + hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode("ascii"),
                               signature.encode("utf-8", "replace")):
        raise ApiError(401, "bad_signature",
                       "The Slack signature does not match: check that "
                       "DOCCHAT_SLACK_SIGNING_SECRET is the Signing Secret of this Slack app.")


@bp.post("/slack/commands")
def slack_command() -> tuple[Response, int]:
    """A slash command from Slack: verified, acknowledged now, answered later by a task."""
    runtime = current_runtime()
    settings = runtime.settings
    if not settings.slack_signing_secret:
        raise ApiError(503, "slack_not_configured",
                       "The Slack command is off: set DOCCHAT_SLACK_SIGNING_SECRET to the Signing "
                       "Secret on your Slack app's Basic Information page, then restart docchat.")
    if (request.content_length or 0) > MAX_COMMAND_BYTES:
        raise ApiError(413, "too_large",
                       f"A slash command is at most {MAX_COMMAND_BYTES // 1024} KB: upload long "
                       "notes to docchat and summarize them by name.")
    # Counted as read: a chunked body, which has no Content-Length, meets the same cap.
    body = body_bytes(MAX_COMMAND_BYTES)
    signature = request.headers.get("X-Slack-Signature")
    verify_signature(settings.slack_signing_secret,
                     request.headers.get("X-Slack-Request-Timestamp"), signature, body,
                     time.time())
    _refuse_replay(str(signature))
    fields = _form(body)
    if fields.get("ssl_check"):  # Slack checking the certificate: nothing to do
        return jsonify({}), 200
    response_url = fields.get("response_url", "")
    try:
        check_slack_url(response_url, settings.slack_hosts)
    except SlackUrlRefused as exc:
        raise ApiError(400, "bad_response_url", f"response_url: {exc}") from exc
    try:
        command, text = parse_command(fields.get("command", ""),
                                      readable(fields.get("text", "")))
        if command == "summarize":
            _queue_summary(runtime, text, response_url)
        else:
            _queue_answer(text, response_url)
    except (CommandRefused, QueueUnavailable) as exc:  # Slack shows a 200's text, not an error
        return jsonify(notice(str(exc))), 200
    return jsonify(notice("Working on it…")), 200


def _refuse_replay(signature: str) -> None:
    """401 for a signature seen before: within the five minutes a timestamp is accepted, a
    captured request sent again would otherwise pass as new. Remembered in Redis when docchat
    has one (every web process sees it), else in this process."""
    digest = hashlib.sha256(signature.encode("utf-8", "replace")).hexdigest()
    if current_limiter().admit(f"slack-signature:{digest}", 1, MAX_AGE_SECONDS) is not None:
        raise ApiError(401, "replayed_request",
                       "This Slack request was received before: each signed request is "
                       "accepted once.")


def _form(body: bytes) -> dict[str, str]:
    """The form fields of the raw body that was signed (the first value of each)."""
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError as exc:
        raise ApiError(400, "bad_request", "The command's form is not UTF-8.") from exc
    return {name: values[0] for name, values in parsed.items()}


def parse_command(name: str, text: str) -> tuple[str, str]:
    """("summarize" or "ask", the text after it). The command may be registered under another
    name ending in the verb (`/docchat-ask`), or be one command whose first word is the verb
    (`/docchat ask ...`)."""
    found = _COMMAND.search(name.strip().lower().lstrip("/"))
    text = text.strip()
    if found is None:
        verb, *rest = text.split(None, 1) or [""]
        if verb.lower() not in ("summarize", "ask"):
            raise CommandRefused(USAGE)
        return verb.lower(), "".join(rest).strip()
    return found.group(1), text


def _queue_summary(runtime: Runtime, text: str, response_url: str) -> None:
    meeting_request = _meeting_request(runtime, text)
    job = runtime.jobs.add("summarize", meeting_request.to_json(), meeting_request.workspace)
    enqueue(SLACK_SUMMARY_TASK, job.id, response_url, job_id=job.id, message=QUEUE_DOWN)


def _meeting_request(runtime: Runtime, text: str) -> MeetingRequest:
    """The meeting `/summarize` names: an uploaded meeting (by id or file name), else the notes
    pasted after the command."""
    if not text:
        raise CommandRefused("Paste the meeting notes after /summarize, or give the name of an "
                             "uploaded meeting.")
    if "\n" not in text and len(text) <= 255:
        record = _named_document(runtime, text)
        if record is not None:
            return MeetingRequest(task="summarize", document_id=record.id,
                                  filename=record.filename, workspace=record.workspace)
        if _LOOKS_LIKE_A_FILE.match(text):
            raise CommandRefused(f"No uploaded document is called {text}: upload it to docchat "
                                 "first, or paste the meeting notes themselves after /summarize.")
    if len(text) > MAX_TEXT_CHARS:
        raise CommandRefused(f"The notes are longer than {MAX_TEXT_CHARS:,} characters: upload "
                             "them to docchat and summarize the document by name.")
    return MeetingRequest(task="summarize", text=text, filename="notes from Slack",
                          workspace=runtime.settings.slack_workspace)


def _named_document(runtime: Runtime, name: str) -> DocumentRecord | None:
    """The document with this id, else the newest with this file name (an indexed meeting
    first); CommandRefused when it cannot be summarized."""
    store, team = runtime.store, runtime.settings.slack_workspace
    record = store.document_in(team, name)
    if record is None:
        same = [d for d in store.list_documents(DocumentFilter(team))
                if d.filename.lower() == name.lower()]
        ready = [d for d in same if d.kind == "meeting" and d.status == "indexed"]
        candidates = ready or same
        record = candidates[0] if candidates else None
    if record is not None:
        _check_summarizable(record, CommandRefused)
    return record


def _check_summarizable(record: DocumentRecord, error: Callable[[str], Exception]) -> None:
    """Raise `error(message)` unless the document is an indexed meeting."""
    if record.status == "failed":
        raise error(f"{record.filename} could not be processed ({record.error_message}): "
                    "upload a readable copy.")
    if record.status != "indexed":
        raise error(f"{record.filename} is still {record.status}: wait until it is indexed, "
                    "then try again.")
    if record.kind != "meeting":
        raise error(f"{record.filename} is a {record.kind or 'plain'} document, not a meeting: "
                    "summaries are for meeting notes, transcripts and Slack exports.")


def _queue_answer(text: str, response_url: str) -> None:
    collection = None
    prefixed = _COLLECTION_PREFIX.match(text)
    if prefixed:
        collection = (prefixed.group(1) or prefixed.group(2)).strip()
        text = prefixed.group(3).strip()
        if not is_collection_name(collection):
            raise CommandRefused(COLLECTION_RULE[:-1]
                                 + '; quote one with spaces: collection:"Team notes".')
    if not text:
        raise CommandRefused("Ask a question after /ask, e.g. `/ask What did we decide about "
                             "pricing?`")
    if len(text) > MAX_QUESTION_CHARS:
        raise CommandRefused(f"The question is longer than {MAX_QUESTION_CHARS} characters.")
    enqueue(SLACK_ANSWER_TASK, text, collection, response_url, message=QUEUE_DOWN)


# ---- posting meeting summaries to a collection's channel ----

@bp.put("/api/collections/<name>/slack-webhook")
def set_slack_webhook(name: str) -> tuple[Response, int]:
    """Set the incoming-webhook URL the collection's meeting summaries are posted to."""
    collection = checked_collection(name)
    url = validated(SlackWebhookRequest, json_body()).url
    runtime = current_runtime()
    try:
        check_slack_url(url.strip(), runtime.settings.slack_hosts)
    except SlackUrlRefused as exc:
        raise ApiError(400, "bad_webhook_url", str(exc)) from exc
    runtime.webhooks.set_slack_webhook(workspace(), collection, url.strip())
    return jsonify(_webhook_json(collection, url.strip())), 200


@bp.get("/api/collections/<name>/slack-webhook")
def get_slack_webhook(name: str) -> tuple[Response, int]:
    """The collection's webhook, masked (the URL is a secret: anyone holding it can post)."""
    collection = checked_collection(name)
    url = current_runtime().webhooks.slack_webhook(workspace(), collection)
    return jsonify(_webhook_json(collection, url)), 200


@bp.delete("/api/collections/<name>/slack-webhook")
def clear_slack_webhook(name: str) -> tuple[Response, int]:
    collection = checked_collection(name)
    if not current_runtime().webhooks.clear_slack_webhook(workspace(), collection):
        raise ApiError(404, "no_slack_webhook", f"Collection {collection} has no Slack webhook.")
    return jsonify(_webhook_json(collection, None)), 200


def _webhook_json(collection: str, url: str | None) -> dict[str, object]:
    return {"collection": collection, "slack_webhook": mask_url(url) if url else None}


@bp.post("/api/documents/<document_id>/slack")
def post_document_to_slack(document_id: str) -> tuple[Response, int]:
    """Summarize an uploaded meeting in the background and post the summary to its
    collection's Slack channel; poll the job for the summary or the reason it failed."""
    runtime = current_runtime()
    record = owned_document(document_id)
    _check_summarizable(record, lambda message: ApiError(409, _conflict(record), message))
    webhook = runtime.webhooks.slack_webhook(record.workspace, record.collection)
    if webhook is None:
        raise ApiError(409, "no_slack_webhook",
                       f"Collection {record.collection} has no Slack webhook: set one with PUT "
                       f"/api/collections/{record.collection}/slack-webhook "
                       '{"url": "https://hooks.slack.com/services/..."}.')
    meeting_request = MeetingRequest(task="summarize", document_id=record.id,
                                     filename=record.filename, workspace=record.workspace)
    job = runtime.jobs.add("summarize", meeting_request.to_json(), record.workspace)
    enqueue(SLACK_WEBHOOK_TASK, job.id, record.collection, job_id=job.id)
    return jsonify({"job_id": job.id, "status": job.status,
                    "status_url": url_for("meetings.get_job", job_id=job.id),
                    **_webhook_json(record.collection, webhook)}), 202


def _conflict(record: DocumentRecord) -> str:
    if record.status == "failed":
        return "document_failed"
    return "not_indexed" if record.status != "indexed" else "not_a_meeting"
