"""A local fake of the Anthropic Messages API, for tests and benchmarks.

The official `anthropic` SDK talks to it over real HTTP, so everything between Theo and
the wire (SDK request building, SSE parsing, the stream accumulator, error classes,
timeouts) runs for real. The SSE stream is the API's own, frame for frame:

    message_start, ping, (content_block_start, content_block_delta*, content_block_stop)*,
    message_delta, message_stop

Usage:

    with FakeClaude() as fake:
        fake.respond(text(["Hel", "lo"], usage=Usage(input_tokens=12, cache_read_input_tokens=100)))
        fake.respond(tool_use("search_scripture", {"query": "John 3:16"}, text_before="Let me look."))
        fake.respond(error(529))
        client = anthropic.Anthropic(api_key="test-key", base_url=fake.base_url, max_retries=0)
        ...
        fake.requests[0]["body"]["system"]   # what was sent to Claude

Requests the real API refuses get its 400 `invalid_request_error` (see `request_problem`:
first turn not the user's, an unpaired tool_use or tool_result, empty text, more than 4
cache_control blocks) and consume no scripted response; consecutive messages of one role
are merged into one turn, as the API does (`fake.requests[i]["turns"]`).

Scripted responses are served in order, one per request to POST /v1/messages; when the
queue is empty, `fake.default` (a short text reply) is served. Both streaming
(`"stream": true`) and non-streaming requests are answered from the same script.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import select
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "FakeClaude",
    "Hang",
    "HttpError",
    "Message",
    "StreamError",
    "TextPart",
    "ToolPart",
    "Usage",
    "error",
    "hang",
    "message",
    "stream_error",
    "text",
    "tool_use",
]

# Error type of the API for an HTTP status, and back.
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
ERROR_STATUSES = {type_: status for status, type_ in ERROR_TYPES.items()}
ERROR_MESSAGES = {
    "rate_limit_error": "Number of request tokens has exceeded your per-minute rate limit.",
    "api_error": "Internal server error",
    "overloaded_error": "Overloaded",
}


def _new_id(prefix: str) -> str:
    return f"{prefix}_01{uuid.uuid4().hex[:22]}"


# --- the script ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    """Token usage reported for a message. `output_tokens=None`: one per streamed delta."""

    input_tokens: int = 10
    output_tokens: int | None = None
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0

    def to_json(self, output_tokens: int) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "cache_creation": {
                "ephemeral_5m_input_tokens": self.cache_creation_input_tokens,
                "ephemeral_1h_input_tokens": 0,
            },
            "output_tokens": output_tokens,
            "service_tier": "standard",
        }

    def delta_json(self, output_tokens: int) -> dict[str, Any]:
        """`message_delta.usage`: the cumulative counts at the end of the stream."""
        return {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "output_tokens": output_tokens,
        }


DEFAULT_USAGE = Usage()  # the default usage: 10 tokens in, one out per delta, no cache


@dataclass(frozen=True)
class TextPart:
    """A text content block, streamed as one `text_delta` per chunk."""

    chunks: tuple[str, ...]

    def block(self) -> dict[str, Any]:
        return {"type": "text", "text": "".join(self.chunks)}

    def start_block(self) -> dict[str, Any]:
        return {"type": "text", "text": ""}

    def deltas(self) -> list[dict[str, Any]]:
        return [{"type": "text_delta", "text": chunk} for chunk in self.chunks]


@dataclass(frozen=True)
class ToolPart:
    """A tool_use content block, its input streamed as `input_json_delta` chunks."""

    name: str
    input: dict[str, Any]
    id: str = field(default_factory=lambda: _new_id("toolu"))
    json_chunk_size: int = 12

    def block(self) -> dict[str, Any]:
        return {"type": "tool_use", "id": self.id, "name": self.name, "input": self.input}

    def start_block(self) -> dict[str, Any]:
        return {"type": "tool_use", "id": self.id, "name": self.name, "input": {}}

    def deltas(self) -> list[dict[str, Any]]:
        # Like the API: an empty first delta, then the JSON in pieces (none for `{}`).
        raw = json.dumps(self.input) if self.input else ""
        size = self.json_chunk_size
        pieces = [""] + [raw[i : i + size] for i in range(0, len(raw), size)]
        return [{"type": "input_json_delta", "partial_json": piece} for piece in pieces]


@dataclass(frozen=True)
class Message:
    """A successful reply: content blocks, streamed delta by delta when asked to stream.

    `first_delay` is waited before the first delta (time to first token), `delay`
    between deltas; a non-streaming request waits their total before answering.
    """

    parts: tuple[TextPart | ToolPart, ...]
    stop_reason: str = "end_turn"
    usage: Usage = DEFAULT_USAGE
    delay: float = 0
    first_delay: float = 0

    @property
    def output_tokens(self) -> int:
        if self.usage.output_tokens is not None:
            return self.usage.output_tokens
        return max(1, sum(len(part.deltas()) for part in self.parts))


@dataclass(frozen=True)
class HttpError:
    """A plain HTTP error with the API's error body."""

    status: int
    type: str
    message: str
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class StreamError:
    """A 200 stream that sends `after_chunks` as text, then an `event: error` frame."""

    type: str
    message: str
    after_chunks: tuple[str, ...] = ()
    usage: Usage = DEFAULT_USAGE
    delay: float = 0


