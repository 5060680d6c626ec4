"""The Flask app: JSON API and pages over HTTP. Nothing else lives here."""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from retrieval.core.datadir import prepare_data_dir
from retrieval.core.settings import Settings
from retrieval.runtime import Runtime
from web.bodies import DocchatRequest
from web.hosts import TrustedHosts


def create_app(settings: Settings | None = None, celery: Any = None) -> Flask:
    """Build the app. `celery` defaults to the app built from the same settings."""
    settings = settings or Settings.from_env()
    if celery is None:
        from workers import create_celery

        celery = create_celery(settings)
    app = Flask(__name__)
    app.request_class = DocchatRequest  # bodies capped by what they are (web/bodies.py)
    # Leave room for multipart framing around the largest allowed file.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes + 1024 * 1024
    app.config["JSON_SORT_KEYS"] = False
    runtime = Runtime(settings)
    app.extensions["docchat"] = runtime
    app.extensions["docchat.celery"] = celery
    prepare_data_dir(settings.data_dir)
    settings.uploads_dir.mkdir(parents=True, exist_ok=True)

    from web import (
        api,
        auth,
        errors,
        health,
        library,
        meetings,
        metrics,
        openapi,
        pages,
        slack,
        tables,
        vendor,
    )

    auth.init_app(app, runtime)  # first: every request is identified before its view runs

    app.register_blueprint(api.bp)
    app.register_blueprint(meetings.bp)
    app.register_blueprint(tables.bp)
    app.register_blueprint(library.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(vendor.bp)  # pdf.js for the passage view
    app.register_blueprint(slack.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(health.bp)  # /healthz, /readyz: no login
    metrics.init_app(app)  # /metrics, and every request counted
    errors.register(app)
    # Outermost first: the proxies' forwarded headers are believed only as far as configured,
    # then a request for a host name docchat does not serve is refused before any route runs.
    trusted = [*settings.trusted_host_names, *_bound_host(settings.host)]
    app.wsgi_app = TrustedHosts(app.wsgi_app, trusted)  # type: ignore[method-assign]
    if settings.proxy_hops:
        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    return app


def _bound_host(host: str) -> list[str]:
    """The address docchat listens on, when it names one host (not 0.0.0.0 or ::)."""
    host = host.strip("[]").lower()
    return [] if host in ("", "0.0.0.0", "::") else [host]
