"""Writes to the knowledge store: entries, their review, and their passages in the index.

Who may do what is decided by knowledge.selectors (entry_get_for, can_write_knowledge);
these services enforce it again, so the admin, the pages and the API share one rule."""

from __future__ import annotations

import uuid
from typing import Any, cast

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.core.errors import PermissionDenied, ValidationFailed
from apps.core.services import audit_record
from apps.index.chunking import chunk_words
from apps.index.models import Passage
from apps.index.selectors import PassageAccess
from apps.index.services import (
    PassageText,
    passages_build,
    passages_delete_for_source,
    passages_embed,
    passages_replace_for_source,
    passages_set_access,
)
from apps.knowledge.models import KnowledgeEntry
from apps.knowledge.selectors import can_write_knowledge, entry_manageable_by

MAX_TAGS = 20
TAG_MAX_CHARS = cast(int, KnowledgeEntry._meta.get_field("tags").base_field.max_length)
TITLE_MAX_CHARS = cast(int, KnowledgeEntry._meta.get_field("title").max_length)
SOURCE_MAX_CHARS = cast(int, KnowledgeEntry._meta.get_field("source").max_length)
REASON_MAX_CHARS = cast(int, KnowledgeEntry._meta.get_field("review_note").max_length)
BODY_MAX_CHARS = 100_000
EDITABLE_FIELDS = ("title", "body", "tags", "source", "status")
# Changing what a reviewer vouched for sends an approved entry back for review.
REVIEWED_FIELDS = ("title", "body", "source")
AUTHOR_STATUSES = (KnowledgeEntry.Status.DRAFT, KnowledgeEntry.Status.SUBMITTED)


class StatusNotAllowed(PermissionDenied):
    code = "status_not_allowed"
    message = "Only staff approve or reject entries; set the status to draft or submitted."


def _enqueue_index(entry: KnowledgeEntry) -> None:
    from apps.knowledge.tasks import index_entry_task

    entry_id = str(entry.pk)
    transaction.on_commit(lambda: index_entry_task.delay(entry_id))


def entry_passage_access(entry: KnowledgeEntry) -> PassageAccess:
    """Approved entries are read by every member; any other status only by the author (and staff)."""
    visibility = (
        Passage.Visibility.MEMBERS if entry.status == KnowledgeEntry.Status.APPROVED else Passage.Visibility.PRIVATE
    )
    return PassageAccess(visibility=visibility, owner_id=entry.author_id)


def _sync_passage_access(entry: KnowledgeEntry) -> None:
    passages_set_access(
        source_kind=Passage.SourceKind.KNOWLEDGE, source_id=entry.pk, access=entry_passage_access(entry)
    )


def entry_clean_tags(tags: Any) -> list[str]:
    """Stripped, lower-case, without duplicates (first spelling kept in order); a string is
    split at commas. At most MAX_TAGS tags of at most TAG_MAX_CHARS characters each."""
    if tags is None:
        return []
    if isinstance(tags, str):
        tags = tags.split(",")
    if not isinstance(tags, list | tuple):
        raise ValidationFailed(details={"tags": ["Give the tags as a list of words."]})
    cleaned: list[str] = []
    for tag in tags:
        if not isinstance(tag, str):
            raise ValidationFailed(details={"tags": ["Each tag must be text."]})
        tag = " ".join(tag.split()).lower()
        if not tag or tag in cleaned:
            continue
        if len(tag) > TAG_MAX_CHARS:
            raise ValidationFailed(details={"tags": [f"Tags are at most {TAG_MAX_CHARS} characters: “{tag[:60]}…”."]})
        cleaned.append(tag)
    if len(cleaned) > MAX_TAGS:
        raise ValidationFailed(details={"tags": [f"At most {MAX_TAGS} tags per entry."]})
    return cleaned


def _clean_text(value: Any, *, field: str, max_chars: int, required: bool) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationFailed(details={field: ["This must be text."]})
    value = value.strip() if field == "body" else " ".join(value.split())
    if required and not value:
        raise ValidationFailed(details={field: [f"The {field} cannot be empty."]})
    if len(value) > max_chars:
        raise ValidationFailed(details={field: [f"Keep the {field} under {max_chars:,} characters."]})
    return value