@dataclass(frozen=True)
class Hang:
    """Read the request, then send nothing for `seconds` and close the connection."""

    seconds: float


Response = Message | HttpError | StreamError | Hang


def message(
    *parts: TextPart | ToolPart,
    stop_reason: str = "end_turn",
    usage: Usage = DEFAULT_USAGE,
    delay: float = 0,
    first_delay: float = 0,
) -> Message:
    """A reply of any content blocks, e.g. text then two tool calls."""
    return Message(tuple(parts), stop_reason=stop_reason, usage=usage, delay=delay, first_delay=first_delay)


def text(
    chunks: list[str] | str,
    *,
    usage: Usage = DEFAULT_USAGE,
    stop_reason: str = "end_turn",
    delay: float = 0,
    first_delay: float = 0,
) -> Message:
    """A text reply, one `text_delta` per chunk, `delay` seconds apart."""
    chunks = [chunks] if isinstance(chunks, str) else chunks
    return message(TextPart(tuple(chunks)), stop_reason=stop_reason, usage=usage, delay=delay, first_delay=first_delay)


def tool_use(
    name: str,
    input: dict[str, Any],
    *,
    text_before: str = "",
    id: str | None = None,
    usage: Usage = DEFAULT_USAGE,
    delay: float = 0,
) -> Message:
    """A tool call (optionally after some text), `stop_reason="tool_use"`."""
    tool = ToolPart(name, input) if id is None else ToolPart(name, input, id=id)
    parts = (TextPart((text_before,)), tool) if text_before else (tool,)
    return message(*parts, stop_reason="tool_use", usage=usage, delay=delay)


def error(
    status: int,
    type: str | None = None,
    message: str | None = None,
    *,
    retry_after: float | None = None,
    headers: dict[str, str] | None = None,
) -> HttpError:
    """An HTTP error; `type` defaults from the status. A 429 carries `retry-after` (1s unless given)."""
    type = type or ERROR_TYPES.get(status, "api_error")
    extra = dict(headers or {})
    if retry_after is None and status == 429:
        retry_after = 1
    if retry_after is not None:
        extra["retry-after"] = f"{retry_after:g}"
    return HttpError(status, type, message or ERROR_MESSAGES.get(type, type), tuple(extra.items()))


def stream_error(
    type: str = "overloaded_error",
    message: str = "Overloaded",
    after_chunks: list[str] | None = None,
    *,
    delay: float = 0,
) -> StreamError:
    """An error event in the middle of a 200 stream (after some text, if given)."""
    return StreamError(type, message, tuple(after_chunks or ()), delay=delay)


def hang(seconds: float) -> Hang:
    """Accept the request and answer nothing for `seconds` (for client timeout tests)."""
    return Hang(seconds)


# --- the server ---------------------------------------------------------------------------


