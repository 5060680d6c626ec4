"""The one way a view reaches the Runtime (retrieval/runtime.py) that create_app built for this
app: `current_runtime()`, like Flask's `current_app`."""

from __future__ import annotations

from flask import current_app

from retrieval.runtime import Runtime


def current_runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["docchat"]
    return runtime
