"""JSON API: documents, search, ask (optionally streamed as Server-Sent Events)."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass

from flask import (
    Blueprint,
    Response,
    jsonify,
    request,
    stream_with_context,
    url_for,
)
from werkzeug.datastructures import FileStorage

from ingest.formats import StoredKind, costliest_first, sniff
from ingest.text import decode_text
from ingest.transcripts import split_jsonl_meetings
from retrieval.answers.answer import GATE_PASSAGES, Answer, Message, Question, Status
from retrieval.runtime import Runtime
from retrieval.search import indexing
from retrieval.search.hybrid import PassageRef
from retrieval.search.rebuild import index_switch
from retrieval.search.spaces import model_label
from retrieval.storage.store import ChunkFilter, DocumentFilter, DocumentRecord
from web.bodies import MAX_QUESTION_CHARS, clean_filename, json_body
from web.context import current_runtime
from web.contract.requests import (
    AskRequest,
    DocumentQuery,
    Filters,
    SearchRequest,
    UploadForm,
    iso_moment,
)
from web.contract.requests import PassageRef as PassageRefBody
from web.contract.validation import validated
from web.documents import no_document, owned_document
from web.enqueue import QueueUnavailable, enqueue
from web.errors import ApiError, overflow_message
from web.identity import is_admin, principal, workspace
from web.links import answer_json, hit_json
from web.ratelimit import rate_limited
from workers import INGEST_TASK, REBUILD_TASK

bp = Blueprint("api", __name__, url_prefix="/api")
# What an upload's 503 says: the files are stored, and processed once the queue is back.
UPLOAD_SAVED = ("The upload is saved, but the processing queue is not reachable right now. It "
                "will be processed when docchat restarts with its queue; check Redis "
                "(DOCCHAT_REDIS_URL).")


@bp.post("/documents")
def upload_documents() -> tuple[Response, int]:
    """Accept files: each is stored durably and queued (the costliest to parse first), or
    matched to an identical earlier upload in the same collection (`"duplicate": true`), and
    listed in the request's order. Nothing is stored if any file is refused."""
    files = [f for f in request.files.getlist("file") if f.filename or f.content_length]
    if not files:
        raise ApiError(400, "no_file", "Attach at least one file in a form field named 'file'.")
    collection = _collection_field(files)
    received = [item for upload in files for item in _received(upload)]
    runtime = current_runtime()
    results: dict[int, dict[str, object]] = {}
    queued = []
    unreachable: QueueUnavailable | None = None
    # The costliest file to parse is stored and queued first (ingest.formats.costliest_first;
    # ties in the request's order): the workers take the queue in order, so a costly file
    # left to the end would keep one of them busy while the others have nothing left, and the
    # upload as a whole would finish later. The answer lists the files in the request's order.
    order = sorted(range(len(received)),
                   key=lambda n: costliest_first(received[n].data, received[n].kind))
    for n in order:
        item = received[n]
        existing = runtime.store.find_duplicate(workspace(), collection, item.sha256)
        if existing is not None:
            results[n] = {**_summary(existing), "duplicate": True}
            continue
        record = _accept(runtime, item, collection)
        # Queued as soon as it is stored: a worker starts on the first file while the rest of
        # a large upload is still being written. With the queue down, every file is still
        # stored (recovery queues them when docchat restarts), and the answer says so.
        if unreachable is None:
            try:
                enqueue(INGEST_TASK, record.id, message=UPLOAD_SAVED)
            except QueueUnavailable as exc:
                unreachable = exc
        queued.append(record)
        results[n] = {**_summary(record), "duplicate": False}
    if unreachable is not None:
        raise unreachable
    documents = [results[n] for n in sorted(results)]
    return jsonify({"documents": documents}), 202 if queued else 200


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
    kind = sniff(data, filename)  # IngestError 415 when docchat does not read the type
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


def _collection_field(files: list[FileStorage]) -> str:
    form = {"file": files, "collection": (request.form.get("collection") or "default").strip()}
    return validated(UploadForm, form).collection