def _check_status(status: Any, *, actor: Any) -> str:
    if status not in KnowledgeEntry.Status.values:
        raise ValidationFailed(details={"status": [f"One of: {', '.join(KnowledgeEntry.Status.values)}."]})
    if status not in AUTHOR_STATUSES and not actor.is_staff:
        raise StatusNotAllowed()
    return status


def check_can_write(actor: Any) -> None:
    if can_write_knowledge(actor):
        return
    if getattr(actor, "is_guest", False):
        raise PermissionDenied("Guests have no access to the knowledge store.")
    raise PermissionDenied("Only power users and staff may write knowledge entries.")


def _check_manageable(actor: Any, entry: KnowledgeEntry) -> None:
    if not entry_manageable_by(actor, entry):
        raise PermissionDenied("Only the entry's author and staff may change it.")


def check_staff(actor: Any) -> None:
    if not (can_write_knowledge(actor) and actor.is_staff):
        raise PermissionDenied("Only staff approve or reject knowledge entries.")


def _mark_reviewed(entry: KnowledgeEntry, *, actor: Any, note: str) -> list[str]:
    entry.reviewed_by = actor
    entry.reviewed_at = timezone.now()
    entry.review_note = note
    return ["reviewed_by", "reviewed_at", "review_note"]


def entry_create(
    *,
    author: Any,
    title: str,
    body: str,
    tags: Any = None,
    source: str = "",
    status: str = KnowledgeEntry.Status.DRAFT,
) -> KnowledgeEntry:
    """A new entry by a power user (draft or submitted) or staff (who may publish at once);
    its passages are built after commit by index_entry_task."""
    check_can_write(author)
    status = _check_status(status or KnowledgeEntry.Status.DRAFT, actor=author)
    if status == KnowledgeEntry.Status.REJECTED:
        raise ValidationFailed(details={"status": ["A new entry cannot start out rejected."]})
    entry = KnowledgeEntry(
        title=_clean_text(title, field="title", max_chars=TITLE_MAX_CHARS, required=True),
        body=_clean_text(body, field="body", max_chars=BODY_MAX_CHARS, required=True),
        tags=entry_clean_tags(tags),
        source=_clean_text(source, field="source", max_chars=SOURCE_MAX_CHARS, required=False),
        status=status,
        author=author,
    )
    if status == KnowledgeEntry.Status.APPROVED:
        _mark_reviewed(entry, actor=author, note="")
    with transaction.atomic():
        entry.save(force_insert=True)
        audit_record(actor=author, action="knowledge.create", target=entry, data={"status": status})
        _enqueue_index(entry)
    return entry


