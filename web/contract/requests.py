"""What clients send: JSON bodies, forms and query strings, each field with its limits. A limit
is written here once; the routes validate with these models (web/contract/validation.py) and
the OpenAPI document shows them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ingest.documents import Kind
from retrieval.storage.store import COLLECTION_NAME, COLLECTION_RULE, is_collection_name
from retrieval.storage.store import DocumentStatus as Status
from web.bodies import MAX_INDEX, MAX_QUESTION_CHARS, MAX_TEXT_CHARS

MAX_K = 50  # passages a search returns, or an answer is regenerated from
MAX_HISTORY = 20  # earlier messages sent with a follow-up question
MIN_BUDGET, MAX_BUDGET = 200, 200_000  # characters of passages a search fills
# A filter names at most this many values (documents ticked in the chat, speakers, ...).
MAX_FILTER_VALUES = 1000
# The longest passage a regenerate `context` entry may name, in chunks: far more than an
# answer's budget holds, which then cuts what is read to DOCCHAT_ANSWER_CONTEXT_CHARS anyway.
MAX_CONTEXT_SPAN = 64
DEFAULT_PAGE, MAX_PAGE = 50, 200  # documents per page of the library

MeetingMode = Literal["auto", "wait", "background"]
Format = Literal["json", "csv", "md"]


def refused(message: str, code: str = "bad_request") -> PydanticCustomError:
    """A validator's own refusal: its code and message reach the client as they are."""
    return PydanticCustomError(code, message)


def _not_blank(value: str) -> str:
    # The schema's pattern \S says the same; this also catches what Python, not the regex,
    # counts as white space.
    if not value.strip():
        raise PydanticCustomError("string_pattern_mismatch", "blank")
    return value


def _collection_name(value: str) -> str:
    if not is_collection_name(value):
        raise refused(COLLECTION_RULE, "bad_collection")
    return value


# A string that must say something: "   " is refused, and the schema says so.
NonBlank = Annotated[str, Field(pattern=r"\S"), AfterValidator(_not_blank)]
Question = Annotated[str, Field(pattern=r"\S", max_length=MAX_QUESTION_CHARS),
                     AfterValidator(_not_blank)]
FilterValue = Annotated[str, Field(min_length=1, max_length=256)]
FilterValues = Annotated[list[FilterValue], Field(min_length=1, max_length=MAX_FILTER_VALUES)]
# The store's rule (retrieval/storage/store.py), shown as its pattern.
CollectionName = Annotated[str, AfterValidator(_collection_name), WithJsonSchema(
    {"type": "string", "pattern": COLLECTION_NAME.pattern,
     "description": "1-64 letters, digits, spaces, '.', '_' or '-'."})]


def iso_moment(value: str, end_of_day: bool = False) -> float:
    """Seconds since the epoch of an ISO date or time (UTC unless it says otherwise); a bare
    date with `end_of_day` is its last moment. ValueError or OverflowError if it is none."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if end_of_day and len(value) == 10:  # a bare date includes its whole day
        moment += timedelta(days=1, microseconds=-1)
    return moment.timestamp()


def _iso_date(value: str) -> str:
    try:
        iso_moment(value)
    except (ValueError, OverflowError) as exc:  # OverflowError: past the year 9999
        raise PydanticCustomError("iso_date", "an ISO date like 2026-03-31") from exc
    return value


IsoDate = Annotated[str, Field(max_length=40), AfterValidator(_iso_date)]
Names = FilterValue | FilterValues  # one value, or a list of them
Kinds = Kind | Annotated[list[Kind], Field(min_length=1, max_length=MAX_FILTER_VALUES)]


class Body(BaseModel):
    """A JSON body: types as JSON has them (no "5" for 5, no 1 for true); unknown fields are
    ignored."""

    model_config = ConfigDict(strict=True)


class Filters(Body):
    """What narrows a search or an answer, inside the caller's workspace."""

    collection: Names | None = Field(None, description="A collection name or a list of them.")
    document_ids: Names | None = None
    kinds: Kinds | None = None
    speakers: Names | None = Field(None, description="Meeting passages where any of them "
                                                     "speaks.")
    date_from: IsoDate | None = Field(None, description="Uploaded on or after this ISO date or "
                                                        "time.", examples=["2026-03-01"])
    date_to: IsoDate | None = Field(None, description="Uploaded on or before (a bare date "
                                                      "includes its whole day).",
                                    examples=["2026-03-31"])


