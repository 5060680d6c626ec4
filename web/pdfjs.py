"""Where pdf.js (the npm package pdfjs-dist) is installed, for the passage view and for the
route that serves it (web/vendor.py): a fixed list of files, looked up by name."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from flask import current_app

# Where pdfjs-dist is looked for, unless the app's config names a folder (PDFJS_DIR): the
# checkout's node_modules (`make` runs npm ci there), then the environment's share/ folder
# (deploy/Dockerfile puts it there, beside the installed docchat).
SEARCH_PATH = (Path(__file__).resolve().parents[1] / "node_modules" / "pdfjs-dist",
               Path(sys.prefix) / "share" / "docchat" / "pdfjs-dist")

# The files the passage view loads, by the name it asks for; nothing else is served.
PDFJS_FILES = {"pdf.min.mjs": "build/pdf.min.mjs",
               "pdf.worker.min.mjs": "build/pdf.worker.min.mjs"}

_VERSION = re.compile(r"[0-9A-Za-z.+-]{1,40}")


@dataclass(frozen=True)
class PdfJs:
    """An installed pdfjs-dist: its folder and its version."""

    root: Path
    version: str

    def url(self, name: str) -> str:
        return f"/vendor/pdfjs/{self.version}/{name}"


def installed_pdfjs() -> PdfJs | None:
    """The pdf.js this app serves; None when no folder holds every file in PDFJS_FILES (the
    passage view then shows the browser's own PDF viewer)."""
    configured = current_app.config.get("PDFJS_DIR")
    return find_pdfjs([Path(configured)] if configured else SEARCH_PATH)


def find_pdfjs(roots: Iterable[Path]) -> PdfJs | None:
    """The first of `roots` that holds pdfjs-dist with every file in PDFJS_FILES."""
    for root in roots:
        found = _pdfjs_in(root)
        if found is not None:
            return found
    return None


def _pdfjs_in(root: Path) -> PdfJs | None:
    try:
        version = json.loads((root / "package.json").read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not (isinstance(version, str) and _VERSION.fullmatch(version)):
        return None
    if not all((root / path).is_file() for path in PDFJS_FILES.values()):
        return None
    return PdfJs(root, version)
