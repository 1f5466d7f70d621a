"""The prompt budget: persona + sources + history + tool results + the answer stay inside the
model's context window (CHAT_CONTEXT_WINDOWS); the oldest turns go first, then the
lowest-ranked sources; a question that cannot fit on its own is 400 `question_too_long` on
every transport; a passage enters the prompt with at most CHAT_PASSAGE_CHARS characters.

The check on every request is on raw bytes (no Claude token is shorter than one byte), so it
holds whatever Theo's own estimate says."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from apps.chat import answer, budget, prompt, providers
from apps.chat.citations import number_sources
from apps.chat.models import Conversation, Message
from tests.chat import fake_claude as fake
from tests.chat.requests import ask, ask_url, start_conversation
from tests.helpers import assert_error
from tests.index.corpus import add_passages, marker
from tests.websockets import open_socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_db_connections")]


def compact_bytes(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def request_size(body: dict[str, Any]) -> int:
    """An upper bound of the tokens this request may use: its bytes plus the answer's room."""
    return sum(compact_bytes(body[key]) for key in ("system", "messages", "tools")) + body["max_tokens"]


def source_numbers(body: dict[str, Any]) -> list[int]:
    return [int(n) for n in re.findall(r"^\[(\d+)\] ", body["system"][-1]["text"], re.M)]


def fixed_cost(conversation_id: str, question: str, sources: list[Any] | None = None) -> int:
    """Window needed for persona + rules (+ `sources`) + question + tools + answer."""
    from django.conf import settings

    conversation = Conversation.objects.select_related("persona").get(pk=conversation_id)
    system = prompt.system_prompt(conversation, sources or [])
    return (
        settings.CHAT_MAX_OUTPUT_TOKENS
        + budget.estimate_tokens(providers.TOOLS)
        + budget.estimate_tokens(system)
        + budget.estimate_tokens([{"role": "user", "content": question}])
    )


@pytest.fixture
def word(user: Any) -> str:
    word = marker()
    add_passages(
        [f"The {word} tradition, part {i}: grace precedes every good will, says the {i}th homily." for i in range(6)],
        owner=user,
        title="Homilies",
    )
    return word


def test_a_question_too_long_for_the_window_is_refused_on_http_and_sse(
    client_for: Any, user: Any, claude_settings: Any, settings: Any
) -> None:
    client = client_for(user)
    conversation_id = start_conversation(client)
    question = ("Why grace? " * 150).strip()
    settings.CHAT_CONTEXT_WINDOWS = {"default": fixed_cost(conversation_id, question) - 1}
    url = ask_url(conversation_id)
    error = assert_error(client.post(url, {"content": question}, format="json"), 400, "question_too_long")
    assert "bytes" in error["details"]["content"][0]
    sse = client.post(url, {"content": question}, format="json", HTTP_ACCEPT="text/event-stream")
    assert_error(sse, 400, "question_too_long")
    assert not Message.objects.filter(conversation_id=conversation_id).exists()
    assert claude_settings.requests == []
    # Positive control: one byte more of window and the same question is answered by Claude.
    settings.CHAT_CONTEXT_WINDOWS = {"default": fixed_cost(conversation_id, question)}
    assert ask(client, conversation_id, question)["degraded"] is False
    assert request_size(claude_settings.last_request["body"]) <= fixed_cost(conversation_id, question)


async def test_a_question_too_long_for_the_window_is_an_error_event_on_the_socket(
    sockets: list, user: Any, claude_settings: Any, settings: Any
) -> None:
    conversation = await sync_to_async(Conversation.objects.create)(owner=user, scope="documents")
    question = ("Why grace? " * 150).strip()
    window = await sync_to_async(fixed_cost)(str(conversation.pk), question)
    settings.CHAT_CONTEXT_WINDOWS = {"default": window - 1}
    socket = await open_socket(sockets, f"/ws/chat/{conversation.pk}/", user)
    await socket.send_json_to({"type": "message", "content": question})
    event = await socket.receive_json_from(timeout=10)
    assert event["type"] == "error" and event["code"] == "question_too_long"
    assert not await sync_to_async(Message.objects.filter(conversation=conversation).exists)()
    assert claude_settings.requests == []