class SearchRequest(Filters):
    query: Question
    k: int | None = Field(None, ge=1, le=MAX_K,
                          description="Passages to return; default DOCCHAT_TOP_K.")
    budget_chars: int | None = Field(None, ge=MIN_BUDGET, le=MAX_BUDGET, description=(
        "Neighbouring chunks merge and passages fill this many characters."))
    relevant_only: bool = Field(False, description=(
        "No hits unless the best of them are at least DOCCHAT_MIN_RELEVANCE relevant to the "
        "query (the gate answers use): the search page's \"nothing matches\"."))


class HistoryMessage(Body):
    role: Literal["user", "assistant"]
    content: str


class PassageRef(Body):
    """Consecutive chunks of one document, first to last ordinal (inclusive)."""

    document_id: str = Field(min_length=1, max_length=64)
    first_ordinal: int = Field(ge=0, le=MAX_INDEX)
    last_ordinal: int = Field(ge=0, le=MAX_INDEX)

    @model_validator(mode="after")
    def _a_passage(self) -> PassageRef:
        last = min(self.first_ordinal + MAX_CONTEXT_SPAN, MAX_INDEX)
        if not self.first_ordinal <= self.last_ordinal <= last:
            raise refused(f"'last_ordinal' must be a whole number from {self.first_ordinal} "
                          f"to {last}.")
        return self


class AskRequest(Filters):
    question: Question
    stream: bool = Field(False, description="Answer as a text/event-stream.")
    history: list[HistoryMessage] = Field(
        default_factory=list, max_length=MAX_HISTORY,
        description="Earlier messages, for follow-up questions.")
    temperature: float | None = Field(None, ge=0, le=2)
    context: list[PassageRef] | None = Field(
        None, min_length=1, max_length=MAX_K,
        description="An earlier answer's `context`: regenerate it from the same passages.")


def _auto_when_empty(value: object) -> object:
    return "auto" if value in (None, "") else value


class MeetingRequest(Body):
    """Exactly one of `document_id` and `text`."""

    model_config = ConfigDict(json_schema_extra={
        "oneOf": [{"required": ["document_id"]}, {"required": ["text"]}]})

    document_id: NonBlank | None = Field(None, description="An uploaded meeting; or send "
                                                           "`text`.")
    text: Annotated[str, Field(pattern=r"\S", max_length=MAX_TEXT_CHARS),
                    AfterValidator(_not_blank)] | None = Field(None, description=(
        "Notes, a transcript or a Slack export; or send `document_id`. A JSON body is at most "
        "1 MB in all: send longer notes as a file."))
    filename: NonBlank | None = Field(None, description="Names the meeting (and its format).")
    meeting_date: NonBlank | None = Field(None, description="ISO date deadlines are relative "
                                                            "to.", examples=["2026-03-12"])
    mode: Annotated[MeetingMode, BeforeValidator(_auto_when_empty)] = Field("auto", description=(
        "auto: in the background when the meeting needs several model calls; wait: always "
        "answer the result; background: always a job."))

    @model_validator(mode="after")
    def _one_source(self) -> MeetingRequest:
        if (self.document_id is None) == (self.text is None):
            raise refused("Send either 'document_id' (an uploaded meeting) or 'text' (the notes "
                          "or transcript itself), not both.")
        return self


# A file part of a form, as werkzeug hands it over.
UploadedFile = Annotated[Any, WithJsonSchema(
    {"type": "string", "contentMediaType": "application/octet-stream"})]


class MeetingForm(MeetingRequest):
    """The meeting as a `file` (notes or a transcript), or the JSON fields."""

    # Not MeetingRequest's oneOf: a `file` may stand in for `text` (the route reads it as text
    # and then validates the fields as a MeetingRequest).
    model_config = ConfigDict(json_schema_extra={})

    file: UploadedFile | None = None


class UploadForm(Body):
    file: list[UploadedFile] = Field(description=(
        "One or more `file` fields: PDF, DOCX, text, Markdown, transcripts (SRT, VTT, JSON), "
        "Slack export."))
    collection: CollectionName = "default"


class DocumentQuery(BaseModel):
    """The library's query string (lax: every value arrives as text)."""

    limit: int = Field(DEFAULT_PAGE, ge=1, le=MAX_PAGE, description="Documents per page.")
    offset: int = Field(0, ge=0, le=MAX_INDEX, description="Documents to skip.")
    collection: CollectionName | None = Field(None, description="Only this collection.")
    status: Status | None = Field(None, description="Only documents in this state.")


