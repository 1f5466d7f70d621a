"""Follow-ups in the pipeline: the standalone query retrieval used (`search_query`) and
every numbered source are stored on the answer and returned by the plain POST, the history
and the `done` event; Claude's rewrite (a small model, its tokens counted) when configured,
the deterministic one without it or when it fails; the usage page counts answers, not calls."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from pythonbible import Book

from apps.bible.translations import bible_load
from apps.chat.models import AIUsage, Message
from apps.chat.selectors import spent_this_month
from apps.core.breaker import claude_breaker
from tests.chat import fake_claude as fake
from tests.chat.requests import CONVERSATIONS_URL, ask, start_conversation
from tests.users.factories import UserFactory
from tests.websockets import open_socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_db_connections")]


@pytest.fixture(autouse=True)
def _john(db: Any, settings: Any) -> None:
    settings.LLM_BREAKER_FAILURES = 5
    claude_breaker().reset()
    bible_load(translation="web", books=[Book.JOHN])


def _references(message: dict[str, Any]) -> list[str]:
    return [source.get("reference", "") for source in message["sources"]]


def test_a_follow_up_finds_the_verse_its_standalone_question_finds(client_for: Any, user: Any) -> None:
    client = client_for(user)
    alone = ask(client, start_conversation(client, scope="bible"), "What does John 3:17 say?")
    assert alone["search_query"] == "What does John 3:17 say?"  # a first question is searched as asked
    standalone_verse = _references(alone)[0]
    assert standalone_verse == "John 3:17"

    conversation_id = start_conversation(client, scope="bible")
    first = ask(client, conversation_id, "What does John 3:16 say?")
    follow_up = ask(client, conversation_id, "And the next verse?")
    assert follow_up["search_query"] == "John 3:17"
    assert standalone_verse in _references(follow_up)
    assert _references(first)[0] == "John 3:16"

    history = client.get(f"{CONVERSATIONS_URL}{conversation_id}/").json()["messages"]
    answers = [message for message in history if message["role"] == "assistant"]
    assert [answer["search_query"] for answer in answers] == ["What does John 3:16 say?", "John 3:17"]
    assert answers[1]["sources"] == follow_up["sources"]


def test_every_numbered_source_is_stored_with_locator_snippet_link_and_cited_mark(client_for: Any, user: Any) -> None:
    client = client_for(user)
    body = ask(client, start_conversation(client, scope="bible"), "John 3:16-18")
    sources = body["sources"]
    assert [source["n"] for source in sources] == list(range(1, len(sources) + 1))
    assert len(sources) >= 3  # the offline answer cites 4 at most; all that were sent are listed
    first = sources[0]
    assert first["locator"] == "John 3:16 (WEB)" and "God so loved the world" in first["snippet"]
    assert first["url"] and first["source_kind"] == "bible"
    cited = {item["n"] for item in body["citations"]}
    assert {source["n"] for source in sources if source["cited"]} == cited
    stored = Message.objects.get(pk=body["id"])
    assert stored.sources == sources and stored.search_query == "John 3:16-18"


async def test_the_done_event_carries_the_search_query_and_the_sources(sockets: list) -> None:
    owner = await sync_to_async(UserFactory)()
    client = await sync_to_async(_client_for)(owner)
    conversation_id = await sync_to_async(start_conversation)(client, scope="bible")
    communicator = await open_socket(sockets, f"/ws/chat/{conversation_id}/", owner, timeout=10)
    events = []
    for question in ("What does John 3:16 say?", "what comes right after that?"):
        await communicator.send_json_to({"type": "message", "content": question})
        while (event := await communicator.receive_json_from(timeout=10))["type"] != "done":
            pass
        events.append(event)
    assert [event["search_query"] for event in events] == ["What does John 3:16 say?", "John 3:17"]
    assert events[1]["sources"][0]["reference"] == "John 3:17"
    stored = await sync_to_async(Message.objects.get)(pk=events[1]["message_id"])
    assert stored.search_query == "John 3:17" and stored.sources == events[1]["sources"]


def _client_for(user: Any) -> Any:
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client


def test_claude_rewrites_a_follow_up_with_the_small_model_and_its_cost_is_counted(
    client_for: Any, user: Any, claude_settings: Any, settings: Any
) -> None:
    settings.LLM_PRICES = {"claude-haiku": (1.0, 5.0, 1.25, 0.10), "default": (3.0, 15.0, 3.75, 0.30)}
    client = client_for(user)
    conversation_id = start_conversation(client, scope="bible")
    claude_settings.respond(fake.text("It says God so loved the world [1].", usage=fake.Usage(100, 10)))
    ask(client, conversation_id, "What does John 3:16 say?")
    claude_settings.respond(
        fake.text("John 3:17", usage=fake.Usage(input_tokens=200, output_tokens=5)),
        fake.text("It says God sent his Son to save the world [1].", usage=fake.Usage(1000, 100)),
    )
    body = ask(client, conversation_id, "What does he say right after that?")
    rewrite_request = claude_settings.requests[1]["body"]
    assert rewrite_request["model"] == settings.CHAT_REWRITE_MODEL and not rewrite_request.get("stream")
    assert "John 3:16" in rewrite_request["messages"][0]["content"]
    assert body["search_query"] == "John 3:17" and _references(body)[0] == "John 3:17"

    rows = {row.kind: row for row in AIUsage.objects.filter(message_id=body["id"])}
    assert set(rows) == {"answer", "rewrite"}
    assert (rows["rewrite"].model, rows["rewrite"].input_tokens, rows["rewrite"].output_tokens) == (
        settings.CHAT_REWRITE_MODEL,
        200,
        5,
    )
    assert rows["rewrite"].cost_usd == Decimal("0.000225")  # 200*1 + 5*5 per million
    answer_cost = rows["answer"].cost_usd  # 1000*3 + 100*15 per million
    assert answer_cost == Decimal("0.004500")
    assert body["usage"]["input_tokens"] == 1200 and body["usage"]["cost_usd"] == pytest.approx(0.004725)
    first_answer = Decimal("0.000450")  # 100*3 + 10*15 per million
    assert spent_this_month(user=user) == first_answer + Decimal("0.004725")

    usage = client.get("/api/v1/usage/", {"days": 1}).json()
    today = usage["results"][-1]
    assert today["answers"] == 2  # three calls to Claude, two answers
    assert today["input_tokens"] == 1300 and today["cost_usd"] == pytest.approx(0.005175)


def test_a_failed_rewrite_falls_back_to_the_deterministic_one(
    client_for: Any, user: Any, claude_settings: Any, settings: Any
) -> None:
    client = client_for(user)
    conversation_id = start_conversation(client, scope="bible")
    claude_settings.respond(fake.text("God so loved the world [1]."))
    ask(client, conversation_id, "What does John 3:16 say?")
    claude_settings.respond(fake.error(500), fake.text("He sent his Son to save it [1]."))
    body = ask(client, conversation_id, "And the next verse?")
    assert body["search_query"] == "John 3:17" and body["degraded"] is False
    assert body["content"] == "He sent his Son to save it [1]."
    assert list(AIUsage.objects.filter(message_id=body["id"]).values_list("kind", flat=True)) == ["answer"]
    assert claude_breaker().state().value == "closed"  # one failure, then the answer succeeded


def test_a_question_that_stands_alone_is_not_sent_to_the_rewriter(
    client_for: Any, user: Any, claude_settings: Any
) -> None:
    client = client_for(user)
    conversation_id = start_conversation(client, scope="bible")
    ask(client, conversation_id, "What does John 3:16 say?")
    body = ask(client, conversation_id, "What did Jesus tell Nicodemus about being born again?")
    assert body["search_query"] == "What did Jesus tell Nicodemus about being born again?"
    assert len(claude_settings.requests) == 2  # the two answers, no rewrite


def test_without_claude_the_rewrite_is_deterministic_and_costs_nothing(client_for: Any, user: Any) -> None:
    client = client_for(user)
    conversation_id = start_conversation(client, scope="bible")
    ask(client, conversation_id, "What does John 3:16 say?")
    body = ask(client, conversation_id, "and the two verses before it?")
    assert body["search_query"] == "John 3:14-15" and body["degraded"] is True
    assert _references(body)[:2] == ["John 3:14", "John 3:15"]
    assert AIUsage.objects.filter(kind="rewrite").count() == 0
