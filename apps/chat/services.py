"""Writes of chat data: conversations, personas. The answer pipeline is chat.answer."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction

from apps.chat.models import Conversation, Persona
from apps.core.errors import NotFound, PermissionDenied, ValidationFailed
from apps.core.services import audit_record
from apps.index.models import Passage
from apps.index.selectors import visible_passages

TITLE_MAX_CHARS = 200


def effective_scope(*, user: Any, scope: str) -> str:
    """Guests chat with the Bible only, whatever they ask for."""
    return Conversation.Scope.BIBLE if user.is_guest else scope


def _check_document(user: Any, document_id: uuid.UUID | str | None) -> None:
    """A one-document conversation needs a document the user may read (checked through the
    passage index's access rule, so chat does not import documents)."""
    if document_id is None:
        raise ValidationFailed(details={"document_id": ["Choose the document to talk about."]})
    readable = visible_passages(user).filter(source_kind=Passage.SourceKind.DOCUMENT, source_id=document_id)
    if not readable.exists():
        raise NotFound("No such document (or it has no passages yet).")


def conversation_create(
    *,
    owner: Any,
    title: str = "",
    persona: Persona | None = None,
    scope: str | None = None,
    document_id: uuid.UUID | str | None = None,
) -> Conversation:
    if persona is not None and not persona.is_active:
        raise ValidationFailed(details={"persona": ["This persona is not available."]})
    scope = effective_scope(user=owner, scope=scope or (persona.default_scope if persona else Conversation.Scope.ALL))
    if scope not in Conversation.Scope.values:
        raise ValidationFailed(details={"scope": [f"One of: {', '.join(Conversation.Scope.values)}."]})
    if scope == Conversation.Scope.DOCUMENT:
        _check_document(owner, document_id)
    else:
        document_id = None
    conversation = Conversation.objects.create(
        owner=owner,
        title=" ".join(title.split())[:TITLE_MAX_CHARS],
        persona=persona,
        scope=scope,
        document_id=document_id,
    )
    audit_record(actor=owner, action="chat.conversation.create", target=conversation)
    return conversation


def conversation_update(*, conversation: Conversation, actor: Any, **changes: Any) -> Conversation:
    fields = []
    if "title" in changes:
        conversation.title = " ".join(str(changes["title"]).split())[:TITLE_MAX_CHARS]
        fields.append("title")
    if "persona" in changes:
        persona = changes["persona"]
        if persona is not None and not persona.is_active:
            raise ValidationFailed(details={"persona": ["This persona is not available."]})
        conversation.persona = persona
        fields.append("persona")
    if "scope" in changes or "document_id" in changes:
        scope = effective_scope(user=actor, scope=changes.get("scope", conversation.scope))
        document_id = changes.get("document_id", conversation.document_id)
        if scope == Conversation.Scope.DOCUMENT:
            _check_document(actor, document_id)
        conversation.scope, conversation.document_id = scope, document_id if scope == "document" else None
        fields += ["scope", "document_id"]
    if fields:
        conversation.save(update_fields=[*fields, "updated_at"])
    return conversation


def conversation_title_from(*, conversation: Conversation, question: str) -> None:
    """An untitled conversation is named after its first question."""
    if not conversation.title:
        words = " ".join(question.split())
        conversation.title = words if len(words) <= 80 else words[:80].rsplit(" ", 1)[0] + "…"
        conversation.save(update_fields=["title", "updated_at"])


def conversation_delete(*, conversation: Conversation, actor: Any) -> None:
    with transaction.atomic():
        audit_record(actor=actor, action="chat.conversation.delete", target=conversation)
        conversation.delete()


def persona_check_staff(actor: Any) -> None:
    if not actor.is_staff:
        raise PermissionDenied("Only staff create or change personas.")


def persona_create(*, actor: Any, **fields: Any) -> Persona:
    persona_check_staff(actor)
    persona = Persona.objects.create(**fields)
    audit_record(actor=actor, action="chat.persona.create", target=persona)
    return persona
