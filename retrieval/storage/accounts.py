"""Workspaces (teams), their users and API keys, in the same SQLite file as the documents.

Every document, collection and job belongs to one workspace; the store and the retriever take
the workspace as a required filter, so one team's query never reaches another team's chunks.
Passwords are kept as scrypt hashes; API keys as SHA-256 digests (a key is 256 random bits, so a
fast digest is enough and a lookup needs no per-key salt). A login session names its user by the
user's current session token, a random string replaced at logout, password change and removal,
which ends every session of that user at once; ids of users and keys are random, so they say
nothing about how many other teams' users or keys there are."""

from __future__ import annotations

import hashlib
import os
import random
import re
import secrets
import sqlite3
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

from retrieval.storage.store import SQLiteTables, add_column

DEFAULT_WORKSPACE = "default"
LOCAL_ADMIN = "admin"
KEY_PREFIX = "dc_"
WORKSPACE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,47}$")
USERNAME = re.compile(r"^[\w.@+-]{1,64}$")
MIN_PASSWORD = 10
# scrypt with n=2**15, r=8, p=1: about 32 MB and ~0.1 s per check, Werkzeug's own default.
PASSWORD_METHOD = "scrypt:32768:8:1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS workspaces (
    name TEXT PRIMARY KEY,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    workspace TEXT NOT NULL REFERENCES workspaces(name),
    is_admin INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    session_token TEXT
);
CREATE TABLE IF NOT EXISTS api_keys (
    id INTEGER PRIMARY KEY,
    workspace TEXT NOT NULL REFERENCES workspaces(name),
    name TEXT NOT NULL,
    digest TEXT NOT NULL UNIQUE,
    hint TEXT NOT NULL,
    created_at REAL NOT NULL,
    revoked_at REAL
);
"""


# Ids of users and API keys: random below 2**48 (exact in JavaScript numbers), not a sequence.
_ID_SPACE = 2**48


def _random_id() -> int:
    return random.SystemRandom().randrange(1, _ID_SPACE)


class AccountError(ValueError):
    """A name, password or key that cannot be used; the message says why."""


@dataclass(frozen=True)
class User:
    id: int
    username: str
    workspace: str
    is_admin: bool


@dataclass(frozen=True)
class ApiKey:
    id: int
    workspace: str
    name: str
    hint: str  # the key's last characters, to tell keys apart; never the key itself
    created_at: float
    revoked_at: float | None

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "workspace": self.workspace, "name": self.name,
                "hint": self.hint, "created_at": self.created_at,
                "revoked": self.revoked_at is not None}


def key_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AccountStore(SQLiteTables):
    SCHEMA = _SCHEMA

    def _upgrade(self, db: sqlite3.Connection) -> None:
        add_column(db, "users", "session_token", "TEXT")
        db.execute("CREATE UNIQUE INDEX IF NOT EXISTS users_by_session ON users(session_token)")

    # ---- workspaces ----
    def ensure_workspace(self, name: str) -> str:
        if not WORKSPACE_NAME.match(name):
            raise AccountError("A workspace name is 1-48 lower-case letters, digits, '_' or "
                               "'-', starting with a letter or digit.")
        with self._connect() as db:
            db.execute("INSERT OR IGNORE INTO workspaces (name, created_at) VALUES (?, ?)",
                       (name, time.time()))
        return name

    def workspaces(self) -> list[str]:
        with self._connect() as db:
            return [r[0] for r in db.execute("SELECT name FROM workspaces ORDER BY name")]

    # ---- users ----
    def create_user(self, username: str, password: str, workspace: str,
                    is_admin: bool = False) -> User:
        if not USERNAME.match(username):
            raise AccountError("A username is 1-64 letters, digits or . _ @ + -.")
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"A password needs at least {MIN_PASSWORD} characters.")
        self.ensure_workspace(workspace)
        digest = generate_password_hash(password, method=PASSWORD_METHOD)
        if self.user_named(username) is not None:
            raise AccountError(f"There is already a user named {username}.")
        try:
            with self._connect() as db:
                _insert_with_random_id(
                    db, "INSERT INTO users (id, username, password_hash, workspace, is_admin,"
                        " created_at, session_token) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (username, digest, workspace, int(is_admin), time.time(), _new_token()))
        except sqlite3.IntegrityError as exc:  # made by another process meanwhile
            raise AccountError(f"There is already a user named {username}.") from exc
        user = self.user_named(username)
        assert user is not None
        return user

    def set_password(self, username: str, password: str) -> None:
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"A password needs at least {MIN_PASSWORD} characters.")
        digest = generate_password_hash(password, method=PASSWORD_METHOD)
        with self._connect() as db:
            cursor = db.execute("UPDATE users SET password_hash = ?, session_token = ?"
                                " WHERE username = ?", (digest, _new_token(), username))
        if cursor.rowcount == 0:
            raise AccountError(f"There is no user named {username}.")

    def remove_user(self, username: str) -> None:
        """Delete the user; their sessions end with them."""
        with self._connect() as db:
            cursor = db.execute("DELETE FROM users WHERE username = ?", (username,))
        if cursor.rowcount == 0:
            raise AccountError(f"There is no user named {username}.")

    # ---- login sessions ----
    def session_token(self, user_id: int) -> str:
        """What a new login session of the user carries to name them."""
        with self._connect() as db:
            row = db.execute("SELECT session_token FROM users WHERE id = ?",
                             (user_id,)).fetchone()
            if row is None:
                raise AccountError("There is no such user.")
            if row[0]:
                return str(row[0])
            token = _new_token()  # a user made by an older docchat
            db.execute("UPDATE users SET session_token = ? WHERE id = ?", (token, user_id))
            return token

    def user_for_session(self, token: str) -> User | None:
        """The user whose sessions carry this token, while it is current."""
        if not token:
            return None
        with self._connect() as db:
            row = db.execute("SELECT id, username, workspace, is_admin FROM users"
                             " WHERE session_token = ?", (token,)).fetchone()
        return _user(row)

    def end_sessions(self, user_id: int) -> None:
        """End every login session of the user, on every device."""
        with self._connect() as db:
            db.execute("UPDATE users SET session_token = ? WHERE id = ?",
                       (_new_token(), user_id))

    def user(self, user_id: int) -> User | None:
        with self._connect() as db:
            row = db.execute("SELECT id, username, workspace, is_admin FROM users WHERE id = ?",
                             (user_id,)).fetchone()
        return _user(row)

    def user_named(self, username: str) -> User | None:
        with self._connect() as db:
            row = db.execute("SELECT id, username, workspace, is_admin FROM users"
                             " WHERE username = ?", (username,)).fetchone()
        return _user(row)

    def authenticate(self, username: str, password: str) -> User | None:
        """The user, if the password is theirs. The hash is checked even for an unknown name,
        so the time taken does not tell which names exist."""
        with self._connect() as db:
            row = db.execute("SELECT id, username, workspace, is_admin, password_hash"
                             " FROM users WHERE username = ?", (username,)).fetchone()
        digest = row["password_hash"] if row else _dummy_hash()
        if not check_password_hash(digest, password) or row is None:
            return None
        return _user(row)

    # ---- API keys ----
    def create_api_key(self, workspace: str, name: str) -> tuple[ApiKey, str]:
        """A new key for the workspace: the record, and the key itself (shown once)."""
        name = name.strip()
        if not 1 <= len(name) <= 64:
            raise AccountError("Name the key (1-64 characters), e.g. 'slack' or 'nightly sync'.")
        self.ensure_workspace(workspace)
        token = KEY_PREFIX + secrets.token_urlsafe(32)
        with self._connect() as db:
            key_id = _insert_with_random_id(
                db, "INSERT INTO api_keys (id, workspace, name, digest, hint, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                (workspace, name, key_digest(token), token[-4:], time.time()))
        key = self.api_key(workspace, key_id)
        assert key is not None
        return key, token

    def api_key(self, workspace: str, key_id: int) -> ApiKey | None:
        with self._connect() as db:
            row = db.execute("SELECT id, workspace, name, hint, created_at, revoked_at"
                             " FROM api_keys WHERE id = ? AND workspace = ?",
                             (key_id, workspace)).fetchone()
        return ApiKey(**dict(row)) if row else None

    def api_keys(self, workspace: str) -> list[ApiKey]:
        with self._connect() as db:
            rows = db.execute("SELECT id, workspace, name, hint, created_at, revoked_at"
                              " FROM api_keys WHERE workspace = ? ORDER BY id",
                              (workspace,)).fetchall()
        return [ApiKey(**dict(r)) for r in rows]

    def key_for_token(self, token: str) -> ApiKey | None:
        """The live key this token is, if any."""
        if not token.startswith(KEY_PREFIX):
            return None
        with self._connect() as db:
            row = db.execute("SELECT id, workspace, name, hint, created_at, revoked_at"
                             " FROM api_keys WHERE digest = ? AND revoked_at IS NULL",
                             (key_digest(token),)).fetchone()
        return ApiKey(**dict(row)) if row else None

    def revoke_api_key(self, workspace: str, key_id: int) -> bool:
        with self._connect() as db:
            cursor = db.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND"
                                " workspace = ? AND revoked_at IS NULL",
                                (time.time(), key_id, workspace))
        return cursor.rowcount > 0

    # ---- embedded mode ----
    def ensure_local_admin(self, password_file: Path) -> User:
        """The single user of embedded mode, created on first start in the default workspace
        with a random password written (owner-only) to `password_file`."""
        self.ensure_workspace(DEFAULT_WORKSPACE)
        existing = self.user_named(LOCAL_ADMIN)
        if existing is not None:
            return existing
        password = secrets.token_urlsafe(18)
        user = self.create_user(LOCAL_ADMIN, password, DEFAULT_WORKSPACE, is_admin=True)
        password_file.parent.mkdir(parents=True, exist_ok=True)
        fd = _owner_only(password_file)
        with open(fd, "w", encoding="utf-8") as handle:
            handle.write(f"{LOCAL_ADMIN}\n{password}\n")
        return user


def _new_token() -> str:
    return secrets.token_urlsafe(32)


def _insert_with_random_id(db: sqlite3.Connection, sql: str, values: tuple[object, ...]) -> int:
    """Run an INSERT whose first placeholder is the row's id, with a fresh random id (another
    one should the first be taken); returns the id."""
    for _ in range(8):
        row_id = _random_id()
        try:
            db.execute(sql, (row_id, *values))
        except sqlite3.IntegrityError:
            if db.execute(f"SELECT 1 FROM {sql.split()[2]} WHERE id = ?",
                          (row_id,)).fetchone() is None:
                raise  # another constraint: not a taken id
            continue
        return row_id
    raise RuntimeError("no free random id after 8 tries")


def _owner_only(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)


def _user(row: sqlite3.Row | None) -> User | None:
    if row is None:
        return None
    return User(id=row["id"], username=row["username"], workspace=row["workspace"],
                is_admin=bool(row["is_admin"]))


@cache
def _dummy_hash() -> str:
    return generate_password_hash("not a password of anyone", method=PASSWORD_METHOD)
