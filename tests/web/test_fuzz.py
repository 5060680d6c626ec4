"""Property-based fuzzing of every route in the OpenAPI document: thousands of generated requests
(the documented fields with hostile values, arbitrary JSON, raw bytes, odd path and query
values, several callers) and not one 500. Every refusal is JSON with a stable code.

The routes come from the OpenAPI document itself, so a new route is fuzzed as soon as it is
described. FUZZ_EXAMPLES sets the examples per route (default 150: about 3,600 requests in all).
"""

from __future__ import annotations

import io
import json
import os
import re
import string
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retrieval.core.settings import Settings
from retrieval.search.indexing import index_document
from tests.conftest import slack_signed, text_pdf
from tests.scripted_llm import MODEL, ScriptedLLM
from web import create_app
from web.openapi import SPEC, Operation, operations, resolve_ref

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
SECRET = "fuzz-signing-secret"

OPERATIONS = operations(SPEC)
# Routes whose generated requests must sometimes succeed, or the fuzzing stops at validation.
REACHES_SUCCESS = {("GET", "/api/documents"), ("POST", "/api/documents"),
                   ("POST", "/api/search"), ("POST", "/api/ask"),
                   ("POST", "/api/meetings/summarize"), ("POST", "/api/meetings/commitments"),
                   ("POST", "/slack/commands"), ("PUT", "/api/collections/{name}/slack-webhook"),
                   ("GET", "/api/keys"), ("POST", "/api/keys")}


def reply(request) -> str:
    if "JSON" in request.prompt or "json" in request.prompt:
        return json.dumps({"summary": "They met [1].", "decisions": [], "open_questions": [],
                           "commitments": []})
    return "An answer [1] with a [link](https://example.org) and `[2]`."


@pytest.fixture(scope="module")
def world(tmp_path_factory, embedder):
    with ScriptedLLM(reply) as llm:
        settings = Settings(
            data_dir=tmp_path_factory.mktemp("fuzz"), auth="required", cookie_secure=False,
            llm_base_url=llm.url, llm_model=MODEL, slack_signing_secret=SECRET,
            slack_allowed_hosts="127.0.0.1", rate_limit_per_minute=0, llm_max_tokens=32)
        app = create_app(settings)
        runtime = app.extensions["docchat"]
        runtime.spaces._embedders[settings.embedding_model] = embedder  # share the loaded model
        accounts = runtime.accounts
        keys = {team: accounts.create_api_key(team, "fuzz")[1] for team in ("red", "blue")}
        accounts.create_user("rita", "a long fuzzing password", "red")
        client = app.test_client()
        ids = {}
        for team, name, data in (
                ("red", "notes.txt", b"Anna: I will send the deck to Boris by Friday.\n"
                                     b"Boris: Thanks, I will review it on Monday.\n"),
                ("red", "plan.pdf", text_pdf([["The pumps ship in May."], ["Site opens."]])),
                ("blue", "blue.txt", b"Blue team: the picnic is on Saturday.")):
            response = client.post("/api/documents", headers=auth(keys[team]),
                                   data={"file": (io.BytesIO(data), name)},
                                   content_type="multipart/form-data")
            document_id = response.get_json()["documents"][0]["id"]
            index_document(runtime, document_id)
            ids[f"{team}:{name}"] = document_id
        job = client.post("/api/meetings/summarize", headers=auth(keys["red"]),
                          json={"text": "Anna: I will call Boris.", "mode": "background"})
        ids["job"] = job.get_json()["job_id"]
        yield app, keys, ids, logged_in(app.test_client(), "rita", "a long fuzzing password")


@dataclass
class Person:
    client: Any
    csrf: str


def logged_in(client: Any, username: str, password: str) -> Person:
    """A browser session: logged in through the form, with the pages' CSRF token."""
    form = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token
    response = client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": token.group(1)})
    assert response.status_code == 302, response.get_data()[:300]
    page = client.get("/chat").get_data(as_text=True)
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
    assert csrf
    return Person(client, csrf.group(1))


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# Values that broke routes before, or easily could: huge and odd numbers, control characters,
# path tricks, deep or wide structures.
HOSTILE_TEXT = ["", " ", "\x00", "\r\n", "..", "../../etc/passwd", "%00", "1e30", "-1",
                "9" * 40, "NaN", "Infinity", "\u202e", "я" * 300, "<script>", "a" * 5000,
                "2026-13-45", "9999-12-31", "default", "pdf", "meeting", "csv", "md", "wait",
                "background"]
HOSTILE_NUMBERS = [2**63, -(2**63), 2**64, 10**30, 1e30, -1e30, float("inf"), float("nan"),
                   -1, 0, 2**31, 2**53 + 1, 1.5, -0.0, True, 10**400]
scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70), st.sampled_from(HOSTILE_NUMBERS),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=60), st.sampled_from(HOSTILE_TEXT),
)
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=6), st.dictionaries(st.text(max_size=12), inner, max_size=6)),
    max_leaves=20)


