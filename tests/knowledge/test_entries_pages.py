"""The knowledge pages (session login): browse and search, read an entry with its scripture
linked, write and edit entries, and review them as staff."""

from __future__ import annotations

import html
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.knowledge.models import KnowledgeEntry
from apps.users.models import User
from tests.knowledge.factories import ApprovedEntryFactory, AuthorFactory, EntryFactory, MemberFactory, StaffFactory

pytestmark = pytest.mark.django_db

INDEX = "/knowledge/"
NEW = "/knowledge/new/"
XSS = "<script>alert(1)</script>"
Status = KnowledgeEntry.Status


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page_of(entry: KnowledgeEntry, suffix: str = "") -> str:
    return f"/knowledge/{entry.pk}/{suffix}"


def text(response: Any) -> str:
    return response.content.decode()


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def form_data(**fields: str) -> dict[str, str]:
    return {"title": "A title", "body": "A body.", "tags": "", "source": "", "status": "draft", **fields}


# --- browsing -----------------------------------------------------------------------------


def test_readers_browse_approved_entries_only():
    marker = MemberFactory().pk.hex[:8]
    ApprovedEntryFactory(title=f"Approved {marker}", tags=["grace"])
    EntryFactory(title=f"Draft {marker}")
    reader = MemberFactory()

    page = text(signed_in(reader).get(INDEX, {"q": marker}))

    assert f"Approved {marker}" in page and f"Draft {marker}" not in page
    assert "New entry" not in page
    assert 'name="status"' not in page  # readers see approved entries only: no status filter


def test_power_users_see_their_own_drafts_the_new_button_and_the_status_filter():
    author = AuthorFactory()
    EntryFactory(author=author, title="My draft on election")
    EntryFactory(title="Another author's draft")

    page = text(signed_in(author).get(INDEX))

    assert "My draft on election" in page and "Another author&#x27;s draft" not in page
    assert 'href="/knowledge/new/"' in page
    assert 'name="status"' in page
    assert 'class="status status-draft"' in page


def test_search_and_tag_chips_filter_the_list():
    staff = StaffFactory()
    marker = staff.pk.hex[:8]
    ApprovedEntryFactory(title=f"Covenant {marker}", tags=[f"covenant-{marker}"])
    ApprovedEntryFactory(title=f"Baptism {marker}", tags=[f"sacraments-{marker}"])
    client = signed_in(staff)

    page = text(client.get(INDEX))
    assert f"covenant-{marker}" in page  # a tag chip

    by_tag = text(client.get(INDEX, {"tag": f"Covenant-{marker}"}))
    assert f"Covenant {marker}" in by_tag and f"Baptism {marker}" not in by_tag
    assert 'class="chip active"' in by_tag

    by_text = text(client.get(INDEX, {"q": f"baptism {marker}"}))
    assert f"Baptism {marker}" in by_text and f"Covenant {marker}" not in by_text

    assert "No entries match" in text(client.get(INDEX, {"q": f"nothing like {marker}"}))
    by_status = text(client.get(INDEX, {"q": marker, "status": "draft"}))
    assert "No entries match" in by_status


def test_pagination_keeps_the_filters():
    author = AuthorFactory()
    for n in range(21):
        EntryFactory(author=author, title=f"Paged entry {n}", tags=["paged"])
    page = text(signed_in(author).get(INDEX, {"tag": "paged", "q": "Paged entry"}))
    assert "Page 1 of 2" in page
    assert "?page=2&amp;q=Paged+entry&amp;tag=paged" in page


def test_guests_get_a_friendly_403_on_every_knowledge_page():
    guest = MemberFactory(role=User.Role.GUEST)
    entry = ApprovedEntryFactory()
    client = signed_in(guest)
    for url in [INDEX, NEW, page_of(entry), page_of(entry, "edit/")]:
        response = client.get(url)
        assert response.status_code == 403, url
        assert "no access to the knowledge store" in text(response)
        assert entry.title not in text(response)


