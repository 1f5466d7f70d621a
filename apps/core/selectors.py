"""Core reads: the audit trail (staff only)."""

from __future__ import annotations

from datetime import UTC, datetime

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from apps.core.errors import ValidationFailed
from apps.core.models import AuditEvent


def _parse_moment(name: str, value: str) -> datetime:
    """An ISO date or date-time; without an offset it is read as UTC."""
    try:
        moment = parse_datetime(value)
        if moment is None and (day := parse_date(value)) is not None:
            moment = datetime(day.year, day.month, day.day)
    except ValueError:  # well-formed but impossible, e.g. 2026-02-30
        moment = None
    if moment is None:
        raise ValidationFailed(details={name: ["Use an ISO date or date-time, e.g. 2026-01-31 or 2026-01-31T12:00Z."]})
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment, UTC)


def audit_events_list(
    *,
    action: str | None = None,
    actor: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> QuerySet[AuditEvent]:
    """Filters: action (exact, or a prefix ending in '.' such as 'user.'), actor e-mail or id,
    target type and id, and a time window."""
    events = AuditEvent.objects.all().order_by("-created_at")
    if action:
        events = events.filter(action__startswith=action) if action.endswith(".") else events.filter(action=action)
    if actor:
        events = events.filter(actor_email__iexact=actor) if "@" in actor else events.filter(actor_id=actor)  # type: ignore[misc]  # str ids: stubs want UUID
    if target_type:
        events = events.filter(target_type=target_type)
    if target_id:
        events = events.filter(target_id=target_id)
    if since:
        events = events.filter(created_at__gte=_parse_moment("since", since))
    if until:
        events = events.filter(created_at__lt=_parse_moment("until", until))
    return events
