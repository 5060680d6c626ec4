"""The OpenAPI document: valid, describes exactly the app's routes, matches real answers, and
renders as a page with no outside assets."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from retrieval.core.settings import Settings
from tests.conftest import TEST_DATA, store_upload
from web import create_app
from web.openapi import HTTP_METHODS

DESCRIBED_PREFIXES = ("/api/", "/slack/")
IMPLICIT_METHODS = {"HEAD", "OPTIONS"}  # Flask answers these for every route by itself


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory):
    """The app over a fresh data directory: reading routes and listings needs no worker."""
    return create_app(Settings(data_dir=tmp_path_factory.mktemp("data")))


@pytest.fixture(scope="module")
def spec(app) -> dict[str, Any]:
    response = app.test_client().get("/api/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return dict(response.get_json())


def flask_path(rule: str) -> str:
    """/api/documents/<document_id> -> /api/documents/{document_id} (converters dropped)."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def routed(app) -> set[str]:
    return {f"{method} {flask_path(rule.rule)}"
            for rule in app.url_map.iter_rules()
            if rule.endpoint != "static" and rule.rule.startswith(DESCRIBED_PREFIXES)
            for method in (rule.methods or set()) - IMPLICIT_METHODS}


def described(spec: dict[str, Any]) -> set[str]:
    return {f"{method.upper()} {path}" for path, item in spec["paths"].items()
            for method in item if method in HTTP_METHODS}


def test_the_document_is_valid_openapi_3_1(spec) -> None:
    assert spec["openapi"].startswith("3.1.")
    validate(spec)


def test_every_route_is_described_with_its_methods_and_nothing_else(app, spec) -> None:
    missing = sorted(routed(app) - described(spec))
    extra = sorted(described(spec) - routed(app))
    assert not missing and not extra, "\n".join([
        "Routes the OpenAPI document does not describe (add them to PATHS in web/openapi.py):",
        *missing, "Described but not routed:", *extra])


def test_every_operation_is_named_and_answers_errors_in_the_error_shape(spec) -> None:
    unfinished = [f"{method.upper()} {path}" for path, item in spec["paths"].items()
                  for method, operation in item.items() if method in HTTP_METHODS
                  and (not operation.get("operationId") or not operation.get("summary")
                       or operation["responses"].get("default") != {
                           "$ref": "#/components/responses/Error"})]
    assert not unfinished, (
        f"operations without an operationId, a summary or **_errors(...) in their responses: "
        f"{unfinished}")


def matches(spec: dict[str, Any], schema_name: str, body: object) -> list[str]:
    """What is wrong with `body` as an instance of the named component schema."""
    root = {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]}
    return [e.message for e in Draft202012Validator(root).iter_errors(body)]


def test_real_answers_have_the_documented_shapes(app, spec) -> None:
    client = app.test_client()
    record = store_upload(app.extensions["docchat"], TEST_DATA / "notes.md", collection="shapes")
    page = client.get("/api/documents?limit=1").get_json()
    assert page["documents"] and matches(spec, "DocumentPage", page) == []
    assert matches(spec, "Document", client.get(f"/api/documents/{record.id}").get_json()) == []
    collections = client.get("/api/collections").get_json()["collections"]
    assert collections and all(matches(spec, "Collection", c) == [] for c in collections)
    for bad in ("/api/documents?limit=0", "/api/documents/nope", "/api/jobs/nope"):
        assert matches(spec, "Error", client.get(bad).get_json()) == [], bad


class _Page(HTMLParser):
    """Ids, link targets and asset sources of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(str(values["id"]))
        self.links += [str(values[name]) for name in ("href", "src") if values.get(name)]


def test_docs_page_lists_every_operation_and_loads_nothing_from_outside(app, spec) -> None:
    response = app.test_client().get("/api/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    page = _Page()
    page.feed(html)
    absent = [f"{method.upper()} {path}" for path, item in spec["paths"].items()
              for method, operation in item.items() if method in HTTP_METHODS
              and (operation["operationId"] not in page.ids
                   or f"<code>{method.upper()} {path}</code>" not in html)]
    assert not absent, f"operations missing from /api/docs: {absent}"
    assert "&#34;code&#34;: &#34;bad_request&#34;" in html  # the example error is shown
    outside = [link for link in page.links if not link.startswith(("#", "/", "data:"))]
    assert not outside and "<script" not in html, outside
