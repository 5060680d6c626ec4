"""Block Kit within Slack's limits, mrkdwn escaped, and posting only to allowed Slack URLs."""

from __future__ import annotations

import re

import pytest

from retrieval.answers.answer import Answer, Citation
from retrieval.core.settings import Settings
from retrieval.meetings.results import MeetingResult
from retrieval.search.hybrid import Hit
from workers.slack import SlackUrlRefused, check_slack_url, mask_url
from workers.slack_blocks import (
    MAX_BLOCKS,
    MAX_HEADER_CHARS,
    MAX_SECTION_CHARS,
    answer_message,
    cut,
    error_message,
    escape,
    summary_message,
)


def texts(message) -> list[str]:
    out = []
    for block in message.blocks:
        if "text" in block:
            out.append(block["text"]["text"])
        out.extend(e["text"] for e in block.get("elements", []))
    return out


def meeting_result(data: dict) -> MeetingResult:
    """A result as a job stores it, read back."""
    return MeetingResult.model_validate(data)


def commitment(n: int, **extra) -> dict:
    return {"who": f"Person {n}", "what": f"send report {n}", "to_whom": "Boris",
            "due": "2026-06-05", "due_text": "by Friday", "quote": f"I'll send report {n}",
            "turn_start": n, "turn_end": n, **extra}


def test_mrkdwn_control_characters_are_escaped_and_nothing_else() -> None:
    assert escape("a & b <!channel> <https://x|y> > *bold*") == (
        "a &amp; b &lt;!channel&gt; &lt;https://x|y&gt; &gt; *bold*")


def test_model_and_user_text_cannot_mention_the_channel_or_plant_links() -> None:
    message = summary_message(meeting_result({
        "title": "Sync", "summary": "<!channel> see <https://evil.example|this>",
        "decisions": [{"text": "ship <!here>"}],
        "commitments": [commitment(1, who="<@U123>", quote="I'll do it <!everyone>")]}))
    joined = "\n".join(texts(message))
    assert "<!" not in joined and "<http" not in joined and "<@" not in joined
    assert "&lt;!channel&gt;" in joined


def test_summary_message_has_summary_decisions_and_each_commitment_with_its_quote() -> None:
    message = summary_message(meeting_result({
        "title": "Weekly sync", "summary": "We planned the launch.",
        "decisions": [{"text": "Launch on Monday", "turn_start": 1, "turn_end": 2}],
        "open_questions": [], "commitments": [commitment(3)], "dropped_unverified": 1,
        "model": "smollm"}), response_type="ephemeral")
    body = message.to_json()
    assert body["response_type"] == "ephemeral"
    assert body["blocks"][0] == {"type": "header", "text": {
        "type": "plain_text", "text": "Summary: Weekly sync", "emoji": True}}
    joined = "\n".join(texts(message))
    assert "We planned the launch." in joined and "• Launch on Monday" in joined
    item = next(t for t in texts(message) if "Person 3" in t)
    assert "*Person 3* → Boris: send report 3" in item
    assert "*Due:* 2026-06-05 (by Friday)" in item
    assert "> I'll send report 3 _(turn 3)_" in item
    assert "1 unverified commitments left out" in joined


def test_a_summary_with_no_commitments_says_so() -> None:
    message = summary_message(meeting_result({"title": "t", "summary": "s", "commitments": []}))
    assert "*Commitments*: none found." in texts(message)
    assert "response_type" not in message.to_json()  # webhooks take no response_type


def test_long_text_is_cut_to_slacks_limits_with_a_note() -> None:
    long = "word & " * 2000
    message = summary_message(meeting_result({"title": "x" * 400, "summary": long,
                                              "commitments": []}))
    header = message.blocks[0]["text"]["text"]
    assert len(header) <= MAX_HEADER_CHARS and header.endswith("…")
    summary = message.blocks[1]["text"]["text"]
    assert len(summary) <= MAX_SECTION_CHARS
    assert summary.endswith("_(cut to fit Slack)_")
    assert "&am…" not in summary and "&a…" not in summary