def body_schema(op: Operation) -> tuple[list[str], set[str]]:
    """The property names of the operation's JSON (or form) body as documented, and which of
    them are required."""
    fields: set[str] = set()
    required: set[str] = set()
    for media in op.details.get("requestBody", {}).get("content", {}).values():
        schema = _resolved(media.get("schema", {}))
        for part in [schema, *schema.get("allOf", []), *schema.get("oneOf", []),
                     *schema.get("anyOf", [])]:
            part = _resolved(part)
            fields.update(part.get("properties", {}))
            required.update(part.get("required", []))
    return sorted(fields), required


def _resolved(schema: dict[str, Any]) -> dict[str, Any]:
    return resolve_ref(SPEC, schema)


def plausible(ids: dict[str, str]) -> dict[str, st.SearchStrategy[Any]]:
    """Values a real client would send for each documented field: most generated requests get
    past validation and reach search, the LLM, the store and the queue."""
    documents = st.sampled_from(sorted(ids.values()))
    words = st.text(alphabet=string.ascii_letters + " йцукенЁё.,?[]()-", min_size=1,
                    max_size=120).filter(str.strip)
    ordinal = mostly(st.integers(0, 5), scalars)
    return {
        "query": words, "question": words, "text": words.map(lambda t: f"Anna: {t}"),
        "name": words, "filename": words, "k": st.integers(1, 50),
        "budget_chars": st.integers(200, 200_000), "stream": st.booleans(),
        "temperature": st.floats(0, 2),
        "collection": st.one_of(st.just("default"), st.lists(st.just("default"), min_size=1)),
        "document_ids": st.lists(documents, min_size=1, max_size=3),
        "document_id": documents,
        "kinds": st.lists(st.sampled_from(["pdf", "text", "meeting"]), min_size=1),
        "speakers": st.lists(st.sampled_from(["Anna", "Boris"]), min_size=1),
        "date_from": st.dates().map(str), "date_to": st.dates().map(str),
        "meeting_date": st.dates().map(str),
        "mode": st.sampled_from(["auto", "wait", "background"]),
        "history": st.lists(st.fixed_dictionaries({
            "role": mostly(st.sampled_from(["user", "assistant"]), scalars),
            "content": mostly(words, scalars)}), max_size=4),
        "context": st.lists(st.builds(
            lambda d, a, b: {"document_id": d, "first_ordinal": a,
                             "last_ordinal": a + b if isinstance(a, int) and isinstance(
                                 b, int) and not isinstance(a, bool) else b},
            mostly(documents, scalars), ordinal, ordinal), min_size=1, max_size=60),
        "url": st.sampled_from(["https://hooks.slack.com/services/T/B/X",
                                "http://127.0.0.1:9/hook", "https://evil.example/x"]),
    }


def mostly(plain: st.SearchStrategy[Any], hostile: st.SearchStrategy[Any],
           ) -> st.SearchStrategy[Any]:
    """`plain` seven times in eight, else `hostile`."""
    return st.integers(0, 7).flatmap(lambda i: plain if i else hostile)


