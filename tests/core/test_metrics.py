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
    pattern = re.escape(name) + (r"\{" + re.escape(labels) + r"\}" if labels else r"(?:\{\})?") + r" (\S+)$"
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
