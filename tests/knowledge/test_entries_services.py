"""Entry services: the rules on status (who may set what, re-review after an edit), tag
normalisation, and indexing an entry into passages (chunked, embedded, scripture found,
access following the status, gone with the entry)."""

from __future__ import annotations

import numpy as np
import pytest

from apps.core.errors import PermissionDenied, ValidationFailed
from apps.core.models import AuditEvent
from apps.index import embeddings
from apps.index.chunking import chunk_words
from apps.index.models import Passage
from apps.knowledge import services
from apps.knowledge.models import KnowledgeEntry
from apps.knowledge.tasks import index_entry_task
from apps.users.models import User
from tests.knowledge.factories import ApprovedEntryFactory, AuthorFactory, EntryFactory, MemberFactory, StaffFactory

pytestmark = pytest.mark.django_db

Status = KnowledgeEntry.Status


def passages_of(entry: KnowledgeEntry):
    return Passage.objects.filter(source_kind=Passage.SourceKind.KNOWLEDGE, source_id=entry.pk).order_by("chunk_index")


# --- chunking -----------------------------------------------------------------------------


def test_chunk_words_windows_overlap_and_cover_every_word():
    text = " ".join(f"w{i}" for i in range(24))

    chunks = chunk_words(text, size=10, overlap=3)

    assert [chunk.split()[0] for chunk in chunks] == ["w0", "w7", "w14"]
    assert chunks[0].split()[-3:] == chunks[1].split()[:3]
    assert chunks[-1].split()[-1] == "w23"  # and no window of only the last 3 words again
    assert chunk_words("  \n ", size=10, overlap=3) == []
    assert chunk_words("a\n\nb   c", size=10, overlap=3) == ["a b c"]
    with pytest.raises(ValueError, match="overlap"):
        chunk_words(text, size=5, overlap=5)


# --- tags and validation -----------------------------------------------------------------


def test_tags_are_stripped_lowered_and_unique():
    assert services.entry_clean_tags([" Grace", "GRACE", "Sola   Fide", " ", "law"]) == ["grace", "sola fide", "law"]
    assert services.entry_clean_tags("grace, Law ,, grace") == ["grace", "law"]
    assert services.entry_clean_tags(None) == []


@pytest.mark.parametrize("tags", [["x" * 51], [f"t{i}" for i in range(21)], [3], "x" * 51, 7])
def test_bad_tags_are_refused_with_a_message(tags):
    with pytest.raises(ValidationFailed) as caught:
        services.entry_clean_tags(tags)
    assert caught.value.details["tags"]


def test_twenty_distinct_tags_are_enough_and_duplicates_do_not_count():
    assert len(services.entry_clean_tags([f"t{i}" for i in range(20)] + ["T0", "t1 "])) == 20


def test_only_power_users_and_staff_create():
    for person in [MemberFactory(), MemberFactory(role=User.Role.GUEST)]:
        with pytest.raises(PermissionDenied):
            services.entry_create(author=person, title="T", body="B")


def test_create_refuses_unknown_fields_of_status():
    with pytest.raises(ValidationFailed):
        services.entry_create(author=StaffFactory(), title="T", body="B", status="rejected")
    with pytest.raises(ValidationFailed):
        services.entry_create(author=StaffFactory(), title="T", body="B", status="nonsense")


def test_update_refuses_fields_that_are_not_editable():
    entry = EntryFactory()
    with pytest.raises(ValidationFailed) as caught:
        services.entry_update(entry=entry, actor=entry.author, author=StaffFactory())
    assert "author" in caught.value.details


def test_an_unchanged_update_writes_nothing():
    entry = EntryFactory()
    services.entry_update(entry=entry, actor=entry.author, title=entry.title, tags=list(entry.tags))
    assert not AuditEvent.objects.filter(target_id=str(entry.pk)).exists()


def test_authors_may_unpublish_but_not_publish_their_entries():
    entry = ApprovedEntryFactory()
    services.entry_update(entry=entry, actor=entry.author, status=Status.APPROVED)  # no change: allowed
    services.entry_update(entry=entry, actor=entry.author, status=Status.DRAFT)
    assert entry.status == Status.DRAFT
    with pytest.raises(services.StatusNotAllowed):
        services.entry_update(entry=entry, actor=entry.author, status=Status.APPROVED)


def test_a_source_change_sends_an_approved_entry_back_but_an_explicit_draft_wins():
    entry = ApprovedEntryFactory()
    services.entry_update(entry=entry, actor=entry.author, source="Another book")
    assert entry.status == Status.SUBMITTED
    approved = ApprovedEntryFactory()
    services.entry_update(entry=approved, actor=approved.author, body="New", status=Status.DRAFT)
    assert approved.status == Status.DRAFT


def test_only_staff_approve_and_reject():
    entry = EntryFactory(status=Status.SUBMITTED)
    with pytest.raises(PermissionDenied):
        services.entry_approve(entry=entry, actor=entry.author)
    with pytest.raises(PermissionDenied):
        services.entry_reject(entry=entry, actor=entry.author, reason="no")
    staff = StaffFactory()
    services.entry_reject(entry=entry, actor=staff, reason="Too vague.")
    entry.refresh_from_db()
    assert (entry.status, entry.review_note, entry.reviewed_by) == (Status.REJECTED, "Too vague.", staff)


