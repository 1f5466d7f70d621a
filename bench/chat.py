"""Chat streaming latency: how much delay Theo adds to each token Claude streams, and how
long a question waits for its first token, with 50 answers streaming at once.

A local fake of the Anthropic API (tests/chat/fake_claude.py, a real HTTP server speaking
the SSE protocol) streams every answer at a fixed pace and notes when it wrote each
token. A real daphne serving theo.asgi talks to it through the anthropic SDK, and 50
WebSocket clients (a minimal client below, in this process, so all timestamps are one clock:
time.monotonic) each ask one question on /ws/chat/<id>/ and note when each token arrives.

Figures, against baselines measured in the same run, with the same 50 streams at the
same pace:
- direct : the clients read the fake's SSE streams themselves (no daphne): the floor of
  the measurement (loopback, this process's own scheduling);
- relay  : a minimal WebSocket relay (`relay_application` below: raw SSE in, one
  WebSocket frame per token out) in its own daphne: what any WebSocket path costs;
- theo   : /ws/chat/ on theo.asgi: retrieval (hybrid search, embedding the question),
  prompt, the SDK's stream, the consumer; and once more with one question at a time
  (Theo's own latency, without queueing behind 49 other questions).

Per token: client arrival - the fake's send time of the same token (p50/p95/max).
Time to first token: client send -> first token, and Theo's share of it (the fake's own
time from request to first token taken out). Target: p95 added per token <= 20 ms. Theo's
per-token figure is also split by whether other questions were still being prepared
(retrieval) when the token was sent, which is where the delay comes from.

The 50 bench users (bench-chat-<n>@theo.invalid) and their conversations live in the
developer's database for the run only; they are deleted at the end, also on failure.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import contextlib
import hashlib
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.accounts import EMAIL_DOMAIN, delete_bench_rows

STREAMS = 50
TOKENS = 60  # text deltas per answer
PACE = 0.025  # seconds between the fake's deltas
FIRST_DELAY = 0.25  # the fake's own time to first token
ROUNDS = 3  # each round: direct, relay, theo (alternating, so drift hits all three)
SOLO = 5  # Theo streams one at a time, after the warm-up (the warm-up user asks 1 + SOLO < 10/min)
TARGET_P95_MS = 20.0
PHASE_TIMEOUT = 240.0
START_TIMEOUT = 120.0
EMAIL_PREFIX = "bench-chat-"
THEO_APPLICATION = "theo.asgi:application"  # what the theo daphne serves (swap it to try a variant)
FAKE_URL_ENV = "THEO_BENCH_FAKE_CLAUDE_URL"  # tells the relay daphne where the fake is
WORDS = ["grace", "faith", "covenant", "mercy", "glory", "wisdom", "kingdom", "spirit", "law", "gospel"]
TOPICS = [
    "What does Scripture say about grace and faith?",
    "How is the covenant with Abraham described?",
    "What do the Psalms teach about mercy?",
    "What is the kingdom of God like in the parables?",
    "How does Paul speak of the law and the gospel?",
    "Where does the Bible speak of wisdom and its beginning?",
    "What is said about the Spirit at Pentecost?",
    "How is creation described in Genesis?",
    "What does Jesus teach about prayer?",
    "What is written about the resurrection of the dead?",
]


# --- one stream, seen from the client ----------------------------------------------------------


@dataclass
class Stream:
    tag: str  # unique in the question: finds the fake's record of this stream
    question: str
    conversation_id: str = ""
    token: str = ""
    sent: float = 0.0
    arrivals: list[float] = field(default_factory=list)
    done: dict[str, Any] | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    def receive(self, event: dict[str, Any], now: float) -> None:
        kind = event.get("type")
        if kind == "delta":
            self.arrivals.append(now)
        elif kind == "done":
            self.done = event
            self.finished.set()
        elif kind == "error":
            self.errors.append(event)
            if not self.arrivals or event.get("code") == "internal_error":  # else `done` follows
                self.finished.set()


def make_streams(phase: str, round_number: int, count: int = STREAMS) -> list[Stream]:
    streams = []
    for n in range(count):
        tag = f"[bench {phase} r{round_number} s{n}]"
        streams.append(Stream(tag=tag, question=f"{TOPICS[n % len(TOPICS)]} {tag}"))
    return streams


# --- reading the fake's SSE stream directly (the direct baseline and the relay) ----------------


async def fake_deltas(base_url: str, content: str) -> AsyncIterator[str]:
    """The text deltas of one streamed answer, read off the wire with nothing in between."""
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    body = json.dumps(
        {"model": "bench", "max_tokens": 1024, "stream": True, "messages": [{"role": "user", "content": content}]}
    ).encode()
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(
            b"POST /v1/messages HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
            b"x-api-key: bench-key\r\nanthropic-version: 2023-06-01\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (host.encode(), len(body), body)
        )
        await writer.drain()
        status = await reader.readline()
        if b" 200 " not in status:
            raise RuntimeError(f"fake Claude answered {status!r}")
        while await reader.readline() not in (b"\r\n", b""):
            pass  # headers
        while line := await reader.readline():  # chunk sizes, then `event:`/`data:` lines
            if not line.startswith(b"data: "):
                continue
            data = json.loads(line[6:])
            if data["type"] == "content_block_delta" and data["delta"]["type"] == "text_delta":
                yield data["delta"]["text"]
            elif data["type"] == "message_stop":
                return
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def run_direct(streams: list[Stream], base_url: str) -> None:
    async def one(stream: Stream) -> None:
        stream.sent = time.monotonic()
        async for _ in fake_deltas(base_url, stream.question):
            stream.arrivals.append(time.monotonic())
        stream.done = {"type": "done"}
        stream.finished.set()

    await asyncio.wait_for(asyncio.gather(*(one(s) for s in streams)), PHASE_TIMEOUT)


async def relay_application(scope: dict[str, Any], receive: Callable, send: Callable) -> None:
    """The relay baseline, served by its own daphne: each WebSocket message is a question,
    answered by one frame {"type": "delta"} per token of the fake's stream, then "done"."""
    if scope["type"] == "lifespan":
        while (message := await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
    elif scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})
    elif scope["type"] == "websocket":
        base_url = os.environ[FAKE_URL_ENV]
        running: set[asyncio.Task] = set()

        async def answer(content: str) -> None:
            async for piece in fake_deltas(base_url, content):
                await send({"type": "websocket.send", "text": json.dumps({"type": "delta", "text": piece})})
            await send({"type": "websocket.send", "text": json.dumps({"type": "done"})})

        while True:
            message = await receive()
            if message["type"] == "websocket.connect":
                await send({"type": "websocket.accept"})
            elif message["type"] == "websocket.receive":
                content = json.loads(message.get("text") or "{}").get("content", "")
                task = asyncio.get_running_loop().create_task(answer(content))
                running.add(task)
                task.add_done_callback(running.discard)
            elif message["type"] == "websocket.disconnect":
                for task in running:
                    task.cancel()
                return


