"""The printed page and the section of a passage, on the document page and the search page,
at desktop and phone widths (nothing overflows the phone's width)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from playwright.sync_api import expect

from apps.documents.models import Document
from apps.index.models import Passage
from tests.documents.factories import DocumentFactory
from tests.e2e.conftest import DESKTOP, PHONE
from tests.index.corpus import add_passages, marker
from tests.users.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SECTION = "Chapter 2. Ruth Gleaning in the Field of Boaz › Verses 8-9: The kindness of Boaz to Ruth"


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_document_and_search_pages_show_printed_page_and_section(open_session: Any, viewport: Any) -> None:
    user = UserFactory()
    document = DocumentFactory(owner=user, status=Document.Status.COMPLETED, stage=Document.Stage.DONE)
    word = marker()
    (passage,) = add_passages(
        [f"{word}: Boaz bids Ruth keep fast by his maidens, and drink of that which the young men have drawn."],
        owner=user,
        title=document.title,
        source_id=document.pk,
    )
    Passage.objects.filter(pk=passage.pk).update(page_start=50, page_end=51, page_label="46", section=SECTION)
    session = open_session(viewport)
    session.sign_in_as(user)
    page = session.page
    shots = os.environ.get("THEO_SHOTS_DIR")

    page.goto(f"/documents/{document.pk}/")
    article = page.locator(f"#passage-{passage.pk}")
    expect(article.locator(".locator")).to_have_text("pp. 46–47")
    expect(article.locator(".section")).to_have_text(SECTION)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    if shots:
        page.screenshot(path=f"{shots}/document-{viewport['width']}.png", full_page=True)

    page.goto(f"/search/?q={word}&scope=documents", timeout=90_000)  # the first search loads the model
    result = page.locator(".result").first
    expect(result.locator(".locator")).to_have_text("pp. 46–47")
    expect(result.locator(".section")).to_have_text(SECTION)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    if shots:
        page.screenshot(path=f"{shots}/search-{viewport['width']}.png", full_page=True)
    assert not session.problems