class _ClientGone(Exception):
    """The client closed the connection."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the benchmark opens many streams at once

    def __init__(self, fake: FakeClaude) -> None:
        self.fake = fake
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, chunked streams: like the real API
    server: _Server
    record: dict[str, Any]  # the request being answered (an entry of fake.requests)

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet

    # --- requests

    def do_GET(self) -> None:
        self._read_body()
        self._send_json(404, _error_body("not_found_error", f"Not found: {self.path}"))

    def do_POST(self) -> None:
        received_at = time.monotonic()
        raw = self._read_body()
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        bearer = headers.get("authorization", "")
        record: dict[str, Any] = {
            "method": "POST",
            "path": self.path,
            "headers": headers,
            "body": body,
            # SDK 2.x sends the key as `Authorization: Bearer`, older ones as `x-api-key`.
            "api_key": headers.get("x-api-key") or bearer.removeprefix("Bearer ") or None,
            "disconnected": False,
            "received_at": received_at,
            "sent_at": [],
        }
        self.record = record
        fake = self.server.fake
        fake._record(record)

        problem = self._validate(headers, body, record["api_key"])
        if problem is not None:
            self._send_json(*problem)
            return
        assert isinstance(body, dict)
        response = fake._next_response()
        try:
            self._serve(response, body)
        except (_ClientGone, ConnectionError, TimeoutError):
            record["disconnected"] = True
            self.close_connection = True

    def _validate(self, headers: dict[str, str], body: Any, api_key: str | None) -> tuple[int, dict[str, Any]] | None:
        if self.path.split("?")[0] != "/v1/messages":
            return 404, _error_body("not_found_error", f"Not found: {self.path}")
        if not api_key:
            return 401, _error_body("authentication_error", "x-api-key header is required")
        if not headers.get("anthropic-version"):
            return 400, _error_body("invalid_request_error", "anthropic-version: header is required")
        if not isinstance(body, dict):
            return 400, _error_body("invalid_request_error", "The request body is not valid JSON.")
        for name in ("model", "max_tokens", "messages"):
            if name not in body:
                return 400, _error_body("invalid_request_error", f"{name}: Field required")
        problem = request_problem(body)
        if problem is not None:
            return 400, _error_body("invalid_request_error", problem)
        self.record["turns"] = merged_turns(body["messages"])
        return None

    def _serve(self, response: Response, body: dict[str, Any]) -> None:
        streaming = bool(body.get("stream"))
        model = str(body["model"])
        if isinstance(response, Hang):
            self._wait(response.seconds)
            self.close_connection = True
        elif isinstance(response, HttpError):
            self._send_json(response.status, _error_body(response.type, response.message), response.headers)
        elif isinstance(response, StreamError):
            if streaming:
                self._stream_error(response, model)
            else:  # without a stream to break, the same failure is an HTTP error
                status = ERROR_STATUSES.get(response.type, 500)
                self._send_json(status, _error_body(response.type, response.message))
        elif streaming:
            self._stream_message(response, model)
        else:
            deltas = sum(len(part.deltas()) for part in response.parts)
            self._wait(response.first_delay + response.delay * max(0, deltas - 1))
            self._send_json(200, _message_json(response, model))

    # --- streaming

    def _stream_message(self, response: Message, model: str) -> None:
        msg_id = _new_id("msg")
        self._start_stream()
        self._event("message_start", {"type": "message_start", "message": _start_json(msg_id, model, response.usage)})
        self._event("ping", {"type": "ping"})
        first = True
        for index, part in enumerate(response.parts):
            self._event(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": part.start_block()},
            )
            for delta in part.deltas():
                self._wait(response.first_delay if first else response.delay)
                first = False
                self._event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
                self.record["sent_at"].append(time.monotonic())
            self._event("content_block_stop", {"type": "content_block_stop", "index": index})
        self._event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": response.stop_reason, "stop_sequence": None},
                # Like the API: cumulative totals (input and cache counts repeated, output final).
                "usage": response.usage.delta_json(output_tokens=response.output_tokens),
            },
        )
        self._event("message_stop", {"type": "message_stop"})
        self._end_stream()

    def _stream_error(self, response: StreamError, model: str) -> None:
        self._start_stream()
        self._event(
            "message_start", {"type": "message_start", "message": _start_json(_new_id("msg"), model, response.usage)}
        )
        self._event("ping", {"type": "ping"})
        if response.after_chunks:
            self._event(
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            )
            for i, chunk in enumerate(response.after_chunks):
                if i:
                    self._wait(response.delay)
                self._event(
                    "content_block_delta",
                    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": chunk}},
                )
                self.record["sent_at"].append(time.monotonic())
        self._wait(response.delay)
        self._event("error", _error_body(response.type, response.message))
        self._end_stream()

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("request-id", _new_id("req"))
        self.end_headers()

    def _event(self, name: str, data: dict[str, Any]) -> None:
        frame = f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
        self._write(b"%x\r\n%s\r\n" % (len(frame), frame))

    def _end_stream(self) -> None:
        self._write(b"0\r\n\r\n")

    # --- plumbing

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send_json(self, status: int, data: dict[str, Any], headers: tuple[tuple[str, str], ...] = ()) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("request-id", _new_id("req"))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self._write(payload)

    def _write(self, data: bytes) -> None:
        if self.server.fake._stopping.is_set():
            raise _ClientGone
        self.wfile.write(data)

    def _wait(self, seconds: float) -> None:
        """Sleep, but notice a client that goes away (or the server stopping) meanwhile."""
        deadline = time.monotonic() + seconds
        stopping = self.server.fake._stopping
        while (remaining := deadline - time.monotonic()) > 0:
            if stopping.is_set():
                raise _ClientGone
            step = min(remaining, 0.05)
            readable, _, _ = select.select([self.connection], [], [], step)
            if readable:
                if not self.connection.recv(1, socket.MSG_PEEK):
                    raise _ClientGone
                time.sleep(step)  # the client sent more (pipelining): nothing to notice


# --- what the real API refuses ------------------------------------------------------------

MAX_CACHE_CONTROL_BLOCKS = 4


def _blocks(content: Any) -> list[Any]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content or [])


def merged_turns(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The turns the model sees: the API combines consecutive messages of one role into a
    single turn (Messages API, `messages`). Each turn: role, content blocks, and `index`
    (the position of its first message, as the API's error messages count)."""
    turns: list[dict[str, Any]] = []
    for index, item in enumerate(messages):
        if turns and turns[-1]["role"] == item.get("role"):
            turns[-1]["content"].extend(_blocks(item.get("content")))
        else:
            turns.append({"role": item.get("role"), "content": _blocks(item.get("content")), "index": index})
    return turns