class FormatQuery(BaseModel):
    format: Format = Field("json", description="json, or the commitments as a CSV or Markdown "
                                               "file.")


class NewApiKey(Body):
    name: Annotated[str, Field(pattern=r"\S", max_length=64), AfterValidator(_not_blank)] = Field(
        description="What the key is for.")


class SlackWebhookRequest(Body):
    url: NonBlank = Field(description="An https URL on one of DOCCHAT_SLACK_ALLOWED_HOSTS.",
                          examples=["https://hooks.slack.com/services/T000/B000/XXXX"])


class SlackCommandForm(BaseModel):
    """Slack's slash-command post (checked by its signature, read by web/slack.py)."""

    command: str = Field(examples=["/summarize"])
    text: str = Field("", description="/summarize: the notes, or an uploaded meeting's name or "
                                      "id; /ask: the question, optionally after "
                                      "`collection:NAME`.")
    response_url: str
    user_id: str = ""
    channel_id: str = ""


# ---- tables (web/tables.py) ----

MAX_TABLE_COLUMNS = 30
MAX_ENUM_VALUES = 30
MAX_SQL_CHARS = 10_000
TableColumnType = Literal["text", "number", "date", "enum", "boolean"]
TableRows = Literal["one", "many"]
ColumnName = Annotated[str, Field(pattern=r"\S", max_length=64), AfterValidator(_not_blank)]


class TableColumn(Body):
    name: ColumnName = Field(description="The header; also the SQL column's name, made safe "
                                          "(lower case, words joined by '_').")
    type: TableColumnType = "text"
    description: str = Field("", max_length=300, description="One line telling the model what "
                                                             "goes there.")
    values: list[Annotated[str, Field(pattern=r"\S", max_length=64)]] = Field(
        default_factory=list, max_length=MAX_ENUM_VALUES, description="enum only: the allowed "
                                                                      "values.")

    @model_validator(mode="after")
    def _enum_values(self) -> TableColumn:
        if self.type == "enum" and not self.values:
            raise refused(f"Column '{self.name}' is an enum: list its 'values'.")
        return self


class TableScope(Body):
    """Exactly one of `document_ids`, `collection` and `text`."""

    model_config = ConfigDict(strict=True, json_schema_extra={"oneOf": [
        {"required": ["document_ids"]}, {"required": ["collection"]}, {"required": ["text"]}]})

    document_ids: list[FilterValue] | None = Field(None, min_length=1,
                                                   max_length=MAX_FILTER_VALUES)
    collection: CollectionName | None = None
    text: Annotated[str, Field(pattern=r"\S", max_length=MAX_TEXT_CHARS),
                    AfterValidator(_not_blank)] | None = Field(None, description=(
        "Records pasted as text, a line each (or a few); at most DOCCHAT_TABLE_MAX_TEXT_CHARS "
        "characters (413 past it)."))

    @model_validator(mode="after")
    def _one_scope(self) -> TableScope:
        given = [name for name in ("document_ids", "collection", "text")
                 if getattr(self, name) is not None]
        if len(given) != 1:
            raise refused("The scope takes exactly one of 'document_ids', 'collection' and "
                          "'text'.")
        return self


class TableColumnsRequest(Body):
    scope: TableScope
    rows: TableRows = Field("one", description="one: a row per document; many: a row per "
                                               "record (line or entry) of each document.")


class TableRequest(TableColumnsRequest):
    title: Annotated[str, Field(max_length=200)] | None = None
    columns: list[TableColumn] = Field(min_length=1, max_length=MAX_TABLE_COLUMNS)

    @model_validator(mode="after")
    def _unique_columns(self) -> TableRequest:
        seen: set[str] = set()
        for column in self.columns:
            key = column.name.strip().casefold()
            if key in seen:
                raise refused(f"Two columns are named '{column.name.strip()}': name each "
                              "column once.")
            seen.add(key)
        return self


class TableExportQuery(BaseModel):
    format: Literal["csv", "xlsx", "sqlite"] = Field("csv", description="csv, xlsx, or a "
                                                                        "SQLite file.")


class TableSqlRequest(Body):
    sql: Annotated[str, Field(pattern=r"\S", max_length=MAX_SQL_CHARS),
                   AfterValidator(_not_blank)] = Field(description=(
        "One SELECT over the workspace's finished tables, each named by its `sql_name`."),
        examples=["SELECT source, date FROM t_4f2c81aa ORDER BY date"])
