"""Bad requests get JSON errors with a stable code and a message that says what to do."""

from __future__ import annotations

import dataclasses
import io

import pytest

from web import create_app


@pytest.fixture(scope="module")
def app(bare_app):
    """Each request here is refused before anything is queued: the app alone will do."""
    return bare_app


def test_non_pdf_upload_is_refused_with_415_and_nothing_is_stored(client) -> None:
    before = client.get("/api/documents").get_json()["documents"]
    response = client.post("/api/documents", data={
        "file": (io.BytesIO(b"PK\x03\x04 a zip pretending"), "contract.pdf"),
    }, content_type="multipart/form-data")
    assert response.status_code == 415
    error = response.get_json()["error"]
    assert error["code"] == "unsupported_type"
    assert "contract.pdf is not a PDF" in error["message"]
    assert client.get("/api/documents").get_json()["documents"] == before


def test_upload_without_a_file_is_a_400(client) -> None:
    response = client.post("/api/documents", data={}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "no_file"


def test_oversized_upload_is_a_413_naming_the_limit(bare_settings, tmp_path) -> None:
    small = dataclasses.replace(bare_settings, data_dir=tmp_path, max_upload_mb=1)
    client = create_app(small).test_client()
    payload = b"%PDF-1.7\n" + b"0" * (3 * 1024 * 1024)
    response = client.post("/api/documents", data={"file": (io.BytesIO(payload), "big.pdf")},
                           content_type="multipart/form-data")
    assert response.status_code == 413
    assert "1 MB" in response.get_json()["error"]["message"]


def test_search_and_ask_validate_their_json(client) -> None:
    assert client.post("/api/search", data="query=x").status_code == 400
    response = client.post("/api/search", json={"query": "  "})
    assert response.status_code == 400 and "'query'" in response.get_json()["error"]["message"]
    assert client.post("/api/search", json={"query": "x", "k": 0}).status_code == 400
    assert client.post("/api/ask", json={"question": "x", "stream": "yes"}).status_code == 400


def test_unknown_document_is_a_404(client) -> None:
    response = client.get("/api/documents/nope")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
