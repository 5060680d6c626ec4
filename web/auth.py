"""Who is asking, and for which workspace: a logged-in user (Flask-Login session), a workspace
API key (`Authorization: Bearer dc_…`), or — in embedded mode (`DOCCHAT_AUTH=local`) — the
local admin. Also the CSRF defence for browser requests, and the login, logout and API-key
routes.

A session names its user by the user's session token (retrieval/storage/accounts.py), looked up on
every request: logout, a password change or removing the user ends every session of theirs.
A session also ends DOCCHAT_SESSION_HOURS after its login. Failed logins are throttled per
client address, per account and per pair, in sliding windows."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user

from retrieval.runtime import Runtime
from retrieval.storage.accounts import AccountError, AccountStore, User
from web.bodies import json_body
from web.context import current_runtime
from web.contract.requests import NewApiKey
from web.contract.responses import CreatedApiKey
from web.contract.validation import validated
from web.errors import ApiError
from web.identity import Principal, principal
from web.ratelimit import RateLimited, RateLimiter, current_limiter

bp = Blueprint("auth", __name__)

# Reached without logging in: the login page itself, static files, probes, and Slack (whose
# requests carry Slack's signature instead).
OPEN_ENDPOINTS = {"auth.login", "auth.login_form", "static", "slack.slack_command",
                  "health.healthz", "health.readyz", "metrics.metrics"}
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_HEADER = "X-CSRF-Token"


class SessionUser(UserMixin):  # type: ignore[misc]
    """A logged-in user as Flask-Login keeps them: named in the cookie by their session token,
    never by an id."""

    def __init__(self, user: User, token: str) -> None:
        self.user = user
        self.token = token

    def get_id(self) -> str:
        return self.token


# Failed logins allowed in LOGIN_WINDOW seconds: from one client to one account, from one
# client to any account (guessing across accounts), and to one account from anywhere (a
# distributed guess; high enough that one client alone cannot lock a person out). Any login
# attempt costs a scrypt check, so attempts per client are bounded per minute as well.
LOGIN_WINDOW = 15 * 60
LOGIN_FAILURES = {"pair": 5, "client": 30, "account": 100}
LOGIN_ATTEMPTS_PER_MINUTE = 20


def init_app(app: Flask, runtime: Runtime) -> None:
    settings = runtime.settings
    accounts = runtime.accounts
    app.secret_key = settings.secret_key or _stored_secret(settings.data_dir / "secret_key")
    lifetime = timedelta(hours=settings.session_hours)
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SECURE=settings.cookie_secure,
        SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_NAME="docchat_session",
        REMEMBER_COOKIE_HTTPONLY=True, REMEMBER_COOKIE_SECURE=settings.cookie_secure,
        REMEMBER_COOKIE_SAMESITE="Lax",
        # Flask refuses a cookie signed longer ago than this; the login time in the session
        # ends it at the same age even when it is re-signed meanwhile.
        PERMANENT_SESSION_LIFETIME=lifetime, SESSION_REFRESH_EACH_REQUEST=False,
    )
    local_admin = None
    if not settings.login_required:
        local_admin = accounts.ensure_local_admin(settings.data_dir / "admin-password")
    manager = LoginManager(app)
    manager.session_protection = "strong"
    # Flask-Login's own fingerprint reads X-Forwarded-For from anyone; this one takes the
    # address werkzeug's ProxyFix settled (DOCCHAT_PROXY_HOPS).
    manager._session_identifier_generator = _session_fingerprint

    @manager.user_loader
    def _load(token: str) -> SessionUser | None:
        found = accounts.user_for_session(token)
        return SessionUser(found, token) if found else None

    app.extensions["docchat.limiter"] = RateLimiter(
        settings.rate_limit_per_minute, settings.redis_url, namespace=f"docchat:{settings.queue}")

    @app.before_request
    def _identify() -> Response | None:
        g.principal = None
        if request.endpoint == "metrics.metrics" and _is_metrics_scraper(settings.metrics_token):
            g.metrics_scraper = True
            return None
        principal = _from_api_key(accounts)
        if principal is None:
            if current_user.is_authenticated and _session_expired(lifetime):
                logout_user()
                session.clear()
            elif current_user.is_authenticated:
                principal = Principal(current_user.user.workspace, user=current_user.user)
            elif local_admin is not None:
                principal = Principal(local_admin.workspace, user=local_admin)
        g.principal = principal
        if request.endpoint in OPEN_ENDPOINTS:
            return None
        if principal is None:
            return _login_required()
        if principal.key is None and request.method in UNSAFE_METHODS:
            _check_csrf(settings.login_required)
        return None

    app.register_blueprint(bp)
    app.context_processor(lambda: {"principal": g.get("principal"),
                                   "csrf_token": csrf_token(),
                                   "login_required": settings.login_required})


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


def _bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    return token or request.headers.get("X-API-Key", "").strip()


def _is_metrics_scraper(metrics_token: str) -> bool:
    token = _bearer_token()
    return bool(metrics_token and token) and hmac.compare_digest(
        token.encode("utf-8", "replace"), metrics_token.encode("utf-8"))


def _session_expired(lifetime: timedelta) -> bool:
    started = session.get("login_at")
    return not isinstance(started, int | float) or time.time() - started > (
        lifetime.total_seconds())


def _session_fingerprint() -> str:
    agent = request.headers.get("User-Agent", "")
    return hashlib.sha512(f"{request.remote_addr}|{agent}".encode()).hexdigest()


def _from_api_key(accounts: AccountStore) -> Principal | None:
    token = _bearer_token()
    if not token:
        return None
    key = accounts.key_for_token(token)
    if key is None:
        raise ApiError(401, "bad_api_key",
                       "The API key is not valid: it was revoked or mistyped. Ask your "
                       "workspace admin for a new one.")
    return Principal(key.workspace, key=key)


def _login_required() -> Response:
    if request.path.startswith(("/api/", "/slack/")):
        raise ApiError(401, "login_required",
                       "Log in first, or send a workspace API key as "
                       "'Authorization: Bearer <key>'.")
    return redirect(url_for("auth.login_form", next=request.full_path.rstrip("?")))  # type: ignore[return-value]


def _check_csrf(login_required: bool) -> None:
    """Refuse a state-changing browser request that another site made.

    Browsers say where a request comes from (Sec-Fetch-Site, Origin): a cross-site one is
    refused in every mode (in embedded mode this stops a web page from posting to
    127.0.0.1). With logins, the session's token must come back in a header as well."""
    site = request.headers.get("Sec-Fetch-Site")
    origin = request.headers.get("Origin")
    if site not in (None, "same-origin", "none") or (
            origin is not None and not _same_origin(origin)):
        raise ApiError(403, "cross_site_request",
                       "This request came from another site and was refused. Use docchat's "
                       "own pages, or an API key for scripts.")
    if login_required:
        sent = request.headers.get(CSRF_HEADER) or request.form.get("csrf_token", "")
        if not sent or not hmac.compare_digest(sent, csrf_token()):
            raise ApiError(403, "csrf_failed",
                           "The page's security token is missing or out of date: reload the "
                           "page and try again.")


