"""The OpenAPI 3.1 description of the HTTP API, written here as data, served as JSON at
/api/openapi.json and as a plain HTML page at /api/docs. tests/web/test_openapi.py checks that
it names every route of the app, and only those."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

from flask import Blueprint, Response, jsonify, render_template
from markupsafe import Markup, escape

bp = Blueprint("openapi", __name__, url_prefix="/api")

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@bp.get("/openapi.json")
def openapi_document() -> Response:
    return jsonify(SPEC)


@bp.get("/docs")
def api_docs() -> str:
    """Every operation with its parameters, bodies and answers, under the pages' own header;
    no script, no outside asset."""
    return render_template(
        "api_docs.html", page="api", spec=SPEC, operations=operations(SPEC),
        schema_html=schema_html, prose_html=prose_html,
        error_example=json.dumps(ERROR_EXAMPLE, indent=2, ensure_ascii=False),
    )


@dataclass(frozen=True)
class Operation:
    """One method on one path, with its parameters and responses' references resolved."""

    method: str  # upper case: GET, POST, ...
    path: str
    details: dict[str, Any]  # the operation object itself
    parameters: list[dict[str, Any]]
    responses: list[tuple[str, dict[str, Any]]]  # (status or "default", response object)

    @property
    def anchor(self) -> str:
        return str(self.details.get("operationId") or f"{self.method}-{self.path}")


def operations(spec: dict[str, Any]) -> list[Operation]:
    """The document's operations in the order it lists them."""
    found = []
    for path, item in spec["paths"].items():
        for method in HTTP_METHODS:
            if method not in item:
                continue
            details = item[method]
            found.append(Operation(
                method=method.upper(), path=path, details=details,
                parameters=[resolve_ref(spec, p) for p in details.get("parameters", [])],
                responses=[(status, resolve_ref(spec, r))
                           for status, r in details.get("responses", {}).items()],
            ))
    return found


