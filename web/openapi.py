"""The OpenAPI 3.1 description of the HTTP API, generated from a table of its routes and the
pydantic models of web/contract; served as JSON at /api/openapi.json and as a plain HTML page at
/api/docs. tests/web/test_openapi.py checks that it names every route of the app, and only
those, and that its limits are the ones the routes enforce."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any

from flask import Blueprint, Response, jsonify, render_template
from markupsafe import Markup, escape
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from web.contract import requests as rq
from web.contract import responses as rs

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
# One Route per method and path (Flask's <name> written {name}). Bodies, answers and query
# strings are models of web/contract: their JSON schemas become components/schemas, so a limit
# shown here is the limit the route enforces. Errors name statuses of ERROR_RESPONSES.


@dataclass(frozen=True)
class Reply:
    """A response: its description, and per media type a model or a raw media object."""

    description: str
    content: dict[str, type[BaseModel] | dict[str, Any]] = field(default_factory=dict)


def json_reply(description: str, model: type[BaseModel]) -> Reply:
    return Reply(description, {"application/json": model})


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    operation_id: str
    tag: str
    summary: str
    replies: dict[int, Reply]
    errors: tuple[int, ...] = ()
    description: str = ""
    body: dict[str, type[BaseModel] | dict[str, Any]] = field(default_factory=dict)
    query: type[BaseModel] | None = None
    path_schemas: dict[str, dict[str, Any]] = field(default_factory=dict)  # default: string
    headers: tuple[str, ...] = ()  # required request headers


ERROR_RESPONSES = {
    400: ("BadRequest", "The request is malformed or a value is out of range (code "
                        "`bad_request`, `bad_collection`, `no_file`, `empty_scope`, "
                        "`too_many_documents`, `sql_not_allowed`, `sql_invalid`, `sql_timeout`); "
                        "the message names the field."),
    401: ("Unauthorized", "No valid API key or login (`login_required`, `bad_api_key`), or a "
                          "Slack request not signed with the configured signing secret, or "
                          "older than 5 minutes (`unsigned_request`, `bad_signature`, "
                          "`stale_request`, `replayed_request`)."),
    403: ("Forbidden", "Refused: a request from another site (`cross_site_request`), a session "
                       "request without the page's token (`csrf_failed`), or an action this "
                       "caller may not take (`forbidden`)."),
    404: ("NotFound", "No such document, job or key (code `not_found`)."),
    409: ("Conflict", "The document is not in a state for this (code `busy`, `not_indexed`, "
                      "`document_failed`, `not_a_meeting`, `no_slack_webhook`)."),
    410: ("Gone", "The stored file is missing from the data folder (code `file_missing`)."),
    413: ("TooLarge", "The upload or text is over the limit (code `too_large`)."),
    415: ("UnsupportedType", "A file docchat cannot read (code `unsupported_type`, `bad_json`, "
                            "`upload_first`)."),
    422: ("Unprocessable", "The input cannot be worked on (code `context_overflow`, "
                          "`empty_meeting`, or an ingestion code)."),
    429: ("TooManyRequests", "Over DOCCHAT_RATE_LIMIT_PER_MINUTE for this user or API key "
                            "(code `rate_limited`); the `Retry-After` header says when to try "
                            "again."),
    503: ("Unavailable", "A service docchat needs is down or off (code `queue_unavailable`, "
                         "`llm_unavailable`, `slack_not_configured`)."),
}

_MEETING_FILES: dict[str, dict[str, Any]] = {
    "text/csv": {"schema": {"type": "string"},
                 "example": "who,what,to_whom,due,due_text,quote,where\n"},
    "text/markdown": {"schema": {"type": "string"}},
}
_FILE = {"type": "string", "contentMediaType": "application/octet-stream"}
_STREAM_EXAMPLE = ('event: status\ndata: {"stage": "reading", "passages": 6, "documents": 2}'
                   '\n\nevent: token\ndata: {"text": "The pilot"}\n\nevent: answer\ndata: '
                   '{"answer": "The pilot ... [1]", "citations": [...]}\n\n')
_MEETING_BODY: dict[str, type[BaseModel] | dict[str, Any]] = {
    "application/json": rq.MeetingRequest, "multipart/form-data": rq.MeetingForm}
_JOB = json_reply("Running in the background.", rs.JobAccepted)
_KEY_ID = {"type": "integer", "minimum": 0, "maximum": 2**48 - 1}

ROUTES = (
    Route("POST", "/api/documents", "upload_documents", "documents", "Upload documents",
          description="Each file is stored and queued for indexing, or matched to an identical "
                      "earlier upload in the same collection (`duplicate: true`). The files are "
                      "queued costliest first (PDFs holding a page-sized image, which OCR "
                      "reads, then the largest) and listed in the request's order. A JSON-lines "
                      "file of several meetings becomes one document per meeting. Nothing is "
                      "stored if any file is refused.",
          body={"multipart/form-data": rq.UploadForm},
          replies={202: json_reply("At least one file was queued.", rs.UploadResult),
                   200: json_reply("Every file was a duplicate of an earlier upload.",
                                   rs.UploadResult)},
          errors=(400, 413, 415, 503)),
    Route("GET", "/api/documents", "list_documents", "documents",
          "List documents, a page at a time",
          description="Newest first. `next` is the URL of the following page with the same "
                      "filters, or null on the last page; `total` counts every document that "
                      "matches the filters. Empty `collection` or `status` means no filter.",
          query=rq.DocumentQuery,
          replies={200: json_reply("One page of documents.", rs.DocumentPage)}, errors=(400,)),
    Route("GET", "/api/documents/{document_id}", "get_document", "documents",
          "A document and its processing status",
          replies={200: json_reply("The document.", rs.Document)}, errors=(404,)),
    Route("DELETE", "/api/documents/{document_id}", "delete_document", "documents",
          "Delete a document",
          description="Its vectors, BM25 entries, chunk rows and stored file are removed.",
          replies={200: json_reply("Deleted.", rs.Deleted)}, errors=(404,)),
    Route("GET", "/api/documents/{document_id}/file", "get_document_file", "documents",
          "The file as uploaded, under its own name",
          description="PDFs and text are served inline (the passage view shows a PDF at "
                      "`#page=N`), Word files as downloads. `410` when the stored file is gone "
                      "from the data folder.",
          replies={200: Reply("The file.", {
              "application/pdf": {"schema": _FILE},
              "text/plain": {"schema": {"type": "string"}},
              "application/vnd.openxmlformats-officedocument.wordprocessingml.document":
                  {"schema": _FILE}})},
          errors=(404, 410)),
    Route("POST", "/api/documents/{document_id}/reindex", "reindex_document", "documents",
          "Parse, chunk and index a document again",
          description="The document goes back to `queued`; the worker replaces its passages (it "
                      "ends with the same passages once, never twice). `409` while it is being "
                      "processed, `410` when its file is gone.",
          replies={202: json_reply("Queued again.", rs.Document)}, errors=(404, 409, 410, 503)),
    Route("GET", "/api/collections", "list_collections", "documents",
          "Collections with their documents counted by status",
          description="Every collection that holds at least one document, by name.",
          replies={200: json_reply("The collections.", rs.CollectionList)}),
    Route("POST", "/api/search", "search", "search", "Hybrid search (FAISS and BM25) with filters",
          description="Filters narrow the search inside both indexes. With `budget_chars`, "
                      "neighbouring chunks merge and passages fill the budget.",
          body={"application/json": rq.SearchRequest},
          replies={200: json_reply("The best passages, best first.", rs.SearchResult)},
          errors=(400,)),
    Route("POST", "/api/ask", "ask", "search", "A cited answer from the documents",
          description="With `stream: true` the answer is a `text/event-stream`: `event: status` "
                      'with `{"stage", "passages", "documents"}` as it moves from `searching` '
                      "to `reading` (N passages from M documents) to `writing` (and, when the "
                      "first draft declines, `rereading` the N best passages, whose new "
                      "tokens replace the first draft's), `event: token` "
                      'with `{"text"}` for each piece, then one `event: answer` with the final '
                      "answer object. If the LLM fails (cannot be reached, or fails mid-answer) "
                      "an `event: error` with the error object ends the stream; without "
                      "`stream` an unreachable LLM is a 503. Closing the stream stops the model.",
          body={"application/json": rq.AskRequest},
          replies={200: Reply("The answer (JSON), or its stream (`stream: true`).", {
              "application/json": rs.Answer,
              "text/event-stream": {"schema": {"type": "string"},
                                    "example": _STREAM_EXAMPLE}})},
          errors=(400, 422, 429, 503)),
    Route("POST", "/api/meetings/summarize", "summarize_meeting", "meetings",
          "Summary, decisions, open questions and commitments of a meeting",
          description="Send an uploaded meeting (`document_id`) or the notes or transcript "
                      "themselves (`text`, or a `file` in a form). Long meetings run in the "
                      "background (`mode: auto`): the answer is then a 202 with a job to poll. "
                      "`format=csv` or `md` answers the commitments as a file.",
          query=rq.FormatQuery, body=_MEETING_BODY,
          replies={200: Reply("The summary.", {"application/json": rs.MeetingAnswer,
                                               **_MEETING_FILES}), 202: _JOB},
          errors=(400, 404, 413, 415, 422, 429, 503)),
    Route("POST", "/api/meetings/commitments", "meeting_commitments", "meetings",
          "Who promised what, to whom, by when, each with its quote",
          description="Takes the same request as the summary; the answer has no summary, "
                      "decisions or open questions.",
          query=rq.FormatQuery, body=_MEETING_BODY,
          replies={200: Reply("The commitments.", {"application/json": rs.MeetingAnswer,
                                                   **_MEETING_FILES}), 202: _JOB},
          errors=(400, 404, 413, 415, 422, 429, 503)),
    Route("GET", "/api/jobs/{job_id}", "get_job", "meetings",
          "A background job (a meeting's or a table's): progress, then its result or error",
          description="Once done, `format=csv` or `md` answers the commitments as a file.",
          query=rq.FormatQuery,
          replies={200: Reply("The job, or its commitments as a file.",
                              {"application/json": rs.Job, **_MEETING_FILES})},
          errors=(400, 404)),
    Route("POST", "/api/tables", "make_table", "tables",
          "A table from documents or pasted records, every cell with its quote",
          description="Runs as a job (`GET /api/jobs/{job_id}`, kind `table`, with progress). "
                      "The scope is `document_ids`, a `collection`, or pasted `text` (records, "
                      "a line each). `rows: one` makes a row per document, `many` a row per "
                      "record. Each cell's value is kept only when its quote occurs in the "
                      "text and holds the value (numbers, ISO dates, enum values, yes/no "
                      "checked by type); otherwise the cell is empty with status `unverified` "
                      "or `missing`. A finished table is listed by `GET /api/tables` and can be "
                      "queried by its `sql_name`.",
          body={"application/json": rq.TableRequest},
          replies={202: json_reply("The job.", rs.TableJobAccepted)},
          errors=(400, 404, 409, 410, 413, 429, 503)),
    Route("POST", "/api/tables/columns", "propose_table_columns", "tables",
          "Columns the model proposes from a sample of the scope",
          description="Runs as a job (kind `table_columns`); its result is `{\"columns\": "
                      "[...]}`, ready to send to `POST /api/tables` after editing.",
          body={"application/json": rq.TableColumnsRequest},
          replies={202: json_reply("The job.", rs.TableJobAccepted)},
          errors=(400, 404, 409, 410, 413, 429, 503)),
    Route("GET", "/api/tables", "list_tables", "tables",
          "The workspace's finished tables, newest first",
          replies={200: json_reply("The tables.", rs.TableList)}),
    Route("GET", "/api/tables/{table_id}/export", "export_table", "tables",
          "A finished table as a CSV, XLSX or SQLite file",
          description="CSV and XLSX: the source, then each column followed by `<column> quote` "
                      "and `<column> page` (or `line`). SQLite: the table as the SQL box sees it.",
          query=rq.TableExportQuery,
          replies={200: Reply("The file.", {
              "text/csv": {"schema": {"type": "string"}},
              "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":
                  {"schema": _FILE},
              "application/vnd.sqlite3": {"schema": _FILE}})},
          errors=(400, 404)),
    Route("POST", "/api/tables/sql", "table_sql", "tables",
          "One read-only SELECT over the workspace's finished tables",
          description="Each finished table is a SQLite table named by its `sql_name`. Only "
                      "reading runs (no writes, ATTACH or PRAGMA: `sql_not_allowed`), for at "
                      "most DOCCHAT_TABLE_SQL_SECONDS (`sql_timeout`); SQL SQLite refuses is "
                      "`sql_invalid` with SQLite's message. At most 500 rows come back.",
          body={"application/json": rq.TableSqlRequest},
          replies={200: json_reply("The rows.", rs.SqlAnswer)}, errors=(400,)),
    Route("GET", "/api/index", "index_status", "index",
          "The embedding model and index serving searches, and a rebuild, if any",
          replies={200: json_reply("The index.", rs.IndexStatus)}, errors=(403,)),
    Route("POST", "/api/index/rebuild", "rebuild_index", "index",
          "Rebuild the index for the configured embedding model",
          replies={202: json_reply("A rebuild was queued.", rs.RebuildAnswer),
                   200: json_reply("The index already uses the configured model.",
                                   rs.RebuildAnswer)},
          errors=(403, 503)),
    Route("GET", "/api/openapi.json", "openapi_document", "docs", "This document",
          replies={200: Reply("The OpenAPI 3.1 document.",
                              {"application/json": {"schema": {"type": "object"}}})}),
    Route("GET", "/api/docs", "api_docs", "docs", "This document as a web page",
          replies={200: Reply("An HTML page.", {"text/html": {"schema": {"type": "string"}}})}),
    Route("POST", "/slack/commands", "slack_command", "slack",
          "A Slack slash command: /summarize or /ask",
          description="Slack's form post, verified with `DOCCHAT_SLACK_SIGNING_SECRET` "
                      "(`X-Slack-Signature`, `X-Slack-Request-Timestamp`; older than 5 minutes "
                      "is refused). Acknowledged at once; the summary (with commitments) or the "
                      "cited answer is then POSTed to `response_url` as Block Kit, retried while "
                      "Slack answers 5xx. `response_url` must be on "
                      "`DOCCHAT_SLACK_ALLOWED_HOSTS`.",
          headers=("X-Slack-Signature", "X-Slack-Request-Timestamp"),
          body={"application/x-www-form-urlencoded": rq.SlackCommandForm},
          replies={200: json_reply("Slack's ephemeral acknowledgement, or why it was refused.",
                                   rs.SlackNotice)},
          errors=(400, 401, 413, 503)),
    Route("GET", "/api/collections/{name}/slack-webhook", "get_slack_webhook", "slack",
          "The collection's Slack incoming webhook, masked",
          replies={200: json_reply("The webhook.", rs.SlackWebhook)}, errors=(400,)),
    Route("PUT", "/api/collections/{name}/slack-webhook", "set_slack_webhook", "slack",
          "Set the Slack incoming webhook meeting summaries are posted to",
          body={"application/json": rq.SlackWebhookRequest},
          replies={200: json_reply("Set.", rs.SlackWebhook)}, errors=(400,)),
    Route("DELETE", "/api/collections/{name}/slack-webhook", "clear_slack_webhook", "slack",
          "Stop posting this collection's summaries to Slack",
          replies={200: json_reply("Cleared.", rs.SlackWebhook)}, errors=(400, 404)),
    Route("POST", "/api/documents/{document_id}/slack", "post_meeting_to_slack", "slack",
          "Summarize an uploaded meeting and post it to its collection's channel",
          description="Runs as a job (`GET /api/jobs/{job_id}`); the summary and its "
                      "commitments go to the collection's incoming webhook.",
          replies={202: json_reply("Queued.", rs.SlackJobAccepted)}, errors=(404, 409, 503)),
    Route("GET", "/api/keys", "list_api_keys", "access",
          "The API keys of the caller's workspace (never the keys themselves)",
          replies={200: json_reply("The keys.", rs.ApiKeyList)}, errors=(401, 403)),
    Route("POST", "/api/keys", "create_api_key", "access",
          "A new API key for the caller's workspace, shown once",
          description="For scripts and Slack: send it as `Authorization: Bearer <key>`. Only a "
                      "logged-in user (or the local admin) makes keys.",
          body={"application/json": rq.NewApiKey},
          replies={201: json_reply("The key: store it now.", rs.CreatedApiKey)},
          errors=(400, 401, 403)),
    Route("DELETE", "/api/keys/{key_id}", "revoke_api_key", "access",
          "Revoke an API key of the caller's workspace", path_schemas={"key_id": _KEY_ID},
          replies={200: json_reply("Revoked.", rs.Revoked)}, errors=(401, 403, 404)),
)

_PATH_DESCRIPTIONS = {"name": "The collection's name.", "document_id": "The document's id.",
                      "table_id": "The table's id (its job's id).",
                      "job_id": "The job's id, from the 202 that started it.",
                      "key_id": "The key's id."}


def build_spec(routes: tuple[Route, ...] = ROUTES) -> dict[str, Any]:
    """The OpenAPI 3.1 document of these routes, its schemas generated from their models."""
    models: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {(rs.Error, "serialization"): None}
    for route in routes:
        for model in route.body.values():
            if isinstance(model, type):
                models[(model, "validation")] = None
        for reply in route.replies.values():
            for model in reply.content.values():
                if isinstance(model, type):
                    models[(model, "serialization")] = None
    refs, defs = models_json_schema(list(models), ref_template=REF_TEMPLATE)
    schemas = defs.get("$defs", {})

    def media(content: dict[str, type[BaseModel] | dict[str, Any]], mode: JsonSchemaMode,
              ) -> dict[str, Any]:
        return {kind: ({"schema": refs[(model, mode)]} if isinstance(model, type) else model)
                for kind, model in content.items()}

    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        operation: dict[str, Any] = {"operationId": route.operation_id, "tags": [route.tag],
                                     "summary": route.summary}
        if route.description:
            operation["description"] = route.description
        parameters = _parameters(route, schemas)
        if parameters:
            operation["parameters"] = parameters
        if route.body:
            operation["requestBody"] = {"required": True,
                                        "content": media(route.body, "validation")}
        responses: dict[str, Any] = {
            str(status): {"description": reply.description,
                          "content": media(reply.content, "serialization")}
            for status, reply in route.replies.items()}
        for status in route.errors:
            responses[str(status)] = {"$ref": f"#/components/responses/"
                                              f"{ERROR_RESPONSES[status][0]}"}
        responses["default"] = {"$ref": "#/components/responses/Error"}
        operation["responses"] = responses
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "docchat", "version": version("docchat"), "description": _ABOUT},
        "security": [{}, {"apiKey": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": {
                **{name: _error_response(text) for name, text in ERROR_RESPONSES.values()},
                "Error": _error_response("Any other error (405, 500, ...), in the same shape."),
            },
            "securitySchemes": {"apiKey": {
                "type": "http", "scheme": "bearer",
                "description": "A workspace API key (`docchat key add`, or POST /api/keys)."}},
        },
    }


REF_TEMPLATE = "#/components/schemas/{model}"

_ABOUT = (
    "Self-hosted chat with your documents: upload, search, cited answers, meeting summaries and "
    "commitments. Every error a client can cause is JSON: `{\"error\": {\"code\", "
    "\"message\"}}`. With `DOCCHAT_AUTH=required`, send a workspace API key as "
    "`Authorization: Bearer <key>` (or log in: the pages then send the session's "
    "`X-CSRF-Token`); every route sees only the caller's workspace. Embedded mode (`local`) "
    "needs neither. JSON bodies are at most 1 MB (`413 too_large`), and a request for a host "
    "name docchat does not serve gets `400 untrusted_host` (DOCCHAT_TRUSTED_HOSTS). The bodies "
    "and their limits are generated from the pydantic models in web/contract.")


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": REF_TEMPLATE.format(
                model="Error")}}}}


def _parameters(route: Route, schemas: dict[str, Any]) -> list[dict[str, Any]]:
    """Path parameters (a string unless the route says), the query model's fields, headers."""
    found: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True,
         "description": _PATH_DESCRIPTIONS.get(name, ""),
         "schema": route.path_schemas.get(name, {"type": "string"})}
        for name in re.findall(r"{(\w+)}", route.path)]
    if route.query is not None:
        query = route.query.model_json_schema(ref_template=REF_TEMPLATE)
        schemas.update(query.pop("$defs", {}))
        required = set(query.get("required", []))
        for name, schema in query["properties"].items():
            schema = _without_null(schema)
            found.append({"name": name, "in": "query", "required": name in required,
                          "description": schema.pop("description", ""), "schema": schema})
    found += [{"name": name, "in": "header", "required": True, "schema": {"type": "string"}}
              for name in route.headers]
    return found


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query value is never JSON null: `X | None` (absent) is shown as X."""
    schema = {k: v for k, v in schema.items() if k != "title"}
    branches = schema.pop("anyOf", None)
    if branches is None:
        return schema
    kept = [b for b in branches if b.get("type") != "null"]
    if len(kept) == 1:
        return {**kept[0], **{k: v for k, v in schema.items() if v is not None}}
    return {"anyOf": kept, **schema}


SPEC: dict[str, Any] = build_spec()
ERROR_EXAMPLE = rs.ERROR_EXAMPLE
