"""Real clients for a real server (see the `daphne_server` fixture in conftest.py): a
WebSocket client over TCP and an SSE reader over urllib.

The WebSocket client speaks RFC 6455 itself, on asyncio streams (no client library is
installed; autobahn's asyncio flavour cannot load next to daphne's Twisted one): the
opening handshake with its accept check, masked client frames, fragmented messages,
ping/pong and the closing handshake, as a browser does."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import struct
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from tests.events import assert_event

TIMEOUT = 10.0
_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
NO_STATUS = 1005  # a close frame without a code
ABNORMAL = 1006  # the connection dropped without a close frame


class Refused(Exception):
    """The server refused the opening handshake (e.g. a foreign Origin: HTTP 403)."""


class LiveSocket:
    """One WebSocket connection: `await LiveSocket.open(url, origin=...)`. A background
    task reads frames into `inbox` as ("message", text | bytes) or ("close", code)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.inbox: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.close_code: int | None = None
        self.closing = False
        self.task = asyncio.get_running_loop().create_task(self._read_frames())

    @classmethod
    async def open(cls, url: str, *, origin: str, headers: dict[str, str] | None = None) -> LiveSocket:
        parts = urlsplit(url)
        reader, writer = await asyncio.wait_for(asyncio.open_connection(parts.hostname, parts.port), TIMEOUT)
        key = base64.b64encode(os.urandom(16)).decode()
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        lines = [
            f"GET {target} HTTP/1.1",
            f"Host: {parts.hostname}:{parts.port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            f"Origin: {origin}",
            *(f"{name}: {value}" for name, value in (headers or {}).items()),
        ]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await writer.drain()
        head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)).decode("latin-1")
        status_line, *header_lines = head.strip().split("\r\n")
        received = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in header_lines)}
        if status_line.split()[1] != "101":
            writer.close()
            raise Refused(status_line)
        expected = base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()
        assert received.get("sec-websocket-accept") == expected, received
        return cls(reader, writer)

    # --- frames

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
        elif length < 1 << 16:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        self.writer.write(header + mask + masked)

    async def _read_frame(self) -> tuple[bool, int, bytes]:
        first, second = await self.reader.readexactly(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
        assert not second & 0x80, "a server must not mask its frames"
        return bool(first & 0x80), first & 0x0F, await self.reader.readexactly(length)

    async def _read_frames(self) -> None:
        code = ABNORMAL
        parts: list[bytes] = []
        message_opcode = TEXT
        try:
            while True:
                final, opcode, payload = await self._read_frame()
                if opcode == CLOSE:
                    code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else NO_STATUS
                    if not self.closing:  # the server closed first: answer with the same code
                        self._send_frame(CLOSE, payload[:2])
                        await self.writer.drain()
                    break
                if opcode == PING:
                    self._send_frame(PONG, payload)
                    continue
                if opcode == PONG:
                    continue
                if opcode != CONTINUATION:
                    message_opcode, parts = opcode, []
                parts.append(payload)
                if final:
                    data = b"".join(parts)
                    self.inbox.put_nowait(("message", data.decode() if message_opcode == TEXT else data))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.inbox.put_nowait(("close", code))
            self.writer.close()

    # --- the API tests use

    async def send_json(self, data: Any) -> None:
        await self.send_text(json.dumps(data))

    async def send_text(self, text: str) -> None:
        self._send_frame(TEXT, text.encode())
        await self.writer.drain()

    async def send_bytes(self, data: bytes) -> None:
        self._send_frame(BINARY, data)
        await self.writer.drain()

    async def receive_json(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        kind, value = await asyncio.wait_for(self.inbox.get(), timeout)
        if kind == "close":
            self.close_code = value
            raise AssertionError(f"the socket closed with {value} instead of sending a frame")
        assert isinstance(value, str), f"a binary frame from the server: {value!r}"
        return assert_event(json.loads(value))

    async def next_of(self, kind: str, limit: int = 100, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next event of type `kind`, skipping others."""
        for _ in range(limit):
            event = await self.receive_json(timeout)
            if event.get("type") == kind:
                return event
        raise AssertionError(f"no {kind} event")

    async def closed_with(self, timeout: float = TIMEOUT) -> int:
        """The server's close code, skipping any frames sent before the close."""
        if self.close_code is not None:
            return self.close_code
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            kind, value = await asyncio.wait_for(self.inbox.get(), max(0.01, deadline - loop.time()))
            if kind == "close":
                self.close_code = value
                return value

    async def close(self, code: int = 1000) -> None:
        """The client's closing handshake: send a close frame, wait for the server's."""
        if self.close_code is not None:
            return
        self.closing = True
        with contextlib.suppress(ConnectionError):
            self._send_frame(CLOSE, struct.pack("!H", code))
            await self.writer.drain()
        await self.closed_with(5)


class SSE:
    """A Server-Sent Events response read frame by frame with a real HTTP client: each
    frame is ("event name", data) or ("comment", text)."""

    def __init__(self, response: Any) -> None:
        self.response = response

    @classmethod
    def open(cls, url: str, *, token: str, data: dict[str, Any] | None = None, timeout: float = 30) -> SSE:
        request = urllib.request.Request(
            url,
            data=json.dumps(data).encode() if data is not None else None,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "text/event-stream",
                **({"Content-Type": "application/json"} if data is not None else {}),
            },
        )
        return cls(urllib.request.urlopen(request, timeout=timeout))

    def next(self) -> tuple[str, Any]:
        lines: list[str] = []
        while True:
            line = self.response.readline()
            if not line:
                raise EOFError("the stream ended")
            line = line.decode().rstrip("\n")
            if line == "":
                if lines:
                    break
                continue
            lines.append(line)
        if lines[0].startswith(":"):
            return "comment", lines[0][1:].strip()
        fields = dict(line.split(": ", 1) for line in lines)
        return fields["event"], assert_event(json.loads(fields["data"]))

    def until(self, event: str, limit: int = 500) -> list[tuple[str, Any]]:
        seen = []
        for _ in range(limit):
            seen.append(self.next())
            if seen[-1][0] == event:
                return seen
        raise AssertionError(f"no {event!r} in {seen}")

    def ended(self) -> bool:
        return self.response.read() == b""

    def close(self) -> None:
        self.response.close()


def http_error(url: str, *, token: str | None = None, accept: str = "text/event-stream") -> tuple[int, dict]:
    """(status, JSON body) of a request expected to fail."""
    headers = {"Accept": accept, **({"Authorization": f"Bearer {token}"} if token else {})}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")