# --- WebSocket clients ---------------------------------------------------------------------------


class WebSocket:
    """A minimal RFC 6455 client over asyncio streams: text frames out (masked), frames in,
    ping answered, close. (autobahn's asyncio client cannot run here: django.setup()
    imports daphne, which pins txaio, and so autobahn, to Twisted.)"""

    GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port: int, path: str) -> WebSocket:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)  # asyncio sets TCP_NODELAY
        key = base64.b64encode(os.urandom(16))
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key.decode()}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: http://127.0.0.1:{port}\r\n\r\n".encode()
        )
        status = await reader.readline()
        headers = {}
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        accept = base64.b64encode(hashlib.sha1(key + cls.GUID).digest()).decode()
        if b" 101 " not in status or headers.get("sec-websocket-accept") != accept:
            writer.close()
            raise ConnectionError(f"WebSocket handshake refused: {status!r}")
        return cls(reader, writer)

    def _send(self, opcode: int, payload: bytes) -> None:
        size = len(payload)
        if size < 126:
            header = bytes([0x80 | opcode, 0x80 | size])
        elif size < 1 << 16:
            header = bytes([0x80 | opcode, 0x80 | 126]) + size.to_bytes(2, "big")
        else:
            header = bytes([0x80 | opcode, 0x80 | 127]) + size.to_bytes(8, "big")
        mask = os.urandom(4)
        key = int.from_bytes((mask * (size // 4 + 1))[:size], "big")
        masked = (int.from_bytes(payload, "big") ^ key).to_bytes(size, "big") if size else b""
        self.writer.write(header + mask + masked)

    def send_text(self, text: str) -> None:
        self._send(0x1, text.encode())

    def close(self, code: int = 1000) -> None:
        with contextlib.suppress(Exception):
            self._send(0x8, code.to_bytes(2, "big"))

    async def receive(self) -> tuple[float, str | None]:
        """(arrival time, text of the next message), or (time, None) once the server closed."""
        parts: list[bytes] = []
        while True:
            head = await self.reader.readexactly(2)
            opcode, size = head[0] & 0x0F, head[1] & 0x7F
            if size == 126:
                size = int.from_bytes(await self.reader.readexactly(2), "big")
            elif size == 127:
                size = int.from_bytes(await self.reader.readexactly(8), "big")
            payload = await self.reader.readexactly(size) if size else b""  # a server does not mask
            now = time.monotonic()
            if opcode == 0x8:
                return now, None
            if opcode == 0x9:
                self._send(0xA, payload)
            elif opcode in (0x0, 0x1, 0x2):
                parts.append(payload)
                if head[0] & 0x80:
                    return now, b"".join(parts).decode()


async def _pump(socket_: WebSocket, stream: Stream) -> None:
    """Hand every event of the socket to its stream, stamped with its arrival time."""
    try:
        while True:
            now, message = await socket_.receive()
            if message is None:
                break
            stream.receive(json.loads(message), now)
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        if not stream.finished.is_set():
            stream.errors.append({"type": "closed"})
            stream.finished.set()
        socket_.writer.close()


async def run_websocket(streams: list[Stream], port: int, path_of: Callable[[Stream], str]) -> None:
    """Open every socket first, then send every question at once, then wait for every answer."""
    opened = await asyncio.wait_for(
        asyncio.gather(*(WebSocket.connect(port, path_of(s)) for s in streams), return_exceptions=True),
        PHASE_TIMEOUT,
    )
    sockets = [s for s in opened if isinstance(s, WebSocket)]
    pumps = [
        asyncio.get_running_loop().create_task(_pump(ws, s))
        for ws, s in zip(opened, streams, strict=True)
        if isinstance(ws, WebSocket)
    ]
    try:
        if len(sockets) < len(streams):
            raise next(s for s in opened if isinstance(s, BaseException))
        for stream, socket_ in zip(streams, sockets, strict=True):
            stream.sent = time.monotonic()
            socket_.send_text(json.dumps({"type": "message", "content": stream.question}))
        await asyncio.wait_for(asyncio.gather(*(s.finished.wait() for s in streams)), PHASE_TIMEOUT)
    finally:
        for socket_ in sockets:
            socket_.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*pumps, return_exceptions=True), 10)
        for pump in pumps:
            pump.cancel()


# --- servers ---------------------------------------------------------------------------------------


@dataclass
class Daphne:
    name: str
    port: int
    process: subprocess.Popen
    log: Path

    def cpu_seconds(self) -> float:
        import psutil

        times = psutil.Process(self.process.pid).cpu_times()
        return times.user + times.system

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_daphne(name: str, application: str, env: dict[str, str], log_dir: Path) -> Daphne:
    from django.conf import settings

    port = free_port()
    log = log_dir / f"{name}.log"
    argv = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "--access-log", os.devnull]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [*argv, application], cwd=settings.BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    return Daphne(name, port, process, log)


