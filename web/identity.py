"""Who is asking: the Principal that web/auth.py sets before every view (a user, or a workspace
API key), its workspace, and whether it is an administrator. The routes and the rate limit read
it here."""

from __future__ import annotations

from dataclasses import dataclass

from flask import g

from retrieval.storage.accounts import ApiKey, User
from web.errors import ApiError


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


def principal() -> Principal:
    """The caller of this request (set before every view that needs one)."""
    found: Principal | None = g.get("principal")
    if found is None:
        raise ApiError(401, "login_required", "Log in, or send an API key.")
    return found


def workspace() -> str:
    return principal().workspace


def is_admin(caller: Principal | None) -> bool:
    """A docchat administrator: a logged-in admin user, or the local admin of embedded mode."""
    return caller is not None and caller.user is not None and caller.user.is_admin
