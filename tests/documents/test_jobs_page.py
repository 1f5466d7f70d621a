"""The staff Jobs page (/admin/jobs/): queues and workers, documents processing, stuck or
failed with a Retry, Bible indexing; for staff only, and still a page with Redis down.

No Celery worker listens on the test broker here (tests/integration start their own), so
the page says no worker answered; queue depths are read from the real test Redis."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pythonbible import Book

from apps.bible.translations import bible_load
from apps.core.models import AuditEvent
from apps.core.redis import broker_queue_depths
from apps.documents.models import Document
from apps.documents.tasks import ingest_document_task
from apps.users.models import User
from tests.core.test_health import redis_down  # noqa: F401 — the fixture
from tests.documents.factories import DocumentFactory, ReaderFactory
from theo.celery import app as celery_app

pytestmark = pytest.mark.django_db

JOBS = "/admin/jobs/"


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def staff() -> Client:
    return signed_in(ReaderFactory(role=User.Role.ADMIN))


def retry_url(document: Document) -> str:
    return f"/admin/jobs/{document.pk}/retry/"


def stale(document: Document, minutes: int) -> Document:
    """As if its last progress was `minutes` ago (auto_now would overwrite a save)."""
    Document.objects.filter(pk=document.pk).update(updated_at=timezone.now() - timedelta(minutes=minutes))
    document.refresh_from_db()
    return document


def test_staff_see_processing_failed_and_bible_status(staff):
    DocumentFactory(title="Institutes", status="processing", stage="embed", progress=40, progress_message="Embedding")
    failed = DocumentFactory(title="Broken scan", status="failed", stage="extract", failure_reason="No text layer.")
    bible_load(translation="web", books=[Book.RUTH])

    response = staff.get(JOBS)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Documents processing (1)" in page
    assert "Institutes" in page and "Embedding" in page and 'value="40"' in page
    assert "Failed documents (1)" in page and "Broken scan" in page and "No text layer." in page
    assert f'action="{retry_url(failed)}"' in page
    assert "World English Bible (WEB)" in page and "85 / " in page  # Ruth has 85 verses
    assert "King James Version (KJV)" in page
    assert "No worker answered" in page
    assert "<h1>Jobs</h1>" in page and "Theo administration" in page  # the admin's own frame


def test_a_processing_document_gets_a_retry_only_once_stuck(staff):
    busy = DocumentFactory(title="Busy", status="processing", stage="embed", progress=10)
    stuck = stale(DocumentFactory(title="Stalled", status="processing", stage="embed", progress=10), 60 * 24)

    page = staff.get(JOBS).content.decode()

    assert "Documents processing (2, 1 stuck)" in page
    assert f'action="{retry_url(stuck)}"' in page
    assert f'action="{retry_url(busy)}"' not in page
    assert "(stuck)" in page


def test_queue_depths_come_from_the_broker(staff, settings):
    queue = f"jobs-test-{uuid.uuid4().hex[:8]}"
    settings.WORKER_QUEUES = f"celery,ingestion,{queue}"
    for _ in range(3):
        celery_app.send_task("apps.documents.tasks.ingest_document_task", args=["none"], queue=queue)
    try:
        page = staff.get(JOBS).content.decode()
        assert f"<td>{queue}</td><td>3</td>" in page
        assert "<td>ingestion</td>" in page
    finally:
        with celery_app.connection_for_write() as connection:
            connection.default_channel.queue_purge(queue)
    assert broker_queue_depths(app=celery_app, queues=[queue]) == {queue: 0}


def test_retry_requeues_a_failed_document_and_audits_it(staff, monkeypatch, django_capture_on_commit_callbacks):
    queued: list[str] = []
    monkeypatch.setattr(ingest_document_task, "delay", lambda document_id: queued.append(document_id))
    failed = DocumentFactory(title="Broken scan", status="failed", stage="extract", failure_reason="Corrupt.")

    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(retry_url(failed), follow=True)

    assert response.redirect_chain == [(JOBS, 302)]
    failed.refresh_from_db()
    assert failed.status == "queued" and failed.failure_reason == ""
    assert queued == [str(failed.pk)]
    event = AuditEvent.objects.get(action="document.reprocess", target_id=str(failed.pk))
    assert event.actor is not None and event.actor.is_staff
    assert "Broken scan: queued for processing again." in [str(m) for m in get_messages(response.wsgi_request)]


def test_retry_of_a_stuck_document_requeues_it(staff, monkeypatch, django_capture_on_commit_callbacks):
    queued: list[str] = []
    monkeypatch.setattr(ingest_document_task, "delay", lambda document_id: queued.append(document_id))
    stuck = stale(DocumentFactory(status="processing", stage="embed", progress=30), settings.INGEST_STUCK_MINUTES + 5)

    with django_capture_on_commit_callbacks(execute=True):
        staff.post(retry_url(stuck))

    stuck.refresh_from_db()
    assert stuck.status == "queued" and stuck.progress == 0
    assert queued == [str(stuck.pk)]


def test_retry_of_a_document_still_progressing_is_refused_with_a_message(staff, monkeypatch):
    monkeypatch.setattr(ingest_document_task, "delay", lambda document_id: pytest.fail("must not enqueue"))
    busy = DocumentFactory(title="Busy", status="processing", stage="embed", progress=50)

    response = staff.post(retry_url(busy), follow=True)

    busy.refresh_from_db()
    assert busy.status == "processing"
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert any(m.startswith("Busy: This document is being processed right now") for m in messages)


def test_retry_needs_post_and_an_existing_document(staff):
    failed = DocumentFactory(status="failed")
    assert staff.get(retry_url(failed)).status_code == 405
    assert staff.post(f"/admin/jobs/{uuid.uuid4()}/retry/").status_code == 404


def test_retry_needs_the_csrf_token():
    client = Client(enforce_csrf_checks=True)
    client.force_login(ReaderFactory(role=User.Role.ADMIN))
    failed = DocumentFactory(status="failed")
    assert client.post(retry_url(failed)).status_code == 403
    failed.refresh_from_db()
    assert failed.status == "failed"


@pytest.mark.parametrize("who", ["reader", "anonymous"])
def test_non_staff_are_sent_to_the_admin_login(who: str):
    client = signed_in(ReaderFactory()) if who == "reader" else Client()
    failed = DocumentFactory(status="failed")

    for response in (client.get(JOBS), client.post(retry_url(failed))):
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
    failed.refresh_from_db()
    assert failed.status == "failed"
    assert not AuditEvent.objects.filter(action="document.reprocess").exists()


def test_the_admin_index_links_to_the_jobs_page(staff):
    page = staff.get("/admin/").content.decode()
    assert f'href="{JOBS}"' in page
    assert "Theo administration" in page and "Documents" in page  # still the admin's own index


def test_with_redis_down_the_page_still_renders_with_a_notice(staff, redis_down: Any):  # noqa: F811
    DocumentFactory(title="Broken scan", status="failed", failure_reason="Corrupt.")

    response = staff.get(JOBS)

    assert response.status_code == 200
    page = response.content.decode()
    assert "The broker (Redis) did not answer" in page
    assert "No worker answered" in page
    assert "Broken scan" in page and "World English Bible" in page


def test_the_page_costs_the_same_queries_for_one_document_or_many(staff):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert staff.get(JOBS).status_code == 200
        return len(captured)

    DocumentFactory(status="processing")
    DocumentFactory(status="failed")
    queries()  # the Bible counts are cached for a few seconds from here on
    few = queries()
    for _ in range(5):
        DocumentFactory(status="processing")
        DocumentFactory(status="failed")
    assert queries() == few