def wait_live(server: Daphne, path: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"daphne ({server.name}) exited with {server.process.returncode}:\n{server.log_tail()}")
        url = f"http://127.0.0.1:{server.port}{path}"
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
            if response.status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"daphne ({server.name}) did not answer {path} in {START_TIMEOUT:.0f} s:\n{server.log_tail()}")


def stop_daphne(server: Daphne) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


# --- bench users ---------------------------------------------------------------------------------


def create_users(count: int) -> list[Any]:
    from apps.users.models import User

    return [
        User.objects.create_user(
            f"{EMAIL_PREFIX}{n}{EMAIL_DOMAIN}",
            None,
            display_name=f"Chat bench {n}",
            role=User.Role.USER,
            status=User.Status.APPROVED,
            monthly_budget_usd=Decimal("1000000"),
        )
        for n in range(count)
    ]


def prepare_theo_streams(streams: list[Stream], users: list[Any]) -> None:
    """One conversation per stream (scope Bible), and the owner's access token."""
    from rest_framework_simplejwt.tokens import AccessToken

    from apps.chat.services import conversation_create

    for stream, user in zip(streams, users, strict=True):
        stream.conversation_id = str(conversation_create(owner=user, scope="bible").pk)
        stream.token = str(AccessToken.for_user(user))


