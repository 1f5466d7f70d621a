"""Digests, the writes: the estimate shown before one starts, starting it (checks, the
question saved, the task queued), and the records its run leaves (notes, usage, the answer,
a failure). The run itself is chat.digest_run; the plan and prompts chat.digest_plan."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.chat import providers, realtime
from apps.chat.admission import chat_rate_limit
from apps.chat.citations import Source, validate_citations
from apps.chat.digest_plan import Plan, estimate, plan_digest
from apps.chat.digest_selectors import Chosen, digest_passages
from apps.chat.models import AIUsage, Conversation, Digest, Message
from apps.chat.selectors import conversation_get_for, spent_this_month
from apps.chat.services import title_from, usage_record
from apps.core.breaker import BreakerState, claude_breaker
from apps.core.errors import PermissionDenied, ValidationFailed
from apps.core.services import audit_record


@dataclass
class Prepared:
    conversation: Conversation
    chosen: Chosen
    plan: Plan
    estimate: dict[str, Any]
    offline_reason: str


def offline_reason(*, trial: bool = False) -> str:
    """Why a digest would be extractive now ("" when Claude writes it). `trial`: take part
    in the breaker's half-open trial (the run does; an estimate only looks)."""
    if not providers.claude_configured():
        return "no_api_key"
    breaker = claude_breaker()
    closed = breaker.allow() if trial else breaker.state() is not BreakerState.OPEN
    return "" if closed else "breaker_open"


def digest_prepare(*, user: Any, conversation_id: Any, question: str, document_ids: list[uuid.UUID]) -> Prepared:
    """404 for a conversation or document `user` may not read; 400 for a part named but not
    found, a document not processed yet, or more map calls than DIGEST_MAX_MAP_CALLS."""
    conversation = conversation_get_for(user=user, pk=conversation_id)
    if user.is_guest:
        raise PermissionDenied("Guests chat with the Bible only: digests read documents.")
    chosen = digest_passages(user=user, question=question, document_ids=document_ids)
    plan = plan_digest(question=question, chosen=chosen)
    if plan.map_calls > settings.DIGEST_MAX_MAP_CALLS:
        raise ValidationFailed(
            f"These documents are too long to digest at once ({plan.map_calls} parts; at most "
            f"{settings.DIGEST_MAX_MAP_CALLS}). Name a chapter or pages in the question, or choose fewer documents.",
            code="digest_too_large",
            details={"document_ids": [f"{len(plan.sources)} passages in {plan.map_calls} parts."]},
        )
    return Prepared(conversation, chosen, plan, estimate(plan), offline_reason())


def digest_estimate(*, user: Any, conversation_id: Any, question: str, document_ids: list[uuid.UUID]) -> dict[str, Any]:
    prepared = digest_prepare(user=user, conversation_id=conversation_id, question=question, document_ids=document_ids)
    cost = Decimal(0) if prepared.offline_reason else prepared.estimate["estimated_cost_usd"]
    left = max(Decimal(0), user.monthly_budget_usd - spent_this_month(user=user))
    return {
        "passages": len(prepared.plan.sources),
        **prepared.estimate,
        "estimated_cost_usd": float(cost),
        "offline": bool(prepared.offline_reason),
        "part": prepared.chosen.part.label,
        "budget_left_usd": float(left),
        "within_budget": bool(prepared.offline_reason) or cost <= left,
    }


def _check_budget(*, user: Any, cost: Decimal) -> None:
    spent, allowed = spent_this_month(user=user), user.monthly_budget_usd
    if spent >= allowed or spent + cost > allowed:
        left = max(Decimal(0), allowed - spent)
        raise PermissionDenied(
            f"This digest may cost up to ${cost:.4f} and ${left:.4f} is left of your monthly AI budget "
            f"(${allowed:.2f}). Name a chapter or pages to make it smaller, or ask staff to raise your budget.",
            code="budget_exceeded",
            details={"estimated_cost_usd": float(cost), "budget_left_usd": float(left)},
        )


def digest_start(*, user: Any, conversation_id: Any, question: str, document_ids: list[uuid.UUID]) -> Digest:
    """Checks (access, size, budget unless offline, the chat rate limit), then the question
    saved in the conversation and the run queued."""
    from apps.chat.tasks import digest_run_task

    prepared = digest_prepare(user=user, conversation_id=conversation_id, question=question, document_ids=document_ids)
    if not prepared.offline_reason:
        _check_budget(user=user, cost=prepared.estimate["estimated_cost_usd"])
    chat_rate_limit(user=user)
    with transaction.atomic():
        conversation = prepared.conversation
        Message.objects.create(conversation=conversation, role=Message.Role.USER, content=question)
        digest = Digest.objects.create(
            conversation=conversation,
            question=question,
            document_ids=list(prepared.chosen.titles),
            total=1 if prepared.offline_reason else prepared.plan.calls,
        )
        fields = ["updated_at"]
        if not conversation.title:
            conversation.title = title_from(question)
            fields.append("title")
        conversation.save(update_fields=fields)
        audit_record(actor=user, action="chat.digest.start", target=digest, data={"documents": len(document_ids)})
        transaction.on_commit(lambda: digest_run_task.delay(str(digest.pk)))
    return digest


