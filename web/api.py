"""JSON API: documents, search, ask (optionally streamed as Server-Sent Events)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    request,
    stream_with_context,
    url_for,
)
from kombu.exceptions import OperationalError
from werkzeug.datastructures import FileStorage

from ingest.documents import IngestError
from ingest.formats import StoredKind, sniff
from ingest.text import decode_text
from ingest.transcripts import split_jsonl_meetings
from retrieval.answers.answer import GATE_PASSAGES, Answer, Message, Question, Status
from retrieval.runtime import Runtime
from retrieval.search import indexing
from retrieval.search.hybrid import PassageRef
from retrieval.search.spaces import model_label
from retrieval.storage.store import (
    STATUSES,
    ChunkFilter,
    DocumentFilter,
    DocumentRecord,
    is_collection_name,
)
from web.auth import is_admin, principal, workspace
from web.bodies import MAX_INDEX, clean_filename, json_body, query_number, whole_number
from web.errors import ApiError, overflow_message
from web.links import answer_json, hit_json
from web.ratelimit import rate_limited
from workers import INGEST_TASK, REBUILD_TASK

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api")

MAX_K = 50
MAX_QUESTION_CHARS = 4000


def _runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["docchat"]
    return runtime


@bp.post("/documents")
def upload_documents() -> tuple[Response, int]:
    """Accept files: each is stored durably and queued, or matched to an identical earlier
    upload in the same collection (`"duplicate": true`). Nothing is stored if any file is
    refused."""
    files = [f for f in request.files.getlist("file") if f.filename or f.content_length]
    if not files:
        raise ApiError(400, "no_file", "Attach at least one file in a form field named 'file'.")
    collection = _collection_field()
    received = [item for upload in files for item in _received(upload)]
    runtime = _runtime()
    results: list[dict[str, object]] = []
    queued = []
    for item in received:
        existing = runtime.store.find_duplicate(workspace(), collection, item.sha256)
        if existing is not None:
            results.append({**_summary(existing), "duplicate": True})
            continue
        record = _accept(runtime, item, collection)
        queued.append(record)
        results.append({**_summary(record), "duplicate": False})
    _enqueue(queued)
    return jsonify({"documents": results}), 202 if queued else 200


def _summary(record: DocumentRecord) -> dict[str, object]:
    return {"id": record.id, "filename": record.filename, "status": record.status,
            "collection": record.collection}


@dataclass(frozen=True)
class _Received:
    filename: str
    data: bytes
    kind: StoredKind
    sha256: str


def _received(upload: FileStorage) -> list[_Received]:
    """The upload as documents to store: one, or one per meeting of a JSON-lines file."""
    filename = clean_filename(upload.filename)
    data = upload.stream.read()
    try:
        kind = sniff(data, filename)
    except IngestError as exc:
        raise ApiError(415, exc.code, exc.message) from exc
    meetings = split_jsonl_meetings(decode_text(data) or "") if kind == "text" else None
    if not meetings or len(meetings) == 1:
        return [_Received(filename, data, kind, hashlib.sha256(data).hexdigest())]
    parts = []
    for number, meeting in enumerate(meetings, start=1):
        part = json.dumps(meeting, ensure_ascii=False).encode()
        parts.append(_Received(f"{filename} #{number}", part, "text",
                               hashlib.sha256(part).hexdigest()))
    return parts


def _accept(runtime: Runtime, item: _Received, collection: str) -> DocumentRecord:
    """Store the bytes durably under a generated name, then record the document as queued."""
    document_id = uuid.uuid4().hex
    folder = runtime.settings.uploads_dir
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{document_id}.{item.kind}"
    tmp = folder / f".{document_id}.part"
    with open(tmp, "wb") as handle:
        handle.write(item.data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, final)
    return runtime.store.add_document(document_id, item.filename, final, len(item.data),
                                      workspace=workspace(), stored_kind=item.kind,
                                      collection=collection,
                                      sha256=item.sha256)


def _enqueue(records: list[DocumentRecord]) -> None:
    celery = current_app.extensions["docchat.celery"]
    try:
        for record in records:
            celery.send_task(INGEST_TASK, args=[record.id])
    except OperationalError as exc:
        log.error("queue unreachable while accepting %s: %s", [r.id for r in records], exc)
        raise ApiError(
            503, "queue_unavailable",
            "The upload is saved, but the processing queue is not reachable right now. It will "
            "be processed when docchat restarts with its queue; check Redis (DOCCHAT_REDIS_URL).",
        ) from exc


def checked_collection(name: str) -> str:
    """The name, if it can name a collection; else a 400 saying what a name may be."""
    if not is_collection_name(name):
        raise ApiError(400, "bad_collection",
                       "A collection name is 1-64 letters, digits, spaces, '.', '_' or '-'.")
    return name


def _collection_field() -> str:
    return checked_collection((request.form.get("collection") or "default").strip())


DEFAULT_PAGE, MAX_PAGE = 50, 200


@bp.get("/documents")
def list_documents() -> Response:
    """One page of documents, newest first: ?limit (1-200, default 50), ?offset, and the
    filters ?collection and ?status. `next` is the URL of the following page, or null."""
    limit = query_number("limit", DEFAULT_PAGE, 1, MAX_PAGE) or DEFAULT_PAGE
    offset = query_number("offset", 0, 0) or 0
    where = DocumentFilter(workspace(), collection=_query_collection(),
                           status=_query_status())
    store = _runtime().store
    documents = store.list_documents(where, limit, offset)
    total = store.count_documents(where)
    following = None
    if offset + limit < total:
        following = url_for("api.list_documents", limit=limit, offset=offset + limit,
                            collection=where.collection, status=where.status)
    return jsonify({"documents": [d.to_json() for d in documents], "total": total,
                    "limit": limit, "offset": offset, "next": following})


@bp.get("/collections")
def list_collections() -> Response:
    """Collections that hold documents, by name, with their documents counted by status."""
    counts = _runtime().store.collections(workspace())
    return jsonify({"collections": [c.to_json() for c in counts]})


def _query_collection() -> str | None:
    name = request.args.get("collection", "").strip()
    return checked_collection(name) if name else None


def _query_status() -> str | None:
    status = request.args.get("status", "").strip()
    if status and status not in STATUSES:
        raise ApiError(400, "bad_request", f"'status' takes {', '.join(STATUSES)}.")
    return status or None


def owned_document(document_id: str) -> DocumentRecord:
    """The document, if it is the caller's workspace's; else 404 (another team's document
    looks the same as none)."""
    record = _runtime().store.document_in(workspace(), document_id)
    if record is None:
        raise _no_document(document_id)
    return record


def _no_document(document_id: str) -> ApiError:
    return ApiError(404, "not_found", f"No document with id {document_id}.")


@bp.get("/documents/<document_id>")
def get_document(document_id: str) -> Response:
    return jsonify(owned_document(document_id).to_json())


@bp.delete("/documents/<document_id>")
def delete_document(document_id: str) -> Response:
    owned_document(document_id)
    if not indexing.delete_document(_runtime(), document_id):
        raise _no_document(document_id)  # deleted by someone else meanwhile
    return jsonify({"deleted": document_id})


@bp.get("/index")
def index_status() -> Response:
    """The embedding model and index serving searches, and a rebuild under way, if any."""
    _admin_only()
    runtime = _runtime()
    spaces = runtime.spaces
    rebuild = runtime.store.rebuild_state()
    active = spaces.active()
    return jsonify({
        "model": model_label(active.model),
        "configured_model": model_label(spaces.configured),
        "index_type": runtime.settings.index_type,
        "vectors": len(active.index),
        "device": active.embedder.device,
        "rebuild": rebuild.to_json() if rebuild else None,
    })


@bp.post("/index/rebuild")
def rebuild_index() -> tuple[Response, int]:
    """Queue a rebuild for the configured embedding model (workers also do so on start)."""
    _admin_only()
    spaces = _runtime().spaces
    if not spaces.needs_rebuild():
        return jsonify({"status": "current", "model": model_label(spaces.configured)}), 200
    try:
        current_app.extensions["docchat.celery"].send_task(REBUILD_TASK)
    except OperationalError as exc:
        raise ApiError(503, "queue_unavailable",
                       "The processing queue is not reachable: check Redis "
                       "(DOCCHAT_REDIS_URL) and try again.") from exc
    return jsonify({"status": "queued", "model": model_label(spaces.configured)}), 202


def _admin_only() -> None:
    """The index serves every workspace: only an administrator looks after it."""
    if not is_admin(principal()):
        raise ApiError(403, "forbidden", "Only a docchat administrator manages the index.")


@bp.post("/search")
def search() -> Response:
    """Hybrid search. Filters: collection, document_ids, kinds, speakers, date_from, date_to.
    With budget_chars, neighbouring chunks merge and passages fill the budget. With
    relevant_only, no hits unless the best are relevant (DOCCHAT_MIN_RELEVANCE)."""
    body = json_body()
    query = _text_field(body, "query")
    k = _k_field(body)
    budget = _budget_field(body)
    relevant_only = body.get("relevant_only", False)
    if not isinstance(relevant_only, bool):
        raise ApiError(400, "bad_request", "'relevant_only' must be true or false.")
    runtime = _runtime()
    hits = runtime.retriever.search(query, k, filters_from(body), budget)
    if not relevant_only:
        return jsonify({"hits": [hit_json(h) for h in hits]})
    # The answers' gate: below it, the best passages are only the least unrelated ones.
    answerer = runtime.answerer
    relevance = answerer.relevance(query, hits[:GATE_PASSAGES]) if hits else 0.0
    if relevance < answerer.min_relevance:
        hits = []
    return jsonify({"hits": [hit_json(h) for h in hits], "relevance": round(relevance, 3)})


@bp.post("/ask")
@rate_limited
def ask() -> Response:
    """A cited answer. Optional: history (earlier messages, for follow-ups), temperature,
    context (the passages of an earlier answer, to regenerate it), stream (SSE)."""
    body = json_body()
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise ApiError(400, "bad_request", "'stream' must be true or false.")
    question = Question(
        text=_text_field(body, "question"), where=filters_from(body),
        history=_history(body), temperature=_temperature(body), context=_context(body),
    )
    pieces = _runtime().answerer.stream(question)
    if not stream:
        # An unreachable LLM raises here, before any byte is sent: a 503.
        *_, result = pieces
        assert isinstance(result, Answer)
        return jsonify(answer_json(result))
    # The first event (searching) goes out at once; what fails later, the LLM included,
    # ends the stream with an `error` event.
    return Response(
        stream_with_context(_sse(pieces)),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _sse(items: Generator[str | Status | Answer, None, None]) -> Iterator[str]:
    """Events: `status` {"stage", "passages", "documents"} as the answer moves from searching
    to reading to writing, `token` {"text"} for each piece, then `answer` with the whole
    answer. When the reader goes away (Stop), closing this closes `items`, and with them the
    request to the LLM server, which stops generating."""
    from retrieval.llm.client import ContextOverflow, LLMUnavailable

    def event(name: str, data: object) -> str:
        return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"

    try:
        for item in items:
            if isinstance(item, Answer):
                yield event("answer", answer_json(item))
            elif isinstance(item, Status):
                yield event("status", item.to_json())
            else:
                yield event("token", {"text": item})
    except LLMUnavailable as exc:
        yield event("error", {"error": {"code": "llm_unavailable", "message": str(exc)}})
    except ContextOverflow as exc:
        yield event("error", {"error": {"code": "context_overflow",
                                        "message": overflow_message(exc)}})
    finally:
        items.close()


MAX_HISTORY = 20


def _history(body: dict[str, Any]) -> tuple[Message, ...]:
    history = body.get("history", [])
    if not isinstance(history, list) or len(history) > MAX_HISTORY or not all(
            isinstance(m, dict) and m.get("role") in ("user", "assistant")
            and isinstance(m.get("content"), str) for m in history):
        raise ApiError(400, "bad_request",
                       f"'history' must be a list of at most {MAX_HISTORY} messages like "
                       '{"role": "user" or "assistant", "content": "..."}.')
    return tuple(Message(m["role"], m["content"][:MAX_QUESTION_CHARS]) for m in history)


def _temperature(body: dict[str, Any]) -> float | None:
    value = body.get("temperature")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 2:
        raise ApiError(400, "bad_request", "'temperature' must be a number from 0 to 2.")
    return float(value)


# The longest passage a regenerate `context` entry may name, in chunks: far more than an answer's
# budget holds, which then cuts what is read to DOCCHAT_ANSWER_CONTEXT_CHARS anyway.
MAX_CONTEXT_SPAN = 64


def _context(body: dict[str, Any]) -> tuple[PassageRef, ...] | None:
    """The passages of an earlier answer, once each and in order."""
    refs = body.get("context")
    if refs is None:
        return None
    bad = ApiError(400, "bad_request", "'context' must be the 'context' list of an earlier "
                                       f"answer: 1 to {MAX_K} passages.")
    if not isinstance(refs, list) or not 1 <= len(refs) <= MAX_K:
        raise bad
    parsed: dict[PassageRef, None] = {}
    for ref in refs:
        if not isinstance(ref, dict) or not isinstance(ref.get("document_id"), str) or not (
                0 < len(ref["document_id"]) <= 64):
            raise bad
        first = whole_number(ref.get("first_ordinal"), "first_ordinal", 0)
        last = whole_number(ref.get("last_ordinal"), "last_ordinal", first,
                            min(first + MAX_CONTEXT_SPAN, MAX_INDEX))
        parsed[PassageRef(ref["document_id"], first, last)] = None
    return tuple(parsed)


def _text_field(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, "bad_request", f"'{name}' must be a non-empty string.")
    if len(value) > MAX_QUESTION_CHARS:
        raise ApiError(
            400, "bad_request", f"'{name}' is longer than {MAX_QUESTION_CHARS} characters."
        )
    return value.strip()


def _k_field(body: dict[str, Any]) -> int:
    k = body.get("k", _runtime().settings.top_k)
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
        raise ApiError(400, "bad_request", f"'k' must be a whole number from 1 to {MAX_K}.")
    return k


MIN_BUDGET, MAX_BUDGET = 200, 200_000


def _budget_field(body: dict[str, Any]) -> int | None:
    budget = body.get("budget_chars")
    if budget is None:
        return None
    if not isinstance(budget, int) or isinstance(budget, bool) or not (
            MIN_BUDGET <= budget <= MAX_BUDGET):
        raise ApiError(400, "bad_request",
                       f"'budget_chars' must be a whole number from {MIN_BUDGET} to {MAX_BUDGET}.")
    return budget


def filters_from(body: dict[str, Any]) -> ChunkFilter:
    """Search filters from a JSON body; each one narrows the search inside retrieval, which
    never looks beyond the caller's workspace."""
    return ChunkFilter(
        workspace=workspace(),
        collections=_names(body, "collection"),
        document_ids=_names(body, "document_ids"),
        kinds=_kinds(body),
        speakers=_names(body, "speakers"),
        created_from=_date(body, "date_from", end_of_day=False),
        created_to=_date(body, "date_to", end_of_day=True),
    )


