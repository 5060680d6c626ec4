"""GET /api/index says where each part of this process runs: the embedding model's device and
precision, and whether FAISS searches on the GPU or the CPU, and why."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from retrieval.core.settings import Settings
from web import create_app


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory):
    return create_app(Settings(data_dir=tmp_path_factory.mktemp("data")))


def test_on_a_cpu_machine_both_parts_say_cpu_and_faiss_says_why(app) -> None:
    status = app.test_client().get("/api/index").get_json()
    assert status["device"] == "cpu" and status["precision"] == "fp32"
    assert status["faiss_device"] == "cpu"
    assert status["faiss_reason"].startswith(
        "the installed faiss is faiss-cpu, which has no GPU support: run `make install-gpu`")


def test_the_answer_has_the_documented_shape(app) -> None:
    client = app.test_client()
    spec: dict[str, Any] = client.get("/api/openapi.json").get_json()
    schema = {"$ref": "#/components/schemas/IndexStatus", "components": spec["components"]}
    errors = [e.message for e in
              Draft202012Validator(schema).iter_errors(client.get("/api/index").get_json())]
    assert errors == []
    documented = spec["components"]["schemas"]["IndexStatus"]["properties"]
    assert documented["faiss_device"]["enum"] == ["gpu", "cpu"]
