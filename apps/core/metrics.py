"""Theo's own Prometheus metrics (django-prometheus serves them on /metrics)."""

from __future__ import annotations

from prometheus_client import Gauge

WEBSOCKET_CONNECTIONS = Gauge(
    "theo_websocket_connections_open",
    "WebSocket connections currently open in this process.",
    ["route"],
)
