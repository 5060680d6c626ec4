"""`docchat models list|pull` and `docchat serve --model`: the local GGUF models docchat can
serve (retrieval/llm/local_models.py), fetched on demand into the data folder."""

from __future__ import annotations

import argparse
import sys

from retrieval.core.settings import Settings
from retrieval.llm.local_models import (
    MODELS,
    ModelError,
    ModelStatus,
    find_model,
    model_statuses,
    models_dir,
    pull,
    serving_settings,
)


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    models = commands.add_parser("models", help="list or fetch the local LLMs docchat serves"
                                 ).add_subparsers(dest="action", required=True)
    models.add_parser("list", help="each local model: whether it is here, its size, its path")
    fetch = models.add_parser(
        "pull", help="fetch a model when missing (an interrupted fetch resumes), check its "
                     "sha256, and print the path of its GGUF file")
    fetch.add_argument("name", choices=list(MODELS))


def add_serve_option(serve: argparse.ArgumentParser) -> None:
    serve.add_argument(
        "--model", choices=list(MODELS),
        help="serve this local model (quality: fetched on first use, 1.1 GB); sets "
             "DOCCHAT_LLM_MODEL_PATH, DOCCHAT_LLM_MODEL and DOCCHAT_LLM_CONTEXT")


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        if args.action == "list":
            print(status_table(model_statuses(models_dir(settings))))
        elif args.action == "pull":
            print(pull(find_model(args.name), models_dir(settings), progress=_say).resolve())
    except ModelError as exc:
        print(f"docchat: {exc}", file=sys.stderr)
        return 1
    return 0


def serve_settings(args: argparse.Namespace, settings: Settings) -> Settings:
    """The settings `docchat serve` runs with: `settings`, or with `--model` the local model
    named (pulled first when missing)."""
    if args.model is None:
        return settings
    if not settings.starts_llm:
        raise ModelError("--model serves a local model with docchat's own LLM server, but "
                         "DOCCHAT_LLM_BASE_URL points at another server: unset it, or leave "
                         "out --model.")
    model = find_model(args.model)
    return serving_settings(settings, model, pull(model, models_dir(settings), progress=_say))


def status_table(statuses: list[ModelStatus]) -> str:
    rows = [("NAME", "HERE", "SIZE", "CONTEXT", "DOCCHAT_LLM_MODEL", "PATH")]
    for s in statuses:
        size = _size(s.size) if s.present else f"{_size(s.size)} to fetch" if s.size else "-"
        where = str(s.path.resolve()) if s.path else "(its package is not installed)"
        rows.append((s.model.name, "yes" if s.present else "no", size, str(s.model.context),
                     s.model.alias, where))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  "
             + row[-1] for row in rows]
    lines.append("")
    lines.extend(f"{s.model.name}: {s.model.about}" for s in statuses)
    lines.append("Fetch one with `docchat models pull NAME`, serve it with `docchat serve "
                 "--model NAME` (the quality one also with `make serve MODEL=quality`).")
    return "\n".join(lines)


def _size(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
