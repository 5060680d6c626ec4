"""Who is asking, and for which workspace: a logged-in user (Flask-Login session), a workspace
API key (`Authorization: Bearer dc_…`), or — in embedded mode (`DOCCHAT_AUTH=local`) — the
local admin. Also the CSRF defence for browser requests, and the login, logout and API-key
routes."""

from __future__ import annotations

import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user

from retrieval.accounts import AccountError, AccountStore, ApiKey, User
from retrieval.runtime import Runtime
from web.errors import ApiError
from web.ratelimit import RateLimiter

bp = Blueprint("auth", __name__)

# Reached without logging in: the login page itself, static files, probes, and Slack (whose
# requests carry Slack's signature instead).
OPEN_ENDPOINTS = {"auth.login", "auth.login_form", "static", "slack.slack_command",
                  "health.healthz", "health.readyz", "metrics.metrics"}
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True)
class Principal:
    """The caller: a user (logged in, or the local admin) or an API key, in one workspace."""

    workspace: str
    user: User | None = None
    key: ApiKey | None = None

    @property
    def id(self) -> str:
        """What rate limits count by."""
        if self.key is not None:
            return f"key:{self.key.id}"
        return f"user:{self.user.id}" if self.user else "anonymous"


class SessionUser(UserMixin):  # type: ignore[misc]
    def __init__(self, user: User) -> None:
        self.user = user

    def get_id(self) -> str:
        return str(self.user.id)


def init_app(app: Flask, runtime: Runtime) -> None:
    settings = runtime.settings
    accounts = runtime.accounts
    app.secret_key = settings.secret_key or _stored_secret(settings.data_dir / "secret_key")
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SECURE=settings.cookie_secure,
        SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_NAME="docchat_session",
        REMEMBER_COOKIE_HTTPONLY=True, REMEMBER_COOKIE_SECURE=settings.cookie_secure,
        REMEMBER_COOKIE_SAMESITE="Lax",
    )
    local_admin = None
    if not settings.login_required:
        local_admin = accounts.ensure_local_admin(settings.data_dir / "admin-password")
    manager = LoginManager(app)
    manager.session_protection = "strong"

    @manager.user_loader
    def _load(user_id: str) -> SessionUser | None:
        found = accounts.user(int(user_id)) if user_id.isdigit() else None
        return SessionUser(found) if found else None

    app.extensions["docchat.limiter"] = RateLimiter(settings.rate_limit_per_minute,
                                                    settings.redis_url)

    @app.before_request
    def _identify() -> Response | None:
        g.principal = None
        principal = _from_api_key(accounts)
        if principal is None:
            if current_user.is_authenticated:
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


def principal() -> Principal:
    """The caller of this request (set before every view that needs one)."""
    found: Principal | None = g.get("principal")
    if found is None:
        raise ApiError(401, "login_required", "Log in, or send an API key.")
    return found


def workspace() -> str:
    return principal().workspace


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


def _from_api_key(accounts: AccountStore) -> Principal | None:
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    token = token or request.headers.get("X-API-Key", "").strip()
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


def _runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["docchat"]
    return runtime


# ---- login and logout ----

@bp.get("/login")
def login_form() -> str:
    return render_template("login.html", page="login", error=None,
                           next=_safe_next(request.args.get("next")))


@bp.post("/login")
def login() -> Response | tuple[str, int]:
    _check_csrf(login_required=True)
    limiter: RateLimiter = current_app.extensions["docchat.limiter"]
    limiter.check(f"login:{request.remote_addr}", per_minute=10)
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    found = _runtime().accounts.authenticate(username, password)
    target = _safe_next(request.form.get("next"))
    if found is None:
        return render_template("login.html", page="login", next=target,
                               error="Wrong username or password."), 401
    session.clear()  # a new session for the new login: no fixation of an old one
    login_user(SessionUser(found))
    return redirect(target)  # type: ignore[return-value]


@bp.post("/logout")
def logout() -> Response:
    logout_user()
    session.clear()
    return redirect(url_for("auth.login_form"))  # type: ignore[return-value]


def _safe_next(target: str | None) -> str:
    """Where to go after logging in: only a path on this site, never another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/chat"
    return target


# ---- API keys of the caller's workspace ----

@bp.get("/api/keys")
def list_keys() -> Response:
    keys = _runtime().accounts.api_keys(_key_manager().workspace)
    return jsonify({"keys": [k.to_json() for k in keys]})


@bp.post("/api/keys")
def create_key() -> tuple[Response, int]:
    body = request.get_json(silent=True)
    name = body.get("name") if isinstance(body, dict) else None
    if not isinstance(name, str):
        raise ApiError(400, "bad_request", "Send {\"name\": \"...\"} naming what the key is for.")
    try:
        key, token = _runtime().accounts.create_api_key(_key_manager().workspace, name)
    except AccountError as exc:
        raise ApiError(400, "bad_request", str(exc)) from exc
    return jsonify({**key.to_json(), "key": token,
                    "note": "Store the key now: docchat keeps only its digest."}), 201


@bp.delete("/api/keys/<int:key_id>")
def revoke_key(key_id: int) -> Response:
    if not _runtime().accounts.revoke_api_key(_key_manager().workspace, key_id):
        raise ApiError(404, "not_found", f"No live API key {key_id} in this workspace.")
    return jsonify({"revoked": key_id})


def _key_manager() -> Principal:
    """Keys are managed by people (logged in, or the local admin), not by other keys."""
    caller = principal()
    if caller.key is not None:
        raise ApiError(403, "forbidden", "API keys are managed by a logged-in user, not by "
                                         "another API key.")
    return caller
