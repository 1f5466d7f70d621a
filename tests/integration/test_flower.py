"""Flower as `make run` starts it (argv and environment from manage.py run) answers only
behind its basic auth, on loopback."""

from __future__ import annotations

import base64
import subprocess
import time
import urllib.error
import urllib.request
from io import StringIO

import pytest

from apps.core.management.commands.run import Command
from tests.integration.conftest import free_port, log_tail, stop_process, subprocess_env

pytestmark = pytest.mark.django_db
START_SECONDS = 60


def get(url: str, auth: str = "") -> int:
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_flower_started_by_run_asks_for_its_password(settings, tmp_path):
    settings.FLOWER_ENABLED = True
    settings.FLOWER_PORT = free_port()
    settings.FLOWER_BASIC_AUTH = "ops:s3cret-flower"
    options = {"host": "127.0.0.1", "port": 8000, "no_worker": True, "no_beat": True}
    flower = next(c for c in Command(stdout=StringIO(), stderr=StringIO())._children(options) if c.name == "flower")
    log = tmp_path / "flower.log"
    url = f"http://127.0.0.1:{settings.FLOWER_PORT}/"

    with log.open("w") as out:
        process = subprocess.Popen(flower.argv, env=subprocess_env(**flower.env), stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + START_SECONDS
        status = 0
        while time.monotonic() < deadline and process.poll() is None:
            try:
                status = get(url)
                break
            except OSError:
                time.sleep(0.3)
        assert status == 401, log_tail(log)
        assert get(url, "ops:wrong") == 401
        assert get(url, "ops:s3cret-flower") == 200
    finally:
        stop_process(process)
