"""A document uploaded in the browser: live progress, then its passages appear on the page
without anyone reloading it, however quickly the worker finishes. The page subscribes to the
document room after it was rendered; the document may finish in between (the race seen in
2 of about 10 runs before), and the page must still see the end."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection
from playwright.sync_api import FilePayload, Frame, Page, WebSocketRoute, expect

from apps.documents import pipeline
from apps.documents.models import Document
from apps.index.models import Passage
from tests.documents.factories import DocumentFactory
from tests.index.corpus import add_passages, marker
from tests.users.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

RUNS = 10
DOCUMENT_PAGE = re.compile(r"/documents/[0-9a-f-]{36}/$")


def count_loads(page: Page) -> list[str]:
    """Every main-frame navigation of `page` from now on (a reload is one)."""
    loads: list[str] = []

    def on_navigated(frame: Frame) -> None:
        if frame == page.main_frame:
            loads.append(frame.url)

    page.on("framenavigated", on_navigated)
    return loads


def upload(page: Page, name: str, content: bytes, mime: str = "text/plain") -> None:
    page.goto("/documents/")
    page.set_input_files("#file", files=[FilePayload(name=name, mimeType=mime, buffer=content)])
    page.click("#upload-button")
    page.wait_for_url(DOCUMENT_PAGE)


def test_passages_appear_without_a_reload_every_time(open_session: Any) -> None:
    """Tiny files: the worker finishes about when the page subscribes, run after run."""
    user = UserFactory()
    session = open_session()
    session.sign_in_as(user)
    page = session.page
    loads = count_loads(page)
    for run in range(RUNS):
        word = marker()
        upload(page, f"quick-{run}.txt", f"{word}: grace before works, as Rom 8:28 says.\n".encode())
        seen = len(loads)
        expect(page.locator("#passages .passage").first).to_contain_text(word, timeout=30_000)
        expect(page.locator("#status-badge")).to_have_text("Completed")
        expect(page.locator("#passages .chip.ref").first).to_have_text("Romans 8:28")
        assert len(loads) == seen, f"run {run}: the page reloaded to show its passages"
    assert Document.objects.filter(owner=user, status=Document.Status.COMPLETED).count() == RUNS
    assert not session.problems, session.problems


def finish_behind_the_pages_back(document: Document) -> str:
    """What the worker does at the end, while no page listens: passages, then completed.
    In a thread of its own, as in the worker: Playwright's loop owns this one (no async_to_sync)."""
    word = marker()

    def finish() -> None:
        try:
            add_passages([f"{word} finished unseen."], owner=document.owner, source_id=document.pk, embed=False)
            pipeline.complete(document, passage_count=1)
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(finish).result()
    return word


@pytest.mark.parametrize("socket", ["subscribes-late", "socket-refused"])
def test_a_document_that_finished_before_the_page_subscribed(open_session: Any, socket: str) -> None:
    document = DocumentFactory(status=Document.Status.PROCESSING, stage=Document.Stage.EMBED, progress=50)
    session = open_session()
    session.sign_in_as(document.owner)
    page = session.page
    held: list[WebSocketRoute] = []
    page.route_web_socket(re.compile(r"/ws/documents/"), lambda route: held.append(route))
    page.goto(f"/documents/{document.pk}/")
    expect(page.locator("#status-badge")).to_have_text("Processing")
    page.wait_for_function("() => true")  # the page's script ran and opened its (held) socket
    assert held, "the page opened no document socket"
    loads = count_loads(page)

    word = finish_behind_the_pages_back(document)
    if socket == "subscribes-late":
        held[0].connect_to_server()  # the room replays the current state on connect
    else:
        held[0].close(code=1011)  # the page asks the API what it missed
    expect(page.locator("#passages .passage").first).to_contain_text(word, timeout=15_000)
    expect(page.locator("#status-badge")).to_have_text("Completed")
    assert loads == [], "the page reloaded to show its passages"
    assert Passage.objects.filter(source_id=document.pk).count() == 1
