"""The chat page's "Summarise / compare documents" panel in Chromium against `manage.py
run`: estimate, confirm, progress, the answer with its citation chips; at 1280 and 390 px.
Screenshots land in /tmp/shots-digest/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from apps.chat.models import Digest
from tests.chat import fake_claude as fake
from tests.chat.digests import GRACE, HOPE, book, conversation_for
from tests.e2e.conftest import DESKTOP, PHONE
from tests.users.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SHOTS = Path("/tmp/shots-digest")


@pytest.mark.parametrize(("viewport", "name"), [(DESKTOP, "1280"), (PHONE, "390")])
def test_summarise_a_document_from_the_chat_page(
    open_session: Any, fake_claude_server: Any, personas: None, viewport: Any, name: str
) -> None:
    SHOTS.mkdir(exist_ok=True)
    owner = UserFactory()
    grace = book(owner, GRACE, title="Of Grace and Justification")
    book(owner, HOPE, title="On Hope")
    conversation = conversation_for(owner, grace)
    session = open_session(viewport)
    session.sign_in_as(owner)
    page = session.page
    page.goto(f"/chat/{conversation.pk}/")
    expect(page.locator("#connection")).to_have_text("Live")
    page.click("#digest summary")
    expect(page.locator('input[name="digest-document"]:checked')).to_have_count(1)  # the conversation's document
    page.fill("#digest-question", "Summarise chapter 2")
    page.click("#digest-estimate")
    expect(page.locator("#digest-estimate-text")).to_contain_text("3 passages (chapter 2) · 1 Claude call · at most $")
    page.screenshot(path=str(SHOTS / f"estimate-{name}.png"), full_page=True)

    fake_claude_server.respond(
        fake.text(["Justification “rests on the righteousness of Christ” [1]; ", "works are its fruit [3]."], delay=0.3)
    )
    page.click("#digest-start")
    expect(page.locator(".bubble-user").last).to_have_text("Summarise chapter 2")
    answer = page.locator(".bubble-assistant .bubble-body").last
    expect(answer).to_contain_text("works are its fruit", timeout=30_000)
    expect(answer.locator(".cite")).to_have_count(2)
    expect(page.locator("#digest-running")).to_be_hidden()
    page.screenshot(path=str(SHOTS / f"answer-{name}.png"), full_page=True)
    assert Digest.objects.get(conversation=conversation).status == "ready"

    # Over budget: the estimate says so and Start stays disabled.
    owner.monthly_budget_usd = 0
    owner.save(update_fields=["monthly_budget_usd"])
    page.check('input[name="digest-document"] >> nth=1')
    page.fill("#digest-question", "Compare what these two say about justification")
    page.click("#digest-estimate")
    expect(page.locator("#digest-estimate-text")).to_contain_text("more than your budget has left")
    expect(page.locator("#digest-start")).to_be_disabled()
    page.screenshot(path=str(SHOTS / f"over-budget-{name}.png"), full_page=True)
    assert session.problems == []
