"""The progress stream (SSE): replay the stages done so far, then forward live progress
from the channel group until the document is completed or failed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from apps.core.streaming import sse_frame
from apps.documents import realtime
from apps.documents.models import Document

HEARTBEAT_SECONDS = 15.0


def _event_name(event: realtime.ProgressEvent) -> str:
    """The last event is named after the outcome: `completed` or `failed`."""
    return event["status"] if realtime.is_final(event) else "progress"


@database_sync_to_async
def _current(document_id: Any) -> tuple[list[dict[str, Any]], realtime.ProgressEvent] | None:
    document = Document.objects.filter(pk=document_id).first()
    if document is None:
        return None
    return list(document.stage_log), realtime.progress_event(document)


async def progress_stream(document_id: Any, *, heartbeat: float | None = None) -> AsyncIterator[bytes]:
    heartbeat = heartbeat or HEARTBEAT_SECONDS
    layer = get_channel_layer()
    channel = await layer.new_channel()
    group = realtime.document_group(document_id)
    # Join first, then read the row: no event can fall between the two.
    await layer.group_add(group, channel)
    try:
        state = await _current(document_id)
        if state is None:
            return
        stage_log, current = state
        for entry in stage_log:
            yield sse_frame("stage", {"type": "stage", "document_id": str(document_id), **entry})
        yield sse_frame(_event_name(current), dict(current))
        if realtime.is_final(current):
            return
        while True:
            try:
                message = await asyncio.wait_for(layer.receive(channel), timeout=heartbeat)
            except TimeoutError:
                yield b": heartbeat\n\n"
                continue
            event = message.get("event", {})
            if event.get("type") == "deleted":
                yield sse_frame("deleted", event)
                return
            if event.get("type") != "progress":
                continue
            yield sse_frame(_event_name(event), event)
            if realtime.is_final(event):
                return
    finally:
        await layer.group_discard(group, channel)