def test_knowledge_pages_need_a_signed_in_user():
    response = Client().get(INDEX)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_the_index_query_count_does_not_grow_with_entries(django_assert_max_num_queries):
    author = AuthorFactory()
    EntryFactory(author=author)
    client = signed_in(author)
    with CaptureQueriesContext(connection) as few:
        assert client.get(INDEX).status_code == 200
    for _ in range(5):
        EntryFactory(author=author, tags=["more"])
        ApprovedEntryFactory(author=AuthorFactory())
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(INDEX).status_code == 200


def test_a_search_without_results_offers_to_clear_the_filters():
    author = AuthorFactory()
    page = text(signed_in(author).get(INDEX, {"q": f"no-such-entry-{author.pk}"}))
    assert "No entries match" in page
    assert "Clear the filters" in page


# --- reading ------------------------------------------------------------------------------


def test_an_entry_is_escaped_with_paragraphs_and_linked_scripture():
    entry = ApprovedEntryFactory(
        title=f"Title {XSS}",
        body=f"First line {XSS}\nsecond line, see Rom 8:28.\n\nChapter 5 of the book; also 1 Cor 13:4-7.",
        source=f"Source {XSS}",
        tags=["grace"],
    )

    response = signed_in(MemberFactory()).get(page_of(entry))

    assert response.status_code == 200
    page = text(response)
    assert XSS not in page
    assert html.escape(XSS) in page
    assert "<br>second line" in page
    assert '<a class="scripture-ref" href="/scripture/?ref=Romans+8%3A28" title="Romans 8:28">Rom 8:28</a>' in page
    assert 'href="/scripture/?ref=1+Corinthians+13%3A4-7"' in page
    assert "Chapter 5 of the book" in page  # not a reference: plain text
    assert 'class="status status-approved"' in page
    assert f"/knowledge/{entry.pk}/edit/" not in page and f"/knowledge/{entry.pk}/approve/" not in page


def test_the_author_sees_edit_and_delete_and_staff_see_review_buttons():
    entry = EntryFactory(status=Status.SUBMITTED)
    author_page = text(signed_in(entry.author).get(page_of(entry)))
    assert f'href="/knowledge/{entry.pk}/edit/"' in author_page
    assert f'action="/knowledge/{entry.pk}/delete/"' in author_page
    assert "Waiting for review" in author_page
    assert f'action="/knowledge/{entry.pk}/approve/"' not in author_page

    staff_page = text(signed_in(StaffFactory()).get(page_of(entry)))
    assert f'action="/knowledge/{entry.pk}/approve/"' in staff_page
    assert f'action="/knowledge/{entry.pk}/reject/"' in staff_page


def test_the_list_links_edit_on_the_entries_the_user_may_edit_only():
    author = AuthorFactory()
    own = EntryFactory(author=author, status=Status.APPROVED, title="Mine to edit")
    theirs = ApprovedEntryFactory(title="Their approved entry")
    page = text(signed_in(author).get(INDEX))
    assert own.title in page and theirs.title in page
    assert f'href="/knowledge/{own.pk}/edit/"' in page
    assert f"/knowledge/{theirs.pk}/edit/" not in page
    staff_page = text(signed_in(StaffFactory()).get(INDEX))
    assert f'href="/knowledge/{own.pk}/edit/"' in staff_page
    assert f'href="/knowledge/{theirs.pk}/edit/"' in staff_page


def test_a_rejected_entry_shows_the_reason_to_its_author():
    entry = EntryFactory(status=Status.REJECTED, review_note=f"Cite a source {XSS}")
    page = text(signed_in(entry.author).get(page_of(entry)))
    assert "Cite a source &lt;script&gt;" in page


def test_someone_elses_draft_is_404():
    entry = EntryFactory()
    assert signed_in(AuthorFactory()).get(page_of(entry)).status_code == 404
    assert signed_in(MemberFactory()).get(page_of(entry, "edit/")).status_code == 404


# --- writing ------------------------------------------------------------------------------


