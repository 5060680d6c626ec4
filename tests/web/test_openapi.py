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
from retrieval.storage.store import STATUSES
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
        "Routes the OpenAPI document does not describe (add a Route to ROUTES in "
        "web/openapi.py):",
        *missing, "Described but not routed:", *extra])


def test_every_operation_is_named_and_answers_errors_in_the_error_shape(spec) -> None:
    unfinished = [f"{method.upper()} {path}" for path, item in spec["paths"].items()
                  for method, operation in item.items() if method in HTTP_METHODS
                  and (not operation.get("operationId") or not operation.get("summary")
                       or operation["responses"].get("default") != {
                           "$ref": "#/components/responses/Error"})]
    assert not unfinished, (
        f"operations without an operationId, a summary or the default error response: "
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


def field_schema(spec: dict[str, Any], schema_name: str, field: str) -> dict[str, Any]:
    """A body field's schema as documented, `X | None` read as X."""
    schema = spec["components"]["schemas"][schema_name]["properties"][field]
    branches = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
    assert len(branches) == 1, schema
    return dict(branches[0])


def query_schema(spec: dict[str, Any], path: str, name: str) -> dict[str, Any]:
    parameters = spec["paths"][path]["get"]["parameters"]
    return dict(next(p["schema"] for p in parameters if p["name"] == name))


def refused(client, path: str, body: dict[str, Any]) -> str:
    """The message of the 400 the route answers `body` with."""
    response = client.post(path, json=body)
    assert response.status_code == 400, (body, response.get_data()[:300])
    assert response.get_json()["error"]["code"] == "bad_request"
    return str(response.get_json()["error"]["message"])


def test_the_documented_limits_are_the_ones_the_routes_enforce(app, spec) -> None:
    """Each limit read from the document: one past it is refused with a message naming the
    field and the limit; the limit itself passes (the refusal is then about another field)."""
    client = app.test_client()
    k = field_schema(spec, "SearchRequest", "k")
    assert refused(client, "/api/search", {"query": "x", "k": k["maximum"] + 1}) == (
        f"'k' must be a whole number from {k['minimum']} to {k['maximum']}.")
    assert refused(client, "/api/search", {"query": "x", "k": k["maximum"],
                                           "budget_chars": 0}).startswith("'budget_chars'")

    longest = field_schema(spec, "AskRequest", "question")["maxLength"]
    assert refused(client, "/api/ask", {"question": "q" * (longest + 1)}) == (
        f"'question' is longer than {longest} characters.")
    assert refused(client, "/api/ask", {"question": "q" * longest, "temperature": 9}
                   ).startswith("'temperature'")

    most = field_schema(spec, "AskRequest", "history")["maxItems"]
    turn = {"role": "user", "content": "earlier"}
    assert refused(client, "/api/ask", {"question": "q", "history": [turn] * (most + 1)}
                   ).startswith(f"'history' must be a list of at most {most} ")
    assert refused(client, "/api/ask", {"question": "q", "history": [turn] * most,
                                        "temperature": 9}).startswith("'temperature'")

    page = query_schema(spec, "/api/documents", "limit")["maximum"]
    assert client.get(f"/api/documents?limit={page}").status_code == 200
    over = client.get(f"/api/documents?limit={page + 1}")
    assert over.status_code == 400 and over.get_json()["error"]["message"] == (
        f"'limit' must be a whole number from 1 to {page}.")


def test_documented_enums_are_the_values_the_store_and_routes_take(app, spec) -> None:
    client = app.test_client()
    statuses = query_schema(spec, "/api/documents", "status")["enum"]
    assert tuple(statuses) == STATUSES
    assert all(client.get(f"/api/documents?status={s}").status_code == 200 for s in statuses)
    kinds = spec["components"]["schemas"]["SearchRequest"]["properties"]["kinds"]
    assert refused(client, "/api/search", {"query": "x", "kinds": ["video"]}) == (
        f"'kinds' takes {', '.join(kinds['anyOf'][0]['enum'])}.")
    modes = field_schema(spec, "MeetingRequest", "mode")["enum"]
    assert refused(client, "/api/meetings/summarize", {"text": "A: hi", "mode": "later"}) == (
        f"'mode' takes {', '.join(modes)}.")


def test_text_that_must_say_something_refuses_blanks_and_the_document_says_so(app, spec,
                                                                              ) -> None:
    client = app.test_client()
    for schema_name, field, path in (("SearchRequest", "query", "/api/search"),
                                     ("AskRequest", "question", "/api/ask"),
                                     ("MeetingRequest", "text", "/api/meetings/summarize")):
        pattern = field_schema(spec, schema_name, field)["pattern"]
        assert re.search(pattern, " \t\n ") is None and re.search(pattern, " a ")
        assert refused(client, path, {field: " \t\n "}).startswith(f"'{field}' must be a "
                                                                   "non-empty string")


def test_a_meeting_result_has_the_documented_shape(app, spec) -> None:
    response = app.test_client().post("/api/meetings/commitments", json={
        "text": "Anna: I will send the deck to Boris by Friday.\nBoris: Thanks.",
        "mode": "wait"})
    assert response.status_code == 200, response.get_data()[:300]
    result = response.get_json()
    assert result["commitments"] and matches(spec, "MeetingAnswer", result) == []
    assert matches(spec, "MeetingAnswer", {**result, "commitments": [{"who": "Anna"}]})


def test_keys_webhooks_and_deletions_answer_in_the_documented_shapes(app, spec) -> None:
    client = app.test_client()
    created = client.post("/api/keys", json={"name": "shapes"})
    assert created.status_code == 201 and matches(spec, "CreatedApiKey", created.get_json()) == []
    assert matches(spec, "ApiKeyList", client.get("/api/keys").get_json()) == []
    revoked = client.delete(f"/api/keys/{created.get_json()['id']}").get_json()
    assert matches(spec, "Revoked", revoked) == []
    webhook = client.get("/api/collections/shapes/slack-webhook").get_json()
    assert matches(spec, "SlackWebhook", webhook) == []
    record = store_upload(app.extensions["docchat"], TEST_DATA / "notes.md", collection="gone")
    deleted = client.delete(f"/api/documents/{record.id}").get_json()
    assert matches(spec, "Deleted", deleted) == [] and deleted == {"deleted": record.id}