def test_the_oldest_turns_go_first_then_the_lowest_ranked_sources(
    client_for: Any, user: Any, word: str, claude_settings: Any, settings: Any
) -> None:
    client = client_for(user)
    conversation_id = start_conversation(client)
    question = f"What does the {word} tradition teach?"
    long_answer = "Grace precedes every good will [1]. " * 60
    for _ in range(3):
        claude_settings.respond(fake.text(long_answer))
        ask(client, conversation_id, question)
    everything = claude_settings.last_request["body"]
    assert len(everything["messages"]) == 5 and source_numbers(everything) == [1, 2, 3, 4, 5, 6]

    # Room for all sources and the newest exchange only.
    newest_pair = [{"role": "user", "content": question}, {"role": "assistant", "content": long_answer}]
    all_sources = number_sources(
        answer.retrieve(
            user=user,
            conversation=Conversation.objects.get(pk=conversation_id),
            query=question,
            k=settings.CHAT_SOURCES,
        )
    )
    window = fixed_cost(conversation_id, question, all_sources) + budget.estimate_tokens(newest_pair) + 50
    settings.CHAT_CONTEXT_WINDOWS = {"default": window}
    claude_settings.respond(fake.text("Short [1]."))
    ask(client, conversation_id, question)
    body = claude_settings.last_request["body"]
    assert body["messages"] == [*newest_pair, {"role": "user", "content": question}]
    assert source_numbers(body) == [1, 2, 3, 4, 5, 6]
    assert request_size(body) <= window

    # Room for the two best sources and no history.
    window = fixed_cost(conversation_id, question, all_sources[:2]) + 30
    settings.CHAT_CONTEXT_WINDOWS = {"default": window}
    ask(client, conversation_id, question)
    body = claude_settings.last_request["body"]
    assert body["messages"] == [{"role": "user", "content": question}]
    assert source_numbers(body) == [1, 2]
    assert body["system"][-1]["text"].split("Sources:")[1].strip().startswith(all_sources[0].prompt_block())
    assert request_size(body) <= window


def test_tool_results_get_only_the_room_left(
    client_for: Any, user: Any, word: str, claude_settings: Any, settings: Any
) -> None:
    """Each tool round's results are cut to what still fits; every request stays in the window."""
    settings.CHAT_SOURCES = 1
    client = client_for(user)
    conversation_id = start_conversation(client)
    question = f"{word}?"
    conversation = Conversation.objects.get(pk=conversation_id)
    first = number_sources(answer.retrieve(user=user, conversation=conversation, query=question, k=1))
    block = len(first[0].prompt_block().encode()) + 10
    window = fixed_cost(conversation_id, question, first) + 2 * block + 400  # the tool call, two more passages
    settings.CHAT_CONTEXT_WINDOWS = {"default": window}
    claude_settings.respond(
        fake.tool_use("search_library", {"query": f"{word} homily grace"}),
        fake.tool_use("search_library", {"query": f"{word} tradition"}),
        fake.text("Grace [2]."),
    )
    body = ask(client, conversation_id, question)
    assert body["content"]  # Claude's answer, or the offline one when a round had no room at all
    assert all(request_size(request["body"]) <= window for request in claude_settings.requests)
    results = [request["body"]["messages"][-1]["content"][0]["content"] for request in claude_settings.requests[1:]]
    first_round = re.findall(r"^\[(\d+)\] ", results[0], re.M)
    assert 1 <= len(first_round) < 5  # some passages, not all five the search found
    assert len(results) == 1 or results[-1] == providers.NO_ROOM


