"""The chat page's sources panel and "searched for": a follow-up streamed over the
WebSocket shows the standalone query it was searched as and every numbered source (snippet,
locator, link, the cited ones marked); a reload shows the same from the history. At 1280
and 390 px, nothing scrolls sideways."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from pythonbible import Book

from apps.bible.translations import bible_load
from apps.chat.models import Conversation
from apps.users.models import User
from tests.chat import fake_claude as fake
from tests.e2e.conftest import DESKTOP, PHONE

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SHOTS = Path("/tmp/shots-followups")


def _ask(page: Page, question: str, answers: int) -> None:
    page.fill("#question", question)
    page.press("#question", "Enter")
    # The first answer embeds the query in the server process: give a loaded machine time.
    expect(page.locator(".bubble-assistant .answer-sources")).to_have_count(answers, timeout=45_000)
    expect(page.locator("#send")).to_be_enabled()


def _check_panel(page: Page) -> None:
    panel = page.locator(".bubble-assistant").nth(1).locator(".answer-sources")
    expect(panel.locator(".searched-for")).to_have_text("searched for: John 3:17")
    items = panel.locator(".source-item")
    assert items.count() >= 3
    first = items.first
    expect(first.locator(".source-locator")).to_have_text("John 3:17 (WEB)")
    expect(first.locator(".source-snippet")).to_contain_text("send his Son into the world")
    assert re.search(r"/scripture/\?ref=John", first.locator("a.source-locator").get_attribute("href") or "")
    expect(first.locator(".badge-cited")).to_have_text("cited")
    expect(panel.locator(".source-item.cited")).to_have_count(1)
    expect(panel.locator("summary")).to_contain_text("1 cited")


@pytest.mark.parametrize(("viewport", "name"), [(DESKTOP, "1280"), (PHONE, "390")])
def test_the_sources_panel_streamed_and_on_reload(
    open_session: Any, fake_claude_server: Any, personas: None, viewport: Any, name: str
) -> None:
    bible_load(translation="web", books=[Book.JOHN])
    user = User.objects.create_user(email=f"reader{name}@example.org", password="x" * 12, status=User.Status.APPROVED)
    conversation = Conversation.objects.create(owner=user, scope=Conversation.Scope.BIBLE)
    session = open_session(viewport)
    session.sign_in_as(user)
    page = session.page
    page.goto(f"/chat/{conversation.pk}/")
    expect(page.locator("#connection")).to_have_text("Live")

    fake_claude_server.respond(fake.text("“For God so loved the world” [1]."))
    _ask(page, "What does John 3:16 say?", answers=1)
    fake_claude_server.respond(
        fake.text("John 3:17"),  # the rewrite of the follow-up
        fake.text("God sent his Son “that the world should be saved through him” [1]."),
    )
    _ask(page, "What does he say right after that?", answers=2)
    _check_panel(page)
    panels = page.locator(".sources-panel")
    assert [panels.nth(i).evaluate("p => p.open") for i in range(2)] == [False, viewport is DESKTOP]
    if viewport is PHONE:
        page.locator(".bubble-assistant").nth(1).locator(".sources-panel summary").click()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"chat-sources-{name}.png"), full_page=True)

    page.reload()
    expect(page.locator("#connection")).to_have_text("Live")
    _check_panel(page)
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], widths
    assert not session.problems, session.problems
