"""The whole product in Chromium, as a new member meets it: register → a staff member approves
in the admin → sign in → upload a PDF → live progress → passages → search → scripture → chat
streaming an answer with citation chips that open their source; then every page at desktop
and phone width, screenshotted, with no CSP violation, no console error and nothing wider
than a phone's screen."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from playwright.sync_api import Frame, Page, expect
from pythonbible import Book

from apps.bible.translations import bible_load
from apps.index.embeddings import model_name
from apps.index.models import Passage
from apps.users.models import User
from tests.chat import fake_claude as fake
from tests.documents.files import pdf_bytes
from tests.e2e.conftest import DESKTOP, PHONE, Session
from tests.index.corpus import marker
from tests.knowledge.factories import ApprovedEntryFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "e2e-screenshots"
PASSWORD = "grace alone through faith alone"


def shoot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page="api-docs" not in name)


def assert_fits(page: Page, what: str) -> None:
    """Nothing scrolls sideways: the page is no wider than the viewport."""
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{what} is {widths[0]}px wide on a {widths[1]}px screen"


def register(page: Page, email: str) -> None:
    page.goto("/accounts/register/")
    page.fill("#id_display_name", "Phoebe of Cenchreae")
    page.fill("#id_email", email)
    page.fill("#id_password", PASSWORD)
    page.fill("#id_password_again", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/accounts/pending/$"))
    expect(page.locator("h1")).to_have_text("Thanks, you're registered")


def approve_in_admin(page: Page, email: str) -> None:
    page.goto("/admin/users/user/?status__exact=pending")
    page.locator("tr", has_text=email).locator("input.action-select").check()
    page.select_option("select[name=action]", "approve")
    page.click("button[name=index]")
    expect(page.locator(".messagelist")).to_contain_text("approved")


def sign_in(page: Page, email: str) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_email", email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Welcome, Phoebe")


def test_register_approve_upload_search_read_and_chat(
    open_session: Any, fake_claude_server: Any, personas: None
) -> None:
    for translation in ("kjv", "web"):
        bible_load(translation=translation, books=[Book.ROMANS])  # verses without vectors: found by words
    staff = User.objects.create_user(
        email="overseer@example.org", password=None, role=User.Role.ADMIN, status=User.Status.APPROVED
    )
    entry = ApprovedEntryFactory(title="Justification", body="Declared righteous by grace (Rom 3:24).", tags=["grace"])
    email = "phoebe@example.org"

    newcomer = open_session()
    register(newcomer.page, email)
    admin = open_session()
    admin.sign_in_as(staff)
    approve_in_admin(admin.page, email)
    assert User.objects.get(email=email).status == User.Status.APPROVED

    page = newcomer.page
    sign_in(page, email)

    # Upload a PDF; follow it being read; its passages appear without a reload.
    word = marker()
    content = pdf_bytes(2, text_for=lambda n: f"{word} page {n}: the golden chain of Rom 8:28-30, grace upon grace.")
    page.goto("/documents/")
    page.set_input_files("#file", files=[{"name": "chain.pdf", "mimeType": "application/pdf", "buffer": content}])
    page.fill("#title", f"The golden chain {word}")
    page.click("#upload-button")
    page.wait_for_url(re.compile(r"/documents/[0-9a-f-]{36}/$"))
    document_url = page.url
    loads: list[str] = []

    def on_navigated(frame: Frame) -> None:
        if frame == page.main_frame:
            loads.append(frame.url)

    page.on("framenavigated", on_navigated)
    expect(page.locator("#status-badge")).to_have_text("Completed", timeout=60_000)
    expect(page.locator("#doc-progress .label")).to_have_text("100%")
    expect(page.locator("#stages li.done")).to_have_count(page.locator("#stages li").count())
    expect(page.locator("#passages .passage").first).to_contain_text(word)
    assert loads == [], "the document page reloaded"

    # Search: the document by a word in it, the Bible by reference.
    page.goto(f"/search/?q={word}", timeout=120_000)  # the web process loads the embedding model once
    expect(page.locator(".results .result").first).to_contain_text(f"The golden chain {word}")
    page.goto("/search/?q=Rom+8%3A28&scope=bible")
    expect(page.locator(".results")).to_contain_text("Romans 8:28")

    # Scripture.
    page.goto("/scripture/?ref=Rom+8%3A28-30")
    expect(page.locator("h1")).to_have_text("Romans 8:28-30")
    expect(page.locator(".verse")).to_have_count(3)
    expect(page.locator("#v45008028")).to_contain_text("work together")

    # Chat: the answer streams in, its citation chips open their source.
    fake_claude_server.respond(
        fake.text(["The golden chain ", "runs from foreknowledge ", "to glory [1]. ", "See [2] too."], delay=0.4)
    )
    page.goto("/chat/")
    page.click(".new-chat button")
    expect(page.locator("#connection")).to_have_text("Live")
    page.fill("#question", f"What does {word} say about Rom 8:28-30?")
    page.press("#question", "Enter")
    answer = page.locator(".bubble-assistant .bubble-body")
    expect(answer).to_contain_text("The golden chain")
    partial = answer.inner_text()
    assert "to glory" not in partial, "the answer arrived in one piece, not streamed"
    expect(answer).to_contain_text("See")
    chip = answer.locator("a.cite").first
    expect(chip).to_have_text("1")
    expect(page.locator("#send")).to_be_enabled()
    assert not newcomer.problems, newcomer.problems
    chat_url = page.url
    href = chip.get_attribute("href")
    chip.click()
    page.wait_for_url(re.compile(r"/(documents|scripture|knowledge)/"))
    assert page.url.endswith(href), (page.url, href)

    # The Bible indexing bars are sized without inline styles, also after htmx swaps them.
    Passage.objects.filter(source_kind=Passage.SourceKind.BIBLE, translation="kjv").update(
        embedding=[0.1] * 384, embedding_model=model_name()
    )  # 433 of 31,102 KJV verses embedded: 1%
    page.goto("/search/")
    expect(page.locator(".bible-progress .bar").first).to_have_attribute("data-percent", "1", timeout=15_000)
    assert page.locator(".bible-progress .bar").first.evaluate("bar => bar.style.width") == "1%"
    page.evaluate("() => new Promise((done) => document.body.addEventListener('htmx:afterSettle', done, {once: true}))")
    assert page.locator(".bible-progress .bar").first.evaluate("bar => bar.style.width") == "1%"

    # Every page, at both widths.
    member_pages = {
        "home": "/",
        "documents": "/documents/",
        "document": document_url,
        "chat-list": "/chat/",
        "chat": chat_url,
        "knowledge": "/knowledge/",
        "knowledge-entry": f"/knowledge/{entry.pk}/",
        "search": f"/search/?q={word}",
        "scripture": "/scripture/?ref=Rom+8%3A28-30",
        "usage": "/usage/",
    }
    staff_pages = {
        "admin": "/admin/",
        "admin-users": "/admin/users/user/",
        "admin-user": f"/admin/users/user/{User.objects.get(email=email).pk}/change/",
        "api-docs": "/api/docs/",
    }
    anonymous_pages = {"landing": "/", "login": "/accounts/login/", "register": "/accounts/register/"}
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        tour(open_session(viewport), None, anonymous_pages, size)
        tour(open_session(viewport), newcomer, {**member_pages, "pending": "/accounts/pending/"}, size)
        tour(open_session(viewport), admin, staff_pages, size)


def tour(session: Session, signed_in_as: Session | None, pages: dict[str, str], size: str) -> None:
    if signed_in_as is not None:
        session.context.add_cookies(signed_in_as.context.cookies())  # type: ignore[arg-type]  # Cookie is a SetCookieParam
    page = session.page
    for name, url in pages.items():
        page.goto(url)
        page.wait_for_load_state("networkidle") if name == "api-docs" else page.wait_for_load_state("load")
        if name == "api-docs":
            expect(page.locator(".swagger-ui .info .title")).to_contain_text("Theo API")
        shoot(page, f"{size}-{name}")
        if size == "phone" and not name.startswith(("admin", "api-docs")):
            assert_fits(page, name)
    assert not session.problems, session.problems
