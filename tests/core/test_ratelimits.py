"""Rate-limit messages name the rate in settings, so they never go stale."""

from __future__ import annotations

import uuid

import pytest

from apps.core.errors import RateLimited
from apps.core.ratelimits import enforce_rate_limit, rate_message


@pytest.mark.parametrize(
    ("rate", "said"),
    [
        ("10/m", "10 messages this minute"),
        ("20/h", "20 messages this hour"),
        ("3/s", "3 messages this second"),
        ("100/d", "100 messages today"),
        ("50/6h", "50 messages in 6 hours"),
        ("7/90s", "7 messages in 90 seconds"),
        ("5/2d", "5 messages in 2 days"),
    ],
)
def test_the_message_says_the_count_and_the_period_of_the_rate(rate, said):
    assert rate_message("You sent {count} messages {period}.", rate) == f"You sent {said}."


def test_no_message_or_a_rate_it_cannot_read_leaves_the_default():
    assert rate_message(None, "10/m") is None
    assert rate_message("You sent {count} messages {period}.", "10/minute") is None
    assert rate_message("Too many registrations.", "10/h") == "Too many registrations."


def test_the_refusal_carries_the_message_filled_from_the_rate_used(settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "upload": "1/h"}
    key = f"test:{uuid.uuid4()}"
    enforce_rate_limit(scope="upload", key=key, message="{count} files {period}")
    with pytest.raises(RateLimited) as refused:
        enforce_rate_limit(scope="upload", key=key, message="{count} files {period}")
    assert refused.value.message == "1 files this hour"
    assert refused.value.retry_after >= 1
