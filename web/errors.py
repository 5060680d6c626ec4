"""Every error a client can cause leaves as JSON: {"error": {"code", "message"}}."""

from __future__ import annotations

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from ingest.errors import DocchatError
from retrieval.llm.client import ContextOverflow, LLMUnavailable


class ApiError(DocchatError):
    """A request the web app itself refuses. Errors raised below (an upload docchat cannot
    read, a meeting it cannot work on) are DocchatErrors too, and leave the same way."""


def error_response(status: int, code: str, message: str) -> tuple[Response, int]:
    return jsonify({"error": {"code": code, "message": message}}), status


def overflow_message(exc: ContextOverflow) -> str:
    return f"The request does not fit the language model's context window: {exc}"


def register(app: Flask) -> None:
    limit_mb = app.extensions["docchat"].settings.max_upload_mb

    @app.errorhandler(DocchatError)
    def _docchat_error(exc: DocchatError) -> tuple[Response, int]:
        response, status = error_response(exc.status, exc.code, exc.message)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        return response, status

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge) -> tuple[Response, int]:
        if request.mimetype == "multipart/form-data":
            return error_response(
                413, "too_large", f"The upload is larger than {limit_mb} MB: split the document.")
        return error_response(
            413, "too_large", "The request body is larger than 1 MB: send long notes or "
                              "transcripts as a file upload instead.")

    @app.errorhandler(LLMUnavailable)
    def _llm_down(exc: LLMUnavailable) -> tuple[Response, int]:
        return error_response(503, "llm_unavailable", str(exc))

    @app.errorhandler(ContextOverflow)
    def _overflow(exc: ContextOverflow) -> tuple[Response, int]:
        return error_response(422, "context_overflow", overflow_message(exc))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> tuple[Response, int] | tuple[str, int]:
        code = (exc.name or "error").lower().replace(" ", "_")
        if _wants_page():
            return render_template("error.html", page="error", status=exc.code,
                                   title=exc.name, message=exc.description), exc.code or 500
        return error_response(exc.code or 500, code, exc.description or code)


def _wants_page() -> bool:
    """A person's browser asking for a page (not the API, not a script)."""
    return (not request.path.startswith(("/api/", "/slack/"))
            and request.accept_mimetypes.accept_html)