def resolve_ref(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """`node`, or what its local `$ref` (#/components/...) points to."""
    ref = node.get("$ref")
    if not ref:
        return node
    target: Any = spec
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return dict(target)


_SCHEMA_REF = re.compile(r"&#34;#/components/schemas/(\w+)&#34;")
_CODE = re.compile(r"`([^`]+)`")


def schema_html(schema: dict[str, Any]) -> Markup:
    """A schema as indented JSON, escaped, with references to named schemas as links; a bare
    reference is just the link."""
    text = str(escape(json.dumps(schema, indent=2, ensure_ascii=False)))
    if list(schema) == ["$ref"]:
        text = text.removeprefix("{\n  &#34;$ref&#34;: ").removesuffix("\n}")
    return Markup(_SCHEMA_REF.sub(r'<a href="#schema-\1">\1</a>', text))


def prose_html(text: str) -> Markup:
    """A description, escaped, with its `code` spans set as code."""
    return Markup(_CODE.sub(r"<code>\1</code>", str(escape(text))))


# ---- the document ----
# To describe a new route, add its path (Flask's <name> written {name}) to PATHS with one
# operation per method; reuse the schemas, parameters and error responses under COMPONENTS.


def _schema(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _parameter(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/parameters/{name}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _answer(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON response."""
    return {"description": description, "content": _json(schema)}


ERROR_RESPONSES = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict",
    410: "Gone", 413: "TooLarge", 415: "UnsupportedType", 422: "Unprocessable",
    429: "TooManyRequests", 503: "Unavailable",
}


def _errors(*statuses: int) -> dict[str, Any]:
    """The error responses an operation names, and the default: any other error, same shape."""
    named = {str(s): {"$ref": f"#/components/responses/{ERROR_RESPONSES[s]}"} for s in statuses}
    return {**named, "default": {"$ref": "#/components/responses/Error"}}


def _nullable(type_: str, **more: Any) -> dict[str, Any]:
    return {"type": [type_, "null"], **more}


_FILE = {"type": "string", "contentMediaType": "application/octet-stream"}
_MEETING_FILES = {
    "text/csv": {"schema": {"type": "string"},
                 "example": "who,what,to_whom,due,due_text,quote,where\n"},
    "text/markdown": {"schema": {"type": "string"}},
}

ERROR_EXAMPLE = {"error": {"code": "bad_request", "message": "'query' must be a non-empty string."}}

PATHS: dict[str, Any] = {
    "/api/documents": {
        "post": {
            "operationId": "upload_documents",
            "tags": ["documents"],
            "summary": "Upload documents",
            "description": (
                "Each file is stored and queued for indexing, or matched to an identical earlier "
                "upload in the same collection (`duplicate: true`). A JSON-lines file of several "
                "meetings becomes one document per meeting. Nothing is stored if any file is "
                "refused."),
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {"type": "array", "items": _FILE,
                             "description": "One or more `file` fields: PDF, DOCX, text, "
                                            "Markdown, transcripts (SRT, VTT, JSON), Slack "
                                            "export."},
                    "collection": {"type": "string", "default": "default",
                                   "pattern": r"^\w[\w .-]{0,63}$"},
                },
            }}}},
            "responses": {
                "202": _answer("At least one file was queued.", _schema("UploadResult")),
                "200": _answer("Every file was a duplicate of an earlier upload.",
                               _schema("UploadResult")),
                **_errors(400, 413, 415, 503),
            },
        },
        "get": {
            "operationId": "list_documents",
            "tags": ["documents"],
            "summary": "List documents, a page at a time",
            "description": (
                "Newest first. `next` is the URL of the following page with the same filters, "
                "or null on the last page; `total` counts every document that matches the "
                "filters. Empty `collection` or `status` means no filter."),
            "parameters": [
                {"name": "limit", "in": "query", "description": "Documents per page.",
                 "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}},
                {"name": "offset", "in": "query", "description": "Documents to skip.",
                 "schema": {"type": "integer", "minimum": 0, "default": 0}},
                {"name": "collection", "in": "query", "description": "Only this collection.",
                 "schema": {"type": "string"}},
                {"name": "status", "in": "query", "description": "Only documents in this state.",
                 "schema": _schema("Status")},
            ],
            "responses": {
                "200": _answer("One page of documents.", _schema("DocumentPage")),
                **_errors(400),
            },
        },
    },
    "/api/documents/{document_id}": {
        "get": {
            "operationId": "get_document",
            "tags": ["documents"],
            "summary": "A document and its processing status",
            "parameters": [_parameter("DocumentId")],
            "responses": {"200": _answer("The document.", _schema("Document")), **_errors(404)},
        },
        "delete": {
            "operationId": "delete_document",
            "tags": ["documents"],
            "summary": "Delete a document",
            "description": "Its vectors, BM25 entries, chunk rows and stored file are removed.",
            "parameters": [_parameter("DocumentId")],
            "responses": {
                "200": _answer("Deleted.", {
                    "type": "object", "required": ["deleted"],
                    "properties": {"deleted": {"type": "string",
                                               "description": "The document's id."}}}),
                **_errors(404),
            },
        },
    },
    "/api/documents/{document_id}/file": {
        "get": {
            "operationId": "get_document_file",
            "tags": ["documents"],
            "summary": "The file as uploaded, under its own name",
            "description": "PDFs and text are served inline (the passage view shows a PDF at "
                           "`#page=N`), Word files as downloads. `410` when the stored file "
                           "is gone from the data folder.",
            "parameters": [_parameter("DocumentId")],
            "responses": {
                "200": {"description": "The file.", "content": {
                    "application/pdf": {"schema": _FILE},
                    "text/plain": {"schema": {"type": "string"}},
                    "application/vnd.openxmlformats-officedocument.wordprocessingml.document":
                        {"schema": _FILE}}},
                **_errors(404, 410),
            },
        },
    },
    "/api/documents/{document_id}/reindex": {
        "post": {
            "operationId": "reindex_document",
            "tags": ["documents"],
            "summary": "Parse, chunk and index a document again",
            "description": "The document goes back to `queued`; the worker replaces its "
                           "passages (it ends with the same passages once, never twice). `409` "
                           "while it is being processed, `410` when its file is gone.",
            "parameters": [_parameter("DocumentId")],
            "responses": {"202": _answer("Queued again.", _schema("Document")),
                          **_errors(404, 409, 410, 503)},
        },
    },
    "/api/collections": {
        "get": {
            "operationId": "list_collections",
            "tags": ["documents"],
            "summary": "Collections with their documents counted by status",
            "description": "Every collection that holds at least one document, by name.",
            "responses": {
                "200": _answer("The collections.", {
                    "type": "object", "required": ["collections"],
                    "properties": {"collections": {"type": "array",
                                                   "items": _schema("Collection")}}}),
                **_errors(),
            },
        },
    },
    "/api/search": {
        "post": {
            "operationId": "search",
            "tags": ["search"],
            "summary": "Hybrid search (FAISS and BM25) with filters",
            "description": ("Filters narrow the search inside both indexes. With "
                            "`budget_chars`, neighbouring chunks merge and passages fill the "
                            "budget."),
            "requestBody": {"required": True, "content": _json(_schema("SearchRequest"))},
            "responses": {
                "200": _answer("The best passages, best first.", {
                    "type": "object", "required": ["hits"],
                    "properties": {"hits": {"type": "array", "items": _schema("Hit")},
                                   "relevance": {
                                       "type": "number", "minimum": 0, "maximum": 1,
                                       "description": "With `relevant_only`: how relevant "
                                                      "the best hit is."}}}),
                **_errors(400),
            },
        },
    },
    "/api/ask": {
        "post": {
            "operationId": "ask",
            "tags": ["search"],
            "summary": "A cited answer from the documents",
            "description": (
                "With `stream: true` the answer is a `text/event-stream`: `event: status` with "
                '`{"stage", "passages", "documents"}` as it moves from `searching` to '
                "`reading` (N passages from M documents) to `writing`, `event: token` with "
                '`{"text"}` for each piece, then one `event: answer` with the final answer '
                "object. If the LLM fails (cannot be reached, or fails mid-answer) an "
                "`event: error` with the error object ends the stream; without `stream` an "
                "unreachable LLM is a 503. Closing the stream stops the model."),
            "requestBody": {"required": True, "content": _json(_schema("AskRequest"))},
            "responses": {
                "200": {"description": "The answer (JSON), or its stream (`stream: true`).",
                        "content": {
                            **_json(_schema("Answer")),
                            "text/event-stream": {
                                "schema": {"type": "string"},
                                "example": ('event: status\ndata: {"stage": "reading", '
                                            '"passages": 6, "documents": 2}\n\n'
                                            'event: token\ndata: {"text": "The pilot"}\n\n'
                                            'event: answer\ndata: {"answer": "The pilot ... '
                                            '[1]", "citations": [...]}\n\n'),
                            }}},
                **_errors(400, 422, 503),
            },
        },
    },
    "/api/meetings/summarize": {
        "post": {
            "operationId": "summarize_meeting",
            "tags": ["meetings"],
            "summary": "Summary, decisions, open questions and commitments of a meeting",
            "description": (
                "Send an uploaded meeting (`document_id`) or the notes or transcript themselves "
                "(`text`, or a `file` in a form). Long meetings run in the background "
                "(`mode: auto`): the answer is then a 202 with a job to poll. `format=csv` or "
                "`md` answers the commitments as a file."),
            "parameters": [_parameter("Format")],
            "requestBody": {"required": True, "content": {
                **_json(_schema("MeetingRequest")),
                "multipart/form-data": {"schema": _schema("MeetingForm")},
            }},
            "responses": {
                "200": {"description": "The summary.",
                        "content": {**_json(_schema("MeetingSummary")), **_MEETING_FILES}},
                "202": _answer("Running in the background.", _schema("JobAccepted")),
                **_errors(400, 404, 413, 415, 422, 503),
            },
        },
    },
    "/api/meetings/commitments": {
        "post": {
            "operationId": "meeting_commitments",
            "tags": ["meetings"],
            "summary": "Who promised what, to whom, by when, each with its quote",
            "description": "Takes the same request as the summary.",
            "parameters": [_parameter("Format")],
            "requestBody": {"required": True, "content": {
                **_json(_schema("MeetingRequest")),
                "multipart/form-data": {"schema": _schema("MeetingForm")},
            }},
            "responses": {
                "200": {"description": "The commitments.",
                        "content": {**_json(_schema("MeetingCommitments")), **_MEETING_FILES}},
                "202": _answer("Running in the background.", _schema("JobAccepted")),
                **_errors(400, 404, 413, 415, 422, 503),
            },
        },
    },
    "/api/jobs/{job_id}": {
        "get": {
            "operationId": "get_job",
            "tags": ["meetings"],
            "summary": "A background meeting job: progress, then its result or error",
            "description": "Once done, `format=csv` or `md` answers the commitments as a file.",
            "parameters": [_parameter("JobId"), _parameter("Format")],
            "responses": {
                "200": {"description": "The job, or its commitments as a file.",
                        "content": {**_json(_schema("Job")), **_MEETING_FILES}},
                **_errors(400, 404),
            },
        },
    },
    "/api/index": {
        "get": {
            "operationId": "index_status",
            "tags": ["index"],
            "summary": "The embedding model and index serving searches, and a rebuild, if any",
            "responses": {"200": _answer("The index.", _schema("IndexStatus")), **_errors()},
        },
    },
    "/api/index/rebuild": {
        "post": {
            "operationId": "rebuild_index",
            "tags": ["index"],
            "summary": "Rebuild the index for the configured embedding model",
            "responses": {
                "202": _answer("A rebuild was queued.", _schema("RebuildAnswer")),
                "200": _answer("The index already uses the configured model.",
                               _schema("RebuildAnswer")),
                **_errors(503),
            },
        },
    },
    "/api/openapi.json": {
        "get": {
            "operationId": "openapi_document",
            "tags": ["docs"],
            "summary": "This document",
            "responses": {
                "200": _answer("The OpenAPI 3.1 document.", {"type": "object"}),
                **_errors(),
            },
        },
    },
    "/api/docs": {
        "get": {
            "operationId": "api_docs",
            "tags": ["docs"],
            "summary": "This document as a web page",
            "responses": {
                "200": {"description": "An HTML page.",
                        "content": {"text/html": {"schema": {"type": "string"}}}},
                **_errors(),
            },
        },
    },
}

_FILTERS = {
    "collection": {"description": "A collection name or a list of them.",
                   "oneOf": [{"type": "string"},
                             {"type": "array", "items": {"type": "string"}, "minItems": 1}]},
    "document_ids": {"oneOf": [{"type": "string"},
                               {"type": "array", "items": {"type": "string"}, "minItems": 1}]},
    "kinds": {"type": "array", "minItems": 1, "items": _schema("Kind")},
    "speakers": {"description": "Meeting passages where any of them speaks.",
                 "type": "array", "minItems": 1, "items": {"type": "string"}},
    "date_from": {"description": "Uploaded on or after this ISO date or time.",
                  "type": "string", "examples": ["2026-03-01"]},
    "date_to": {"description": "Uploaded on or before (a bare date includes its whole day).",
                "type": "string", "examples": ["2026-03-31"]},
}

_HREF = {"type": "string", "description": "The passage view on this server, where the passage "
                                        "can be read.",
         "examples": ["/passage/4f2c...?first=3&last=4&page=2"]}

_QUESTION = {"type": "string", "minLength": 1, "maxLength": 4000}

_MEETING_FIELDS = {
    "document_id": {"type": "string", "description": "An uploaded meeting; or send `text`."},
    "text": {"type": "string", "maxLength": 5_000_000,
             "description": "Notes, a transcript or a Slack export; or send `document_id`. "
                            "A JSON body is at most 1 MB in all: send longer notes as a file."},
    "filename": {"type": "string", "description": "Names the meeting (and its format)."},
    "meeting_date": {"type": "string", "description": "ISO date deadlines are relative to.",
                     "examples": ["2026-03-12"]},
    "mode": {"type": "string", "enum": ["auto", "wait", "background"], "default": "auto",
             "description": "auto: in the background when the meeting needs several model "
                            "calls; wait: always answer the result; background: always a job."},
}

_POINT = {
    "type": "object",
    "required": ["text"],
    "properties": {"text": {"type": "string"},
                   "turn_start": {"type": "integer"}, "turn_end": {"type": "integer"},
                   "page_start": {"type": "integer"}, "page_end": {"type": "integer"}},
    "description": "Rests on turns (0-based, inclusive) of a meeting or pages of a PDF.",
}

_MEETING_COMMON = {
    "title": {"type": "string"},
    "commitments": {"type": "array", "items": _schema("Commitment")},
    "dropped_unverified": {"type": "integer",
                           "description": "Commitments the model proposed whose quote is not "
                                          "in the meeting."},
    "meeting_date": _nullable("string"),
    "parts": {"type": "integer", "description": "Model calls per pass over the meeting."},
    "model": {"type": "string"},
    "warnings": {"type": "array", "items": {"type": "string"}},
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": _schema("ErrorBody")},
        "examples": [ERROR_EXAMPLE],
    },
    "ErrorBody": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string", "description": "Stable, for programs."},
            "message": {"type": "string", "description": "What happened and what to do."},
        },
    },
    "Status": {"type": "string", "enum": ["queued", "processing", "indexed", "failed"]},
    "Kind": {"type": "string", "enum": ["pdf", "text", "meeting"]},
    "Document": {
        "type": "object",
        "required": ["id", "filename", "collection", "kind", "status", "progress", "pages",
                     "turns", "empty_pages", "chunks", "error", "created_at"],
        "properties": {
            "id": {"type": "string"},
            "filename": {"type": "string"},
            "collection": {"type": "string"},
            "kind": {"description": "Known once parsed.",
                     "oneOf": [_schema("Kind"), {"type": "null"}]},
            "status": _schema("Status"),
            "progress": {"type": "number", "minimum": 0, "maximum": 1},
            "pages": _nullable("integer"),
            "turns": _nullable("integer"),
            "empty_pages": {"type": "array", "items": {"type": "integer"},
                            "description": "Pages without a text layer."},
            "chunks": _nullable("integer"),
            "size_bytes": {"type": "integer", "description": "The uploaded file's size."},
            "error": {"description": "Why processing failed.",
                      "oneOf": [_schema("ErrorBody"), {"type": "null"}]},
            "created_at": {"type": "number", "description": "Seconds since the epoch."},
        },
    },
    "DocumentPage": {
        "type": "object",
        "required": ["documents", "total", "limit", "offset", "next"],
        "properties": {
            "documents": {"type": "array", "items": _schema("Document")},
            "total": {"type": "integer", "description": "Documents matching the filters."},
            "limit": {"type": "integer"},
            "offset": {"type": "integer"},
            "next": _nullable("string", description="The following page's URL (a path on "
                                                    "this server), or null on the last page.",
                              examples=["/api/documents?limit=50&offset=50"]),
        },
    },
    "UploadResult": {
        "type": "object",
        "required": ["documents"],
        "properties": {"documents": {"type": "array", "items": {
            "type": "object",
            "required": ["id", "filename", "status", "collection", "duplicate"],
            "properties": {
                "id": {"type": "string"},
                "filename": {"type": "string"},
                "status": _schema("Status"),
                "collection": {"type": "string"},
                "duplicate": {"type": "boolean",
                              "description": "The same bytes were already in the collection: "
                                             "this is the earlier document."},
            },
        }}},
    },
    "Collection": {
        "type": "object",
        "required": ["name", "documents", "by_status"],
        "properties": {
            "name": {"type": "string"},
            "documents": {"type": "integer"},
            "by_status": {"type": "object",
                          "required": ["queued", "processing", "indexed", "failed"],
                          "additionalProperties": {"type": "integer"}},
        },
    },
    "SearchRequest": {
        "type": "object",
        "required": ["query"],
        "properties": {
            "query": _QUESTION,
            "k": {"type": "integer", "minimum": 1, "maximum": 50,
                  "description": "Passages to return; default DOCCHAT_TOP_K."},
            "budget_chars": {"type": "integer", "minimum": 200, "maximum": 200_000},
            "relevant_only": {"type": "boolean", "default": False,
                              "description": "No hits unless the best of them are at least "
                                             "DOCCHAT_MIN_RELEVANCE relevant to the query (the "
                                             "gate answers use): the search page's \"nothing "
                                             "matches\"."},
            **_FILTERS,
        },
    },
    "Hit": {
        "type": "object",
        "properties": {
            "chunk_id": {"type": "integer"},
            "document_id": {"type": "string"},
            "filename": {"type": "string"},
            "page": _nullable("integer"),
            "text": {"type": "string"},
            "score": {"type": "number"},
            "speakers": {"type": "array", "items": {"type": "string"}},
            "turn_start": _nullable("integer"),
            "turn_end": _nullable("integer"),
            "start_time": _nullable("string"),
            "end_time": _nullable("string"),
            "href": _HREF,
        },
    },
    "AskRequest": {
        "type": "object",
        "required": ["question"],
        "properties": {
            "question": _QUESTION,
            "stream": {"type": "boolean", "default": False},
            "history": {"type": "array", "maxItems": 20, "items": {
                "type": "object", "required": ["role", "content"],
                "properties": {"role": {"type": "string", "enum": ["user", "assistant"]},
                               "content": {"type": "string"}}},
                "description": "Earlier messages, for follow-up questions."},
            "temperature": {"type": "number", "minimum": 0, "maximum": 2},
            "context": {"type": "array", "minItems": 1, "maxItems": 50,
                        "items": _schema("PassageRef"),
                        "description": "An earlier answer's `context`: regenerate it from the "
                                       "same passages."},
            **_FILTERS,
        },
    },
    "PassageRef": {
        "type": "object",
        "required": ["document_id", "first_ordinal", "last_ordinal"],
        "properties": {"document_id": {"type": "string"},
                       "first_ordinal": {"type": "integer"},
                       "last_ordinal": {"type": "integer"}},
    },
    "Answer": {
        "type": "object",
        "required": ["answer", "citations", "language", "standalone_question", "grounded",
                     "context"],
        "properties": {
            "answer": {"type": "string", "description": "`[n]` markers refer to citations."},
            "html": {"type": "string", "description": "The answer as sanitized HTML, its `[n]` "
                                                      "markers linked to the passages."},
            "citations": {"type": "array", "items": _schema("Citation")},
            "language": {"type": "string", "enum": ["en", "ru"]},
            "standalone_question": {"type": "string"},
            "grounded": {"type": "boolean",
                         "description": "false: docchat declined: nothing relevant was "
                                        "found, so the model was not asked, or the "
                                        "model's draft stated figures no passage holds."},
            "context": {"type": "array", "items": _schema("PassageRef")},
            "withdrawn": {"type": "array", "items": {"type": "string"},
                          "description": "Sentences of the model's reply left out: they "
                                         "named figures no passage holds, or stopped "
                                         "before their answer."},
        },
    },
    "Citation": {
        "type": "object",
        "properties": {
            "n": {"type": "integer"},
            "document_id": {"type": "string"},
            "filename": {"type": "string"},
            "page": _nullable("integer"),
            "turn_start": _nullable("integer"),
            "turn_end": _nullable("integer"),
            "speakers": {"type": "array", "items": {"type": "string"}},
            "quote": {"type": "string"},
            "by": {"type": "string", "enum": ["model", "match"]},
            "href": _HREF,
        },
    },
    "MeetingRequest": {
        "type": "object",
        "description": "Exactly one of `document_id` and `text`.",
        "properties": _MEETING_FIELDS,
    },
    "MeetingForm": {
        "type": "object",
        "description": "The meeting as a `file` (notes or a transcript), or the JSON fields.",
        "properties": {"file": _FILE, **_MEETING_FIELDS},
    },
    "Point": _POINT,
    "Commitment": {
        "type": "object",
        "required": ["who", "what", "to_whom", "due", "due_text", "quote"],
        "properties": {
            "who": {"type": "string"},
            "what": {"type": "string"},
            "to_whom": _nullable("string"),
            "due": _nullable("string", description="ISO date, when the phrase pins one down."),
            "due_text": _nullable("string", description="The deadline as it was said."),
            "quote": {"type": "string"},
            "turn_start": {"type": "integer"},
            "turn_end": {"type": "integer"},
            "page": {"type": "integer", "description": "Instead of turns, for a PDF."},
        },
    },
    "MeetingSummary": {
        "type": "object",
        "properties": {
            "summary": {"type": "string"},
            "summary_html": {"type": "string", "description": "The summary as sanitized HTML."},
            "decisions": {"type": "array", "items": _schema("Point")},
            "open_questions": {"type": "array", "items": _schema("Point")},
            **_MEETING_COMMON,
        },
    },
    "MeetingCommitments": {"type": "object", "properties": _MEETING_COMMON},
    "JobAccepted": {
        "type": "object",
        "required": ["job_id", "status", "status_url"],
        "properties": {"job_id": {"type": "string"},
                       "status": {"type": "string", "enum": ["queued"]},
                       "status_url": {"type": "string", "examples": ["/api/jobs/4f2c..."]}},
    },
    "Job": {
        "type": "object",
        "required": ["id", "kind", "status", "progress", "result", "error", "created_at",
                     "updated_at"],
        "properties": {
            "id": {"type": "string"},
            "kind": {"type": "string", "enum": ["summarize", "commitments"]},
            "status": {"type": "string", "enum": ["queued", "running", "done", "failed"]},
            "progress": {"type": "number", "minimum": 0, "maximum": 1},
            "progress_label": {"type": "string",
                               "description": "What the job is doing now, for a person "
                                              "waiting: \"Summarizing part 2 of 5…\", "
                                              "\"Combining the parts…\", \"Done\"."},
            "result": {"description": "Once done: what the request would have answered.",
                       "oneOf": [_schema("MeetingSummary"), _schema("MeetingCommitments"),
                                 {"type": "null"}]},
            "error": {"oneOf": [_schema("ErrorBody"), {"type": "null"}]},
            "created_at": {"type": "number"},
            "updated_at": {"type": "number"},
        },
    },
    "IndexStatus": {
        "type": "object",
        "required": ["model", "configured_model", "index_type", "vectors", "device", "rebuild"],
        "properties": {
            "model": {"type": "string", "description": "The model the index was built with."},
            "configured_model": {"type": "string"},
            "index_type": {"type": "string"},
            "vectors": {"type": "integer"},
            "device": {"type": "string"},
            "rebuild": {"description": "A rebuild under way or last failed.",
                        "oneOf": [{
                            "type": "object",
                            "properties": {"model": {"type": "string"},
                                           "done": {"type": "integer"},
                                           "total": {"type": "integer"},
                                           "started_at": _nullable("number"),
                                           "error": _nullable("string")}},
                            {"type": "null"}]},
        },
    },
    "RebuildAnswer": {
        "type": "object",
        "required": ["status", "model"],
        "properties": {"status": {"type": "string", "enum": ["queued", "current"]},
                       "model": {"type": "string"}},
    },
}


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": _json(_schema("Error"))}


COMPONENTS: dict[str, Any] = {
    "schemas": SCHEMAS,
    "parameters": {
        "DocumentId": {"name": "document_id", "in": "path", "required": True,
                       "schema": {"type": "string"}},
        "JobId": {"name": "job_id", "in": "path", "required": True,
                  "schema": {"type": "string"}},
        "Format": {"name": "format", "in": "query",
                   "description": "json, or the commitments as a CSV or Markdown file.",
                   "schema": {"type": "string", "enum": ["json", "csv", "md"],
                              "default": "json"}},
    },
    "responses": {
        "BadRequest": _error_response(
            "The request is malformed or a value is out of range (code `bad_request`, "
            "`bad_collection`, `no_file`); the message names the field."),
        "Unauthorized": _error_response(
            "The request is not signed by Slack with the configured signing secret, or is "
            "older than 5 minutes (code `unsigned_request`, `bad_signature`, "
            "`stale_request`)."),
        "Forbidden": _error_response(
            "Refused: a request from another site (`cross_site_request`), a session request "
            "without the page's token (`csrf_failed`), or an action this caller may not take "
            "(`forbidden`)."),
        "TooManyRequests": _error_response(
            "Over DOCCHAT_RATE_LIMIT_PER_MINUTE for this user or API key (code "
            "`rate_limited`); the `Retry-After` header says when to try again."),
        "NotFound": _error_response("No such document or job (code `not_found`)."),
        "Conflict": _error_response(
            "The document is not in a state for this (code `busy`, `not_indexed`, "
            "`document_failed`, `not_a_meeting`, `no_slack_webhook`)."),
        "Gone": _error_response(
            "The stored file is missing from the data folder (code `file_missing`)."),
        "TooLarge": _error_response(
            "The upload or text is over the limit (code `too_large`)."),
        "UnsupportedType": _error_response(
            "A file docchat cannot read (code `unsupported_type`, `bad_json`, "
            "`upload_first`)."),
        "Unprocessable": _error_response(
            "The input cannot be worked on (code `context_overflow`, `empty_meeting`, or an "
            "ingestion code)."),
        "Unavailable": _error_response(
            "A service docchat needs is down (code `queue_unavailable`, `llm_unavailable`)."),
        "Error": _error_response("Any other error (405, 500, ...), in the same shape."),
    },
}

_COLLECTION_NAME = {"name": "name", "in": "path", "required": True,
                    "description": "The collection's name.", "schema": {"type": "string"}}
_WEBHOOK = {
    "type": "object", "required": ["collection", "slack_webhook"],
    "properties": {
        "collection": {"type": "string"},
        "slack_webhook": _nullable("string", description=(
            "The incoming-webhook URL, masked (`https://hooks.slack.com/services/…WXYZ`), "
            "or null when none is set.")),
    },
}
SLACK_PATHS: dict[str, Any] = {
    "/slack/commands": {
        "post": {
            "operationId": "slack_command",
            "tags": ["slack"],
            "summary": "A Slack slash command: /summarize or /ask",
            "description": (
                "Slack's form post, verified with `DOCCHAT_SLACK_SIGNING_SECRET` "
                "(`X-Slack-Signature`, `X-Slack-Request-Timestamp`; older than 5 minutes is "
                "refused). Acknowledged at once; the summary (with commitments) or the cited "
                "answer is then POSTed to `response_url` as Block Kit, retried while Slack "
                "answers 5xx. `response_url` must be on `DOCCHAT_SLACK_ALLOWED_HOSTS`."),
            "parameters": [
                {"name": "X-Slack-Signature", "in": "header", "required": True,
                 "schema": {"type": "string"}},
                {"name": "X-Slack-Request-Timestamp", "in": "header", "required": True,
                 "schema": {"type": "string"}},
            ],
            "requestBody": {"required": True, "content": {
                "application/x-www-form-urlencoded": {"schema": {
                    "type": "object", "required": ["command", "response_url"],
                    "properties": {
                        "command": {"type": "string", "examples": ["/summarize"]},
                        "text": {"type": "string", "description": (
                            "/summarize: the notes, or an uploaded meeting's name or id; "
                            "/ask: the question, optionally after `collection:NAME`.")},
                        "response_url": {"type": "string"},
                        "user_id": {"type": "string"},
                        "channel_id": {"type": "string"},
                    }}}}},
            "responses": {
                "200": _answer("Slack's ephemeral acknowledgement, or why it was refused.", {
                    "type": "object", "required": ["response_type", "text"],
                    "properties": {"response_type": {"type": "string", "enum": ["ephemeral"]},
                                   "text": {"type": "string"}}}),
                **_errors(400, 401, 413, 503),
            },
        },
    },
    "/api/collections/{name}/slack-webhook": {
        "get": {
            "operationId": "get_slack_webhook",
            "tags": ["slack"],
            "summary": "The collection's Slack incoming webhook, masked",
            "parameters": [_COLLECTION_NAME],
            "responses": {"200": _answer("The webhook.", _WEBHOOK), **_errors(400)},
        },
        "put": {
            "operationId": "set_slack_webhook",
            "tags": ["slack"],
            "summary": "Set the Slack incoming webhook meeting summaries are posted to",
            "parameters": [_COLLECTION_NAME],
            "requestBody": {"required": True, "content": _json({
                "type": "object", "required": ["url"],
                "properties": {"url": {"type": "string", "description": (
                    "An https URL on one of DOCCHAT_SLACK_ALLOWED_HOSTS.")}}})},
            "responses": {"200": _answer("Set.", _WEBHOOK), **_errors(400)},
        },
        "delete": {
            "operationId": "clear_slack_webhook",
            "tags": ["slack"],
            "summary": "Stop posting this collection's summaries to Slack",
            "parameters": [_COLLECTION_NAME],
            "responses": {"200": _answer("Cleared.", _WEBHOOK), **_errors(400, 404)},
        },
    },
    "/api/documents/{document_id}/slack": {
        "post": {
            "operationId": "post_meeting_to_slack",
            "tags": ["slack"],
            "summary": "Summarize an uploaded meeting and post it to its collection's channel",
            "description": "Runs as a job (`GET /api/jobs/{job_id}`); the summary and its "
                           "commitments go to the collection's incoming webhook.",
            "parameters": [_parameter("DocumentId")],
            "responses": {
                "202": _answer("Queued.", {
                    "type": "object",
                    "required": ["job_id", "status", "status_url", "collection",
                                 "slack_webhook"],
                    "properties": {"job_id": {"type": "string"}, "status": {"type": "string"},
                                   "status_url": {"type": "string"},
                                   "collection": {"type": "string"},
                                   "slack_webhook": {"type": "string"}}}),
                **_errors(404, 409, 503),
            },
        },
    },
}

_API_KEY = {
    "type": "object", "required": ["id", "workspace", "name", "hint", "created_at", "revoked"],
    "properties": {
        "id": {"type": "integer"}, "workspace": {"type": "string"}, "name": {"type": "string"},
        "hint": {"type": "string", "description": "The key's last 4 characters."},
        "created_at": {"type": "number"}, "revoked": {"type": "boolean"},
    },
}
KEY_PATHS: dict[str, Any] = {
    "/api/keys": {
        "get": {
            "operationId": "list_api_keys",
            "tags": ["access"],
            "summary": "The API keys of the caller's workspace (never the keys themselves)",
            "responses": {"200": _answer("The keys.", {
                "type": "object", "required": ["keys"],
                "properties": {"keys": {"type": "array", "items": _API_KEY}}}),
                **_errors(401, 403)},
        },
        "post": {
            "operationId": "create_api_key",
            "tags": ["access"],
            "summary": "A new API key for the caller's workspace, shown once",
            "description": "For scripts and Slack: send it as `Authorization: Bearer <key>`. "
                           "Only a logged-in user (or the local admin) makes keys.",
            "requestBody": {"required": True, "content": _json({
                "type": "object", "required": ["name"],
                "properties": {"name": {"type": "string", "maxLength": 64}}})},
            "responses": {"201": _answer("The key: store it now.", {
                "allOf": [_API_KEY, {"type": "object", "required": ["key"],
                                     "properties": {"key": {"type": "string"},
                                                    "note": {"type": "string"}}}]}),
                **_errors(400, 401, 403)},
        },
    },
    "/api/keys/{key_id}": {
        "delete": {
            "operationId": "revoke_api_key",
            "tags": ["access"],
            "summary": "Revoke an API key of the caller's workspace",
            "parameters": [{"name": "key_id", "in": "path", "required": True,
                            "schema": {"type": "integer"}}],
            "responses": {"200": _answer("Revoked.", {
                "type": "object", "required": ["revoked"],
                "properties": {"revoked": {"type": "integer"}}}), **_errors(401, 403, 404)},
        },
    },
}

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "docchat",
        "version": version("docchat"),
        "description": (
            "Self-hosted chat with your documents: upload, search, cited answers, meeting "
            "summaries and commitments. Every error a client can cause is JSON: "
            '`{"error": {"code", "message"}}`. With `DOCCHAT_AUTH=required`, send a '
            "workspace API key as `Authorization: Bearer <key>` (or log in: the pages then "
            "send the session's `X-CSRF-Token`); every route sees only the caller's "
            "workspace. Embedded mode (`local`) needs neither. JSON bodies are at most 1 MB "
            "(`413 too_large`), and a request for a host name docchat does not serve gets "
            "`400 untrusted_host` (DOCCHAT_TRUSTED_HOSTS)."),
    },
    "security": [{}, {"apiKey": []}],
    "paths": {**PATHS, **SLACK_PATHS, **KEY_PATHS},
    "components": {**COMPONENTS, "securitySchemes": {
        "apiKey": {"type": "http", "scheme": "bearer",
                   "description": "A workspace API key (`docchat key add`, or POST /api/keys)."},
    }},
}
