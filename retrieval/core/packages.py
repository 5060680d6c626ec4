"""Files that ship inside installed Python packages (the bundled embedding model and LLM):
found by the package's location, never by importing it."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def package_folder(package: str) -> Path | None:
    """Where an installed package's files are, or None when it is not installed."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def bundled_folder(package: str, missing: str,
                   error: type[Exception] = RuntimeError) -> Path:
    """The folder of a package that bundles a model's files; `error(missing)` when it is not
    installed (`missing` says what to install or set instead)."""
    folder = package_folder(package)
    if folder is None:
        raise error(missing)
    return folder