def test_cut_never_leaves_half_an_entity() -> None:
    text = "a" * 10 + "&amp;" + "b" * 20
    for limit in range(11, 20):
        kept = cut(text, limit, "…")
        assert len(kept) <= limit
        assert re.search(r"&[a-z]{0,3}…$", kept) is None, kept


def test_many_commitments_stay_within_50_blocks_and_say_how_many_are_left_out() -> None:
    message = summary_message(meeting_result({"title": "t", "summary": "s",
                                              "commitments": [commitment(n) for n in range(80)],
                                              "model": "m"}))
    assert len(message.blocks) == MAX_BLOCKS
    shown = [t for t in texts(message) if t.startswith("*Person ")]
    note = next(t for t in texts(message) if "more commitments not shown" in t)
    assert f"…and {80 - len(shown)} more commitments" in note
    assert message.blocks[-1]["type"] == "context" and "model m" in texts(message)[-1]


def test_answer_message_has_the_answer_and_each_citation_with_its_place() -> None:
    hit = Hit(chunk_id=1, document_id="d", filename="notes.md", page=None,
              text="Anna: I'll send the deck by Friday.", score=1.0, speakers=("Anna",),
              turn_start=1, turn_end=1)
    answer = Answer(answer="Anna sends the deck by Friday [1].",
                    citations=[Citation(n=1, hit=hit, by="model")], grounded=True)
    message = answer_message("When is the deck due?", answer, "team", "ephemeral")
    joined = "\n".join(texts(message))
    assert "*Q:* When is the deck due?" in joined and "collection team" in joined
    assert "Anna sends the deck by Friday [1]." in joined
    assert "*[1]* notes.md, turn 1 (Anna)\n> Anna: I'll send the deck by Friday." in joined


def test_error_message_is_a_warning_section() -> None:
    message = error_message("The LLM <server> is down", "ephemeral")
    assert message.blocks == [{"type": "section", "text": {
        "type": "mrkdwn", "text": ":warning: The LLM &lt;server&gt; is down"}}]


@pytest.mark.parametrize("url", [
    "http://hooks.slack.com/commands/T1/2/x",  # not https
    "https://evil.example/commands/T1/2/x",
    "https://hooks.slack.com.evil.example/x",
    "https://hooks.slack.com@evil.example/x",
    "https://user:pw@hooks.slack.com/x",
    "https://hooks.slack.com:notaport/x",
    "https://hooks.slack.com/x y",
    "file:///etc/passwd",
    "",
])
def test_only_https_urls_on_allowed_hosts_are_posted_to(url: str) -> None:
    with pytest.raises(SlackUrlRefused):
        check_slack_url(url, Settings().slack_hosts)


def test_slacks_own_urls_pass_by_default_and_loopback_http_only_when_allowed() -> None:
    assert Settings().slack_hosts == ("hooks.slack.com",)
    check_slack_url("https://hooks.slack.com/commands/T1/2/x", Settings().slack_hosts)
    check_slack_url("https://HOOKS.slack.com/services/T/B/x", Settings().slack_hosts)
    with pytest.raises(SlackUrlRefused, match="DOCCHAT_SLACK_ALLOWED_HOSTS"):
        check_slack_url("http://127.0.0.1:9/hook", Settings().slack_hosts)
    hosts = Settings(slack_allowed_hosts="hooks.slack.com, 127.0.0.1").slack_hosts
    check_slack_url("http://127.0.0.1:9/hook", hosts)
    with pytest.raises(SlackUrlRefused):
        check_slack_url("http://10.0.0.1/hook", Settings(slack_allowed_hosts="10.0.0.1")
                        .slack_hosts)


def test_masked_url_hides_the_secret_path() -> None:
    url = "https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXWXYZ"
    masked = mask_url(url)
    assert masked == "https://hooks.slack.com/services/…WXYZ"
    assert "T0000" not in masked and "XXXX" not in masked
