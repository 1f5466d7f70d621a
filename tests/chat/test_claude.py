"""Claude behind the pipeline: tools, usage and cost, failures, the circuit breaker, the
budget, and what reaches Claude (the canary)."""

from __future__ import annotations

import json
import time
import uuid
from decimal import Decimal
from typing import Any

import pytest

from apps.chat.models import AIUsage, Message
from apps.core.breaker import claude_breaker
from tests.chat import fake_claude as fake
from tests.chat.requests import ask, start_conversation
from tests.index.corpus import add_passages, marker

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_breaker(settings: Any) -> Any:
    settings.LLM_BREAKER_FAILURES = 5
    claude_breaker().reset()
    yield
    claude_breaker().reset()


@pytest.fixture
def reader(make_user: Any) -> Any:
    reader = make_user()
    add_passages([f"{marker()} Augustine: grace precedes every good will."], owner=reader, title="Confessions notes")
    return reader


def test_usage_with_cache_tokens_and_cost(client_for: Any, reader: Any, claude_settings: Any, settings: Any) -> None:
    settings.LLM_PRICES = {"claude-sonnet": (3.0, 15.0, 3.75, 0.30), "default": (1, 1, 1, 1)}
    claude_settings.respond(
        fake.text(
            "Grace first [1].",
            usage=fake.Usage(
                input_tokens=1000, output_tokens=100, cache_read_input_tokens=2000, cache_creation_input_tokens=500
            ),
        )
    )
    client = client_for(reader)
    body = ask(client, start_conversation(client), "grace?")
    usage = AIUsage.objects.get(message_id=body["id"])
    assert (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens, usage.cache_write_tokens) == (
        1000,
        100,
        2000,
        500,
    )
    # 1000*3 + 100*15 + 500*3.75 + 2000*0.30 = 6975 per million
    assert usage.cost_usd == Decimal("0.006975")
    assert body["usage"]["cost_usd"] == pytest.approx(0.006975)


def test_tools_run_with_the_users_access_and_add_sources(
    client_for: Any, reader: Any, make_user: Any, claude_settings: Any
) -> None:
    secret = marker()
    add_passages([f"{secret} is in somebody else's private notes."], owner=make_user(), title="Private")
    claude_settings.respond(
        fake.tool_use("search_library", {"query": secret, "scope": "all"}),
        fake.tool_use("lookup_scripture", {"reference": "John 3:16", "translation": "kjv"}),
        fake.text("See [2]."),
    )
    client = client_for(reader)
    body = ask(client, start_conversation(client, scope="all"), "Find it")
    _, second, third = claude_settings.requests
    tool_result = second["body"]["messages"][-1]["content"][0]
    assert tool_result["type"] == "tool_result" and secret not in tool_result["content"]
    scripture_result = third["body"]["messages"][-1]["content"][0]["content"]
    assert "For God so loved the world" in scripture_result or "John 3:16" in scripture_result
    assert body["content"] == "See [2]."


def test_the_tool_loop_is_bounded(client_for: Any, reader: Any, claude_settings: Any, settings: Any) -> None:
    settings.CHAT_MAX_TOOL_ROUNDS = 2
    claude_settings.respond(
        fake.tool_use("search_library", {"query": "grace"}),
        fake.tool_use("search_library", {"query": "grace"}),
        fake.text("Done [1]."),
    )
    client = client_for(reader)
    ask(client, start_conversation(client), "grace?")
    assert len(claude_settings.requests) == 3
    assert claude_settings.requests[-1]["body"]["tool_choice"] == {"type": "none"}


def test_an_error_before_any_text_falls_back_to_the_offline_answer(
    client_for: Any, reader: Any, claude_settings: Any
) -> None:
    claude_settings.respond(fake.error(529))
    client = client_for(reader)
    body = ask(client, start_conversation(client), "grace")
    assert body["degraded"] is True and "Claude could not answer just now" in body["content"]


def test_an_error_mid_stream_keeps_the_partial_answer_marked_failed(
    client_for: Any, reader: Any, claude_settings: Any
) -> None:
    claude_settings.respond(fake.stream_error(after_chunks=["Grace ", "is "]))
    client = client_for(reader)
    body = ask(client, start_conversation(client), "grace")
    assert body["content"] == "Grace is " and body["status"] == "failed" and body["error_code"] == "provider_error"


def test_breaker_opens_after_five_failures_then_answers_offline_fast(
    client_for: Any, reader: Any, claude_settings: Any
) -> None:
    client = client_for(reader)
    conversation_id = start_conversation(client)
    for _ in range(5):
        claude_settings.respond(fake.error(500))
        assert ask(client, conversation_id, "grace")["degraded"] is True
    assert claude_breaker().state().value == "open"
    requests_before = len(claude_settings.requests)
    started = time.monotonic()
    body = ask(client, conversation_id, "grace")
    assert time.monotonic() - started < 1.0
    assert body["degraded"] is True and "unavailable" in body["content"]
    assert len(claude_settings.requests) == requests_before  # Claude was not called
    events = Message.objects.filter(conversation_id=conversation_id, role="assistant", degraded=True)
    assert events.count() == 6


