"""Writes of chat data: conversations, personas, and the pipeline's two writes (the question
with the conversation's title, the answer with its usage). The pipeline is chat.answer."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from apps.chat.models import AIUsage, Conversation, Message, Persona
from apps.chat.realtime import CitationItem, SourceItem
from apps.chat.selectors import effective_scope
from apps.core.errors import NotFound, PermissionDenied, ValidationFailed
from apps.core.metrics import ai_usage_count
from apps.core.services import audit_record
from apps.index.models import Passage
from apps.index.selectors import visible_passages

if TYPE_CHECKING:
    from apps.chat.providers import Usage

TITLE_MAX_CHARS = 200


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


def title_from(question: str) -> str:
    words = " ".join(question.split())
    return words if len(words) <= 80 else words[:80].rsplit(" ", 1)[0] + "…"


def question_record(*, conversation_id: Any, question: str) -> tuple[Conversation, Message]:
    """Save the question in its conversation, read (and locked) afresh here: the answer then
    uses the persona and scope the conversation has now, and an untitled conversation is
    named after this question only if its row is still untitled (a rename, or another
    question's title, committed since the caller loaded it is kept)."""
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update(of=("self",))
            .select_related("persona", "owner")
            .filter(pk=conversation_id)
            .first()
        )
        if conversation is None:
            raise NotFound("No such conversation (deleted meanwhile?).")
        message = Message.objects.create(conversation=conversation, role=Message.Role.USER, content=question)
        fields = ["updated_at"]
        if not conversation.title:
            conversation.title = title_from(question)
            fields.append("title")
        conversation.save(update_fields=fields)
    return conversation, message


def answer_record(
    *,
    conversation: Conversation,
    user: Any,
    text: str,
    citations: list[CitationItem],
    model: str,
    usage: Usage,
    cost: Decimal,
    degraded: bool,
    failed_code: str = "",
    search_query: str = "",
    sources: list[SourceItem] | None = None,
    assists: list[dict[str, Any]] | None = None,
) -> Message:
    """The answer (complete, or failed with what came), the query it searched for and the
    sources it was given, and its usage (the answer's row, then one per helper call made
    for it: `assists` of {kind, model, usage, cost}), in one transaction."""
    with transaction.atomic():
        message = Message.objects.create(
            conversation=conversation,
            role=Message.Role.ASSISTANT,
            content=text,
            citations=citations,
            degraded=degraded,
            status=Message.Status.FAILED if failed_code else Message.Status.COMPLETE,
            error_code=failed_code,
            model=model,
            search_query=search_query,
            sources=sources or [],
        )
        for assist in assists or []:
            kind, assist_model = assist["kind"], assist["model"]
            usage_record(
                user=user, message=message, kind=kind, model=assist_model, usage=assist["usage"], cost=assist["cost"]
            )
        usage_record(user=user, message=message, model=model, usage=usage, cost=cost, degraded=degraded)
        Conversation.objects.filter(pk=conversation.pk).update(updated_at=timezone.now())
    return message


def usage_record(
    *,
    user: Any,
    message: Message | None,
    model: str,
    usage: Usage,
    cost: Decimal,
    kind: str = AIUsage.Kind.ANSWER,
    degraded: bool = False,
) -> AIUsage:
    """One model call in the user's usage: an answer, or a helper call (rewrite, rerank,
    a digest's map and reduce). Counted on /metrics once the row is committed."""
    record = AIUsage.objects.create(
        user=user,
        message=message,
        kind=kind,
        model=model,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        cost_usd=cost,
        degraded=degraded,
    )
    tokens = usage.input_tokens + usage.output_tokens
    transaction.on_commit(lambda: ai_usage_count(kind=str(kind), tokens=tokens, cost=float(cost)))
    return record


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