@bp.get("/documents")
def list_documents() -> Response:
    """One page of documents, newest first: ?limit (1-200, default 50), ?offset, and the
    filters ?collection and ?status. `next` is the URL of the following page, or null."""
    # An empty value (`?status=`) is no filter.
    query = validated(DocumentQuery, {name: value.strip() for name, value in request.args.items()
                                      if value.strip()})
    limit, offset = query.limit, query.offset
    where = DocumentFilter(workspace(), collection=query.collection, status=query.status)
    store = current_runtime().store
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
    counts = current_runtime().store.collections(workspace())
    return jsonify({"collections": [c.to_json() for c in counts]})


@bp.get("/documents/<document_id>")
def get_document(document_id: str) -> Response:
    return jsonify(owned_document(document_id).to_json())


@bp.delete("/documents/<document_id>")
def delete_document(document_id: str) -> Response:
    owned_document(document_id)
    if not indexing.delete_document(current_runtime(), document_id):
        raise no_document(document_id)  # deleted by someone else meanwhile
    return jsonify({"deleted": document_id})


@bp.get("/index")
def index_status() -> Response:
    """The embedding model and index serving searches, and a rebuild under way, if any."""
    _admin_only()
    runtime = current_runtime()
    spaces = runtime.spaces
    rebuild = runtime.store.rebuild_state()
    switch = index_switch(runtime.settings)
    active = spaces.active()
    return jsonify({
        "model": model_label(active.model),
        "configured_model": model_label(spaces.configured),
        "index_type": active.index.served_type,
        "configured_index_type": runtime.settings.index_type,
        "index_switch": switch.to_json() if switch else None,
        "vectors": len(active.index),
        "device": active.embedder.device,
        "precision": active.embedder.precision,
        "faiss_device": active.index.placement.device,
        "faiss_reason": active.index.placement.reason,
        "rebuild": rebuild.to_json() if rebuild else None,
    })


@bp.post("/index/rebuild")
def rebuild_index() -> tuple[Response, int]:
    """Queue a rebuild for the configured embedding model (workers also do so on start)."""
    _admin_only()
    spaces = current_runtime().spaces
    if not spaces.needs_rebuild():
        return jsonify({"status": "current", "model": model_label(spaces.configured)}), 200
    enqueue(REBUILD_TASK)
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
    body = validated(SearchRequest, json_body())
    query = body.query.strip()
    runtime = current_runtime()
    k = body.k or runtime.settings.top_k
    hits = runtime.retriever.search(query, k, chunk_filter(body), body.budget_chars)
    if not body.relevant_only:
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
    body = validated(AskRequest, json_body())
    question = Question(
        text=body.question.strip(), where=chunk_filter(body),
        history=tuple(Message(m.role, m.content[:MAX_QUESTION_CHARS]) for m in body.history),
        temperature=body.temperature, context=_passages(body.context),
    )
    pieces = current_runtime().answerer.stream(question)
    if not body.stream:
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


def _passages(refs: list[PassageRefBody] | None) -> tuple[PassageRef, ...] | None:
    """The passages of an earlier answer, once each and in order."""
    if refs is None:
        return None
    return tuple(dict.fromkeys(PassageRef(ref.document_id, ref.first_ordinal, ref.last_ordinal)
                               for ref in refs))


def chunk_filter(body: Filters) -> ChunkFilter:
    """Search filters from a request; each one narrows the search inside retrieval, which
    never looks beyond the caller's workspace."""
    return ChunkFilter(
        workspace=workspace(),
        collections=_values(body.collection),
        document_ids=_values(body.document_ids),
        kinds=_values(body.kinds),
        speakers=_values(body.speakers),
        created_from=iso_moment(body.date_from) if body.date_from else None,
        created_to=iso_moment(body.date_to, end_of_day=True) if body.date_to else None,
    )


def _values(value: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """One value or a list of them, each once."""
    if value is None:
        return None
    return tuple(dict.fromkeys([value] if isinstance(value, str) else value))
