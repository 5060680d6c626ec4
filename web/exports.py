"""Commitments as files people paste elsewhere: CSV for spreadsheets, Markdown for wikis."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from retrieval.meetings.results import CommitmentItem

COLUMNS = ("who", "what", "to_whom", "due", "due_text", "quote", "where")


def _row(item: CommitmentItem) -> list[str]:
    """The item's cells, in the order of COLUMNS."""
    return [item.who, item.what, item.to_whom or "", item.due or "", item.due_text or "",
            item.quote, item.where()]


def commitments_csv(items: Sequence[CommitmentItem]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for item in items:
        # A leading = + - @ makes spreadsheets run the cell as a formula: quote it away.
        writer.writerow([f"'{v}" if v[:1] in ("=", "+", "-", "@") else v for v in _row(item)])
    return out.getvalue()


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def commitments_markdown(title: str, items: Sequence[CommitmentItem]) -> str:
    lines = [f"# Commitments: {_cell(title)}", "",
             "| Who | What | To whom | Due | Quote | Where |",
             "|---|---|---|---|---|---|"]
    for item in items:
        due = item.due or ""
        if item.due_text:
            due = f"{due} ({item.due_text})" if due else item.due_text
        lines.append("| " + " | ".join(_cell(v) for v in (
            item.who, item.what, item.to_whom or "", due, f"“{item.quote}”",
            item.where())) + " |")
    if not items:
        lines.append("| | No commitments found. | | | | |")
    return "\n".join(lines) + "\n"
