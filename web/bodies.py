"""What a request may send, read in one place: bodies of at most 1 MiB (multipart uploads up to
DOCCHAT_MAX_UPLOAD_MB), counted as they are read, so a chunked body without Content-Length
meets the same cap; JSON objects parsed without letting deep nesting crash the request; file
names fit to be stored and sent back in a header. What the fields of a body may hold is the
contract's (web/contract)."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

from flask import Request, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from web.errors import ApiError

# JSON, form and Slack bodies: far above any question, filter list or pasted meeting a person
# sends (longer notes go up as files, which keep the upload limit).
MAX_BODY_BYTES = 1024 * 1024
# Deeper JSON than any docchat request has is refused before it can exhaust the parser's stack.
MAX_JSON_DEPTH = 64
# Offsets, ordinals, page and turn numbers: far above any real one, far below what SQLite or
# a C integer would choke on.
MAX_INDEX = 2**31 - 1
# File names are stored and sent back in Content-Disposition: bounded in UTF-8 bytes.
MAX_FILENAME_BYTES = 255
# A question (in the API or a Slack command), and notes or a transcript sent as text (in the
# API or /summarize).
MAX_QUESTION_CHARS = 4000
MAX_TEXT_CHARS = 5_000_000


class DocchatRequest(Request):
    """Flask's request, with the body cap chosen by what the body is: a multipart upload may be
    as large as DOCCHAT_MAX_UPLOAD_MB (plus framing), anything else 1 MiB. Werkzeug enforces it
    on the bytes actually read, with or without Content-Length."""

    @property  # type: ignore[override]
    def max_content_length(self) -> int | None:
        if self._max_content_length is not None:
            return self._max_content_length
        if self.mimetype == "multipart/form-data" and current_app:
            return int(current_app.config["MAX_CONTENT_LENGTH"])
        return MAX_BODY_BYTES

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value


def body_bytes(limit: int = MAX_BODY_BYTES) -> bytes:
    """The raw body, read once and counted as it arrives; 413 past `limit` bytes. (Werkzeug
    stops a body without Content-Length at the cap without a word when it is read whole, so
    one byte more is asked for and its arrival refused here.)"""
    request.max_content_length = limit + 1
    data = request.get_data(cache=True)
    if len(data) > limit:
        raise RequestEntityTooLarge()
    return data


def json_body() -> dict[str, Any]:
    """The request's JSON object; 400 with a plain message for anything else."""
    raw = body_bytes()
    try:
        body = parse_json(raw)
    except ValueError as exc:
        raise ApiError(400, "bad_request", f"Send a JSON object with Content-Type: "
                                           f"application/json ({exc}).") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request",
                       "Send a JSON object with Content-Type: application/json.")
    return body


def parse_json(raw: bytes) -> Any:
    """JSON from bytes; ValueError (with a short reason) for bad JSON, deep nesting or text
    that is not UTF-8."""
    if json_depth(raw) > MAX_JSON_DEPTH:
        raise ValueError(f"nested more than {MAX_JSON_DEPTH} levels deep")
    try:
        return json.loads(raw)
    except UnicodeDecodeError as exc:
        raise ValueError("the body is not UTF-8") from exc
    except RecursionError as exc:  # a backstop: json_depth already refused deep documents
        raise ValueError(f"nested more than {MAX_JSON_DEPTH} levels deep") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON at character {exc.pos}") from exc


_BRACKETS_AND_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.S)


def json_depth(raw: bytes) -> int:
    """How deeply the arrays and objects of a JSON text nest (strings skipped), in one pass."""
    depth = deepest = 0
    for token in _BRACKETS_AND_STRINGS.finditer(raw):
        char = token.group()[:1]
        if char in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        elif char in (b"]", b"}"):
            depth -= 1
    return deepest


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def clean_filename(name: str | None, default: str = "upload") -> str:
    """A file name fit to store and to send back: the last path part (either slash), no
    control, zero-width or bidirectional characters, NFC, at most 255 UTF-8 bytes (the
    extension kept); `default` when nothing is left."""
    name = unicodedata.normalize("NFC", name or "")
    name = _CONTROL.sub("", name)
    name = PureWindowsPath(PurePosixPath(name).name).name.strip().strip(".").strip()
    if not name:
        return default
    if len(name.encode("utf-8")) <= MAX_FILENAME_BYTES:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or len(extension.encode("utf-8")) > 16:
        stem, extension = name, ""
    room = MAX_FILENAME_BYTES - len(extension.encode("utf-8")) - (1 if extension else 0)
    stem = stem.encode("utf-8")[:room].decode("utf-8", "ignore").rstrip()
    return f"{stem}.{extension}" if extension else stem
