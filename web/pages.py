"""HTML pages: upload, follow status, and chat with cited answers."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

bp = Blueprint("pages", __name__)


@bp.get("/")
def index() -> str:
    settings = current_app.extensions["docchat"].settings
    return render_template("index.html", max_upload_mb=settings.max_upload_mb)
