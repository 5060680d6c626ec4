"""A network guard for tests/e2e/test_privacy.py. Python imports `sitecustomize` at start-up
from sys.path, so every Python process started with this folder on PYTHONPATH (`docchat serve`,
and the web app, worker and LLM server it starts, which inherit the environment) loads it.

With NETGUARD_RECORD set, it refuses every connection to an address off this machine and every
name lookup that would need DNS, and appends each refused attempt to that file as a JSON line;
loopback addresses, `localhost`, this machine's own name and Unix sockets pass. It also appends
the process's command line to NETGUARD_LOADED, so the test knows which processes it watched.
Without NETGUARD_RECORD it does nothing.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import os
import socket
import sys
import traceback

RECORD = os.environ.get("NETGUARD_RECORD")
LOADED = os.environ.get("NETGUARD_LOADED")
LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback",
               socket.gethostname().lower()}


def _command_line() -> list[str]:
    """The process's real command line (sys.argv is not yet complete when this module runs)."""
    try:
        with open("/proc/self/cmdline", "rb") as handle:
            return handle.read().decode(errors="replace").rstrip("\0").split("\0")
    except OSError:
        return list(sys.argv)


def _append(path: str, entry: dict[str, object]) -> None:
    line = (json.dumps(entry, default=str) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def _refuse(what: str, target: object) -> None:
    assert RECORD is not None
    _append(RECORD, {"pid": os.getpid(), "argv": _command_line(), "what": what, "target": target,
                     "stack": traceback.format_stack(limit=8)[:-2]})
    raise OSError(errno.ENETUNREACH, f"netguard: {what} {target!r} refused (privacy test)")


def _is_local_host(host: object) -> bool:
    """True for a loopback address or a name that resolves without DNS (None: any/bind)."""
    if host in (None, "", b""):
        return True
    name = host.decode() if isinstance(host, bytes) else str(host)
    name = name.strip("[]").split("%", 1)[0].lower()
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return name in LOCAL_NAMES
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


def _check_address(sock: socket.socket, address: object, what: str) -> None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return  # Unix sockets, netlink: nothing leaves the machine
    host = address[0] if isinstance(address, tuple) else address
    if not _is_local_host(host):
        _refuse(what, address)


def _install() -> None:
    connect, connect_ex, sendto = (socket.socket.connect, socket.socket.connect_ex,
                                   socket.socket.sendto)
    getaddrinfo, gethostbyname, gethostbyname_ex, gethostbyaddr = (
        socket.getaddrinfo, socket.gethostbyname, socket.gethostbyname_ex, socket.gethostbyaddr)

    def guarded_connect(self: socket.socket, address: object) -> None:
        _check_address(self, address, "connect")
        return connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: object) -> int:
        _check_address(self, address, "connect")
        return connect_ex(self, address)

    def guarded_sendto(self: socket.socket, data: bytes, *args: object) -> int:
        _check_address(self, args[-1], "sendto")
        return sendto(self, data, *args)

    def lookup(function, what):
        def guarded(host, *args, **kwargs):
            name = host.decode() if isinstance(host, bytes) else host
            try:
                literal = name is not None and ipaddress.ip_address(
                    str(name).strip("[]").split("%", 1)[0])
            except ValueError:
                literal = False
            # A numeric address needs no DNS (connect checks where it goes); a name must be
            # local. gethostbyaddr of an outside address is a reverse DNS query.
            if (not literal or what == "gethostbyaddr") and not _is_local_host(host):
                try:
                    _refuse(what, host)
                except OSError as exc:
                    raise socket.gaierror(socket.EAI_NONAME, str(exc)) from None
            return function(host, *args, **kwargs)
        return guarded

    socket.socket.connect = guarded_connect
    socket.socket.connect_ex = guarded_connect_ex
    socket.socket.sendto = guarded_sendto
    socket.getaddrinfo = lookup(getaddrinfo, "getaddrinfo")
    socket.gethostbyname = lookup(gethostbyname, "gethostbyname")
    socket.gethostbyname_ex = lookup(gethostbyname_ex, "gethostbyname_ex")
    socket.gethostbyaddr = lookup(gethostbyaddr, "gethostbyaddr")


if RECORD:
    _install()
    if LOADED:
        _append(LOADED, {"pid": os.getpid(), "argv": _command_line()})