def test_approving_twice_is_harmless():
    staff = StaffFactory()
    entry = EntryFactory(status=Status.SUBMITTED)
    services.entry_approve(entry=entry, actor=staff)
    services.entry_approve(entry=entry, actor=staff)
    assert AuditEvent.objects.filter(action="knowledge.approve", target_id=str(entry.pk)).count() == 1


def test_writes_enqueue_indexing_on_commit_and_status_changes_do_not(monkeypatch, django_capture_on_commit_callbacks):
    queued: list[str] = []
    monkeypatch.setattr(index_entry_task, "delay", lambda entry_id: queued.append(entry_id))
    author = AuthorFactory()
    staff = StaffFactory()

    with django_capture_on_commit_callbacks() as callbacks:
        entry = services.entry_create(author=author, title="On the Trinity", body="One God in three persons.")
    assert queued == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert queued == [str(entry.pk)]

    with django_capture_on_commit_callbacks(execute=True):
        services.entry_update(entry=entry, actor=author, status=Status.SUBMITTED)
        services.entry_approve(entry=entry, actor=staff)
        services.entry_reject(entry=entry, actor=staff, reason="Cite the creed.")
        services.entry_update(entry=entry, actor=author, tags=["trinity"])
    assert queued == [str(entry.pk)]

    with django_capture_on_commit_callbacks(execute=True):
        services.entry_update(entry=entry, actor=author, body="One God, three persons (Matt 28:19).")
    assert queued == [str(entry.pk), str(entry.pk)]


# --- indexing -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model_loaded() -> None:
    embeddings.get_model()


def test_indexing_an_approved_entry_makes_member_passages_with_references(settings, monkeypatch, model_loaded):
    settings.CHUNK_WORDS, settings.CHUNK_OVERLAP_WORDS = 12, 2
    entry = ApprovedEntryFactory(
        title="Justification",
        body=(
            "We are justified by faith apart from works of the law, as Paul argues in Rom 3:28. "
            "Grace is the source of salvation and faith its instrument, see Eph 2:8-9 and the whole letter."
        ),
    )

    created = services.entry_index(entry_id=str(entry.pk))

    passages = list(passages_of(entry))
    assert created == len(passages) == len(chunk_words(f"{entry.title} {entry.body}", size=12, overlap=2))
    assert all(p.visibility == Passage.Visibility.MEMBERS and p.owner_id == entry.author_id for p in passages)
    assert all(p.title == "Justification" and p.embedding_model == embeddings.model_name() for p in passages)
    assert passages[0].text.startswith("Justification We are justified")
    vector = np.array(passages[0].embedding)
    assert vector.shape == (384,) and abs(np.linalg.norm(vector) - 1) < 1e-3
    references = [ref for p in passages for ref in p.scripture_references]
    assert "Romans 3:28" in references and "Ephesians 2:8-9" in references
    assert 45003028 in {verse for p in passages for verse in p.verse_ids}

    # A status change updates access in place, without embedding again.
    with monkeypatch.context() as patched:
        patched.setattr(embeddings, "embed_texts", lambda *args, **kwargs: pytest.fail("embedded again"))
        services.entry_reject(entry=entry, actor=StaffFactory(), reason="Needs the council too.")
    assert {p.visibility for p in passages_of(entry)} == {Passage.Visibility.PRIVATE}
    assert [p.pk for p in passages_of(entry)] == [p.pk for p in passages]  # the same rows

    # Running again replaces the passages one for one; deleting the entry removes them.
    services.entry_index(entry_id=str(entry.pk))
    assert passages_of(entry).count() == len(passages)
    assert {p.visibility for p in passages_of(entry)} == {Passage.Visibility.PRIVATE}
    services.entry_delete(entry=entry, actor=entry.author)
    assert not passages_of(entry).exists()


def test_a_draft_is_indexed_privately_for_its_author(model_loaded):
    entry = EntryFactory(body="A private note on the Psalms (Ps 23:1).")

    services.entry_index(entry_id=entry.pk)

    [passage] = passages_of(entry)
    assert passage.visibility == Passage.Visibility.PRIVATE
    assert passage.owner_id == entry.author_id
    assert passage.scripture_references == ["Psalms 23:1"]


def test_indexing_an_entry_that_is_gone_drops_its_passages():
    entry = EntryFactory()
    Passage.objects.create(
        source_kind=Passage.SourceKind.KNOWLEDGE, source_id=entry.pk, chunk_index=0, text="orphan", owner_id=None
    )
    entry_id = entry.pk
    KnowledgeEntry.objects.filter(pk=entry_id).delete()  # e.g. deleted while the task waited

    services.entry_index(entry_id=str(entry_id))

    assert not Passage.objects.filter(source_kind=Passage.SourceKind.KNOWLEDGE, source_id=entry_id).exists()


def test_the_task_runs_the_service(monkeypatch):
    seen: list[str] = []
    monkeypatch.setattr(services, "entry_index", lambda *, entry_id: seen.append(entry_id))
    index_entry_task.run("abc")
    assert seen == ["abc"]
