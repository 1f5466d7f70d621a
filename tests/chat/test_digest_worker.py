"""A digest end to end through a real Celery worker: estimate, start (202), the worker maps
and reduces with the fake Claude, its progress events reach the conversation's socket in
this process over the shared Redis channel layer, and GET follows it to `ready` with the
answer's message id."""

from __future__ import annotations

import os
import socket as sockets_module
import time
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from rest_framework.test import APIClient

from apps.chat.models import AIUsage, Message
from tests.chat import fake_claude as fake
from tests.chat.digests import GRACE, body, book, conversation_for, digests_url
from tests.integration.conftest import running_worker
from tests.users.factories import UserFactory
from tests.websockets import open_socket

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("close_db_connections"),
]
TIMEOUT = 60


@pytest.fixture(scope="module")
def worker_claude() -> Iterator[fake.FakeClaude]:
    with fake.FakeClaude() as claude:
        yield claude


@pytest.fixture(scope="module")
def digest_worker(django_db_setup: Any, tmp_path_factory: Any, worker_claude: fake.FakeClaude) -> Iterator[str]:
    """A real worker whose Claude is `worker_claude`, with groups of a few passages."""
    with running_worker(
        tmp_path_factory.mktemp("digest-worker") / "worker.log",
        name="digest",
        ANTHROPIC_API_KEY="test-key",
        ANTHROPIC_BASE_URL=worker_claude.base_url,
        THEO_CLAUDE_MAX_RETRIES="0",
        THEO_DIGEST_GROUP_TOKENS="1000",
    ):
        yield f"digest-{os.getpid()}@{sockets_module.gethostname()}"


def client(user: Any) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


async def test_a_digest_runs_in_the_worker_and_its_progress_reaches_the_socket(
    sockets: list, digest_worker: str, worker_claude: fake.FakeClaude, settings: Any
) -> None:
    settings.ANTHROPIC_API_KEY, settings.ANTHROPIC_BASE_URL = "test-key", worker_claude.base_url
    settings.DIGEST_GROUP_TOKENS = 1000  # as the worker plans it
    owner = await sync_to_async(UserFactory)()
    grace = await sync_to_async(book)(owner, GRACE, title="Of Grace and Justification")
    conversation = await sync_to_async(conversation_for)(owner, grace)
    api = client(owner)
    estimate = (
        await sync_to_async(api.post)(digests_url(conversation, "estimate/"), body("Summarise", grace), format="json")
    ).json()
    maps = estimate["map_calls"]
    assert maps >= 2 and estimate["offline"] is False
    worker_claude.respond(
        *[fake.text(f"- note {i} [1]") for i in range(maps)], fake.text("Grace “is the free favour of God” [1].")
    )

    socket = await open_socket(sockets, f"/ws/chat/{conversation.pk}/", owner)
    await socket.send_json_to({"type": "ping"})
    assert (await socket.receive_json_from(timeout=10))["type"] == "pong"
    response = await sync_to_async(api.post)(digests_url(conversation), body("Summarise", grace), format="json")
    assert response.status_code == 202, response.content
    digest_id = response.json()["id"]

    events: list[dict[str, Any]] = []
    while not events or events[-1]["type"] not in ("digest.done", "digest.failed"):
        events.append(await socket.receive_json_from(timeout=TIMEOUT))
    assert [e["type"] for e in events] == ["digest.progress"] * maps + ["digest.done"]

    followed = (await sync_to_async(api.get)(digests_url(conversation, f"{digest_id}/"))).json()
    assert followed["status"] == "ready" and followed["progress"] == {"done": maps + 1, "total": maps + 1}
    assert followed["message_id"] == events[-1]["message_id"] and followed["cost_usd"] > 0
    message = await sync_to_async(Message.objects.get)(pk=followed["message_id"])
    assert message.content == "Grace “is the free favour of God” [1]." and message.citations[0]["verified"]
    assert await sync_to_async(AIUsage.objects.filter(user=owner).count)() == maps + 1


def test_offline_the_worker_writes_the_extractive_summary(
    digest_worker: str, worker_claude: fake.FakeClaude, make_user: Any
) -> None:
    # The worker has a key; this digest is offline because Claude's breaker is open for all processes.
    from apps.core.breaker import claude_breaker

    owner = make_user()
    grace = book(owner, GRACE, title="Of Grace and Justification")
    conversation = conversation_for(owner, grace)
    breaker = claude_breaker()
    for _ in range(10):
        breaker.record_failure()
    try:
        response = client(owner).post(digests_url(conversation), body("What is justification?", grace), format="json")
        assert response.status_code == 202, response.content
        url = digests_url(conversation, f"{response.json()['id']}/")
        deadline = time.monotonic() + TIMEOUT
        while (followed := client(owner).get(url).json())["status"] not in ("ready", "failed"):
            assert time.monotonic() < deadline, followed
            time.sleep(0.2)
    finally:
        breaker.reset()
    assert followed["status"] == "ready" and followed["degraded"] and followed["degraded_reason"] == "breaker_open"
    assert followed["cost_usd"] == 0
    assert "declares the sinner righteous" in Message.objects.get(pk=followed["message_id"]).content
