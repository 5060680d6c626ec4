"""The Flask app: JSON API and pages over HTTP. Nothing else lives here."""

from __future__ import annotations

from typing import Any

from flask import Flask

from retrieval.runtime import Runtime
from retrieval.settings import Settings


def create_app(settings: Settings | None = None, celery: Any = None) -> Flask:
    """Build the app. `celery` defaults to the app built from the same settings."""
    settings = settings or Settings.from_env()
    if celery is None:
        from workers import create_celery

        celery = create_celery(settings)
    app = Flask(__name__)
    # Leave room for multipart framing around the largest allowed file.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes + 1024 * 1024
    app.config["JSON_SORT_KEYS"] = False
    runtime = Runtime(settings)
    app.extensions["docchat"] = runtime
    app.extensions["docchat.celery"] = celery
    settings.uploads_dir.mkdir(parents=True, exist_ok=True)

    from web import api, auth, errors, health, library, meetings, metrics, openapi, pages, slack

    auth.init_app(app, runtime)  # first: every request is identified before its view runs

    app.register_blueprint(api.bp)
    app.register_blueprint(meetings.bp)
    app.register_blueprint(library.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(slack.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(health.bp)  # /healthz, /readyz: no login
    metrics.init_app(app)  # /metrics (no login), and every request counted
    errors.register(app)
    return app
