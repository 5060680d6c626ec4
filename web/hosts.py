"""Which names the web app answers to. A request whose Host header is not one of them gets 400
before any route runs, in both auth modes.

This is the defence against DNS rebinding: a web page on attacker.example whose name is made to
re-resolve to 127.0.0.1 makes the browser send `Host: attacker.example` to a local docchat, and
would otherwise be same-origin with it. Loopback names and addresses are always trusted; any
other name must be listed in DOCCHAT_TRUSTED_HOSTS (`*.example.com` takes subdomains).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Iterable
from typing import Any

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

LOOPBACK_NAMES = ("localhost",)


def host_name(header: str) -> str:
    """The name in a Host header, lower-case, without port or trailing dot; '' when the header
    is not a plain host[:port]."""
    header = header.strip().lower()
    if header.startswith("["):  # [v6 address]:port
        end = header.find("]")
        name, rest = header[1:end] if end > 0 else "", header[end + 1:] if end > 0 else "x"
    else:
        name, _, port = header.partition(":")
        rest = f":{port}" if port or header.endswith(":") else ""
    if rest and not (rest.startswith(":") and rest[1:].isdigit()):
        return ""
    return name.rstrip(".")


def is_trusted(name: str, trusted: Iterable[str]) -> bool:
    if not name:
        return False
    if name in LOOPBACK_NAMES:
        return True
    try:
        if ipaddress.ip_address(name).is_loopback:
            return True
    except ValueError:
        pass
    for entry in trusted:
        if entry.startswith("*.") and name.endswith(entry[1:]) and len(name) > len(entry) - 1:
            return True
        if name == entry:
            return True
    return False


class TrustedHosts:
    """WSGI middleware: 400 for a Host header that names none of the trusted hosts."""

    def __init__(self, app: WSGIApp, trusted: Iterable[str]) -> None:
        self.app = app
        self.trusted = tuple(trusted)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any],
                 ) -> Iterable[bytes]:
        header = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
        if is_trusted(host_name(header), self.trusted):
            return self.app(environ, start_response)
        body = json.dumps({"error": {
            "code": "untrusted_host",
            "message": "docchat does not answer to this host name. If you run this docchat "
                       "and reach it by this name, add the name to DOCCHAT_TRUSTED_HOSTS.",
        }}).encode()
        start_response("400 Bad Request", [("Content-Type", "application/json"),
                                           ("Content-Length", str(len(body))),
                                           ("Cache-Control", "no-store")])
        return [body]