def _cache_control_blocks(body: dict[str, Any]) -> int:
    system = body.get("system")
    blocks = [*(_blocks(system) if isinstance(system, list) else []), *(body.get("tools") or [])]
    for item in body["messages"]:
        blocks.extend(_blocks(item.get("content")) if isinstance(item, dict) else [])
    return sum(1 for block in blocks if isinstance(block, dict) and block.get("cache_control"))


def request_problem(body: dict[str, Any]) -> str | None:
    """The `invalid_request_error` message the real API answers this request with, or None.

    Mirrored rules: a non-empty list of user/assistant messages; the first turn is the
    user's; consecutive same-role messages are merged (accepted, as the API does); no empty
    text; every tool_use is answered by a tool_result in the very next (user) turn and
    every tool_result answers a tool_use of the turn just before; at most 4 blocks carry
    cache_control (system, tools and messages together)."""
    messages = body["messages"]
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    for index, item in enumerate(messages):
        if not isinstance(item, dict) or item.get("role") not in ("user", "assistant"):
            return f"messages.{index}.role: Input should be 'user' or 'assistant'"
        content = item.get("content")
        prefill = index == len(messages) - 1 and item["role"] == "assistant"
        if not content and not prefill:
            return (
                f"messages.{index}: all messages must have non-empty content except for the optional "
                "final assistant message"
            )
        for position, block in enumerate(_blocks(content)):
            empty = isinstance(block, dict) and block.get("type") == "text" and not str(block.get("text", "")).strip()
            if empty and not prefill:
                return f"messages.{index}.content.{position}.text: text content blocks must be non-empty"
    turns = merged_turns(messages)
    if turns[0]["role"] != "user":
        return 'messages: first message must use the "user" role'
    for number, turn in enumerate(turns):
        results = [block for block in turn["content"] if isinstance(block, dict) and block.get("type") == "tool_result"]
        if turn["role"] == "assistant":
            if results:
                return f"messages.{turn['index']}: `tool_result` blocks can only be in `user` messages"
            asked = [b.get("id") for b in turn["content"] if isinstance(b, dict) and b.get("type") == "tool_use"]
            following = turns[number + 1] if number + 1 < len(turns) else None
            answered = {
                block.get("tool_use_id")
                for block in (following["content"] if following else [])
                if isinstance(block, dict) and block.get("type") == "tool_result"
            }
            missing = [tool_id for tool_id in asked if tool_id not in answered]
            if missing:
                return (
                    f"messages.{turn['index']}: `tool_use` ids were found without `tool_result` blocks "
                    f"immediately after: {', '.join(map(str, missing))}. Each `tool_use` block must have a "
                    "corresponding `tool_result` block in the next message."
                )
        elif results:
            previous = turns[number - 1]["content"] if number else []
            asked_before = {b.get("id") for b in previous if isinstance(b, dict) and b.get("type") == "tool_use"}
            for position, block in enumerate(turn["content"]):
                if block in results and block.get("tool_use_id") not in asked_before:
                    return (
                        f"messages.{turn['index']}.content.{position}: unexpected `tool_use_id` found in "
                        f"`tool_result` blocks: {block.get('tool_use_id')}. Each `tool_result` block must have "
                        "a corresponding `tool_use` block in the previous message."
                    )
    found = _cache_control_blocks(body)
    if found > MAX_CACHE_CONTROL_BLOCKS:
        return f"A maximum of {MAX_CACHE_CONTROL_BLOCKS} blocks with cache_control may be provided. Found {found}."
    return None


