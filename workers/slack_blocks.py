"""What docchat says in Slack, as Block Kit: a meeting's summary with its commitments, a cited
answer, or an error. Pure functions over the results' data; Slack's limits (3,000 characters a
section, 150 a header, 50 blocks a message) are kept here, with a note where text was cut."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from retrieval.answers.answer import Answer
from retrieval.meetings.results import CommitmentItem, MeetingResult

MAX_BLOCKS = 50
MAX_SECTION_CHARS = 3000
MAX_HEADER_CHARS = 150
MAX_CONTEXT_CHARS = 2000
MAX_FALLBACK_CHARS = 3000
MAX_QUOTE_CHARS = 500
CUT_NOTE = "… _(cut to fit Slack)_"

_PARTIAL_ENTITY = re.compile(r"&[a-z]{0,3}$")


@dataclass(frozen=True)
class SlackMessage:
    """A message for a slash command's response_url or an incoming webhook."""

    text: str  # the notification and fallback text
    blocks: list[dict[str, Any]] = field(default_factory=list)
    # response_url only: "ephemeral" (only the person who asked sees it) or "in_channel".
    response_type: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"text": self.text, "blocks": self.blocks}
        if self.response_type:
            body["response_type"] = self.response_type
        return body


def escape(text: str) -> str:
    """Text safe in mrkdwn: Slack reads `<...>` as links and mentions (`<!channel>`), so `&`,
    `<` and `>` become entities, as Slack's formatting guide asks; nothing else is escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cut(text: str, limit: int, note: str = CUT_NOTE) -> str:
    """`text` within `limit` characters, ending in `note` when it had to be cut; never in the
    middle of an entity such as `&amp;`."""
    if len(text) <= limit:
        return text
    kept = _PARTIAL_ENTITY.sub("", text[:max(0, limit - len(note))].rstrip())
    return kept + note


def header(text: str) -> dict[str, Any]:
    plain = " ".join(text.split()) or "docchat"
    return {"type": "header",
            "text": {"type": "plain_text", "text": cut(plain, MAX_HEADER_CHARS, "…"),
                     "emoji": True}}


def section(mrkdwn: str) -> dict[str, Any]:
    """A section of mrkdwn that is already escaped."""
    return {"type": "section",
            "text": {"type": "mrkdwn", "text": cut(mrkdwn, MAX_SECTION_CHARS)}}


def context(mrkdwn: str) -> dict[str, Any]:
    return {"type": "context",
            "elements": [{"type": "mrkdwn", "text": cut(mrkdwn, MAX_CONTEXT_CHARS)}]}


def divider() -> dict[str, Any]:
    return {"type": "divider"}


def quoted(text: str, limit: int = MAX_QUOTE_CHARS) -> str:
    """A one-line blockquote of `text` (escaped here)."""
    return "> " + escape(cut(" ".join(text.split()), limit, "…"))


def bullets(title: str, items: list[str]) -> str:
    return f"*{title}*\n" + "\n".join(f"• {item}" for item in items)


def fit(blocks: list[dict[str, Any]], items: list[dict[str, Any]], tail: list[dict[str, Any]],
        what: str) -> list[dict[str, Any]]:
    """`blocks`, as many of `items` as fit in one message, a note on those left out, `tail`."""
    room = MAX_BLOCKS - len(blocks) - len(tail)
    if len(items) > room:
        shown = max(0, room - 1)
        left = len(items) - shown
        items = [*items[:shown],
                 context(f"…and {left} more {what} not shown here: open the meeting in "
                         "docchat to see them all, or export them as CSV or Markdown.")]
    return [*blocks, *items, *tail][:MAX_BLOCKS]


def commitment_text(item: CommitmentItem) -> str:
    """One commitment: who, what, to whom, due, and the quote it rests on."""
    line = f"*{escape(item.who or 'someone')}*"
    if item.to_whom:
        line += f" → {escape(item.to_whom)}"
    line += f": {escape(item.what)}"
    due = item.due or item.due_text
    if due:
        due_text = escape(due)
        if item.due and item.due_text and item.due_text != item.due:
            due_text += f" ({escape(item.due_text)})"
        line += f"\n*Due:* {due_text}"
    if item.quote:
        where = item.where()
        line += "\n" + quoted(item.quote) + (f" _({where})_" if where else "")
    return line


def summary_message(result: MeetingResult, footer: str = "",
                    response_type: str | None = None) -> SlackMessage:
    """A meeting's summary with its decisions, open questions and commitments."""
    title = result.title or "meeting"
    blocks = [header(f"Summary: {title}"),
              section(escape((result.summary or "").strip() or "(no summary)"))]
    for points, name in ((result.decisions, "Decisions"),
                         (result.open_questions, "Open questions")):
        if points:
            blocks.append(section(bullets(name, [escape(p.text) for p in points])))
    commitments = result.commitments
    blocks.append(divider())
    blocks.append(section(f"*Commitments* ({len(commitments)})" if commitments
                          else "*Commitments*: none found."))
    notes = []
    if result.dropped_unverified:
        notes.append(f"{result.dropped_unverified} unverified commitments left out")
    if result.model:
        notes.append(f"model {escape(result.model)}")
    if footer:
        notes.append(escape(footer))
    tail = [context(" · ".join(notes))] if notes else []
    items = [section(commitment_text(c)) for c in commitments]
    fallback = f"Summary of {title}: {result.summary or ''}"
    return SlackMessage(text=escape(cut(fallback, MAX_FALLBACK_CHARS, "…")),
                        blocks=fit(blocks, items, tail, "commitments"),
                        response_type=response_type)


def citation_text(n: int, location: str, quote: str) -> str:
    return f"*[{n}]* {escape(location)}\n{quoted(quote, 300)}"


def answer_message(question: str, answer: Answer, collection: str | None = None,
                   response_type: str | None = None) -> SlackMessage:
    """A cited answer: the question, the answer with its [n] markers, then each source."""
    asked = f"*Q:* {escape(cut(' '.join(question.split()), 500, '…'))}"
    if collection:
        asked += f"  _(collection {escape(collection)})_"
    blocks = [context(asked), section(escape(answer.answer.strip() or "(no answer)"))]
    items = [section(citation_text(c.n, c.hit.location(), c.hit.text))
             for c in answer.citations]
    if items:
        blocks.append(divider())
        blocks.append(section("*Sources*"))
    return SlackMessage(text=escape(cut(answer.answer, MAX_FALLBACK_CHARS, "…")),
                        blocks=fit(blocks, items, [], "sources"), response_type=response_type)


def error_message(message: str, response_type: str | None = None) -> SlackMessage:
    text = escape(message)
    return SlackMessage(text=cut(text, MAX_FALLBACK_CHARS, "…"),
                        blocks=[section(f":warning: {text}")], response_type=response_type)


def notice(message: str) -> dict[str, Any]:
    """An immediate ephemeral reply to a slash command (the acknowledgement, or why not)."""
    return {"response_type": "ephemeral", "text": escape(message)}
