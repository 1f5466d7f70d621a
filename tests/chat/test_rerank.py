"""The optional rerank (THEO_RERANK): with Claude configured, the fused candidates are
reordered by a small model before the best CHAT_SOURCES go to the answer; its tokens are
an AI usage row of kind "rerank"; a failure or an unreadable reply keeps the fused order;
off by default."""

from __future__ import annotations

from typing import Any

import pytest

from apps.chat.models import AIUsage
from apps.chat.rerank import order_from
from apps.core.breaker import claude_breaker
from tests.chat import fake_claude as fake
from tests.chat.requests import ask, start_conversation
from tests.index.corpus import add_passages, marker

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def library(user: Any, settings: Any) -> list[str]:
    settings.LLM_BREAKER_FAILURES = 5
    claude_breaker().reset()
    word = marker()
    texts = [f"{word} note {n}: grace and the will, part {n}." for n in range(1, 6)]
    add_passages(texts, owner=user, title="Notes on grace")
    return texts


def _order(body: dict[str, Any]) -> list[str]:
    return [source["snippet"].split(":")[0].rsplit(" ", 1)[-1] for source in body["sources"]]


def _fused(client: Any, question: str) -> list[str]:
    return _order(ask(client, start_conversation(client), question))


def test_rerank_reorders_the_sources_and_counts_its_tokens(
    client_for: Any, user: Any, library: list[str], claude_settings: Any, settings: Any
) -> None:
    client = client_for(user)
    question = library[0].split(" note")[0] + " grace and the will"
    fused = _fused(client, question)  # rerank off: no call before the answer
    assert len(claude_settings.requests) == 1 and len(fused) == 5

    settings.CHAT_RERANK, settings.CHAT_SOURCES = True, 3
    claude_settings.respond(
        fake.text(", ".join(str(fused.index(n) + 1) for n in ["4", "2"]), usage=fake.Usage(300, 6)),
        fake.text("Grace first [1]."),
    )
    body = ask(client, start_conversation(client), question)
    rerank_request = claude_settings.requests[1]["body"]
    assert rerank_request["model"] == settings.CHAT_RERANK_MODEL and not rerank_request.get("stream")
    assert question in rerank_request["messages"][0]["content"]
    # The named ones first, then the rest in fused order, cut to CHAT_SOURCES.
    assert _order(body) == ["4", "2", *[n for n in fused if n not in ("4", "2")]][:3]
    rows = {row.kind: row for row in AIUsage.objects.filter(message_id=body["id"])}
    assert set(rows) == {"answer", "rerank"} and rows["rerank"].input_tokens == 300
    assert rows["rerank"].model == settings.CHAT_RERANK_MODEL and rows["rerank"].cost_usd > 0


@pytest.mark.parametrize("reply", [fake.error(500), fake.text("I cannot rank these."), fake.text("99, 0")])
def test_a_failed_or_unreadable_rerank_keeps_the_fused_order(
    client_for: Any, user: Any, library: list[str], claude_settings: Any, settings: Any, reply: Any
) -> None:
    client = client_for(user)
    question = library[0].split(" note")[0] + " grace and the will"
    fused = _fused(client, question)
    settings.CHAT_RERANK = True
    claude_settings.respond(reply, fake.text("Grace first [1]."))
    body = ask(client, start_conversation(client), question)
    assert _order(body) == fused and body["degraded"] is False


def test_without_claude_there_is_no_rerank(client_for: Any, user: Any, library: list[str], settings: Any) -> None:
    settings.CHAT_RERANK = True  # but no API key: the offline answer uses the fused order
    client = client_for(user)
    body = ask(client, start_conversation(client), library[0].split(" note")[0])
    assert body["degraded"] is True and len(body["sources"]) == 5
    assert not AIUsage.objects.filter(kind="rerank").exists()


def test_the_reply_is_read_leniently() -> None:
    assert order_from("3, 1", 4) == [2, 0, 1, 3]
    assert order_from("[2] then [2] and 7", 3) == [1, 0, 2]  # repeats and out-of-range numbers dropped
    assert order_from("none of them", 3) is None
