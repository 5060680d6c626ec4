"""What the API answers, as models: the OpenAPI document's response schemas, and the shapes
tests/web/test_openapi.py checks real answers against. A meeting's result is the meeting work's
own model (retrieval/meetings/results.py)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from retrieval.meetings.results import MeetingResult
from web.contract.requests import Kind, PassageRef, Status

HREF = Field(description="The passage view on this server, where the passage can be read.",
             examples=["/passage/4f2c...?first=3&last=4&page=2"])


class ErrorBody(BaseModel):
    code: str = Field(description="Stable, for programs.")
    message: str = Field(description="What happened and what to do.")


ERROR_EXAMPLE: dict[str, Any] = {"error": {"code": "bad_request",
                           "message": "'query' must be a non-empty string of at most 4000 "
                                      "characters."}}


class Error(BaseModel):
    """Every error a client can cause, whatever its status."""

    model_config = ConfigDict(json_schema_extra={"examples": [ERROR_EXAMPLE]})

    error: ErrorBody


class OcrPage(BaseModel):
    page: int = Field(ge=1)
    confidence: float = Field(ge=0, le=1, description="Tesseract's mean word confidence.")


class Document(BaseModel):
    id: str
    filename: str
    collection: str
    kind: Kind | None = Field(description="Known once parsed.")
    status: Status
    progress: float = Field(ge=0, le=1)
    pages: int | None
    turns: int | None
    empty_pages: list[int] = Field(description="Pages without text: no text layer, and none "
                                               "found by OCR (or OCR is off).")
    ocr_pages: list[OcrPage] = Field(
        default_factory=list,
        description="Pages without a text layer whose text was read by OCR; every other page "
                    "with text has it from its text layer.")
    chunks: int | None
    size_bytes: int | None = Field(None, description="The uploaded file's size.")
    error: ErrorBody | None = Field(description="Why processing failed.")
    created_at: float = Field(description="Seconds since the epoch.")


class DocumentPage(BaseModel):
    documents: list[Document]
    total: int = Field(description="Documents matching the filters.")
    limit: int
    offset: int
    next: str | None = Field(description="The following page's URL (a path on this server), or "
                                         "null on the last page.",
                             examples=["/api/documents?limit=50&offset=50"])


class UploadedDocument(BaseModel):
    id: str
    filename: str
    status: Status
    collection: str
    duplicate: bool = Field(description="The same bytes were already in the collection: this "
                                        "is the earlier document.")


class UploadResult(BaseModel):
    documents: list[UploadedDocument]


class Deleted(BaseModel):
    deleted: str = Field(description="The document's id.")


class Collection(BaseModel):
    name: str
    documents: int
    by_status: dict[Status, int] = Field(description="Every status, 0 when none.")


class CollectionList(BaseModel):
    collections: list[Collection]


class Hit(BaseModel):
    chunk_id: int
    document_id: str
    filename: str
    page: int | None
    text: str
    score: float
    speakers: list[str]
    turn_start: int | None
    turn_end: int | None
    start_time: str | None
    end_time: str | None
    href: str = HREF


class SearchResult(BaseModel):
    hits: list[Hit] = Field(description="The best passages, best first.")
    relevance: float | None = Field(None, ge=0, le=1, description=(
        "With `relevant_only`: how relevant the best hit is."))


class Citation(BaseModel):
    n: int
    document_id: str
    filename: str
    page: int | None
    turn_start: int | None
    turn_end: int | None
    speakers: list[str]
    quote: str
    by: Literal["model", "match"]
    href: str = HREF


class Answer(BaseModel):
    answer: str = Field(description="`[n]` markers refer to citations.")
    html: str = Field(description="The answer as sanitized HTML, its `[n]` markers linked to "
                                  "the passages.")
    citations: list[Citation]
    language: Literal["en", "ru"]
    standalone_question: str
    grounded: bool = Field(description=(
        "false: docchat declined: nothing relevant was found, so the model was not asked, or "
        "the model's draft stated figures no passage holds."))
    context: list[PassageRef]
    withdrawn: list[str] = Field(description=(
        "Sentences of the model's reply left out: they named figures no passage holds, or "
        "stopped before their answer."))


class MeetingAnswer(MeetingResult):
    """A meeting's summary or commitments as the API answers them."""

    summary_html: str | None = Field(None, description="The summary as sanitized HTML.")


class JobAccepted(BaseModel):
    job_id: str
    status: Literal["queued"]
    status_url: str = Field(examples=["/api/jobs/4f2c..."])


class TableColumn(BaseModel):
    name: str
    type: Literal["text", "number", "date", "enum", "boolean"]
    description: str
    values: list[str]