def _same_origin(origin: str) -> bool:
    here = urlsplit(request.host_url)
    there = urlsplit(origin)
    return (there.scheme, there.netloc) == (here.scheme, here.netloc)


def _stored_secret(path: Path) -> str:
    """The cookie-signing key kept in the data folder, made on first start (owner-only)."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_text().strip()
    with open(fd, "w") as handle:
        handle.write(secret)
    return secret


# ---- login and logout ----

@bp.get("/login")
def login_form() -> str:
    return render_template("login.html", page="login", error=None,
                           next=_safe_next(request.args.get("next")))


@bp.post("/login")
def login() -> Response | tuple[str, int]:
    _check_csrf(login_required=True)
    username = request.form.get("username", "").strip()[:128]
    password = request.form.get("password", "")[:1024]
    target = _safe_next(request.form.get("next"))
    limiter = current_limiter()
    client = request.remote_addr or "unknown"
    counted = _login_counters(client, username.lower())
    try:
        _check_login_allowed(limiter, counted, client)
    except RateLimited as exc:
        minutes = max(1, round(exc.retry_after / 60))
        return render_template(
            "login.html", page="login", next=target,
            error=f"Too many failed logins. Try again in {minutes} minute"
                  f"{'s' if minutes != 1 else ''}."), 429
    accounts = current_runtime().accounts
    found = accounts.authenticate(username, password)
    if found is None:
        for key in counted.values():
            limiter.record(key, LOGIN_WINDOW)
        return render_template("login.html", page="login", next=target,
                               error="Wrong username or password."), 401
    session.clear()  # a new session for the new login: no fixation of an old one
    # Not a "permanent" session: Flask-Login's strong protection, which ends a session that
    # shows up from another address or browser, only holds for the others. The cookie lasts
    # until the browser closes, the login DOCCHAT_SESSION_HOURS at most.
    session["login_at"] = time.time()
    login_user(SessionUser(found, accounts.session_token(found.id)))
    return redirect(target)  # type: ignore[return-value]


def _login_counters(client: str, account: str) -> dict[str, str]:
    account_key = hashlib.sha256(account.encode()).hexdigest()[:32]
    return {"pair": f"login-failed:pair:{client}:{account_key}",
            "client": f"login-failed:client:{client}",
            "account": f"login-failed:account:{account_key}"}


def _check_login_allowed(limiter: RateLimiter, counted: dict[str, str], client: str) -> None:
    """RateLimited when a failure counter is full, or the client tries too often."""
    waits = [limiter.admit(key, LOGIN_FAILURES[name], LOGIN_WINDOW, count=False)
             for name, key in counted.items()]
    waits.append(limiter.admit(f"login-attempts:{client}", LOGIN_ATTEMPTS_PER_MINUTE, 60))
    longest = max((w for w in waits if w is not None), default=None)
    if longest is not None:
        raise RateLimited("Too many failed logins.", longest)


@bp.post("/logout")
def logout() -> Response:
    if current_user.is_authenticated:
        # Every session of this user ends, on every device: a copied cookie is worthless now.
        current_runtime().accounts.end_sessions(current_user.user.id)
    logout_user()
    session.clear()
    return redirect(url_for("auth.login_form"))  # type: ignore[return-value]


_SAFE_PATH_CHARS = "/?=&%#:@!$'()*+,;~-._"


def _safe_next(target: str | None) -> str:
    """Where to go after logging in: only a path on this site, never another site. Browsers
    drop tabs and newlines from URLs and read a backslash as a slash, so those are removed or
    refused before the check, and the result is percent-encoded (a header never holds a control
    character)."""
    cleaned = "".join(ch for ch in (target or "") if ch.isprintable() and ch != " ")
    parts = urlsplit(cleaned)
    if (not cleaned.startswith("/") or cleaned.startswith("//") or "\\" in cleaned
            or parts.scheme or parts.netloc or len(cleaned) > 2000):
        return "/chat"
    return quote(cleaned, safe=_SAFE_PATH_CHARS)


# ---- API keys of the caller's workspace ----

@bp.get("/api/keys")
def list_keys() -> Response:
    keys = current_runtime().accounts.api_keys(_key_manager().workspace)
    return jsonify({"keys": [k.to_json() for k in keys]})


@bp.post("/api/keys")
def create_key() -> tuple[Response, int]:
    name = validated(NewApiKey, json_body()).name
    try:
        key, token = current_runtime().accounts.create_api_key(_key_manager().workspace, name)
    except AccountError as exc:
        raise ApiError(400, "bad_request", str(exc)) from exc
    created = CreatedApiKey.model_validate({
        **key.to_json(), "key": token, "note": "Store the key now: docchat keeps only its digest."})
    return jsonify(created.model_dump()), 201


# Key ids are below 2**48 (retrieval/storage/accounts.py); a larger number is no key's (404).
@bp.delete("/api/keys/<int(max=281474976710655):key_id>")
def revoke_key(key_id: int) -> Response:
    if not current_runtime().accounts.revoke_api_key(_key_manager().workspace, key_id):
        raise ApiError(404, "not_found", f"No live API key {key_id} in this workspace.")
    return jsonify({"revoked": key_id})


def _key_manager() -> Principal:
    """Keys are managed by people (logged in, or the local admin), not by other keys."""
    caller = principal()
    if caller.key is not None:
        raise ApiError(403, "forbidden", "API keys are managed by a logged-in user, not by "
                                         "another API key.")
    return caller