def saved_answers(streams: list[Stream]) -> tuple[int, int]:
    """(complete assistant messages, of which degraded) in the streams' conversations."""
    from apps.chat.models import Message

    answers = Message.objects.filter(
        conversation_id__in=[s.conversation_id for s in streams],
        role=Message.Role.ASSISTANT,
        status=Message.Status.COMPLETE,
    )
    return answers.count(), answers.filter(degraded=True).count()


# --- figures ---------------------------------------------------------------------------------------


@dataclass
class Result:
    streams: int = 0
    completed: int = 0
    failed: list[str] = field(default_factory=list)
    added_ms: list[float] = field(default_factory=list)  # per token
    ttft_ms: list[float] = field(default_factory=list)
    share_ms: list[float] = field(default_factory=list)  # ttft - the fake's own time to first token
    before_request_ms: list[float] = field(default_factory=list)  # client send -> request at the fake
    fake_first_ms: list[float] = field(default_factory=list)
    mismatched: int = 0  # streams whose token count differs from the fake's
    concurrency: list[int] = field(default_factory=list)  # streams sending, at each token
    # Per token again, split by whether another question of the round was still being
    # prepared (its request had not reached the fake yet) when the fake sent the token.
    added_preparing_ms: list[float] = field(default_factory=list)
    added_settled_ms: list[float] = field(default_factory=list)
    saved: int = 0
    degraded: int = 0
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0

    def add(self, streams: list[Stream], records: dict[str, dict[str, Any]]) -> None:
        tokens: list[tuple[float, float]] = []  # (sent by the fake, ms added)
        starts, ends, requests = [], [], []
        for stream in streams:
            self.streams += 1
            record = records.get(stream.tag)
            if stream.done is None or record is None:
                self.failed.append(f"{stream.tag}: {stream.errors or 'no done event'}")
                continue
            self.completed += 1
            sent_at = record["sent_at"]
            if len(sent_at) != len(stream.arrivals):
                self.mismatched += 1
            tokens += [(sent, (arrived - sent) * 1000) for sent, arrived in zip(sent_at, stream.arrivals, strict=False)]
            requests.append(record["received_at"])
            if sent_at and stream.arrivals:
                fake_first = sent_at[0] - record["received_at"]
                ttft = stream.arrivals[0] - stream.sent
                self.ttft_ms.append(ttft * 1000)
                self.fake_first_ms.append(fake_first * 1000)
                self.share_ms.append((ttft - fake_first) * 1000)
                self.before_request_ms.append((record["received_at"] - stream.sent) * 1000)
                starts.append(sent_at[0])
                ends.append(sent_at[-1])
        starts.sort()
        ends.sort()
        last_request = max(requests, default=0.0)
        for sent, added in tokens:
            self.added_ms.append(added)
            (self.added_preparing_ms if sent < last_request else self.added_settled_ms).append(added)
            self.concurrency.append(bisect.bisect_right(starts, sent) - bisect.bisect_left(ends, sent))