def entry_update(*, entry: KnowledgeEntry, actor: Any, **changes: Any) -> KnowledgeEntry:
    """Change title, body, tags, source or status.

    Authors move their entries between draft and submitted; only staff approve or reject.
    When anyone but staff changes the title, body or source of an approved entry, it goes
    back to "submitted" for review (and out of members' search results until approved).
    New text is re-embedded in the background; a status change only updates who may read
    the passages, at once and in this transaction."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationFailed(details={name: ["This field cannot be changed."] for name in sorted(unknown)})
    _check_manageable(actor, entry)
    cleaned: dict[str, Any] = {}
    if "title" in changes:
        cleaned["title"] = _clean_text(changes["title"], field="title", max_chars=TITLE_MAX_CHARS, required=True)
    if "body" in changes:
        cleaned["body"] = _clean_text(changes["body"], field="body", max_chars=BODY_MAX_CHARS, required=True)
    if "source" in changes:
        cleaned["source"] = _clean_text(changes["source"], field="source", max_chars=SOURCE_MAX_CHARS, required=False)
    if "tags" in changes:
        cleaned["tags"] = entry_clean_tags(changes["tags"])
    if changes.get("status") is not None and changes["status"] != entry.status:
        cleaned["status"] = _check_status(changes["status"], actor=actor)
    changed = {name: value for name, value in cleaned.items() if getattr(entry, name) != value}
    if (
        not actor.is_staff
        and entry.status == KnowledgeEntry.Status.APPROVED
        and "status" not in changed
        and any(name in changed for name in REVIEWED_FIELDS)
    ):
        changed["status"] = KnowledgeEntry.Status.SUBMITTED
    if not changed:
        return entry

    data = {name: {"from": getattr(entry, name), "to": value} for name, value in changed.items() if name != "body"}
    if "body" in changed:
        data["body"] = {"chars": len(changed["body"])}
    fields = list(changed)
    for name, value in changed.items():
        setattr(entry, name, value)
    new_status = changed.get("status")
    if new_status == KnowledgeEntry.Status.APPROVED:
        fields += _mark_reviewed(entry, actor=actor, note="")
    elif new_status == KnowledgeEntry.Status.REJECTED:
        fields += _mark_reviewed(entry, actor=actor, note=entry.review_note)
    with transaction.atomic():
        entry.save(update_fields=[*fields, "updated_at"])
        if new_status is not None:
            _sync_passage_access(entry)
        audit_record(actor=actor, action="knowledge.update", target=entry, data=data)
        if "title" in changed or "body" in changed:
            _enqueue_index(entry)
    return entry


def entry_approve(*, entry: KnowledgeEntry, actor: Any) -> KnowledgeEntry:
    """Staff publish an entry: every member may read it and search finds it for them."""
    check_staff(actor)
    if entry.status == KnowledgeEntry.Status.APPROVED:
        return entry
    previous = entry.status
    entry.status = KnowledgeEntry.Status.APPROVED
    fields = ["status", *_mark_reviewed(entry, actor=actor, note="")]
    with transaction.atomic():
        entry.save(update_fields=[*fields, "updated_at"])
        _sync_passage_access(entry)
        audit_record(actor=actor, action="knowledge.approve", target=entry, data={"from": previous})
    return entry


def entry_reject(*, entry: KnowledgeEntry, actor: Any, reason: str) -> KnowledgeEntry:
    """Staff send an entry back to its author with the reason; only the author (and staff)
    can read it from then on."""
    check_staff(actor)
    reason = _clean_text(reason, field="reason", max_chars=REASON_MAX_CHARS, required=True)
    previous = entry.status
    entry.status = KnowledgeEntry.Status.REJECTED
    fields = ["status", *_mark_reviewed(entry, actor=actor, note=reason)]
    with transaction.atomic():
        entry.save(update_fields=[*fields, "updated_at"])
        _sync_passage_access(entry)
        audit_record(actor=actor, action="knowledge.reject", target=entry, data={"from": previous, "reason": reason})
    return entry


def entry_delete(*, entry: KnowledgeEntry, actor: Any) -> None:
    """Delete the entry and its passages in one transaction. The row lock makes an indexing
    run in flight either finish before (and its passages go too) or find the entry gone."""
    _check_manageable(actor, entry)
    with transaction.atomic():
        KnowledgeEntry.objects.select_for_update().filter(pk=entry.pk).first()
        audit_record(actor=actor, action="knowledge.delete", target=entry, data={"title": entry.title})
        passages_delete_for_source(source_kind=Passage.SourceKind.KNOWLEDGE, source_id=entry.pk)
        entry.delete()


def entry_index(*, entry_id: Any) -> int:
    """Chunk, embed and index one entry (index_entry_task); drop its passages if it is gone.

    Idempotent: the passages are swapped in one transaction. The entry is read again under
    a lock before the swap, so its current status decides the access, and text changed
    meanwhile is left to the task that change queued."""
    entry = KnowledgeEntry.objects.filter(pk=entry_id).first()
    if entry is None:
        return passages_delete_for_source(source_kind=Passage.SourceKind.KNOWLEDGE, source_id=uuid.UUID(str(entry_id)))
    texts = chunk_words(
        f"{entry.title}\n\n{entry.body}", size=settings.CHUNK_WORDS, overlap=settings.CHUNK_OVERLAP_WORDS
    )
    passages = passages_build([PassageText(text) for text in texts], vectors=passages_embed(texts))
    with transaction.atomic():
        current = KnowledgeEntry.objects.select_for_update().filter(pk=entry.pk).first()
        if current is None:
            return passages_delete_for_source(source_kind=Passage.SourceKind.KNOWLEDGE, source_id=entry.pk)
        if (current.title, current.body) != (entry.title, entry.body):
            return 0  # edited while we embedded: the edit queued its own run
        return passages_replace_for_source(
            source_kind=Passage.SourceKind.KNOWLEDGE,
            source_id=current.pk,
            title=current.title,
            passages=passages,
            access=entry_passage_access(current),
        )
