"""The progress stream, GET /api/v1/documents/{id}/progress/ (SSE): replay, live events,
the final event, heartbeats, access, and the end of a stream whose reader lost access or
whose document does not move."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.test import AsyncClient
from django.utils import timezone

from apps.documents import pipeline, progress, realtime
from apps.documents.models import Document, DocumentAccess
from apps.users.models import User
from tests.documents import files
from tests.documents.factories import DocumentFactory
from tests.events import assert_event
from tests.helpers import bearer
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

STAGES = ["extract", "chunk", "embed", "index", "references", "themes"]
FRAME_TIMEOUT = 5


@pytest.fixture(autouse=True)
def _close_db_connections():
    yield
    connections.close_all()


# --- helpers ------------------------------------------------------------------------------


def stage_log(stages: list[str]) -> list[dict[str, str]]:
    return [{"stage": stage, "message": f"{stage} done", "at": timezone.now().isoformat()} for stage in stages]


@sync_to_async
def make_user(**fields: Any) -> User:
    return UserFactory(**fields)


@sync_to_async
def make_document(owner: User, *, data: bytes | None = None, file_type: str = "text", **fields: Any) -> Document:
    """A document row (with its file when `data` is given), without the pipeline."""
    return DocumentFactory(owner=owner, content=data, file_type=file_type, **fields)


async def auth(user: User) -> dict[str, str]:
    token = await sync_to_async(bearer)(user)  # issuing a token writes to the database
    return {"Authorization": token["HTTP_AUTHORIZATION"]}


class Frames:
    """Reads an SSE body frame by frame: ("event name", data) or ("comment", text)."""

    def __init__(self, content: AsyncIterator[bytes]) -> None:
        self.content = content.__aiter__()
        self.buffer = ""

    async def next(self, timeout: float = FRAME_TIMEOUT) -> tuple[str, Any]:
        while "\n\n" not in self.buffer:
            chunk = await asyncio.wait_for(self.content.__anext__(), timeout=timeout)
            self.buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        frame, self.buffer = self.buffer.split("\n\n", 1)
        if frame.startswith(":"):
            return "comment", frame[1:].strip()
        fields = dict(line.split(": ", 1) for line in frame.splitlines())
        return fields["event"], assert_event(json.loads(fields["data"]))

    async def until(self, event: str, limit: int = 200, timeout: float = FRAME_TIMEOUT) -> list[tuple[str, Any]]:
        """Frames up to and including the first `event`."""
        seen = []
        for _ in range(limit):
            seen.append(await self.next(timeout=timeout))
            if seen[-1][0] == event:
                return seen
        raise AssertionError(f"no {event!r} in {seen}")

    async def ended(self, timeout: float = FRAME_TIMEOUT) -> bool:
        if self.buffer.strip():
            return False
        try:
            await asyncio.wait_for(self.content.__anext__(), timeout=timeout)
        except StopAsyncIteration:
            return True
        return False

    async def close(self) -> None:
        closer = getattr(self.content, "aclose", None)
        if closer is not None:
            await closer()


async def open_stream(user: User, document: Document, **headers: str) -> tuple[Any, Frames]:
    response = await AsyncClient().get(
        f"/api/v1/documents/{document.pk}/progress/", headers={**await auth(user), **headers}
    )
    assert response.status_code == 200, response.content
    assert response.streaming
    return response, Frames(response.streaming_content)  # type: ignore[attr-defined]  # stubs: not on streaming


async def broadcast(document: Document, event: Any) -> None:
    """From another task, as a worker would: realtime.broadcast is synchronous."""
    await asyncio.create_task(sync_to_async(realtime.broadcast)(document.pk, event))


def progress_of(document: Document, **changes: Any) -> dict[str, Any]:
    for field, value in changes.items():
        setattr(document, field, value)
    return dict(realtime.progress_event(document))


# --- finished documents: replay, then the outcome, then the end ---------------------------


async def test_completed_document_replays_its_stages_then_completes_and_ends():
    owner = await make_user()
    document = await make_document(
        owner,
        status="completed",
        stage="done",
        progress=100,
        progress_message="Ready: 12 passages",
        stage_log=stage_log(STAGES),
    )

    response, frames = await open_stream(owner, document, accept="text/event-stream")

    assert response["Content-Type"].startswith("text/event-stream")
    assert response["X-Request-ID"]
    assert response["Cache-Control"] == "no-cache"
    replay = [await frames.next() for _ in STAGES]
    assert [name for name, _ in replay] == ["stage"] * len(STAGES)
    assert [data["stage"] for _, data in replay] == STAGES
    assert all(data["document_id"] == str(document.pk) and data["message"] for _, data in replay)
    name, data = await frames.next()
    assert name == "completed"
    assert data["status"] == "completed"
    assert data["progress"] == 100
    assert data["message"] == "Ready: 12 passages"
    assert await frames.ended()


async def test_failed_document_ends_with_the_failure_reason():
    owner = await make_user()
    reason = "The PDF is encrypted. Upload a copy without a password."
    document = await make_document(
        owner, status="failed", stage="extract", progress=2, progress_message=reason, failure_reason=reason
    )

    _response, frames = await open_stream(owner, document)

    name, data = await frames.next()
    assert name == "failed"
    assert data["failure_reason"] == reason
    assert data["stage"] == "extract"
    assert await frames.ended()


async def test_failed_after_some_stages_replays_them_first():
    owner = await make_user()
    document = await make_document(
        owner,
        status="failed",
        stage="embed",
        progress=40,
        failure_reason="An unexpected error stopped processing. It has been logged; try reprocessing.",
        stage_log=stage_log(["extract", "chunk"]),
    )

    _response, frames = await open_stream(owner, document)

    events = [await frames.next() for _ in range(3)]
    assert [name for name, _ in events] == ["stage", "stage", "failed"]
    assert events[-1][1]["failure_reason"].startswith("An unexpected error")
    assert await frames.ended()


# --- documents in progress: live events ----------------------------------------------------


async def test_live_progress_is_streamed_until_completed():
    owner = await make_user()
    document = await make_document(
        owner, status="processing", stage="embed", progress=30, stage_log=stage_log(["extract", "chunk"])
    )

    _response, frames = await open_stream(owner, document)
    replayed = [await frames.next() for _ in range(3)]
    assert [name for name, _ in replayed] == ["stage", "stage", "progress"]
    assert replayed[-1][1]["status"] == "processing" and replayed[-1][1]["progress"] == 30

    await broadcast(document, progress_of(document, progress=60, progress_message="Embedded 6 of 10 passages"))
    name, data = await frames.next()
    assert name == "progress"
    assert data["progress"] == 60 and data["message"] == "Embedded 6 of 10 passages"

    # Room-only events (notes, presence) are not part of the progress stream.
    await broadcast(document, {"type": "note.created", "note": {"body": "hi"}})
    await broadcast(document, {"type": "user.joined", "user": {"id": "x", "display_name": "X"}})
    await broadcast(document, progress_of(document, stage="index", progress=85))
    name, data = await frames.next()
    assert (name, data["stage"]) == ("progress", "index")

    await broadcast(document, progress_of(document, status="completed", stage="done", progress=100))
    name, data = await frames.next()
    assert name == "completed"
    assert data["progress"] == 100
    assert await frames.ended()


async def test_live_failure_ends_the_stream():
    owner = await make_user()
    document = await make_document(owner, status="queued")
    _response, frames = await open_stream(owner, document)
    assert (await frames.next())[0] == "progress"

    reason = "No text found in this 2-page PDF: it looks scanned (images of pages). Run it through OCR."
    await broadcast(document, progress_of(document, status="failed", stage="extract", failure_reason=reason))

    name, data = await frames.next()
    assert name == "failed"
    assert data["failure_reason"] == reason
    assert await frames.ended()


async def test_deleting_the_document_ends_the_stream():
    owner = await make_user()
    document = await make_document(owner, status="processing", stage="chunk", progress=15)
    _response, frames = await open_stream(owner, document)
    assert (await frames.next())[0] == "progress"

    await broadcast(document, {"type": "deleted", "document_id": str(document.pk)})

    name, data = await frames.next()
    assert name == "deleted"
    assert data["document_id"] == str(document.pk)
    assert await frames.ended()


async def test_the_real_pipeline_streams_every_stage_then_completes(settings):
    settings.CHUNK_WORDS = 60
    settings.CHUNK_OVERLAP_WORDS = 10
    owner = await make_user()
    document = await make_document(owner, data=files.text_bytes(3), status="queued")
    _response, frames = await open_stream(owner, document)
    assert (await frames.next())[1]["status"] == "queued"

    worker = asyncio.create_task(sync_to_async(pipeline.run, thread_sensitive=False)(document_id=str(document.pk)))
    try:
        events = await frames.until("completed", timeout=60)  # the first embedding loads the model
    finally:
        await worker
    assert await frames.ended()

    events = [(name, data) for name, data in events if name != "comment"]  # a heartbeat while the model loads
    names = [name for name, _ in events]
    assert set(names[:-1]) == {"progress"}
    stages = [data["stage"] for _, data in events]
    assert [stage for i, stage in enumerate(stages) if i == 0 or stage != stages[i - 1]] == [*STAGES, "done"]
    percents = [data["progress"] for _, data in events]
    assert percents == sorted(percents)
    assert events[-1][1]["progress"] == 100 and events[-1][1]["status"] == "completed"

    # A stream opened afterwards replays the same stages from the row.
    _response, replay = await open_stream(owner, document)
    frames_after = await replay.until("completed")
    assert [data["stage"] for name, data in frames_after if name == "stage"] == STAGES


# --- heartbeats --------------------------------------------------------------------------------


async def test_heartbeats_keep_an_idle_stream_alive():
    owner = await make_user()
    document = await make_document(owner, status="processing", stage="embed", progress=50)

    stream = progress.progress_stream(document.pk, user_id=owner.pk, heartbeat=0.2)
    frames = Frames(stream)
    try:
        name, data = await frames.next()
        assert (name, data["progress"]) == ("progress", 50)
        started = asyncio.get_running_loop().time()
        assert await frames.next(timeout=2) == ("comment", "heartbeat")
        assert await frames.next(timeout=2) == ("comment", "heartbeat")
        assert asyncio.get_running_loop().time() - started < 2

        # A heartbeat does not stop live events from arriving.
        await broadcast(document, progress_of(document, status="completed", stage="done", progress=100))
        events = await frames.until("completed")
        assert {name for name, _ in events[:-1]} <= {"comment"}
        assert await frames.ended()
    finally:
        await frames.close()


# --- access ------------------------------------------------------------------------------------


async def test_another_users_document_is_404_in_the_error_format():
    owner = await make_user()
    stranger = await make_user()
    document = await make_document(owner, status="processing")

    response = await AsyncClient().get(
        f"/api/v1/documents/{document.pk}/progress/", headers={**await auth(stranger), "accept": "text/event-stream"}
    )

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response["X-Request-ID"]
    error = response.json()["error"]
    assert error["code"] == "not_found"
    assert set(error) == {"code", "message", "details"}


async def test_unknown_document_is_404_and_anonymous_is_401():
    owner = await make_user()
    document = await make_document(owner, status="processing")

    missing = await AsyncClient().get(f"/api/v1/documents/{uuid.uuid4()}/progress/", headers=await auth(owner))
    anonymous = await AsyncClient().get(f"/api/v1/documents/{document.pk}/progress/")

    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "not_authenticated"
    assert anonymous["X-Request-ID"]


async def test_a_sharee_may_follow_progress():
    from apps.documents.services import document_share

    owner = await make_user()
    reader = await make_user()
    document = await make_document(owner, status="completed", stage="done", progress=100, stage_log=stage_log(STAGES))
    await sync_to_async(document_share)(document=document, actor=owner, email=reader.email, permission="view")

    _response, frames = await open_stream(reader, document)

    assert (await frames.until("completed"))[-1][1]["status"] == "completed"


# --- the stream ends when the reader's right to it does, or when nothing moves ----------------


async def shared_with(document: Document, reader: User) -> None:
    from apps.documents.services import document_share

    await sync_to_async(document_share)(document=document, actor=document.owner, email=reader.email, permission="view")


async def test_unsharing_ends_a_sharees_stream_at_once():
    from apps.documents.services import document_unshare

    owner, reader = await make_user(), await make_user()
    document = await make_document(owner, status="processing", stage="embed", progress=30)
    await shared_with(document, reader)
    _response, frames = await open_stream(reader, document)
    assert (await frames.next())[0] == "progress"

    await sync_to_async(document_unshare)(document=document, actor=owner, email=reader.email)

    name, data = await frames.next(timeout=3)  # long before the 15 s re-check
    assert name == "ended"
    assert data["reason"] == "access_revoked" and data["message"] and data["document_id"] == str(document.pk)
    assert await frames.ended()


async def test_suspension_ends_the_accounts_streams_at_once():
    from apps.users.services import user_suspend

    owner = await make_user()
    admin = await make_user(role=User.Role.ADMIN)
    document = await make_document(owner, status="processing", stage="embed", progress=30)
    _response, frames = await open_stream(owner, document)
    assert (await frames.next())[0] == "progress"

    await sync_to_async(user_suspend)(user=owner, actor=admin, reason="Spam")

    name, data = await frames.next(timeout=3)
    assert (name, data["reason"]) == ("ended", "account_inactive")
    assert await frames.ended()


async def test_a_share_removed_without_a_broadcast_ends_the_stream_at_the_next_recheck():
    owner, reader = await make_user(), await make_user()
    document = await make_document(owner, status="processing", stage="embed", progress=30)
    await shared_with(document, reader)
    frames = Frames(progress.progress_stream(document.pk, user_id=reader.pk, recheck=0.3))
    try:
        assert (await frames.next())[0] == "progress"
        await sync_to_async(DocumentAccess.objects.filter(document=document, user=reader).delete)()
        events = await frames.until("ended", timeout=3)
        assert events[-1][1]["reason"] == "access_revoked"
        assert await frames.ended()
    finally:
        await frames.close()


async def test_a_busy_stream_is_rechecked_too():
    """Events arriving faster than the re-check interval do not postpone the re-check."""
    owner, reader = await make_user(), await make_user()
    document = await make_document(owner, status="processing", stage="embed", progress=1)
    await shared_with(document, reader)
    frames = Frames(progress.progress_stream(document.pk, user_id=reader.pk, recheck=0.5))
    try:
        assert (await frames.next())[0] == "progress"
        await sync_to_async(DocumentAccess.objects.filter(document=document, user=reader).delete)()
        seen = []
        for percent in range(2, 60):
            await broadcast(document, progress_of(document, progress=percent))
            name, _data = await frames.next()
            seen.append(name)
            if name == "ended":
                break
            await asyncio.sleep(0.05)
        assert seen[-1] == "ended" and len(seen) < 30
    finally:
        await frames.close()


async def test_a_document_that_makes_no_progress_ends_the_stream_with_stalled():
    owner = await make_user()
    document = await make_document(owner, status="processing", stage="embed", progress=50)
    frames = Frames(progress.progress_stream(document.pk, user_id=owner.pk, heartbeat=0.2, stall=1.0))
    try:
        assert (await frames.next())[0] == "progress"
        await asyncio.sleep(0.6)
        await broadcast(document, progress_of(document, progress=55))  # progress resets the clock
        events = await frames.until("progress")
        started = asyncio.get_running_loop().time()
        events = await frames.until("ended", timeout=3)
        assert asyncio.get_running_loop().time() - started >= 0.8
        assert {name for name, _ in events[:-1]} == {"comment"}  # heartbeats until then
        assert events[-1][1]["reason"] == "stalled" and "no progress" in events[-1][1]["message"]
        assert await frames.ended()
    finally:
        await frames.close()


async def test_progress_written_without_a_broadcast_is_picked_up_from_the_row():
    owner = await make_user()
    document = await make_document(owner, status="processing", stage="embed", progress=50)
    frames = Frames(progress.progress_stream(document.pk, user_id=owner.pk, recheck=0.3))
    try:
        assert (await frames.next())[0] == "progress"
        await sync_to_async(Document.objects.filter(pk=document.pk).update)(
            status="completed", stage="done", progress=100
        )
        name, data = await frames.next(timeout=3)
        assert (name, data["progress"]) == ("completed", 100)
        assert await frames.ended()
    finally:
        await frames.close()