# --- the records of a run ------------------------------------------------------------------


def digest_usage_record(*, user: Any, model: str, usage: providers.Usage, message: Message | None = None) -> AIUsage:
    """One Claude call of a digest in the user's usage (the one place digests write AIUsage)."""
    return usage_record(
        user=user, message=message, kind=AIUsage.Kind.DIGEST, model=model, usage=usage, cost=usage.cost_usd(model)
    )


def _broadcast(digest: Digest, event: realtime.DigestEvent) -> None:
    conversation_id = digest.conversation_id
    transaction.on_commit(lambda: realtime.digest_broadcast(conversation_id, event))


class DigestGone(Exception):
    """The digest was deleted (with its conversation) while it ran: the run stops."""


def digest_note_record(*, digest: Digest, index: int, note: str, model: str, usage: providers.Usage) -> None:
    """The map step's note of group `index`, its usage and the progress, together (a run
    delivered again resumes after the last note recorded, and records no call twice).
    The call is in the user's usage even if the digest is gone (DigestGone): it was paid for."""
    with transaction.atomic():
        locked = Digest.objects.select_for_update().filter(pk=digest.pk).first()
        if locked is not None and len(locked.notes) != index:
            return  # another delivery of the task recorded it
        digest_usage_record(user=digest.conversation.owner, model=model, usage=usage)
        if locked is not None:
            locked.notes = [*locked.notes, note]
            locked.done = F("done") + 1
            locked.cost_usd = F("cost_usd") + usage.cost_usd(model)
            locked.save(update_fields=["notes", "done", "cost_usd", "updated_at"])
            locked.refresh_from_db(fields=["done", "total"])
            digest.notes, digest.done = locked.notes, locked.done
            _broadcast(digest, realtime.digest_progress(digest.pk, done=locked.done, total=locked.total))
    if locked is None:
        raise DigestGone(str(digest.pk))


def digest_finish(
    *,
    digest: Digest,
    text: str,
    sources: list[Source],
    model: str,
    usage: providers.Usage | None,
    degraded_reason: str = "",
) -> Message:
    """The answer as an assistant message with its checked citations and usage; the digest
    ready. The digest's row is locked first: a conversation deleted meanwhile waits for this
    transaction (then deletes what it wrote), or was first (DigestGone; the call is still in
    the user's usage: it was paid for)."""
    items = validate_citations(text, sources)
    conversation = digest.conversation
    with transaction.atomic():
        message = None
        if Digest.objects.select_for_update().filter(pk=digest.pk).exists():
            message = Message.objects.create(
                conversation=conversation,
                role=Message.Role.ASSISTANT,
                content=text,
                citations=items,
                degraded=bool(degraded_reason),
                model=model,
            )
        spent = Decimal(0)
        if usage is not None:
            spent = digest_usage_record(user=conversation.owner, model=model, usage=usage, message=message).cost_usd
        if message is not None:
            Digest.objects.filter(pk=digest.pk).update(
                status=Digest.Status.READY,
                done=F("total"),
                message=message,
                degraded=bool(degraded_reason),
                degraded_reason=degraded_reason,
                cost_usd=F("cost_usd") + spent,
                updated_at=timezone.now(),
            )
            Conversation.objects.filter(pk=conversation.pk).update(updated_at=timezone.now())
            _broadcast(digest, realtime.digest_done(digest.pk, message_id=message.pk))
    if message is None:
        raise DigestGone(str(digest.pk))
    return message


def digest_fail(*, digest: Digest, code: str, message: str) -> None:
    with transaction.atomic():
        Digest.objects.filter(pk=digest.pk).update(
            status=Digest.Status.FAILED, error_code=code, error_message=message[:300], updated_at=timezone.now()
        )
        _broadcast(digest, realtime.digest_failed(digest.pk, code=code, message=message))


def digest_total_set(*, digest: Digest, total: int) -> None:
    """The run knows how many steps it takes (offline: one) once it has decided who writes."""
    if digest.total != total:
        digest.total, digest.done = total, min(digest.done, total)
        Digest.objects.filter(pk=digest.pk).update(total=total, done=digest.done, updated_at=timezone.now())
