"""The one error a person can be shown, for every layer: an HTTP status, a stable `code`, and a
`message` in plain language that says what happened and what to do (never an exception's
internal text). The web app answers it as JSON {"error": {"code", "message"}} (web/errors.py);
a worker stores its code and message on the failed job."""

from __future__ import annotations


class DocchatError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