def documented_object(op: Operation, ids: dict[str, str]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with the documented fields: each one plausible most of the time, hostile
    sometimes; required fields present most of the time."""
    names, required = body_schema(op)
    good = plausible(ids)

    def value(name: str) -> st.SearchStrategy[Any]:
        return mostly(good.get(name, json_values), json_values)

    objects = st.fixed_dictionaries(
        {name: value(name) for name in names if name in required},
        optional={name: value(name) for name in names if name not in required})
    if {"document_id", "text"} <= set(names):  # exactly one of them, as the schema says
        return st.tuples(objects, st.sampled_from(["document_id", "text", "both", "both"]),
                         good["document_id"], good["text"]).map(_one_meeting_source)
    return objects


def _one_meeting_source(drawn: tuple[dict[str, Any], str, str, str]) -> dict[str, Any]:
    body, keep, document_id, text = drawn
    body = {"document_id": document_id, "text": text, **body}
    if keep != "both":
        body.pop("text" if keep == "document_id" else "document_id")
    return body


def plausible_parameter(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    schema = _resolved(schema)
    if "enum" in schema:
        return st.sampled_from([str(v) for v in schema["enum"]])
    if schema.get("type") == "integer":
        return st.integers(schema.get("minimum", 0), schema.get("maximum", 500)).map(str)
    return st.sampled_from(["default", "indexed", "json"])


@st.composite
def requests_for(draw: st.DrawFn, op: Operation, ids: dict[str, str], keys: dict[str, str],
                 ) -> dict[str, Any]:
    known_ids = list(ids.values())
    path = op.path
    for parameter in op.parameters:
        if parameter.get("in") != "path":
            continue
        if _resolved(parameter.get("schema", {})).get("type") == "integer":
            value = draw(st.one_of(st.integers(0, 2**48), st.sampled_from(HOSTILE_NUMBERS),
                                   st.sampled_from(HOSTILE_TEXT[1:])))
        else:
            value = draw(st.one_of(st.sampled_from(known_ids + ["default", "team notes"]),
                                   st.sampled_from(HOSTILE_TEXT[1:]),
                                   st.text(min_size=1, max_size=40)))
        path = path.replace("{" + parameter["name"] + "}", quote(str(value), safe=""))
    query = {}
    for parameter in op.parameters:
        if parameter.get("in") == "query" and draw(st.booleans()):
            query[parameter["name"]] = draw(mostly(
                plausible_parameter(parameter.get("schema", {})), st.one_of(
                    st.sampled_from(HOSTILE_TEXT), st.sampled_from(HOSTILE_NUMBERS).map(str),
                    st.integers(-(2**70), 2**70).map(str), st.text(max_size=30))))
    request: dict[str, Any] = {"method": op.method, "path": path, "query_string": query,
                               "headers": {}}
    caller = draw(st.sampled_from(["red"] * 3 + ["session", "blue", "none", "garbage"]))
    request["caller"] = caller
    if caller in ("red", "blue"):
        request["headers"].update(auth(keys[caller]))
    elif caller == "garbage":
        request["headers"]["Authorization"] = "Bearer " + draw(st.text(
            alphabet=string.printable.strip(), max_size=50))
    content = op.details.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        kind = draw(st.sampled_from(["documented"] * 5 + ["any", "bytes", "deep"]))
        if kind == "documented":
            body: Any = draw(documented_object(op, ids))
        elif kind == "any":
            body = draw(json_values)
        if kind == "bytes":
            request["data"] = draw(st.binary(max_size=200))
        elif kind == "deep":  # nesting that exhausts a recursive parser
            depth = draw(st.sampled_from([65, 1000, 100_000]))
            opening, closing = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]))
            request["data"] = opening * depth + b"1" + closing * depth
        else:
            request["data"] = json.dumps(body, allow_nan=True)
        request["headers"]["Content-Type"] = "application/json"
    elif "multipart/form-data" in content:
        name = draw(st.one_of(st.text(max_size=80), st.sampled_from(HOSTILE_TEXT)))
        data = draw(st.one_of(st.binary(max_size=300), st.just(b"%PDF-1.4 broken"),
                              st.sampled_from([b"Anna: hi\nBoris: ok", b"{}", b"[1, 2"])))
        form: dict[str, Any] = {"file": (io.BytesIO(data), name)}
        for field in ("collection", "mode", "filename", "meeting_date"):
            if draw(st.booleans()):
                form[field] = draw(st.sampled_from(HOSTILE_TEXT))
        request["data"] = form
    elif "application/x-www-form-urlencoded" in content:
        fields = draw(st.dictionaries(st.sampled_from(
            ["command", "text", "response_url", "ssl_check"]), st.one_of(
            st.sampled_from(["/summarize", "/ask", "/docchat", "http://127.0.0.1:9/hook",
                             "https://evil.example/x", "1"] + HOSTILE_TEXT),
            st.text(max_size=60)), max_size=4))
        raw = "&".join(f"{quote(k)}={quote(v)}" for k, v in fields.items()).encode()
        if draw(st.booleans()):
            raw = draw(st.binary(max_size=100))
        request["data"] = raw
        request["headers"]["Content-Type"] = "application/x-www-form-urlencoded"
        if draw(st.booleans()):
            request["headers"].update(slack_signed(raw, int(time.time()), SECRET))
        else:
            request["headers"]["X-Slack-Request-Timestamp"] = draw(st.sampled_from(
                [v for v in HOSTILE_TEXT if "\r" not in v and "\n" not in v]))
            request["headers"]["X-Slack-Signature"] = draw(st.text(
                alphabet=string.printable.strip(), max_size=70))
    return request


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: f"{op.method} {op.path}")
def test_no_generated_request_gets_a_500(world, op: Operation) -> None:
    app, keys, ids, person = world
    client = app.test_client()
    seen: list[int] = []

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(requests_for(op, ids, keys))
    def fuzz(request: dict[str, Any]) -> None:
        caller = person.client if request["caller"] == "session" else client
        if request["caller"] == "session":  # as the pages send it
            request["headers"]["X-CSRF-Token"] = person.csrf
        response = caller.open(request["path"], method=request["method"],
                               query_string=request["query_string"],
                               headers=request["headers"], data=request.get("data"))
        seen.append(response.status_code)
        assert response.status_code < 500, (request, response.get_data()[:500])
        if response.status_code >= 400 and request["path"].startswith(("/api/", "/slack/")):
            error = response.get_json()["error"]
            assert error["code"] and error["message"], error

    fuzz()
    assert len(seen) >= min(EXAMPLES, 50)
    if (op.method, op.path) in REACHES_SUCCESS:  # the generated requests get past validation
        assert any(200 <= status < 300 for status in seen), sorted(set(seen))