def test_over_budget_answers_offline(client_for: Any, reader: Any, claude_settings: Any) -> None:
    reader.monthly_budget_usd = Decimal("0.01")
    reader.save(update_fields=["monthly_budget_usd"])
    AIUsage.objects.create(user=reader, model="claude-sonnet-5-5", cost_usd=Decimal("0.02"))
    client = client_for(reader)
    body = ask(client, start_conversation(client), "grace")
    assert body["degraded"] is True and "budget" in body["content"]
    assert claude_settings.requests == []


def _sent_to_claude(fake_claude: Any) -> str:
    """Everything Theo sent to Claude (system, messages, tool results), as one string."""
    return " ".join(json.dumps(request["body"], ensure_ascii=False) for request in fake_claude.requests)


def _ask_about_the_golden_chain(client: Any, fake_claude: Any) -> None:
    """Two conversations (all and documents), one tool search each, using words from the
    canary passage but never the canary itself."""
    fake_claude.respond(
        fake.tool_use("search_library", {"query": "grace precedes faith golden chain", "scope": "all"}),
        fake.text("Nothing [1]."),
        fake.tool_use("search_library", {"query": "golden chain", "scope": "documents"}),
        fake.text("Nothing [1]."),
    )
    ask(client, start_conversation(client, scope="all"), "What does the golden chain say about grace precedes faith?")
    ask(client, start_conversation(client, scope="documents"), "grace precedes faith golden chain")


@pytest.mark.parametrize("role", ["user", "power", "admin"])
def test_canary_a_private_document_never_reaches_claude_for_another_user(
    client_for: Any, make_user: Any, claude_settings: Any, role: str
) -> None:
    """Not for another reader, and not for staff either (they retrieve own + shared)."""
    alice, bob = make_user(), make_user(role=role)
    canary = f"CANARY{uuid.uuid4().hex}"
    add_passages([f"{canary} grace precedes faith in the golden chain."], owner=alice, title="Alice's notes")
    _ask_about_the_golden_chain(client_for(bob), claude_settings)
    assert len(claude_settings.requests) == 4 and canary not in _sent_to_claude(claude_settings)

    # Positive control: the same questions from the owner, the same check: the canary is found
    # (in the first prompt's sources and in a tool result), so its absence above means something.
    claude_settings.requests.clear()
    _ask_about_the_golden_chain(client_for(alice), claude_settings)
    assert canary in _sent_to_claude(claude_settings)
    first, with_tool_result = claude_settings.requests[0], claude_settings.requests[1]
    assert canary in json.dumps(first["body"]["system"], ensure_ascii=False)
    assert canary in json.dumps(with_tool_result["body"]["messages"][-1], ensure_ascii=False)


def test_a_429_is_retried_with_backoff(client_for: Any, reader: Any, claude_settings: Any, settings: Any) -> None:
    settings.ANTHROPIC_MAX_RETRIES = 2
    claude_settings.respond(fake.error(429, retry_after=0.1), fake.error(529), fake.text("Grace [1]."))
    client = client_for(reader)
    body = ask(client, start_conversation(client), "grace")
    assert body["degraded"] is False and body["content"] == "Grace [1]."
    assert len(claude_settings.requests) == 3


def test_a_hanging_claude_times_out_into_an_offline_answer(
    client_for: Any, reader: Any, claude_settings: Any, settings: Any
) -> None:
    settings.CHAT_TIMEOUT_SECONDS = 0.5
    claude_settings.respond(fake.hang(5))
    client = client_for(reader)
    started = time.monotonic()
    body = ask(client, start_conversation(client), "grace")
    assert time.monotonic() - started < 4
    assert body["degraded"] is True and "could not answer" in body["content"]


