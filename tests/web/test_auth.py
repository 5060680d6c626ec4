"""Access: embedded mode needs no login but refuses other sites; with DOCCHAT_AUTH=required,
people log in (scrypt-hashed passwords, Secure/HttpOnly/SameSite cookies, CSRF tokens),
scripts use workspace API keys, and ask is rate limited per caller."""

from __future__ import annotations

import dataclasses
import re
import sqlite3
import stat

import pytest

from retrieval.storage.accounts import AccountStore
from web import create_app

HTTPS = "https://localhost"


@pytest.fixture(scope="module")
def app(bare_app):
    """Nothing here is indexed or answered by the model: the app alone will do."""
    return bare_app


def test_local_mode_needs_no_login_and_has_a_local_admin(app, client) -> None:
    settings = app.extensions["docchat"].settings
    assert client.post("/api/search", json={"query": "anything"}).status_code == 200
    password_file = settings.data_dir / "admin-password"
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    username, password = password_file.read_text().split()
    accounts = AccountStore(settings.database_path)
    assert username == "admin" and accounts.authenticate("admin", password) is not None


@pytest.mark.parametrize("headers", [{"Origin": "https://evil.example"},
                                     {"Sec-Fetch-Site": "cross-site"},
                                     {"Sec-Fetch-Site": "same-site"}])
def test_other_sites_cannot_post_to_a_local_docchat(client, headers) -> None:
    response = client.post("/api/search", json={"query": "anything"}, headers=headers)
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "cross_site_request"


def test_own_pages_may_post(client) -> None:
    response = client.post("/api/search", json={"query": "anything"},
                           headers={"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"})
    assert response.status_code == 200


@pytest.fixture(scope="module")
def secure_app(bare_settings):
    strict = dataclasses.replace(bare_settings, auth="required", rate_limit_per_minute=3)
    app = create_app(strict)
    accounts = app.extensions["docchat"].accounts
    if accounts.user_named("alice") is None:
        accounts.create_user("alice", "correct horse battery", "red")
    return app


def login(client, username="alice", password="correct horse battery"):
    page = client.get("/login", base_url=HTTPS)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert token, "the login form carries a CSRF token"
    return client.post("/login", base_url=HTTPS, data={
        "username": username, "password": password, "csrf_token": token.group(1),
        "next": "/library"})


def csrf_of(client) -> str:
    page = client.get("/chat", base_url=HTTPS).get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)


def test_without_credentials_the_api_says_401_and_pages_go_to_login(secure_app) -> None:
    client = secure_app.test_client()
    response = client.post("/api/search", json={"query": "x"}, base_url=HTTPS)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "login_required"
    page = client.get("/library", base_url=HTTPS)
    assert page.status_code == 302 and "/login?next=/library" in page.headers["Location"]
    assert client.get("/login", base_url=HTTPS).status_code == 200


def test_wrong_password_is_refused_and_the_right_one_logs_in(secure_app) -> None:
    client = secure_app.test_client()
    wrong = login(client, password="not the password")
    assert wrong.status_code == 401 and "Wrong username or password" in wrong.get_data(
        as_text=True)
    right = login(client)
    assert right.status_code == 302 and right.headers["Location"].endswith("/library")
    cookie = right.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/api/documents", base_url=HTTPS).status_code == 200


def test_login_only_redirects_within_docchat(secure_app) -> None:
    client = secure_app.test_client()
    page = client.get("/login", base_url=HTTPS).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/login", base_url=HTTPS, data={
        "username": "alice", "password": "correct horse battery", "csrf_token": token,
        "next": "//evil.example/steal"})
    assert response.headers["Location"] == "/chat"


def test_session_requests_need_the_pages_csrf_token(secure_app) -> None:
    client = secure_app.test_client()
    login(client)
    refused = client.post("/api/search", json={"query": "x"}, base_url=HTTPS)
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "csrf_failed"
    allowed = client.post("/api/search", json={"query": "x"}, base_url=HTTPS,
                          headers={"X-CSRF-Token": csrf_of(client)})
    assert allowed.status_code == 200


def test_login_form_without_its_token_is_refused(secure_app) -> None:
    client = secure_app.test_client()
    response = client.post("/login", base_url=HTTPS, data={
        "username": "alice", "password": "correct horse battery"})
    assert response.status_code == 403


def test_passwords_are_kept_as_scrypt_hashes(secure_app) -> None:
    path = secure_app.extensions["docchat"].settings.database_path
    with sqlite3.connect(path) as db:
        (stored,) = db.execute("SELECT password_hash FROM users WHERE username = 'alice'"
                               ).fetchone()
    assert stored.startswith("scrypt:") and "correct horse" not in stored


def test_api_keys_open_the_api_until_revoked(secure_app) -> None:
    client = secure_app.test_client()
    login(client)
    token = csrf_of(client)
    made = client.post("/api/keys", json={"name": "nightly sync"}, base_url=HTTPS,
                       headers={"X-CSRF-Token": token})
    assert made.status_code == 201
    key, key_id = made.get_json()["key"], made.get_json()["id"]
    listed = client.get("/api/keys", base_url=HTTPS).get_json()["keys"]
    assert any(k["id"] == key_id and k["hint"] == key[-4:] for k in listed)
    assert all("key" not in k for k in listed)  # never shown again

    script = secure_app.test_client()
    auth = {"Authorization": f"Bearer {key}"}
    assert script.get("/api/documents", headers=auth).status_code == 200
    # Scripts carry no cookies, so they need no CSRF token; but a key cannot make keys.
    assert script.post("/api/keys", json={"name": "x"}, headers=auth).status_code == 403
    assert client.delete(f"/api/keys/{key_id}", base_url=HTTPS,
                         headers={"X-CSRF-Token": token}).status_code == 200
    revoked = script.get("/api/documents", headers=auth)
    assert revoked.status_code == 401 and revoked.get_json()["error"]["code"] == "bad_api_key"


def test_ask_is_rate_limited_per_caller(secure_app) -> None:
    accounts = secure_app.extensions["docchat"].accounts
    _, key = accounts.create_api_key("ratelimit-team", "load")
    _, other = accounts.create_api_key("ratelimit-team", "other")
    client = secure_app.test_client()
    question = {"question": "Who won the football world cup in 1998?"}  # declined at once

    def ask(token: str):
        return client.post("/api/ask", json=question,
                           headers={"Authorization": f"Bearer {token}"})

    assert [ask(key).status_code for _ in range(3)] == [200, 200, 200]
    limited = ask(key)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert "at most 3 a minute" in limited.get_json()["error"]["message"]
    assert ask(other).status_code == 200  # counted per key


def test_the_index_is_an_administrators_business(secure_app) -> None:
    accounts = secure_app.extensions["docchat"].accounts
    _, key = accounts.create_api_key("red", "script")
    response = secure_app.test_client().get("/api/index",
                                            headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 403
