"""The data folder holds every team's uploads, texts, index and keys: it and everything docchat
writes in it are readable by docchat's own user only."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_UMASK = 0o077


def prepare_data_dir(data_dir: Path) -> Path:
    """Make `data_dir` owner-only (created so, or tightened when an older docchat left it
    readable by others), tighten the SQLite files already in it, and set this process's umask
    so that every file and folder it creates from now on is owner-only too (child processes
    inherit it)."""
    os.umask(PRIVATE_UMASK)
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    _owner_only(data_dir, 0o700)
    for sqlite_file in data_dir.glob("*.sqlite*"):
        _owner_only(sqlite_file, 0o600)
    for secret in ("secret_key", "admin-password"):
        if (data_dir / secret).exists():
            _owner_only(data_dir / secret, 0o600)
    return data_dir


def _owner_only(path: Path, mode: int) -> None:
    try:
        info = path.stat()
    except FileNotFoundError:  # removed meanwhile (a SQLite journal)
        return
    if info.st_uid != os.getuid() or not stat.S_IMODE(info.st_mode) & 0o077:
        return
    path.chmod(mode)
    log.info("made %s readable by its owner only", path)