def test_a_power_user_writes_an_entry_and_submits_it():
    author = AuthorFactory()
    client = signed_in(author)
    form = text(client.get(NEW))
    assert 'value="draft"' in form and 'value="submitted"' in form and 'value="approved"' not in form

    response = client.post(
        NEW, form_data(title="Adoption", body="Sons by adoption (Gal 4:5).", tags="Adoption, grace", status="submitted")
    )

    entry = KnowledgeEntry.objects.get(author=author, title="Adoption")
    assert response.status_code == 302 and response["Location"] == page_of(entry)
    assert entry.status == Status.SUBMITTED and entry.tags == ["adoption", "grace"]


def test_staff_may_publish_from_the_form():
    staff = StaffFactory()
    client = signed_in(staff)
    assert 'value="approved"' in text(client.get(NEW))
    client.post(NEW, form_data(title="Published", status="approved"))
    assert KnowledgeEntry.objects.get(author=staff, title="Published").status == Status.APPROVED


def test_form_errors_are_shown_and_nothing_is_saved():
    author = AuthorFactory()
    client = signed_in(author)

    response = client.post(NEW, form_data(title="", tags=", ".join(f"t{i}" for i in range(25))))
    assert response.status_code == 400
    assert "This field is required." in text(response)
    response = client.post(NEW, form_data(title="Tags", tags=", ".join(f"t{i}" for i in range(25))))
    assert response.status_code == 400
    assert "At most 20 tags per entry." in text(response)
    forged = client.post(NEW, form_data(title="Forged", status="approved"))
    assert forged.status_code == 400
    assert not KnowledgeEntry.objects.filter(author=author).exists()


def test_readers_cannot_open_the_form():
    response = signed_in(MemberFactory()).get(NEW)
    assert response.status_code == 403
    assert "Only power users and staff write knowledge entries" in text(response)


def test_an_authors_edit_to_an_approved_entry_goes_back_for_review():
    entry = ApprovedEntryFactory(tags=["grace"])
    client = signed_in(entry.author)
    form = text(client.get(page_of(entry, "edit/")))
    assert "Keep approved" in form

    response = client.post(
        page_of(entry, "edit/"),
        form_data(title=entry.title, body="New text", tags="grace", source=entry.source, status="approved"),
    )

    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.status == Status.SUBMITTED and entry.body == "New text"
    assert any("sent back for review" in m for m in messages_of(response))


def test_others_may_not_edit_delete_or_review():
    entry = ApprovedEntryFactory()
    client = signed_in(AuthorFactory())
    assert client.get(page_of(entry, "edit/")).status_code == 403
    assert client.post(page_of(entry, "delete/")).status_code == 403
    assert client.post(page_of(entry, "approve/")).status_code == 403
    assert KnowledgeEntry.objects.filter(pk=entry.pk, status=Status.APPROVED).exists()


def test_delete_is_a_post_and_goes_back_to_the_list():
    entry = EntryFactory()
    client = signed_in(entry.author)
    assert client.get(page_of(entry, "delete/")).status_code == 405
    response = client.post(page_of(entry, "delete/"))
    assert response.status_code == 302 and response["Location"] == INDEX
    assert not KnowledgeEntry.objects.filter(pk=entry.pk).exists()


# --- reviewing ----------------------------------------------------------------------------


def test_staff_approve_and_reject_from_the_entry_page():
    entry = EntryFactory(status=Status.SUBMITTED)
    client = signed_in(StaffFactory())

    response = client.post(page_of(entry, "approve/"))
    assert response.status_code == 302 and response["Location"] == page_of(entry)
    entry.refresh_from_db()
    assert entry.status == Status.APPROVED

    missing_reason = client.post(page_of(entry, "reject/"), {"reason": " "})
    assert any("reason cannot be empty" in m for m in messages_of(missing_reason))
    client.post(page_of(entry, "reject/"), {"reason": "Off topic."})
    rejected = KnowledgeEntry.objects.get(pk=entry.pk)
    assert rejected.status == Status.REJECTED and rejected.review_note == "Off topic."


def test_an_author_cannot_approve_their_own_entry_from_the_page():
    entry = EntryFactory(status=Status.SUBMITTED)
    response = signed_in(entry.author).post(page_of(entry, "approve/"))
    assert response.status_code == 302
    assert any("Only staff approve" in m for m in messages_of(response))
    entry.refresh_from_db()
    assert entry.status == Status.SUBMITTED
