"""Reads of chat data. A conversation belongs to its owner alone: everyone else (staff
included) gets 404, on HTTP and on the WebSocket."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import TruncDay, TruncMonth
from django.utils import timezone

from apps.chat.models import AIUsage, Conversation, Message, Persona
from apps.core.errors import NotFound
from apps.users.selectors import user_is_approved


def personas_active() -> QuerySet[Persona]:
    return Persona.objects.filter(is_active=True)


def personas_for(user: Any) -> QuerySet[Persona]:
    """Staff also see inactive personas (to manage them)."""
    return Persona.objects.all() if getattr(user, "is_staff", False) else personas_active()


def _conversations_owned_by(user: Any) -> QuerySet[Conversation]:
    """The access rule: a conversation is its owner's alone (staff included)."""
    if not user_is_approved(user):
        return Conversation.objects.none()
    return Conversation.objects.filter(owner=user)


def effective_scope(*, user: Any, scope: str) -> str:
    """Guests chat with the Bible only, whatever they ask for."""
    return Conversation.Scope.BIBLE if user.is_guest else scope


def conversations_of(user: Any) -> QuerySet[Conversation]:
    return (
        _conversations_owned_by(user)
        .select_related("persona")
        .annotate(message_count=Count("messages"))
        .order_by("-updated_at")
    )


def conversation_get_for(*, user: Any, pk: Any, with_messages: bool = False) -> Conversation:
    """`with_messages`: `conversation.messages.all()` is then all its messages, oldest
    first, with their usage (prefetched: one query more, none per message)."""
    conversations = _conversations_owned_by(user).select_related("persona", "owner")
    if with_messages:
        in_order = Message.objects.prefetch_related("usages").order_by("created_at")
        conversations = conversations.prefetch_related(Prefetch("messages", queryset=in_order))
    conversation = conversations.filter(pk=pk).first()
    if conversation is None:
        raise NotFound("No such conversation.")
    return conversation


def conversation_messages(*, conversation: Conversation) -> QuerySet[Message]:
    return conversation.messages.prefetch_related("usages").order_by("created_at")


def recent_messages(*, conversation: Conversation, limit: int) -> list[Message]:
    """The last `limit` complete messages, oldest first (history for the prompt)."""
    recent = conversation.messages.filter(status=Message.Status.COMPLETE).order_by("-created_at")[:limit]
    return list(reversed(recent))


# --- AI usage -----------------------------------------------------------------------------

# A follow-up's rewrite and a rerank are rows of their own (their cost counts), not answers.
_ANSWERS = Count("id", filter=Q(kind=AIUsage.Kind.ANSWER))
USAGE_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cost_usd")


def month_start(now: datetime | None = None) -> datetime:
    now = now or timezone.now()
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def spent_this_month(*, user: Any) -> Decimal:
    """What `user`'s answers cost since the first of this month (USD)."""
    total = AIUsage.objects.filter(user=user, created_at__gte=month_start()).aggregate(total=Sum("cost_usd"))["total"]
    return total or Decimal("0")


def over_budget(*, user: Any) -> bool:
    return spent_this_month(user=user) >= user.monthly_budget_usd


def usage_visible_to(user: Any) -> QuerySet[AIUsage]:
    """Your own usage; staff see everyone's."""
    if not user_is_approved(user):
        return AIUsage.objects.none()
    return AIUsage.objects.all() if user.is_staff else AIUsage.objects.filter(user=user)


def usage_totals(*, usage: QuerySet[AIUsage], period: str, since: datetime) -> list[dict[str, Any]]:
    """Totals per day or month since `since`, oldest first, days without usage included."""
    trunc = TruncDay if period == "day" else TruncMonth
    rows = (
        usage.filter(created_at__gte=since)
        .annotate(period=trunc("created_at"))
        .values("period")
        .annotate(answers=_ANSWERS, **{name: Sum(name) for name in USAGE_FIELDS})
        .order_by("period")
    )
    by_period = {row["period"].date(): row for row in rows}
    result = []
    for start in _periods(period, since):
        row = by_period.get(start, {})
        result.append(
            {
                "period": start.isoformat() if period == "day" else start.strftime("%Y-%m"),
                "answers": row.get("answers", 0),
                **{name: row.get(name) or 0 for name in USAGE_FIELDS},
            }
        )
    return result


def _periods(period: str, since: datetime) -> list[date]:
    today = timezone.now().date()
    current = since.date() if period == "day" else since.date().replace(day=1)
    periods = []
    while current <= today:
        periods.append(current)
        if period == "day":
            current += timedelta(days=1)
        else:
            current = (current.replace(day=28) + timedelta(days=4)).replace(day=1)
    return periods


def usage_by_user(*, usage: QuerySet[AIUsage], since: datetime) -> list[dict[str, Any]]:
    """Staff: each user's totals since `since`, the biggest spenders first."""
    rows = (
        usage.filter(created_at__gte=since)
        .values("user_id", "user__email")
        .annotate(answers=_ANSWERS, **{name: Sum(name) for name in USAGE_FIELDS})
        .order_by("-cost_usd")
    )
    return [
        {
            "user_id": row["user_id"],
            "email": row["user__email"],
            "answers": row["answers"],
            **{n: row[n] or 0 for n in USAGE_FIELDS},
        }
        for row in rows
    ]
