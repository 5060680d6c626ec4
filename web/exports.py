"""Commitments as files people paste elsewhere: CSV for spreadsheets, Markdown for wikis."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

from retrieval.meetings.commitments import where_said

COLUMNS = ("who", "what", "to_whom", "due", "due_text", "quote", "where")


def _row(item: Mapping[str, Any]) -> list[str]:
    return [str(item.get(c) or "") if c != "where" else where_said(item) for c in COLUMNS]


def commitments_csv(items: Sequence[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for item in items:
        # A leading = + - @ makes spreadsheets run the cell as a formula: quote it away.
        writer.writerow([f"'{v}" if v[:1] in ("=", "+", "-", "@") else v for v in _row(item)])
    return out.getvalue()


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def commitments_markdown(title: str, items: Sequence[Mapping[str, Any]]) -> str:
    lines = [f"# Commitments: {_cell(title)}", "",
             "| Who | What | To whom | Due | Quote | Where |",
             "|---|---|---|---|---|---|"]
    for item in items:
        due = item.get("due") or ""
        if item.get("due_text"):
            due = f"{due} ({item['due_text']})" if due else item["due_text"]
        lines.append("| " + " | ".join(_cell(str(v)) for v in (
            item.get("who") or "", item.get("what") or "", item.get("to_whom") or "", due,
            f"“{item.get('quote') or ''}”", where_said(item))) + " |")
    if not items:
        lines.append("| | No commitments found. | | | | |")
    return "\n".join(lines) + "\n"