def test_a_passage_enters_the_prompt_capped_in_characters(
    client_for: Any, user: Any, claude_settings: Any, settings: Any
) -> None:
    settings.CHAT_PASSAGE_CHARS = 500
    word = marker()
    add_passages([f"{word} grace " + "x" * 50_000 + " tail"], owner=user, title="Scanned table")
    client = client_for(user)
    ask(client, start_conversation(client), f"{word} grace")
    text = claude_settings.last_request["body"]["system"][-1]["text"]
    block = text.split("[1] Scanned table, p. 1\n", 1)[1]
    assert block.startswith(f"{word} grace xxx") and len(block) <= 500 + 2 and block.endswith(" …")
    assert "tail" not in text


def test_the_estimate_never_counts_below_the_bytes(settings: Any) -> None:
    for text in ["grace", "χάρις", "חֶסֶד", "恩典", "🙏" * 10, "a\u0301" * 5]:
        assert budget.estimate_tokens(text) >= len(text.encode("utf-8"))
    assert budget.trim_to("χάρις " * 100, 50).encode("utf-8").__len__() <= 50


def test_context_windows_match_the_longest_model_prefix(settings: Any) -> None:
    settings.CHAT_CONTEXT_WINDOWS = {"claude": 200_000, "claude-haiku": 100_000, "default": 50_000}
    assert budget.context_window("claude-haiku-4-5") == 100_000
    assert budget.context_window("claude-sonnet-5-5") == 200_000
    assert budget.context_window("other") == 50_000


def test_json_escapes_in_tool_results_do_not_break_the_budget(
    client_for: Any, user: Any, claude_settings: Any, settings: Any
) -> None:
    """Quotes, backslashes and line breaks take two bytes each in the JSON sent: the budget
    counts what is sent, not the text."""
    settings.CHAT_SOURCES = 1
    word = marker()
    add_passages([f'{word} grace "said" \\ he\n' * 40 for _ in range(5)], owner=user, title="Quoted")
    client = client_for(user)
    conversation_id = start_conversation(client)
    question = f"{word} grace?"
    conversation = Conversation.objects.get(pk=conversation_id)
    first = number_sources(answer.retrieve(user=user, conversation=conversation, query=question, k=1))
    window = fixed_cost(conversation_id, question, first) + 2000
    settings.CHAT_CONTEXT_WINDOWS = {"default": window}
    claude_settings.respond(
        fake.tool_use("search_library", {"query": f"{word} grace said"}),
        fake.tool_use("search_library", {"query": f"{word} he"}),
        fake.text("Grace [1]."),
    )
    assert ask(client, conversation_id, question)["content"]
    assert len(claude_settings.requests) >= 2
    assert all(request_size(request["body"]) <= window for request in claude_settings.requests)


@pytest.mark.parametrize("text_before", ["", "Let me look."])
def test_no_room_for_another_round_ends_the_answer_honestly(
    client_for: Any, user: Any, word: str, claude_settings: Any, settings: Any, text_before: str
) -> None:
    """With no room left even for a note, no request goes over the window: the text so far
    is kept as an incomplete answer (`context_full`), or the offline provider answers."""
    client = client_for(user)
    conversation_id = start_conversation(client)
    question = f"{word}?"
    conversation = Conversation.objects.get(pk=conversation_id)
    sources = number_sources(answer.retrieve(user=user, conversation=conversation, query=question, k=8))
    window = fixed_cost(conversation_id, question, sources) + 20
    settings.CHAT_CONTEXT_WINDOWS = {"default": window}
    claude_settings.respond(fake.tool_use("search_library", {"query": "grace"}, text_before=text_before))
    body = ask(client, conversation_id, question)
    (request,) = claude_settings.requests
    assert request_size(request["body"]) <= window
    if text_before:
        assert (body["content"], body["status"], body["error_code"]) == (text_before, "failed", "context_full")
    else:
        assert body["degraded"] is True and body["citations"]