@pytest.mark.parametrize(
    "refusal",
    [
        fake.error(400, "invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum"),
        fake.error(413, "request_too_large", "Request exceeds the maximum allowed number of bytes."),
        fake.error(401, "authentication_error", "invalid x-api-key"),
        fake.stream_error("invalid_request_error", "Invalid request"),
    ],
    ids=["400-prompt-too-long", "413", "401", "invalid-request-mid-stream"],
)
def test_a_request_claude_refuses_does_not_count_toward_the_breaker(
    client_for: Any, reader: Any, claude_settings: Any, settings: Any, refusal: Any
) -> None:
    """One user's oversized (or otherwise refused) request must not switch Claude off for
    everyone: only failures on Claude's side count. Positive control: two 5xx open it."""
    settings.LLM_BREAKER_FAILURES = 2
    client = client_for(reader)
    conversation_id = start_conversation(client)
    for _ in range(3):
        claude_settings.respond(refusal)
        assert ask(client, conversation_id, "grace")["degraded"] is True
    snapshot = claude_breaker().snapshot()
    assert (snapshot["state"], snapshot["consecutive_failures"]) == ("closed", 0)
    claude_settings.respond(fake.error(500), fake.stream_error("overloaded_error", "Overloaded"))
    ask(client, conversation_id, "grace")
    ask(client, conversation_id, "grace")
    assert claude_breaker().state().value == "open"


@pytest.mark.parametrize(
    "failure",
    [fake.error(429), fake.error(500), fake.error(529), fake.stream_error("api_error", "Internal"), fake.hang(5)],
    ids=["429", "500", "529", "api-error-mid-stream", "timeout"],
)
def test_failures_on_claudes_side_count_toward_the_breaker(
    client_for: Any, reader: Any, claude_settings: Any, settings: Any, failure: Any
) -> None:
    settings.CHAT_TIMEOUT_SECONDS = 0.3
    claude_settings.respond(failure)
    client = client_for(reader)
    assert ask(client, start_conversation(client), "grace")["degraded"] is True
    assert claude_breaker().snapshot()["consecutive_failures"] == 1


def test_an_unreachable_claude_counts_toward_the_breaker(client_for: Any, reader: Any, settings: Any) -> None:
    with fake.FakeClaude() as gone:
        base_url = gone.base_url
    settings.ANTHROPIC_BASE_URL, settings.ANTHROPIC_API_KEY, settings.ANTHROPIC_MAX_RETRIES = base_url, "k", 0
    client = client_for(reader)
    assert ask(client, start_conversation(client), "grace")["degraded"] is True
    assert claude_breaker().snapshot()["consecutive_failures"] == 1


def test_a_failing_tool_is_reported_to_claude_not_counted_against_it(
    client_for: Any, reader: Any, claude_settings: Any
) -> None:
    """Input off the tool's schema (a list for a string) makes the tool raise: Theo's failure,
    not Claude's, so Claude hears "the tool failed" (is_error) and finishes the answer, and
    the breaker is not touched."""
    claude_settings.respond(
        fake.tool_use("lookup_scripture", {"reference": "John 3:16", "translation": ["kjv"]}),
        fake.text("Grace first [1]."),
    )
    client = client_for(reader)
    body = ask(client, start_conversation(client), "grace")
    assert body["degraded"] is False and body["content"] == "Grace first [1]."
    (result,) = claude_settings.requests[1]["body"]["messages"][-1]["content"]
    assert result["is_error"] is True and "tool failed" in result["content"]
    assert claude_breaker().snapshot()["consecutive_failures"] == 0


def test_an_empty_text_block_before_a_tool_call_is_not_sent_back(
    client_for: Any, reader: Any, claude_settings: Any
) -> None:
    """The API refuses empty text blocks; Claude may send one ahead of a tool call."""
    claude_settings.respond(
        fake.message(fake.TextPart(("",)), fake.ToolPart("search_library", {"query": "grace"}), stop_reason="tool_use"),
        fake.text("Grace first [1]."),
    )
    client = client_for(reader)
    body = ask(client, start_conversation(client), "grace")
    assert body["degraded"] is False and body["content"] == "Grace first [1]."
    assistant_turn = claude_settings.requests[1]["body"]["messages"][-2]
    assert [block["type"] for block in assistant_turn["content"]] == ["tool_use"]


def test_a_refused_half_open_trial_lets_the_next_question_try_claude(
    client_for: Any, reader: Any, claude_settings: Any, settings: Any
) -> None:
    """The trial call happened to be a request Claude refused: that is no verdict, so the
    next question makes the trial at once (not offline until the trial expires)."""
    settings.LLM_BREAKER_FAILURES, settings.LLM_BREAKER_RESET_SECONDS = 1, 2
    client = client_for(reader)
    conversation_id = start_conversation(client)
    claude_settings.respond(fake.error(500))
    ask(client, conversation_id, "grace")
    assert claude_breaker().state().value == "open"
    time.sleep(2.1)
    claude_settings.respond(fake.error(400, "invalid_request_error", "prompt is too long"), fake.text("Back [1]."))
    refused = ask(client, conversation_id, "grace")
    assert refused["degraded"] is True and "could not answer" in refused["content"]
    answered = ask(client, conversation_id, "grace")
    assert answered["degraded"] is False and answered["content"] == "Back [1]."
    assert claude_breaker().state().value == "closed"
