"""The upload limits through the real server: daphne in front of Django, multipart bodies
sent over a socket. The whole request counts against THEO_MAX_UPLOAD_MB, and the storage
quota THEO_USER_QUOTA_MB answers 413 quota_exceeded."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.conf import settings
from rest_framework_simplejwt.tokens import RefreshToken

from apps.documents.models import Document
from tests.integration.conftest import log_tail, stop_process, subprocess_env

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

MB = 1024 * 1024
START_SECONDS = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(django_db_setup, tmp_path) -> Iterator[str]:
    port = free_port()
    log_path = tmp_path / "daphne.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "theo.asgi:application"],
            cwd=settings.BASE_DIR,
            env=subprocess_env(THEO_MAX_UPLOAD_MB="1", THEO_USER_QUOTA_MB="2"),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                urllib.request.urlopen(f"{base}/health/live", timeout=2).close()
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, log_tail(log_path)
                time.sleep(0.3)
        yield base
    finally:
        stop_process(process)


@pytest.fixture
def auth(user) -> dict[str, str]:
    return {"Authorization": f"Bearer {RefreshToken.for_user(user).access_token}"}


@dataclass
class Answer:
    status_code: int
    text: str

    def json(self) -> dict:
        return json.loads(self.text)


def post_files(base: str, auth: dict[str, str], parts: list[tuple[str, bytes]]) -> Answer:
    """A multipart/form-data POST, one "file" part per (name, bytes), as a browser sends it."""
    boundary = uuid.uuid4().hex
    body = (
        b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode()
            + data
            + b"\r\n"
            for name, data in parts
        )
        + f"--{boundary}--\r\n".encode()
    )
    headers = {**auth, "Content-Type": f"multipart/form-data; boundary={boundary}"}
    request = urllib.request.Request(f"{base}/api/v1/documents/", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return Answer(response.status, response.read().decode())
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.read().decode())


def error_of(response: Answer, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    return error


def text(n: int, size: int) -> bytes:
    """`size` bytes of distinct text (each upload must not be a duplicate of another)."""
    return (f"{uuid.uuid4()} sermon {n} " * (size // 40 + 1)).encode()[:size]


def test_many_parts_each_under_the_limit_are_refused_together(server, auth, user):
    parts = [(f"part-{n}.txt", text(n, MB * 6 // 10)) for n in range(3)]

    error = error_of(post_files(server, auth, parts), 413, "payload_too_large")

    assert "whole request" in error["message"]
    assert error["details"] == {"max_upload_mb": 1}
    assert not Document.objects.filter(owner=user).exists()


def test_a_body_larger_than_the_limit_is_refused(server, auth, user):
    error = error_of(post_files(server, auth, [("big.txt", text(0, 3 * MB))]), 413, "payload_too_large")
    assert "1 MB" in error["message"]
    assert not Document.objects.filter(owner=user).exists()


def test_the_storage_quota_is_enforced_by_the_server(server, auth, user):
    for n in range(2):
        response = post_files(server, auth, [(f"sermon-{n}.txt", text(n, MB * 9 // 10))])
        assert response.status_code == 202, response.text

    error = error_of(post_files(server, auth, [("third.txt", text(3, MB * 9 // 10))]), 413, "quota_exceeded")

    assert error["details"]["limit_mb"] == 2
    assert error["details"]["used_bytes"] == 2 * (MB * 9 // 10)
    assert Document.objects.filter(owner=user).count() == 2
    assert os.path.isdir(settings.DOCUMENTS_DIR)
