"""The progress stream (SSE): replay the stages done so far, then forward live progress
from the channel group until the document is completed or failed.

The stream does not outlive the reader's right to it: it follows the reader's own group
too (suspension, role and password changes arrive there) and unsharing, and it re-reads
the reader's access and the document's row at least every RECHECK_SECONDS, whatever route
took the access away. It ends with an `ended` event saying why: `access_revoked`,
`account_inactive`, or `stalled` when the document has made no progress for
PROGRESS_STALL_SECONDS (a worker that died, a queue that does not move)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any, cast

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from apps.core.errors import NotFound
from apps.core.streaming import sse_frame
from apps.documents import realtime
from apps.documents.models import Document
from apps.documents.selectors import document_get_for
from apps.users.models import User
from apps.users.realtime import user_group

HEARTBEAT_SECONDS = 15.0
RECHECK_SECONDS = 15.0

ENDINGS = {
    "access_revoked": "You no longer have access to this document.",
    "account_inactive": "Your account is no longer active; sign in again.",
    "stalled": "This document has made no progress for {minutes} minutes, so the stream ends. "
    "Open it again later, or reprocess the document.",
}


def _event_name(event: realtime.ProgressEvent) -> str:
    """The last event is named after the outcome: `completed` or `failed`."""
    return event["status"] if realtime.is_final(event) else "progress"


def _moved(event: dict[str, Any], seen: dict[str, Any]) -> bool:
    return any(event.get(field) != seen.get(field) for field in ("status", "stage", "progress", "message"))


@database_sync_to_async
def _current(document_id: Any) -> tuple[list[dict[str, Any]], realtime.ProgressEvent] | None:
    document = Document.objects.filter(pk=document_id).first()
    if document is None:
        return None
    return list(document.stage_log), realtime.progress_event(document)


@database_sync_to_async
def _recheck(document_id: Any, user_id: Any) -> tuple[str, realtime.ProgressEvent | None]:
    """("", the row's progress) while the reader may follow it; else (why not, None)."""
    user = User.objects.filter(pk=user_id).first()
    if user is None or not user.is_approved:
        return "account_inactive", None
    if not Document.objects.filter(pk=document_id).exists():
        return "deleted", None
    try:
        return "", realtime.progress_event(document_get_for(user=user, pk=document_id))
    except NotFound:
        return "access_revoked", None


def _ended(document_id: Any, reason: str, stall: float) -> bytes:
    if reason == "deleted":
        return sse_frame("deleted", realtime.deleted(document_id))
    message = ENDINGS[reason].format(minutes=max(1, round(stall / 60)))
    return sse_frame("ended", realtime.ended(document_id, reason=cast(realtime.EndReason, reason), message=message))


def _asks(message: dict[str, Any], *, user_id: Any, seen: realtime.ProgressEvent) -> str:
    """What a message from the stream's groups asks of it: "recheck" (the reader's rights
    may have changed), "deleted", "progress" (the document moved: send it) or "" (nothing)."""
    if message.get("type") == "account.revoked":
        return "recheck"  # suspended, demoted: look again before anything else
    event = message.get("event", {})
    if event.get("type") == "access.revoked":
        return "recheck" if event.get("user_id") == str(user_id) else ""
    if event.get("type") == "deleted":
        return "deleted"
    if event.get("type") != "progress" or not _moved(event, dict(seen)):
        return ""
    return "progress"


async def progress_stream(
    document_id: Any,
    *,
    user_id: Any,
    heartbeat: float | None = None,
    recheck: float | None = None,
    stall: float | None = None,
) -> AsyncIterator[bytes]:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    groups = [realtime.document_group(document_id), user_group(user_id)]
    # Join first, then read the row: no event can fall between the two.
    for group in groups:
        await layer.group_add(group, channel)
    try:
        state = await _current(document_id)
        if state is None:
            return
        stage_log, seen = state
        for entry in stage_log:
            yield sse_frame("stage", realtime.stage(document_id, entry))
        yield sse_frame(_event_name(seen), dict(seen))
        if realtime.is_final(seen):
            return
        timing = (heartbeat or HEARTBEAT_SECONDS, recheck or RECHECK_SECONDS, stall or settings.PROGRESS_STALL_SECONDS)
        async with aclosing(_follow(layer, channel, document_id, user_id, seen, *timing)) as live:
            async for frame in live:
                yield frame
    finally:
        for group in groups:
            await layer.group_discard(group, channel)


async def _follow(
    layer: Any,
    channel: str,
    document_id: Any,
    user_id: Any,
    seen: realtime.ProgressEvent,
    heartbeat: float,
    recheck: float,
    stall: float,
) -> AsyncGenerator[bytes, None]:
    """The live part of the stream, after the replay: until the document is final, the
    reader may no longer follow it or it stalls."""
    clock = asyncio.get_running_loop().time
    last_sent = last_checked = last_moved = clock()
    while True:
        now = clock()
        if now - last_checked >= recheck:
            last_checked = now
            reason, row = await _recheck(document_id, user_id)
            if reason:
                yield _ended(document_id, reason, stall)
                return
            if row is not None and _moved(dict(row), dict(seen)):  # moved without telling us
                seen, last_moved, last_sent = row, now, now
                yield sse_frame(_event_name(row), dict(row))
                if realtime.is_final(row):
                    return
        if now - last_moved >= stall:
            yield _ended(document_id, "stalled", stall)
            return
        wait = min(heartbeat - (now - last_sent), recheck - (now - last_checked), stall - (now - last_moved))
        try:
            message = await asyncio.wait_for(layer.receive(channel), timeout=max(wait, 0.01))
        except TimeoutError:
            if clock() - last_sent >= heartbeat:
                last_sent = clock()
                yield b": heartbeat\n\n"
            continue
        asks = _asks(message, user_id=user_id, seen=seen)
        if asks == "recheck":
            last_checked = float("-inf")
        elif asks == "deleted":
            yield sse_frame("deleted", message["event"])
            return
        elif asks == "progress":
            seen, last_moved, last_sent = message["event"], clock(), clock()
            yield sse_frame(_event_name(seen), dict(seen))
            if realtime.is_final(seen):
                return
