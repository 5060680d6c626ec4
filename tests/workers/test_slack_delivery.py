"""Posting to Slack: which failures are retried, redirects never followed, and the delivery
task's bounded retries (run eagerly: Celery retries at once instead of after the backoff)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest

from retrieval.core.settings import Settings
from tests.slack_receiver import SlackReceiver
from workers import create_celery
from workers.celery_app import SLACK_DELIVERY_TASK
from workers.slack import SlackRejected, SlackUnavailable, SlackUrlRefused, post_json
from workers.tasks import SLACK_DELIVERY_RETRIES

LOCAL = ("127.0.0.1",)
HOOK = "/services/T0001/B0001/s3cr3tt0k3n"
MESSAGE = {"text": "Отчёт & <итоги>", "blocks": []}


@pytest.fixture()
def slack() -> Iterator[SlackReceiver]:
    with SlackReceiver() as receiver:
        yield receiver


def test_a_message_is_posted_as_utf8_json(slack) -> None:
    post_json(slack.url(HOOK), MESSAGE, LOCAL)
    (post,) = slack.posts_to(HOOK)
    assert post.content_type == "application/json; charset=utf-8"
    assert post.body == MESSAGE


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_server_errors_and_rate_limits_are_worth_retrying(slack, status: int) -> None:
    slack.plan(HOOK, status)
    with pytest.raises(SlackUnavailable, match=str(status)):
        post_json(slack.url(HOOK), MESSAGE, LOCAL)


@pytest.mark.parametrize("status", [400, 403, 404, 410])
def test_client_errors_are_not_retried(slack, status: int) -> None:
    slack.plan(HOOK, status)
    with pytest.raises(SlackRejected, match=str(status)):
        post_json(slack.url(HOOK), MESSAGE, LOCAL)


def test_a_redirect_is_not_followed(slack) -> None:
    slack.plan(HOOK, 307)
    with pytest.raises(SlackRejected):
        post_json(slack.url(HOOK), MESSAGE, LOCAL)
    assert slack.posts_to("/redirected") == []


def test_no_connection_is_worth_retrying() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(SlackUnavailable, match="could not be reached"):
        post_json(f"http://127.0.0.1:{port}{HOOK}", MESSAGE, LOCAL)


def test_a_url_off_the_allowed_hosts_is_never_contacted(slack) -> None:
    with pytest.raises(SlackUrlRefused):
        post_json(slack.url(HOOK), MESSAGE, ("hooks.slack.com",))
    assert slack.received == []


@pytest.fixture()
def deliver(tmp_path):
    """The delivery task of an app whose settings allow the local receiver."""
    import workers.tasks  # noqa: F401 - registers the tasks

    app = create_celery(Settings(data_dir=tmp_path, slack_allowed_hosts="127.0.0.1"))
    return app.tasks[SLACK_DELIVERY_TASK]


def test_delivery_retries_a_bounded_number_of_times_then_gives_up_and_logs(
        slack, deliver, caplog) -> None:
    slack.plan(HOOK, *[500] * 50)
    with caplog.at_level(logging.WARNING, logger="workers.tasks"):
        result = deliver.apply(args=[slack.url(HOOK), MESSAGE])
    assert result.failed() and isinstance(result.result, SlackUnavailable)
    assert len(slack.posts_to(HOOK)) == SLACK_DELIVERY_RETRIES + 1
    assert any(r.levelno == logging.ERROR and "gave up posting to Slack" in r.getMessage()
               and f"after {SLACK_DELIVERY_RETRIES + 1} tries" in r.getMessage()
               for r in caplog.records)
    assert "s3cr3tt0k3n" not in caplog.text and "T0001" not in caplog.text  # masked


def test_delivery_succeeds_after_a_failure_and_stops(slack, deliver) -> None:
    slack.plan(HOOK, 503, 500)
    result = deliver.apply(args=[slack.url(HOOK), MESSAGE])
    assert result.get() == "delivered"
    assert [p.answered for p in slack.posts_to(HOOK)] == [503, 500, 200]


def test_delivery_rejected_by_slack_is_logged_once_and_not_retried(slack, deliver,
                                                                    caplog) -> None:
    slack.plan(HOOK, 404)
    with caplog.at_level(logging.ERROR, logger="workers.tasks"):
        assert deliver.apply(args=[slack.url(HOOK), MESSAGE]).get() == "rejected"
    assert len(slack.posts_to(HOOK)) == 1
    assert "404" in caplog.text
