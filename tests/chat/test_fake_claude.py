"""The fake Claude speaks the real Anthropic API: the official SDK, unmodified, is the judge."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from typing import Any, cast

import anthropic
import pytest
from anthropic._constants import ANTHROPIC_API_VERSION
from anthropic.types import TextBlock, ToolUseBlock

from tests.chat.fake_claude import (
    FakeClaude,
    TextPart,
    ToolPart,
    Usage,
    error,
    hang,
    message,
    stream_error,
    text,
    tool_use,
)

MODEL = "claude-sonnet-4-6"
HELLO: list[anthropic.types.MessageParam] = [{"role": "user", "content": "Hello"}]


@pytest.fixture
def client(fake_claude: FakeClaude) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(api_key="test-key", base_url=fake_claude.base_url, max_retries=0) as client:
        yield client


@pytest.fixture
async def async_client(fake_claude: FakeClaude) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(api_key="test-key", base_url=fake_claude.base_url, max_retries=0) as client:
        yield client


def stream(client: anthropic.Anthropic, **kwargs: Any) -> Any:
    return client.messages.stream(model=MODEL, max_tokens=1024, messages=HELLO, **kwargs)


# --- text


def test_streamed_text_arrives_delta_by_delta_and_accumulates(
    fake_claude: FakeClaude, client: anthropic.Anthropic
) -> None:
    usage = Usage(input_tokens=42, output_tokens=7, cache_read_input_tokens=1000, cache_creation_input_tokens=200)
    fake_claude.respond(text(["In the ", "beginning ", "was the Word."], usage=usage))

    with stream(client) as s:
        deltas = list(s.text_stream)
        final = s.get_final_message()

    assert deltas == ["In the ", "beginning ", "was the Word."]
    assert final.model == MODEL
    assert final.role == "assistant"
    assert final.id.startswith("msg_")
    assert final.stop_reason == "end_turn"
    [block] = final.content
    assert (block.type, block.text) == ("text", "In the beginning was the Word.")
    assert final.usage.input_tokens == 42
    assert final.usage.output_tokens == 7
    assert final.usage.cache_read_input_tokens == 1000
    assert final.usage.cache_creation_input_tokens == 200


def test_stream_is_the_real_event_sequence(fake_claude: FakeClaude, client: anthropic.Anthropic) -> None:
    fake_claude.respond(text(["a", "b"]))

    response = client.messages.create(model=MODEL, max_tokens=10, messages=HELLO, stream=True)
    events: list[Any] = list(response)

    assert [e.type for e in events] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]  # (the SDK drops the `ping` after message_start)
    assert events[0].message.stop_reason is None
    assert events[0].message.content == []
    assert [e.delta.text for e in events[2:4]] == ["a", "b"]
    assert events[5].delta.stop_reason == "end_turn"
    assert events[5].usage.output_tokens == 2  # one per delta unless given


def test_raw_sse_frames(fake_claude: FakeClaude, client: anthropic.Anthropic) -> None:
    fake_claude.respond(text(["hi"]))

    with client.messages.with_streaming_response.create(
        model=MODEL, max_tokens=10, messages=HELLO, stream=True
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["request-id"].startswith("req_")
        body = b"".join(response.iter_bytes()).decode()

    frames = body.split("\n\n")
    assert frames[-1] == ""
    names = [frame.split("\n")[0] for frame in frames[:-1]]
    assert names == [
        "event: message_start",
        "event: ping",
        "event: content_block_start",
        "event: content_block_delta",
        "event: content_block_stop",
        "event: message_delta",
        "event: message_stop",
    ]
    assert all(frame.split("\n")[1].startswith("data: {") for frame in frames[:-1])


async def test_async_streamed_text(fake_claude: FakeClaude, async_client: anthropic.AsyncAnthropic) -> None:
    fake_claude.respond(text(["Grace ", "and ", "peace"], usage=Usage(cache_read_input_tokens=5)))

    async with async_client.messages.stream(model=MODEL, max_tokens=100, messages=HELLO) as s:
        deltas = [delta async for delta in s.text_stream]
        final = await s.get_final_message()

    assert deltas == ["Grace ", "and ", "peace"]
    assert cast(TextBlock, final.content[0]).text == "Grace and peace"
    assert final.usage.cache_read_input_tokens == 5


def test_queue_is_served_in_order_then_the_default(fake_claude: FakeClaude, client: anthropic.Anthropic) -> None:
    fake_claude.respond(text(["first"]), "second")

    replies = []
    for _ in range(3):
        with stream(client) as s:
            replies.append(s.get_final_text())

    assert replies == ["first", "second", "Hello from fake Claude."]
    assert fake_claude.pending == 0


# --- tools


def test_tool_use_is_parsed_by_the_sdk(fake_claude: FakeClaude, client: anthropic.Anthropic) -> None:
    tool_input = {"query": "love one another", "books": ["John", "1 John"], "limit": 5}
    fake_claude.respond(tool_use("search_scripture", tool_input, text_before="Let me search.", id="toolu_01abc"))

    with stream(client) as s:
        events = list(s)
        final = s.get_final_message()

    json_deltas = [
        e.delta.partial_json for e in events if e.type == "content_block_delta" and e.delta.type == "input_json_delta"
    ]
    assert len(json_deltas) > 2  # streamed in pieces
    assert final.stop_reason == "tool_use"
    text_block, tool_block = final.content
    assert isinstance(text_block, TextBlock)
    assert text_block.text == "Let me search."
    assert isinstance(tool_block, ToolUseBlock)
    assert (tool_block.id, tool_block.name, tool_block.input) == ("toolu_01abc", "search_scripture", tool_input)


async def test_async_tool_use_without_text(fake_claude: FakeClaude, async_client: anthropic.AsyncAnthropic) -> None:
    fake_claude.respond(tool_use("list_documents", {}))

    async with async_client.messages.stream(model=MODEL, max_tokens=100, messages=HELLO) as s:
        final = await s.get_final_message()

    [block] = final.content
    assert isinstance(block, ToolUseBlock)
    assert block.name == "list_documents"
    assert block.input == {}
    assert block.id.startswith("toolu_")
    assert final.stop_reason == "tool_use"


def test_several_tool_calls_in_one_message(fake_claude: FakeClaude, client: anthropic.Anthropic) -> None:
    fake_claude.respond(
        message(TextPart(("Two lookups.",)), ToolPart("a", {"x": 1}), ToolPart("b", {"y": [2]}), stop_reason="tool_use")
    )

    with stream(client) as s:
        final = s.get_final_message()

    assert [block.type for block in final.content] == ["text", "tool_use", "tool_use"]
    assert [block.input for block in final.content[1:]] == [{"x": 1}, {"y": [2]}]


# --- non-streaming


def test_non_streaming_create(fake_claude: FakeClaude, client: anthropic.Anthropic) -> None:
    fake_claude.respond(text(["Amen", "."], usage=Usage(input_tokens=3, cache_creation_input_tokens=9)))
    fake_claude.respond(tool_use("lookup", {"ref": "Rom 8:28"}, text_before="Looking."))

    reply = client.messages.create(model=MODEL, max_tokens=10, messages=HELLO)
    tool_reply = client.messages.create(model=MODEL, max_tokens=10, messages=HELLO)

    assert reply.content == [TextBlock(type="text", text="Amen.")]
    assert reply.stop_reason == "end_turn"
    assert reply.model == MODEL
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (3, 2)
    assert reply.usage.cache_creation_input_tokens == 9
    assert tool_reply.stop_reason == "tool_use"
    assert tool_reply.content[1] == ToolUseBlock(
        type="tool_use", id=cast(ToolUseBlock, tool_reply.content[1]).id, name="lookup", input={"ref": "Rom 8:28"}
    )


# --- errors


@pytest.mark.parametrize(
    ("status", "error_type", "exception"),
    [
        (429, "rate_limit_error", anthropic.RateLimitError),
        (500, "api_error", anthropic.InternalServerError),
        (529, "overloaded_error", anthropic.OverloadedError),
        (400, "invalid_request_error", anthropic.BadRequestError),
    ],
)
@pytest.mark.parametrize("streaming", [True, False])
def test_http_errors_raise_the_sdk_exceptions(
    fake_claude: FakeClaude,
    client: anthropic.Anthropic,
    status: int,
    error_type: str,
    exception: type[anthropic.APIStatusError],
    streaming: bool,
) -> None:
    fake_claude.respond(error(status, error_type, "Nope"))

    with pytest.raises(exception) as caught:
        client.messages.create(model=MODEL, max_tokens=10, messages=HELLO, stream=streaming)

    assert isinstance(caught.value, anthropic.APIStatusError)
    assert caught.value.status_code == status
    assert cast(dict[str, Any], caught.value.body)["error"] == {"type": error_type, "message": "Nope"}
    assert caught.value.type == error_type
    assert str(caught.value.request_id).startswith("req_")


def test_rate_limit_error_carries_retry_after(fake_claude: FakeClaude, client: anthropic.Anthropic) -> None:
    fake_claude.respond(error(429), error(429, retry_after=30))

    for expected in ("1", "30"):
        with pytest.raises(anthropic.RateLimitError) as caught:
            client.messages.create(model=MODEL, max_tokens=10, messages=HELLO)
        assert caught.value.response.headers["retry-after"] == expected
        assert caught.value.type == "rate_limit_error"


def test_529_is_an_internal_server_error(fake_claude: FakeClaude, client: anthropic.Anthropic) -> None:
    fake_claude.respond(error(529))
    with pytest.raises(anthropic.InternalServerError) as caught, stream(client) as s:
        s.get_final_message()
    assert caught.value.status_code == 529


def test_error_event_mid_stream_raises_from_the_iterator(fake_claude: FakeClaude, client: anthropic.Anthropic) -> None:
    fake_claude.respond(stream_error("overloaded_error", "Overloaded", after_chunks=["Blessed ", "are "]))

    received = []
    with pytest.raises(anthropic.APIStatusError) as caught, stream(client) as s:
        for delta in s.text_stream:
            received.append(delta)

    assert received == ["Blessed ", "are "]
    assert caught.value.status_code == 200  # the stream had started
    assert caught.value.type == "overloaded_error"
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
        "request_id": cast(dict[str, Any], caught.value.body)["request_id"],
    }


async def test_async_error_event_mid_stream(fake_claude: FakeClaude, async_client: anthropic.AsyncAnthropic) -> None:
    fake_claude.respond(stream_error("api_error", "Internal server error"))

    response = await async_client.messages.create(model=MODEL, max_tokens=10, messages=HELLO, stream=True)
    with pytest.raises(anthropic.APIStatusError) as caught:
        async for _ in response:
            pass
    assert caught.value.type == "api_error"


def test_stream_error_on_a_non_streaming_request_is_an_http_error(
    fake_claude: FakeClaude, client: anthropic.Anthropic
) -> None:
    fake_claude.respond(stream_error())
    with pytest.raises(anthropic.OverloadedError):
        client.messages.create(model=MODEL, max_tokens=10, messages=HELLO)


def test_invalid_requests_are_rejected_like_the_api(fake_claude: FakeClaude) -> None:
    def post(path: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(
            fake_claude.base_url + path, data=json.dumps(body).encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as exc:
            return exc.code, json.load(exc)

    fake_claude.respond("never served")
    good = {"model": MODEL, "max_tokens": 10, "messages": HELLO}
    headers = {"x-api-key": "k", "anthropic-version": "2023-06-01", "content-type": "application/json"}

    assert post("/v1/messages", good, {"anthropic-version": "2023-06-01"})[0] == 401
    assert post("/v1/messages", good, {"anthropic-version": "2023-06-01", "authorization": "Bearer "})[0] == 401
    assert post("/v1/messages", good, {"x-api-key": "k"})[0] == 400
    status, body = post("/v1/messages", {"model": MODEL, "messages": HELLO}, headers)
    assert (status, body["error"]["type"]) == (400, "invalid_request_error")
    assert "max_tokens" in body["error"]["message"]
    assert post("/v1/complete", good, headers)[0] == 404
    assert fake_claude.pending == 1
    assert len(fake_claude.requests) == 5

    status, body = post("/v1/messages", good, headers | {"x-api-key": "", "authorization": "Bearer k2"})
    assert (status, body["content"][0]["text"]) == (200, "never served")
    assert fake_claude.last_request["api_key"] == "k2"


# --- what the real API refuses

TOOL_CALL = {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "t", "input": {}}]}


def tool_result(tool_use_id: str = "toolu_1") -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": tool_use_id, "content": "found"}


def cached(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text, "cache_control": {"type": "ephemeral"}}


@pytest.mark.parametrize(
    ("request_fields", "says"),
    [
        ({"messages": []}, "at least one message"),
        ({"messages": [{"role": "assistant", "content": "Hi"}, *HELLO]}, 'first message must use the "user" role'),
        ({"messages": [{"role": "system", "content": "Hi"}]}, "messages.0.role"),
        ({"messages": [{"role": "user", "content": ""}]}, "non-empty content"),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": " "}]}]}, "must be non-empty"),
        ({"messages": [*HELLO, TOOL_CALL]}, "messages.1: `tool_use` ids were found without `tool_result`"),
        (
            {"messages": [*HELLO, TOOL_CALL, {"role": "user", "content": "no result"}]},
            "`tool_use` ids were found without `tool_result` blocks immediately after: toolu_1",
        ),
        (
            {"messages": [{"role": "user", "content": [tool_result()]}]},
            "messages.0.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_1",
        ),
        (
            {"messages": [*HELLO, TOOL_CALL, {"role": "user", "content": [tool_result(), tool_result("toolu_2")]}]},
            "unexpected `tool_use_id` found in `tool_result` blocks: toolu_2",
        ),
        (
            {
                "messages": [
                    *HELLO,
                    {"role": "assistant", "content": [tool_result()]},
                ]
            },
            "`tool_result` blocks can only be in `user` messages",
        ),
        (
            {
                "system": [cached("a"), cached("b"), cached("c")],
                "messages": [{"role": "user", "content": [cached("d"), cached("e")]}],
            },
            "A maximum of 4 blocks with cache_control may be provided. Found 5.",
        ),
    ],
)
@pytest.mark.parametrize("streaming", [True, False])
def test_requests_the_real_api_refuses_are_refused(
    fake_claude: FakeClaude, client: anthropic.Anthropic, request_fields: dict[str, Any], says: str, streaming: bool
) -> None:
    fake_claude.respond("never served")
    fields = {"messages": HELLO, **request_fields}
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model=MODEL, max_tokens=10, stream=streaming, **fields)
    assert caught.value.status_code == 400 and caught.value.type == "invalid_request_error"
    body = caught.value.body
    assert isinstance(body, dict) and says in body["error"]["message"]
    assert fake_claude.pending == 1  # a refused request consumes no scripted reply


def test_what_the_real_api_accepts_is_accepted(fake_claude: FakeClaude, client: anthropic.Anthropic) -> None:
    """Consecutive same-role messages are merged (the API combines them into one turn); a
    tool_result answering the previous turn's tool_use; exactly 4 cache_control blocks; a
    final assistant message (prefill)."""
    fake_claude.respond("one", "two", "three")
    two_users: list[Any] = [*HELLO, {"role": "user", "content": "And goodbye."}]
    client.messages.create(model=MODEL, max_tokens=10, messages=two_users)
    assert fake_claude.last_request["turns"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": "And goodbye."}],
            "index": 0,
        }
    ]
    paired: list[Any] = [
        *HELLO,
        TOOL_CALL,
        {"role": "user", "content": [tool_result(), {"type": "text", "text": "more"}]},
    ]
    system: list[Any] = [cached("a"), cached("b"), cached("c")]
    client.messages.create(model=MODEL, max_tokens=10, system=system, messages=paired)
    client.messages.create(model=MODEL, max_tokens=10, messages=[*HELLO, {"role": "assistant", "content": "Prefilled"}])
    assert fake_claude.pending == 0


def test_usage_arrives_as_the_real_api_sends_it(fake_claude: FakeClaude, client: anthropic.Anthropic) -> None:
    """message_start carries the input usage (output 1 so far); message_delta the cumulative
    totals at the end: input and cache counts again, and the final output_tokens."""
    usage = Usage(input_tokens=420, output_tokens=37, cache_read_input_tokens=300, cache_creation_input_tokens=12)
    fake_claude.respond(text(["a", "b", "c"], usage=usage))

    events = list(client.messages.create(model=MODEL, max_tokens=100, messages=HELLO, stream=True))

    start = events[0]
    delta = next(e for e in events if e.type == "message_delta")
    assert start.type == "message_start" and delta.type == "message_delta"
    assert (start.message.usage.input_tokens, start.message.usage.output_tokens) == (420, 1)
    assert start.message.usage.cache_read_input_tokens == 300
    assert delta.usage.output_tokens == 37
    assert (delta.usage.input_tokens, delta.usage.cache_read_input_tokens) == (420, 300)
    assert delta.usage.cache_creation_input_tokens == 12


# --- what was sent


def test_requests_record_what_was_sent(fake_claude: FakeClaude, client: anthropic.Anthropic) -> None:
    system = [
        {"type": "text", "text": "You are Theo.", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "Context: John 1."},
    ]
    tools = [
        {
            "name": "search_scripture",
            "description": "Search the Bible.",
            "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}},
            "cache_control": {"type": "ephemeral"},
        }
    ]

    with stream(client, system=system, tools=tools) as s:
        s.until_done()

    [sent] = fake_claude.requests
    assert sent["method"] == "POST"
    assert sent["path"] == "/v1/messages"
    assert sent["api_key"] == "test-key"
    assert sent["headers"]["anthropic-version"] == ANTHROPIC_API_VERSION
    assert sent["body"]["model"] == MODEL
    assert sent["body"]["stream"] is True
    assert sent["body"]["system"] == system
    assert sent["body"]["tools"] == tools
    assert sent["body"]["messages"] == HELLO
    assert sent["disconnected"] is False
    assert fake_claude.last_request is sent


# --- timing


def test_delay_paces_the_deltas(fake_claude: FakeClaude, client: anthropic.Anthropic) -> None:
    fake_claude.respond(text(["a", "b", "c", "d"], delay=0.1, first_delay=0.2))

    started = time.monotonic()
    arrivals = []
    with stream(client) as s:
        for _ in s.text_stream:
            arrivals.append(time.monotonic() - started)

    assert arrivals[0] >= 0.18
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert len(gaps) == 3
    assert all(0.08 <= gap < 0.5 for gap in gaps), gaps


def test_hang_trips_the_sdk_timeout(fake_claude: FakeClaude, client: anthropic.Anthropic) -> None:
    fake_claude.respond(hang(10))

    started = time.monotonic()
    with pytest.raises(anthropic.APITimeoutError):
        client.messages.create(model=MODEL, max_tokens=10, messages=HELLO, timeout=0.3)

    assert time.monotonic() - started < 2
    assert fake_claude.wait_for_requests(1)[0]["body"]["model"] == MODEL
    deadline = time.monotonic() + 2
    while not fake_claude.requests[0]["disconnected"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fake_claude.requests[0]["disconnected"]  # the fake noticed and stopped waiting


async def test_async_hang_trips_the_timeout(fake_claude: FakeClaude, async_client: anthropic.AsyncAnthropic) -> None:
    fake_claude.respond(hang(10))
    with pytest.raises(anthropic.APITimeoutError):
        await async_client.messages.create(model=MODEL, max_tokens=10, messages=HELLO, stream=True, timeout=0.3)


def test_a_client_that_leaves_mid_stream_is_recorded(fake_claude: FakeClaude, client: anthropic.Anthropic) -> None:
    fake_claude.respond(text(["one", "two", "three", "four"], delay=0.2))

    with stream(client) as s:
        assert next(iter(s.text_stream)) == "one"
    # Leaving the block closes the connection, mid-stream.

    deadline = time.monotonic() + 2
    while not fake_claude.requests[0]["disconnected"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fake_claude.requests[0]["disconnected"]


async def test_concurrent_streams_are_served_in_parallel(
    fake_claude: FakeClaude, async_client: anthropic.AsyncAnthropic
) -> None:
    fake_claude.default = text(["x"] * 5, delay=0.1)  # ~0.4s per stream

    async def one() -> str:
        async with async_client.messages.stream(model=MODEL, max_tokens=10, messages=HELLO) as s:
            return await s.get_final_text()

    started = time.monotonic()
    replies = await asyncio.gather(*(one() for _ in range(50)))

    assert replies == ["xxxxx"] * 50
    assert time.monotonic() - started < 3  # not 50 × 0.4s
    assert len(fake_claude.requests) == 50


# --- lifecycle


def test_stop_does_not_wait_for_hanging_or_streaming_requests() -> None:
    fake = FakeClaude().start()
    fake.respond(hang(30), text(["slow"] * 100, delay=1))
    client = anthropic.Anthropic(api_key="k", base_url=fake.base_url, max_retries=0)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            with client.messages.stream(model=MODEL, max_tokens=10, messages=HELLO) as s:
                s.until_done()
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call, daemon=True) for _ in range(2)]
    for thread in threads:
        thread.start()
    fake.wait_for_requests(2)

    started = time.monotonic()
    fake.stop()
    assert time.monotonic() - started < 1
    for thread in threads:
        thread.join(timeout=5)
    client.close()
    assert len(errors) == 2  # both clients saw the connection end
    # Before the response: APIConnectionError; mid-stream the SDK lets httpx's RemoteProtocolError through.
    with pytest.raises(RuntimeError):
        _ = fake.base_url


def test_each_fake_has_its_own_port() -> None:
    with FakeClaude() as one, FakeClaude() as two:
        assert one.base_url != two.base_url
        assert one.base_url.startswith("http://127.0.0.1:")


def test_claude_settings(claude_settings: FakeClaude) -> None:
    from django.conf import settings

    assert claude_settings.base_url == settings.ANTHROPIC_BASE_URL
    assert settings.ANTHROPIC_API_KEY == "test-key"
    assert settings.ANTHROPIC_MAX_RETRIES == 0
