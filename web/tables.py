"""Tables API: a table from documents or pasted records as a background job (or columns the
model proposes for one), the workspace's finished tables, their exports, and read-only SQL
over them."""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, jsonify, request

from retrieval.runtime import Runtime
from retrieval.storage.jobs import Job
from retrieval.tables.database import database_path, run_sql, sql_columns
from retrieval.tables.exports import table_csv, table_sqlite, table_xlsx
from retrieval.tables.model import Column, Table
from retrieval.tables.request import TableRequest, scope_documents, sql_name
from web.bodies import json_body
from web.context import current_runtime
from web.contract.requests import (
    TableColumnsRequest,
    TableExportQuery,
    TableRows,
    TableScope,
    TableSqlRequest,
)
from web.contract.requests import TableRequest as TableBody
from web.contract.responses import SqlAnswer, TableJobAccepted, TableList
from web.contract.validation import validated
from web.enqueue import enqueue
from web.errors import ApiError
from web.identity import workspace
from web.ratelimit import rate_limited
from workers import TABLE_COLUMNS_TASK, TABLE_TASK

bp = Blueprint("tables", __name__, url_prefix="/api")

_FILES = {"csv": ("text/csv; charset=utf-8", "csv"),
          "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
          "sqlite": ("application/vnd.sqlite3", "sqlite3")}


@bp.post("/tables")
@rate_limited
def make_table() -> tuple[Response, int]:
    """A table of the columns asked for, from the scope, as a job."""
    body = validated(TableBody, json_body())
    table_request = _request(body.scope, body.rows, body.title or "", tuple(
        Column(c.name.strip(), c.type, c.description.strip(),
               tuple(v.strip() for v in c.values) if c.type == "enum" else ())
        for c in body.columns))
    return _queue("table", TABLE_TASK, table_request)


@bp.post("/tables/columns")
@rate_limited
def propose_columns() -> tuple[Response, int]:
    """Columns the model proposes from a sample of the scope, as a job."""
    body = validated(TableColumnsRequest, json_body())
    return _queue("table_columns", TABLE_COLUMNS_TASK, _request(body.scope, body.rows, "", ()))


@bp.get("/tables")
def list_tables() -> tuple[Response, int]:
    """The workspace's finished tables, newest first."""
    listed = []
    for job in current_runtime().jobs.finished(workspace(), "table"):
        table = _table_of(job)
        listed.append({"id": job.id, "title": table.title, "sql_name": table.sql_name,
                       "rows": len(table.rows), "columns": [c.to_json() for c in table.columns],
                       "sql_columns": sql_columns(table.columns), "created_at": job.created_at})
    return jsonify(TableList.model_validate({"tables": listed}).model_dump()), 200


@bp.get("/tables/<table_id>/export")
def export_table(table_id: str) -> tuple[Response, int]:
    """The table as a CSV, XLSX or SQLite file."""
    fmt = validated(TableExportQuery, {"format": request.args.get("format", "csv")}).format
    job = current_runtime().jobs.get(table_id)
    if job is None or job.workspace != workspace() or job.kind != "table" or (
            job.status != "done"):
        raise ApiError(404, "not_found", f"No finished table with id {table_id}.")
    table = _table_of(job)
    body: str | bytes
    if fmt == "csv":
        body = table_csv(table)
    elif fmt == "xlsx":
        body = table_xlsx(table)
    else:
        body = table_sqlite(table)
    mimetype, suffix = _FILES[fmt]
    response = Response(body, mimetype=mimetype)
    stem = "".join(ch for ch in (table.title or "table")[:80] if ch.isprintable()) or "table"
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{table.sql_name or 'table'}.{suffix}\"; "
        f"filename*=UTF-8''{quote(stem, safe='')}.{suffix}")
    return response, 200


@bp.post("/tables/sql")
def table_sql() -> tuple[Response, int]:
    """One read-only SELECT over the workspace's finished tables."""
    body = validated(TableSqlRequest, json_body())
    runtime = current_runtime()
    settings = runtime.settings
    result = run_sql(database_path(settings.data_dir, workspace()), body.sql,
                     settings.table_sql_seconds)
    answer = SqlAnswer(columns=result.columns, rows=result.rows, truncated=result.truncated)
    return jsonify(answer.model_dump()), 200


def _request(scope: TableScope, rows: TableRows, title: str, columns: tuple[Column, ...],
             ) -> TableRequest:
    """The request in the caller's workspace, its scope checked now (unknown documents, an
    empty collection, text over the limit) so that the caller hears at once."""
    table_request = TableRequest(
        columns=columns, rows=rows,
        document_ids=tuple(scope.document_ids) if scope.document_ids is not None else None,
        collection=scope.collection, text=scope.text, title=title.strip(),
        workspace=workspace())
    scope_documents(current_runtime(), table_request)
    return table_request


def _queue(kind: str, task: str, table_request: TableRequest) -> tuple[Response, int]:
    runtime: Runtime = current_runtime()
    job = runtime.jobs.add(kind, table_request.to_json(), table_request.workspace)
    enqueue(task, job.id, job_id=job.id)
    accepted = TableJobAccepted.model_validate({"job": job.to_json(),
                                                "job_url": f"/api/jobs/{job.id}"})
    return jsonify(accepted.model_dump()), 202


def _table_of(job: Job) -> Table:
    result = job.result or {}
    data = result.get("table") or {"columns": [], "rows": []}
    table = Table.from_json(data)
    return table if table.sql_name else Table(table.columns, table.rows, job.id, table.title,
                                              sql_name(job.id))