# A filter names at most this many values (documents ticked in the chat, speakers, ...).
MAX_FILTER_VALUES = 1000


def _names(body: dict[str, Any], name: str) -> tuple[str, ...] | None:
    value = body.get(name)
    if value is None:
        return None
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not 0 < len(values) <= MAX_FILTER_VALUES or not all(
            isinstance(v, str) and 0 < len(v) <= 256 for v in values):
        raise ApiError(400, "bad_request",
                       f"'{name}' must be a string or a list of 1 to {MAX_FILTER_VALUES} "
                       "strings (each at most 256 characters).")
    return tuple(dict.fromkeys(values))


KINDS = ("pdf", "text", "meeting")


def _kinds(body: dict[str, Any]) -> tuple[str, ...] | None:
    kinds = _names(body, "kinds")
    if kinds is not None and not set(kinds) <= set(KINDS):
        raise ApiError(400, "bad_request", f"'kinds' takes {', '.join(KINDS)}.")
    return kinds


def _date(body: dict[str, Any], name: str, end_of_day: bool) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    try:
        if not isinstance(value, str) or len(value) > 40:
            raise ValueError(value)
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        if end_of_day and len(value) == 10:  # a bare date includes its whole day
            moment += timedelta(days=1, microseconds=-1)
        return moment.timestamp()
    except (ValueError, OverflowError) as exc:  # OverflowError: past the year 9999
        raise ApiError(400, "bad_request",
                       f"'{name}' must be an ISO date like 2026-03-31.") from exc
