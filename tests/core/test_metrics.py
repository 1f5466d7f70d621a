"""/metrics: Prometheus text with django-prometheus' metrics and Theo's own."""

from __future__ import annotations

import re

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.test import Client
from rest_framework_simplejwt.tokens import AccessToken

from tests.users.factories import UserFactory
from theo.asgi import application

ORIGIN = (b"origin", b"http://127.0.0.1:8000")


def metrics_text() -> str:
    response = Client().get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


def sample(text: str, name: str, labels: str = "") -> float | None:
    """The value of one sample, e.g. sample(text, "x_total", 'method="GET"'); None if absent."""
    pattern = r"^" + re.escape(name) + (r"\{" + re.escape(labels) + r"\}" if labels else r"(?:\{\})?") + r" (\S+)$"
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else None


@pytest.mark.django_db
def test_metrics_serves_prometheus_text_with_request_counters(client):
    client.get("/health/live")
    text = metrics_text()
    assert "# TYPE django_http_requests_total_by_method_total counter" in text
    assert (sample(text, "django_http_requests_total_by_method_total", 'method="GET"') or 0) >= 1
    assert "# HELP theo_websocket_connections_open" in text
    assert "# TYPE theo_websocket_connections_open gauge" in text


@pytest.mark.django_db
def test_request_counter_goes_up_with_each_request(client):
    before = sample(metrics_text(), "django_http_requests_total_by_method_total", 'method="GET"') or 0
    for _ in range(3):
        client.get("/health/live")
    after = sample(metrics_text(), "django_http_requests_total_by_method_total", 'method="GET"')
    # three requests, plus the first /metrics scrape itself
    assert after == before + 4


@pytest.mark.django_db(transaction=True)
async def test_websocket_gauge_counts_open_event_sockets():
    user = await sync_to_async(UserFactory)()
    read = sync_to_async(lambda: sample(metrics_text(), "theo_websocket_connections_open", 'route="events"') or 0.0)
    try:
        before = await read()
        communicator = WebsocketCommunicator(
            application, f"/ws/events/?token={AccessToken.for_user(user)}", headers=[ORIGIN]
        )
        connected, _ = await communicator.connect()
        assert connected
        assert (await communicator.receive_json_from())["type"] == "hello"
        assert await read() == before + 1

        await communicator.disconnect()
        assert await read() == before
    finally:
        await sync_to_async(connections.close_all)()


@pytest.mark.django_db(transaction=True)
async def test_refused_websocket_is_not_counted():
    read = sync_to_async(lambda: sample(metrics_text(), "theo_websocket_connections_open", 'route="events"') or 0.0)
    try:
        before = await read()
        communicator = WebsocketCommunicator(application, "/ws/events/", headers=[ORIGIN])
        connected, _ = await communicator.connect()
        assert connected
        assert (await communicator.receive_output(timeout=3))["code"] == 4401
        assert await read() == before
        await communicator.disconnect()
        assert await read() == before
    finally:
        await sync_to_async(connections.close_all)()


# --- the database pool ------------------------------------------------------------------


@pytest.mark.django_db
def test_metrics_report_this_processs_database_pool(settings):
    text = metrics_text()
    assert "# TYPE theo_db_pool_connections gauge" in text
    assert sample(text, "theo_db_pool_connections", 'state="max"') == settings.DB_POOL_MAX_SIZE
    in_use = sample(text, "theo_db_pool_connections", 'state="in_use"')
    idle = sample(text, "theo_db_pool_connections", 'state="idle"')
    assert in_use is not None and idle is not None
    assert in_use >= 1  # this test's own connection
    assert in_use + idle <= settings.DB_POOL_MAX_SIZE
    assert sample(text, "theo_db_pool_requests_waiting") == 0


# --- who may scrape -----------------------------------------------------------------------

REMOTE = "203.0.113.7"
TOKEN = "s3cret-metrics-token-for-tests"


def test_remote_scrape_without_a_configured_token_is_refused(client, settings):
    settings.METRICS_TOKEN = ""
    response = client.get("/metrics", REMOTE_ADDR=REMOTE, HTTP_AUTHORIZATION="Bearer anything")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert "THEO_METRICS_TOKEN" in response.json()["error"]["message"]
    assert b"django_http" not in response.content


@pytest.mark.parametrize("header", ["", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", TOKEN])
def test_remote_scrape_with_a_wrong_or_missing_token_is_401(client, settings, header):
    settings.METRICS_TOKEN = TOKEN
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get("/metrics", REMOTE_ADDR=REMOTE, **extra)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"django_http" not in response.content


@pytest.mark.django_db
def test_remote_scrape_with_the_token_gets_metrics(client, settings):
    settings.METRICS_TOKEN = TOKEN
    response = client.get("/metrics", REMOTE_ADDR=REMOTE, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert b"theo_db_pool_connections" in response.content


@pytest.mark.django_db
def test_staff_without_the_token_are_refused_from_afar(client, settings, admin_user):
    settings.METRICS_TOKEN = TOKEN
    client.force_login(admin_user)
    assert client.get("/metrics", REMOTE_ADDR=REMOTE).status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
def test_loopback_scrapes_without_a_token(client, settings, address):
    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics", REMOTE_ADDR=address).status_code == 200


def test_behind_a_proxy_loopback_needs_the_token_too(client, settings):
    settings.BEHIND_PROXY = True
    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 401
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