class TableCell(BaseModel):
    value: str | float | bool | None = Field(description=(
        "Normalized: ISO YYYY-MM-DD for dates, a number, true/false, one of an enum's values, "
        "text; null unless `status` is ok."))
    text: str = Field(description="The value as shown, with its unit (\"1,250 kg\").")
    unit: str | None
    quote: str = Field(description="The source's own words that hold the value.")
    page: int | None
    line: int | None
    status: Literal["ok", "unverified", "missing"] = Field(description=(
        "ok: the quote is in the text and holds the value; unverified: the model's value could "
        "not be checked (the cell stays empty, `reason` says why); missing: nothing found."))
    reason: str


class TableSource(BaseModel):
    id: str
    title: str


class TableRow(BaseModel):
    source: TableSource
    cells: dict[str, TableCell] = Field(description="By column name, every column.")


class TableStats(BaseModel):
    rows: int
    cells: int
    filled: int
    verified: int
    unverified: int
    missing: int


class ExtractedTable(BaseModel):
    id: str = Field(description="The job's id.")
    title: str
    sql_name: str = Field(description="Its name in the SQL box.", examples=["t_4f2c81aa"])
    columns: list[TableColumn]
    rows: list[TableRow]
    stats: TableStats
    warnings: list[str] = Field(default_factory=list)


class TableResult(BaseModel):
    table: ExtractedTable


class ProposedColumns(BaseModel):
    columns: list[TableColumn]


class TableListing(BaseModel):
    id: str
    title: str
    sql_name: str
    rows: int
    columns: list[TableColumn]
    sql_columns: list[str] = Field(description="The columns' names in the SQL box, in order.")
    created_at: float


class TableList(BaseModel):
    tables: list[TableListing] = Field(description="The workspace's finished tables, newest "
                                                   "first.")


class SqlAnswer(BaseModel):
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool = Field(description="More rows matched than the 500 returned.")


class Job(BaseModel):
    id: str
    kind: Literal["summarize", "commitments", "table", "table_columns"]
    status: Literal["queued", "running", "done", "failed"]
    progress: float = Field(ge=0, le=1)
    progress_label: str = Field(description=(
        "What the job is doing now, for a person waiting: \"Summarizing part 2 of 5…\", "
        "\"Combining the parts…\", \"Done\"."))
    result: MeetingAnswer | TableResult | ProposedColumns | None = Field(description=(
        "Once done: what the request would have answered (a meeting's result, a table, or "
        "proposed columns)."))
    error: ErrorBody | None
    created_at: float
    updated_at: float


class TableJobAccepted(BaseModel):
    job: Job
    job_url: str = Field(examples=["/api/jobs/4f2c..."])


class Rebuild(BaseModel):
    model: str
    done: int
    total: int
    started_at: float | None
    error: str | None


class IndexSwitch(BaseModel):
    to: Literal["ivfflat"] = Field(description="The type the index is being rebuilt as.")
    vectors: int = Field(description="Vectors in the index when the switch began.")
    started_at: float


class IndexStatus(BaseModel):
    model: str = Field(description="The model the index was built with.")
    configured_model: str
    index_type: Literal["flat", "ivfflat", "hnsw", "ivfpq"] = Field(
        description="The kind of index searches read now.")
    configured_index_type: Literal["auto", "flat", "ivfflat", "hnsw", "ivfpq"] = Field(
        description="`DOCCHAT_INDEX_TYPE`; with `auto`, an index past "
                    "`DOCCHAT_APPROXIMATE_FROM` vectors is rebuilt as `ivfflat` in the "
                    "background.")
    index_switch: IndexSwitch | None = Field(
        description="A background rebuild as another index type, under way; searches use the "
                    "current index until it ends.")
    vectors: int
    device: str = Field(description="Where this process embeds: `cpu` or `cuda:0`.")
    precision: Literal["fp32", "fp16", "bf16"] = Field(
        description="The embedding model's precision (`DOCCHAT_EMBEDDING_PRECISION`).")
    faiss_device: Literal["gpu", "cpu"] = Field(description="Where this process searches the "
                                                 "index.")
    faiss_reason: str = Field(description="Why there: the GPU and the faiss build, or why "
                                          "not the GPU and what to install.")
    rebuild: Rebuild | None = Field(description="A rebuild under way or last failed.")


class RebuildAnswer(BaseModel):
    status: Literal["queued", "current"]
    model: str


class SlackWebhook(BaseModel):
    collection: str
    slack_webhook: str | None = Field(description=(
        "The incoming-webhook URL, masked (`https://hooks.slack.com/services/…WXYZ`), or null "
        "when none is set."))


class SlackJobAccepted(JobAccepted):
    collection: str
    slack_webhook: str


class SlackNotice(BaseModel):
    response_type: Literal["ephemeral"]
    text: str


class ApiKey(BaseModel):
    id: int
    workspace: str
    name: str
    hint: str = Field(description="The key's last 4 characters.")
    created_at: float
    revoked: bool


class ApiKeyList(BaseModel):
    keys: list[ApiKey]


class CreatedApiKey(ApiKey):
    key: str = Field(description="The key itself, shown this once.")
    note: str


class Revoked(BaseModel):
    revoked: int
