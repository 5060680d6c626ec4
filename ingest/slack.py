"""A Slack channel export (the JSON list of messages of one channel-day file) to turns.

Threads stay together: replies follow their parent message, in time order, whatever their
position in the file.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from ingest.documents import Document, Turn
from ingest.transcripts import clean_utterance, meeting

_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|([^>]+))?>")
_CHANNEL = re.compile(r"<#[A-Z0-9]+\|([^>]+)>")
_LINK = re.compile(r"<(https?://[^|>]+)(?:\|([^>]+))?>")
_SPECIAL = re.compile(r"<!(here|channel|everyone)[^>]*>")


def looks_like_slack(items: list[Any]) -> bool:
    messages = [m for m in items if isinstance(m, dict)]
    return bool(messages) and all("ts" in m and ("text" in m or "files" in m) for m in messages)


def parse_slack_export(items: list[Any], document_id: str, filename: str) -> Document:
    messages = [m for m in items if isinstance(m, dict) and m.get("type", "message") == "message"
                and m.get("subtype") not in ("channel_join", "channel_leave")]
    names = _user_names(messages)
    ordered = _threads_together(messages)
    turns: list[Turn] = []
    for message in ordered:
        text = clean_utterance(_plain(str(message.get("text", "")), names))
        if not text:
            continue
        speaker = names.get(str(message.get("user", "")), "") or _name_of(message) or "Unknown"
        turns.append(Turn(len(turns), speaker, text, _iso(message.get("ts")), None))
    return meeting(document_id, filename, turns)


def _name_of(message: dict[str, Any]) -> str:
    profile = message.get("user_profile") or {}
    return str(profile.get("real_name") or profile.get("display_name") or profile.get("name")
               or message.get("username") or message.get("user") or "")


def _user_names(messages: list[dict[str, Any]]) -> dict[str, str]:
    return {str(m["user"]): _name_of(m) for m in messages if m.get("user") and _name_of(m)}


def _threads_together(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Top-level messages in time order, each followed by its replies in time order."""
    def ts(m: dict[str, Any]) -> float:
        try:
            return float(m.get("ts", 0))
        except (TypeError, ValueError):
            return 0.0

    replies: dict[str, list[dict[str, Any]]] = {}
    top = []
    for m in messages:
        parent = m.get("thread_ts")
        if parent and parent != m.get("ts"):
            replies.setdefault(str(parent), []).append(m)
        else:
            top.append(m)
    known = {str(m.get("ts")) for m in top}
    # Replies whose parent is not in this file stand on their own.
    for parent, orphans in list(replies.items()):
        if parent not in known:
            top.extend(orphans)
            del replies[parent]
    ordered = []
    for m in sorted(top, key=ts):
        ordered.append(m)
        ordered.extend(sorted(replies.get(str(m.get("ts")), []), key=ts))
    return ordered


def readable(text: str) -> str:
    """Text as Slack sends it (mentions, channel and link markup, `&amp;`, `&lt;`, `&gt;`) as a
    person reads it."""
    return _plain(text, {})


def _plain(text: str, names: dict[str, str]) -> str:
    text = _MENTION.sub(lambda m: "@" + (m.group(2) or names.get(m.group(1), m.group(1))), text)
    text = _CHANNEL.sub(r"#\1", text)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
    text = _SPECIAL.sub(r"@\1", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _iso(ts: Any) -> str | None:
    try:
        return datetime.fromtimestamp(float(ts), tz=UTC).isoformat(timespec="seconds")
    except (TypeError, ValueError, OverflowError, OSError):
        return None