def pct(values: Sequence[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def fake_records(fake: Any) -> dict[str, dict[str, Any]]:
    records = {}
    for record in list(fake.requests):
        messages = (record.get("body") or {}).get("messages") or []
        content = messages[-1].get("content") if messages else ""
        if isinstance(content, str) and "[bench " in content:
            records[content[content.index("[bench ") :]] = record
    return records


# --- the benchmark ---------------------------------------------------------------------------------


def main() -> None:
    from apps.core.breaker import claude_breaker
    from tests.chat.fake_claude import FakeClaude, text

    chunks = [f"{WORDS[i % len(WORDS)]} " for i in range(TOKENS)]
    fake = FakeClaude(text(chunks, delay=PACE, first_delay=FIRST_DELAY)).start()
    servers: list[Daphne] = []
    stale = delete_bench_rows(EMAIL_PREFIX)
    if stale:
        print(f"(removed {stale} bench users left by an earlier run)")
    try:
        users = create_users(STREAMS + 1)  # the last one warms up
        with tempfile.TemporaryDirectory(prefix="theo-bench-chat-") as tmp:
            env = {
                **os.environ,
                "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "theo.settings"),
                "PYTHONUNBUFFERED": "1",
                "ANTHROPIC_BASE_URL": fake.base_url,
                "ANTHROPIC_API_KEY": "bench-key",
                "THEO_CLAUDE_MAX_RETRIES": "0",
                "THEO_CHAT_SOCKETS_TOTAL": "100000",
                "THEO_BIBLE_AUTOLOAD": "false",
                FAKE_URL_ENV: fake.base_url,
            }
            servers.append(start_daphne("theo", THEO_APPLICATION, env, Path(tmp)))
            servers.append(start_daphne("relay", "bench.chat:relay_application", env, Path(tmp)))
            theo, relay = servers
            wait_live(theo, "/health/live")
            wait_live(relay, "/")
            claude_breaker().reset()
            results = asyncio.run(_measure(fake, theo, relay, users))
            for server in servers:
                stop_daphne(server)
        _report(results)
    finally:
        for server in servers:
            stop_daphne(server)
        fake.stop()
        delete_bench_rows(EMAIL_PREFIX)


async def _measure(fake: Any, theo: Daphne, relay: Daphne, users: list[Any]) -> dict[str, Result]:
    from asgiref.sync import sync_to_async

    def theo_path(stream: Stream) -> str:
        return f"/ws/chat/{stream.conversation_id}/?token={stream.token}"

    async def theo_round(streams: list[Stream], round_users: list[Any]) -> None:
        await sync_to_async(prepare_theo_streams)(streams, round_users)
        await run_websocket(streams, theo.port, theo_path)

    # Warm-up, not counted: loads the embedding model in daphne, opens the code paths.
    await run_direct(make_streams("warm-direct", 0, 1), fake.base_url)
    await run_websocket(make_streams("warm-relay", 0, 1), relay.port, lambda s: "/")
    await theo_round(make_streams("warm-theo", 0, 1), users[-1:])

    results = {"direct": Result(), "relay": Result(), "theo": Result(), "solo": Result()}
    # Theo with one question at a time: its own latency, without queueing behind others.
    for n in range(1, SOLO + 1):
        streams = make_streams("solo", n, 1)
        await theo_round(streams, users[-1:])
        results["solo"].add(streams, fake_records(fake))
        saved, degraded = await sync_to_async(saved_answers)(streams)
        results["solo"].saved += saved
        results["solo"].degraded += degraded
    runners: dict[str, Callable[[list[Stream]], Awaitable[None]]] = {
        "direct": lambda streams: run_direct(streams, fake.base_url),
        "relay": lambda streams: run_websocket(streams, relay.port, lambda s: "/"),
        "theo": lambda streams: theo_round(streams, users[:STREAMS]),
    }
    for round_number in range(1, ROUNDS + 1):
        for phase, runner in runners.items():
            streams = make_streams(phase, round_number)
            server = {"theo": theo, "relay": relay}.get(phase)
            cpu_before = server.cpu_seconds() if server else 0.0
            started = time.monotonic()
            await runner(streams)
            results[phase].wall_seconds += time.monotonic() - started
            results[phase].cpu_seconds += (server.cpu_seconds() - cpu_before) if server else 0.0
            results[phase].add(streams, fake_records(fake))
            if phase == "theo":
                saved, degraded = await sync_to_async(saved_answers)(streams)
                results[phase].saved += saved
                results[phase].degraded += degraded
            await asyncio.sleep(0.5)  # let the sockets close before the next phase
    return results


def _report(results: dict[str, Result]) -> None:
    theo = results["theo"]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"{STREAMS} parallel streams x {ROUNDS} rounds; {TOKENS} tokens per stream, fake Claude pace "
        f"{PACE * 1000:.0f} ms (first token after {FIRST_DELAY * 1000:.0f} ms); {os.cpu_count()} CPUs, "
        f"load average {load}"
    )
    print(
        f"\n{'path':<42} {'per-token delay over the fake (ms)':>36}   {'time to first token (ms)':>24}"
        f"\n{'':<42} {'p50':>10} {'p95':>8} {'max':>8} {'tokens':>7}   {'p50':>8} {'p95':>7} {'max':>7}"
    )
    labels = {
        "direct": "direct: client reads the fake (floor)",
        "relay": "relay: minimal WebSocket relay in daphne",
        "theo": "theo: /ws/chat/ (theo.asgi in daphne)",
        "solo": f"theo, one stream at a time ({SOLO} streams)",
    }
    for phase, result in results.items():
        ttft_max = max(result.ttft_ms, default=math.nan)
        print(
            f"{labels[phase]:<42} {pct(result.added_ms, 50):>10.1f} {pct(result.added_ms, 95):>8.1f} "
            f"{max(result.added_ms, default=math.nan):>8.1f} {len(result.added_ms):>7}   "
            f"{pct(result.ttft_ms, 50):>8.0f} {pct(result.ttft_ms, 95):>7.0f} {ttft_max:>7.0f}"
        )
    print(
        f"\ntheo time to first token: total p50 {pct(theo.ttft_ms, 50):.0f} / p95 {pct(theo.ttft_ms, 95):.0f} ms; "
        f"the fake's own p50 {pct(theo.fake_first_ms, 50):.0f} ms; Theo's share p50 {pct(theo.share_ms, 50):.0f} / "
        f"p95 {pct(theo.share_ms, 95):.0f} ms (of which before the request reaches Claude: "
        f"p50 {pct(theo.before_request_ms, 50):.0f} / p95 {pct(theo.before_request_ms, 95):.0f} ms)"
    )
    solo = results["solo"]
    print(
        f"theo alone (one question at a time): time to first token p50 {pct(solo.ttft_ms, 50):.0f} ms, "
        f"Theo's share p50 {pct(solo.share_ms, 50):.0f} / max {max(solo.share_ms, default=math.nan):.0f} ms"
    )
    relay = results["relay"]
    print(
        f"streams sending at once, per token: theo p50 {pct(theo.concurrency, 50):.0f}, "
        f"max {max(theo.concurrency, default=0)}; relay p50 {pct(relay.concurrency, 50):.0f}"
    )
    print(
        f"theo per token, while other questions of the round were still being prepared: "
        f"p50 {pct(theo.added_preparing_ms, 50):.1f} / p95 {pct(theo.added_preparing_ms, 95):.1f} ms "
        f"({len(theo.added_preparing_ms)} tokens); after: p50 {pct(theo.added_settled_ms, 50):.1f} / "
        f"p95 {pct(theo.added_settled_ms, 95):.1f} ms ({len(theo.added_settled_ms)} tokens)"
    )
    tokens = len(theo.added_ms) or 1
    print(
        f"daphne CPU: theo {theo.cpu_seconds:.1f} s over {theo.wall_seconds:.1f} s "
        f"({theo.cpu_seconds / tokens * 1e6:.0f} us per token, retrieval included); "
        f"relay {relay.cpu_seconds:.1f} s over {relay.wall_seconds:.1f} s "
        f"({relay.cpu_seconds / (len(relay.added_ms) or 1) * 1e6:.0f} us per token)"
    )
    expected = STREAMS * ROUNDS
    print(
        f"answers completed: {theo.completed}/{expected} done events, {theo.saved}/{expected} assistant "
        f"messages saved, {theo.degraded} degraded, {theo.mismatched} with a token count unlike the fake's"
    )
    for failure in theo.failed[:5]:
        print(f"  failed: {failure}")
    p95 = pct(theo.added_ms, 95)
    if solo.completed != SOLO or solo.saved != SOLO or solo.degraded:
        print(f"  one-at-a-time streams: {solo.completed}/{SOLO} done, {solo.saved} saved, {solo.degraded} degraded")
    met = p95 <= TARGET_P95_MS and theo.completed == expected and theo.saved == expected and not theo.degraded
    print(f"target p95 <= {TARGET_P95_MS:.0f} ms added: {'met' if met else 'not met'} (p95 {p95:.1f} ms)")
