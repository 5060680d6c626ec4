"""How a slash command is read: which verb, under which registered name, and what is refused
before any work is queued."""

from __future__ import annotations

import pytest

from retrieval.core.settings import Settings
from web import create_app
from web.slack import MAX_COMMAND_BYTES, CommandRefused, parse_command


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("/summarize", "Anna: I'll send it", ("summarize", "Anna: I'll send it")),
    ("/ask", "  What was decided?  ", ("ask", "What was decided?")),
    ("/docchat-ask", "q", ("ask", "q")),
    ("/team_summarize", "notes.md", ("summarize", "notes.md")),
    ("/docchat", "summarize\nAnna: I'll send it\nBoris: ok", (
        "summarize", "Anna: I'll send it\nBoris: ok")),
    ("/docchat", "ASK why?", ("ask", "why?")),
])
def test_the_verb_comes_from_the_command_name_or_its_first_word(name, text, expected) -> None:
    assert parse_command(name, text) == expected


@pytest.mark.parametrize(("name", "text"), [("/task", "do it"), ("/docchat", ""),
                                            ("/docchat", "dance please")])
def test_an_unknown_command_gets_the_usage(name, text) -> None:
    with pytest.raises(CommandRefused, match="/summarize"):
        parse_command(name, text)


def test_an_oversized_command_is_refused_before_it_is_read(tmp_path) -> None:
    app = create_app(Settings(data_dir=tmp_path, slack_signing_secret="s"))
    response = app.test_client().post(
        "/slack/commands", data=b"text=" + b"a" * MAX_COMMAND_BYTES,
        content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "too_large"
