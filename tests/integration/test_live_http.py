"""Through the real HTTP server (daphne): bodies reach Django untouched, so even a
malformed one is answered in the API's error format (apps/core/daphne.py)."""

from __future__ import annotations

import pytest
import requests

from tests.integration.live_server import live_theo  # noqa: F401 - fixture

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("body", [b"--abc--\r\n", b"not multipart at all"], ids=["no-parts", "garbage"])
def test_a_malformed_multipart_body_gets_a_json_error(live_theo, body):  # noqa: F811
    # Twisted used to parse it first and answer a bare 400: no JSON, no request id.
    response = requests.post(
        f"{live_theo}/api/v1/auth/token/",
        data=body,
        headers={"Content-Type": "multipart/form-data; boundary=abc"},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    assert "X-Request-ID" in response.headers
    assert set(response.json()["error"]) == {"code", "message", "details"}


def test_a_nul_in_the_query_string_through_daphne(live_theo):  # noqa: F811
    response = requests.get(f"{live_theo}/api/v1/documents/?q=%00", timeout=10)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"
