"""Talking to Slack: which URLs docchat posts to, posting a message there, and the replies to
the slash commands (the work behind each, done in the worker).

docchat posts only to the hosts DOCCHAT_SLACK_ALLOWED_HOSTS names (Slack's hooks.slack.com by
default), over https, without following redirects: a request must never be able to make the
server post to an address of its choosing.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from retrieval.answers.answer import Question
from retrieval.llm.client import ContextOverflow
from retrieval.meetings.results import MeetingResult
from retrieval.runtime import Runtime
from retrieval.storage.store import ChunkFilter
from workers.slack_blocks import SlackMessage, answer_message, error_message, summary_message

TIMEOUT_SECONDS = 10.0


class SlackUrlRefused(ValueError):
    """A URL docchat will not post to; the message says why and what to do."""


class SlackUnavailable(Exception):
    """Slack, or the way to it, failed in a way that may pass (5xx, 429, no connection)."""


class SlackRejected(Exception):
    """Slack refused the message (4xx): sending the same message again will not help."""


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_slack_url(url: str, allowed_hosts: Sequence[str]) -> str:
    """`url` if docchat may post to it, else SlackUrlRefused. https only; plain http only to a
    loopback address that is allowed explicitly (a local test receiver or proxy)."""
    allowed = ", ".join(allowed_hosts) or "none"
    if not url or any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise SlackUrlRefused("The Slack URL is empty or contains spaces.")
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as exc:
        raise SlackUrlRefused(f"The Slack URL is not a valid URL: {exc}.") from exc
    if parts.username is not None or parts.password is not None:
        raise SlackUrlRefused("A Slack URL carries no user name or password.")
    if host not in allowed_hosts:
        raise SlackUrlRefused(
            f"docchat posts to Slack only on {allowed}, not to {host or 'this URL'}: use the "
            "URL Slack gave you (https://hooks.slack.com/...), or ask your administrator to "
            "add the host to DOCCHAT_SLACK_ALLOWED_HOSTS.")
    if parts.scheme != "https" and not (parts.scheme == "http" and _is_loopback(host)):
        raise SlackUrlRefused("A Slack URL must start with https://.")
    return url


def mask_url(url: str) -> str:
    """The URL with its secret part hidden, for logs and API answers:
    https://hooks.slack.com/services/…WXYZ."""
    parts = urlsplit(url)
    first = parts.path.strip("/").split("/", 1)[0]
    prefix = f"{parts.scheme}://{parts.netloc}/" + (f"{first}/" if first else "")
    tail = url.rstrip("/")[-4:]
    return f"{prefix}…{tail}"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect ends the request as an error instead of posting to wherever it points."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def post_json(url: str, payload: dict[str, Any], allowed_hosts: Sequence[str],
              timeout: float = TIMEOUT_SECONDS) -> None:
    """POST `payload` as JSON to an allowed Slack URL. Raises SlackUnavailable when trying
    again later may work, SlackRejected when it will not, SlackUrlRefused for a URL that is
    not allowed."""
    check_slack_url(url, allowed_hosts)
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(
        url, data=body, method="POST",
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "docchat"})
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read(4096)
    except urllib.error.HTTPError as exc:
        detail = exc.read(300).decode("utf-8", "replace").strip()
        if exc.code >= 500 or exc.code == 429:
            raise SlackUnavailable(f"Slack answered {exc.code} {detail}".strip()) from exc
        raise SlackRejected(f"Slack answered {exc.code} {detail}".strip()) from exc
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        # URLError: no connection (refused, DNS); OSError covers timeouts and resets.
        raise SlackUnavailable(f"Slack could not be reached: {exc}") from exc


def meeting_job_reply(runtime: Runtime, job_id: str, footer: str = "",
                      response_type: str | None = None) -> SlackMessage | None:
    """The Slack message for a finished meeting job: its summary, or why it failed; None
    while it has not finished (or does not exist)."""
    job = runtime.jobs.get(job_id)
    if job is None or job.status not in ("done", "failed"):
        return None
    if job.status == "failed" or job.result is None:
        return error_message(f"docchat could not summarize this meeting: {job.error_message}",
                             response_type)
    return summary_message(MeetingResult.model_validate(job.result), footer, response_type)


def answer_reply(runtime: Runtime, question: str, collection: str | None,
                 response_type: str | None = None) -> SlackMessage:
    """A cited answer from the documents of the workspace Slack serves (of one collection,
    when named), or why there is none. LLMUnavailable goes to the task, which tries again."""
    where = ChunkFilter(workspace=runtime.settings.slack_workspace,
                        collections=(collection,) if collection else None)
    try:
        answer = runtime.answerer.answer(Question(text=question, where=where))
    except ContextOverflow as exc:
        return error_message(f"The question does not fit the language model's context "
                             f"window: {exc}. Ask a shorter question.", response_type)
    return answer_message(question, answer, collection, response_type)

