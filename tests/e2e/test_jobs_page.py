"""The staff Jobs page in a browser against `manage.py run` (daphne and a real worker): it
shows the worker alive and the documents; Retry on a failed document has the worker process
it to the end. Screenshots at desktop and phone width go to /tmp/shots-jobs/."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from apps.documents.models import Document
from apps.users.models import User
from tests.documents.factories import DocumentFactory, ReaderFactory
from tests.e2e.conftest import DESKTOP, PHONE

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/tmp/shots-jobs")


def wait_for_status(document: Document, status: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        document.refresh_from_db()
        if document.status == status:
            return
        time.sleep(0.3)
    raise AssertionError(f"{document.title} stayed {document.status} ({document.failure_reason})")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_staff_retry_a_failed_document_and_the_worker_completes_it(open_session: Any, viewport: Any) -> None:
    DocumentFactory(title="Institutes, book III", status="processing", stage="embed", progress=40)
    failed = DocumentFactory(
        title="Sermon on grace",
        status="failed",
        stage="extract",
        content=b"Grace precedes faith, as Eph 2:8-9 says. By grace you have been saved.\n",
        failure_reason="The worker was lost twice.",
    )
    session = open_session(viewport)
    session.sign_in_as(ReaderFactory(role=User.Role.ADMIN))
    page = session.page
    SHOTS.mkdir(exist_ok=True)
    width = viewport["width"]

    page.goto("/admin/")
    page.click("text=Jobs")
    expect(page.locator("h1")).to_have_text("Jobs")
    expect(page.locator("#jobs-queues")).to_contain_text("Workers alive (1)")
    expect(page.locator("#jobs-pipeline")).to_contain_text("Institutes, book III")
    expect(page.locator("#jobs-failed")).to_contain_text("The worker was lost twice.")
    expect(page.locator("#jobs-bibles")).to_contain_text("World English Bible")
    page.screenshot(path=str(SHOTS / f"jobs-{width}.png"), full_page=True)

    page.get_by_role("button", name="Retry Sermon on grace").click()
    expect(page.locator(".messagelist")).to_contain_text("Sermon on grace: queued for processing again.")
    wait_for_status(failed, Document.Status.COMPLETED)
    page.reload()
    expect(page.locator("#jobs-failed")).to_contain_text("No failed document.")
    page.screenshot(path=str(SHOTS / f"jobs-after-retry-{width}.png"), full_page=True)
    assert session.problems == []
