"""pdf.js for the passage view, served by docchat itself from the npm package pdfjs-dist: a
fixed list of files, looked up by name, never by a path from the request."""

from __future__ import annotations

from flask import Blueprint, Response, abort, send_file

from web.pdfjs import PDFJS_FILES, installed_pdfjs

bp = Blueprint("vendor", __name__)

# The version is part of each URL, so a year-long cache never serves an old pdf.js.
ONE_YEAR = 365 * 24 * 3600


@bp.get("/vendor/pdfjs/<version>/<name>")
def pdfjs_file(version: str, name: str) -> Response:
    """One allow-listed pdf.js file, cached for a year (its URL changes with the version)."""
    pdfjs = installed_pdfjs()
    if pdfjs is None or version != pdfjs.version or name not in PDFJS_FILES:
        abort(404)
    response = send_file(pdfjs.root / PDFJS_FILES[name], mimetype="text/javascript",
                         max_age=ONE_YEAR, conditional=True)
    response.cache_control.immutable = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
