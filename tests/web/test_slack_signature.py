"""Slack's request signature, checked exactly as Slack documents it: v0 HMAC-SHA256 of
`v0:{timestamp}:{raw body}` with the signing secret, and no request older than five minutes."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from retrieval.core.settings import Settings
from web import create_app
from web.errors import ApiError
from web.slack import verify_signature

# The worked example in Slack's "Verifying requests from Slack" guide.
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TIMESTAMP = "1531420618"
BODY = (b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id="
        b"G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook"
        b"-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F39770"
        b"0885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10"
        b"d2c447fce8b6703c")
SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def refusal(secret: str, timestamp: str | None, signature: str | None, body: bytes,
            now: float) -> ApiError:
    with pytest.raises(ApiError) as caught:
        verify_signature(secret, timestamp, signature, body, now)
    return caught.value


def test_slacks_documented_example_is_accepted() -> None:
    verify_signature(SECRET, TIMESTAMP, SIGNATURE, BODY, now=float(TIMESTAMP) + 10)


def test_a_changed_body_secret_or_timestamp_is_refused_with_401() -> None:
    now = float(TIMESTAMP)
    for secret, timestamp, body in ((SECRET, TIMESTAMP, BODY + b"&text=rm"),
                                    ("another secret", TIMESTAMP, BODY),
                                    (SECRET, str(int(TIMESTAMP) + 1), BODY)):
        error = refusal(secret, timestamp, SIGNATURE, body, now)
        assert (error.status, error.code) == (401, "bad_signature")
        assert "DOCCHAT_SLACK_SIGNING_SECRET" in error.message


def test_a_signature_in_another_version_or_case_is_refused() -> None:
    for signature in ("v1=" + SIGNATURE[3:], SIGNATURE.upper(), SIGNATURE[:-1], "", "v0="):
        error = refusal(SECRET, TIMESTAMP, signature, BODY, float(TIMESTAMP))
        assert error.status == 401


def test_a_request_older_or_newer_than_five_minutes_is_stale() -> None:
    for drift in (301, -301, 86_400):
        error = refusal(SECRET, TIMESTAMP, SIGNATURE, BODY, float(TIMESTAMP) + drift)
        assert (error.status, error.code) == (401, "stale_request")
    verify_signature(SECRET, TIMESTAMP, SIGNATURE, BODY, float(TIMESTAMP) + 299)


def test_missing_headers_and_bad_timestamps_are_refused() -> None:
    assert refusal(SECRET, None, SIGNATURE, BODY, 0).code == "unsigned_request"
    assert refusal(SECRET, TIMESTAMP, None, BODY, 0).code == "unsigned_request"
    assert refusal(SECRET, "yesterday", SIGNATURE, BODY, 0).status == 401


def test_signature_is_the_hex_hmac_of_the_documented_base_string() -> None:
    """The same construction by hand, for a form with Cyrillic text (percent-encoded)."""
    body = b"command=%2Fask&text=%D0%BA%D1%82%D0%BE"
    mac = hmac.new(b"s3cret", b"v0:1700000000:" + body, hashlib.sha256).hexdigest()
    verify_signature("s3cret", "1700000000", f"v0={mac}", body, 1700000000.0)


def test_without_a_signing_secret_the_command_answers_503_saying_what_to_set(tmp_path) -> None:
    client = create_app(Settings(data_dir=tmp_path)).test_client()
    response = client.post("/slack/commands", data=BODY,
                           content_type="application/x-www-form-urlencoded",
                           headers={"X-Slack-Request-Timestamp": TIMESTAMP,
                                    "X-Slack-Signature": SIGNATURE})
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["code"] == "slack_not_configured"
    assert "DOCCHAT_SLACK_SIGNING_SECRET" in error["message"]