def _error_body(type: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": type, "message": message}, "request_id": _new_id("req")}


def _start_json(msg_id: str, model: str, usage: Usage) -> dict[str, Any]:
    return {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage.to_json(output_tokens=1),
    }


def _message_json(response: Message, model: str) -> dict[str, Any]:
    return {
        "id": _new_id("msg"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [part.block() for part in response.parts],
        "stop_reason": response.stop_reason,
        "stop_sequence": None,
        "usage": response.usage.to_json(output_tokens=response.output_tokens),
    }


class FakeClaude:
    """A fake Anthropic API on 127.0.0.1 (ephemeral port), served from a background thread.

    `requests` records every request as {"method", "path", "headers" (lower-cased names),
    "body" (parsed JSON), "api_key" (from `x-api-key` or `Authorization: Bearer`),
    "turns" (the messages merged by role as the model sees them; valid requests only),
    "disconnected" (the client went away before the response was complete),
    "received_at" (time.monotonic() when the request arrived), "sent_at" (time.monotonic()
    just after each `content_block_delta` of a stream was written, in order)}: the
    benchmark (bench/chat.py) compares them with when its clients see each token.
    """

    _counter = itertools.count(1)

    def __init__(self, default: Response | None = None) -> None:
        self.default: Response = default or text(["Hello", " from", " fake", " Claude."])
        self.requests: list[dict[str, Any]] = []
        self._script: deque[Response] = deque()
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle

    def start(self) -> FakeClaude:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-claude-{next(self._counter)}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # ends hangs and streams in progress
        server.shutdown()
        with server.connections_lock:
            connections = list(server.connections)
        for connection in connections:  # wakes handlers waiting on keep-alive connections
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeClaude:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """For `anthropic.Anthropic(base_url=...)` (the SDK adds /v1/messages)."""
        if self._server is None:
            raise RuntimeError("FakeClaude is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # --- the script

    def respond(self, *responses: Response | str) -> FakeClaude:
        """Queue responses for the next requests, in order (a str: a one-chunk text reply)."""
        with self._lock:
            for response in responses:
                self._script.append(text([response]) if isinstance(response, str) else response)
        return self

    @property
    def pending(self) -> int:
        """Scripted responses not yet served."""
        with self._lock:
            return len(self._script)

    def wait_for_requests(self, count: int, timeout: float = 5) -> list[dict[str, Any]]:
        """Block until `count` requests have arrived (for requests made from other threads)."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.requests) >= count, timeout):
                raise TimeoutError(f"{len(self.requests)} request(s) to FakeClaude, expected {count}")
            return list(self.requests)

    @property
    def last_request(self) -> dict[str, Any]:
        if not self.requests:
            raise AssertionError("no request reached FakeClaude")
        return self.requests[-1]

    def _record(self, record: dict[str, Any]) -> None:
        with self._arrived:
            self.requests.append(record)
            self._arrived.notify_all()

    def _next_response(self) -> Response:
        with self._lock:
            return self._script.popleft() if self._script else self.default
