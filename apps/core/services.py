"""Core write services: the audit trail."""

from __future__ import annotations

from typing import Any

import structlog
from django.db import models
from django.http import HttpRequest

from apps.core.models import AuditEvent
from apps.core.proxies import client_address


def audit_record(
    *,
    actor: Any | None,
    action: str,
    target: models.Model | None = None,
    data: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> AuditEvent:
    """Write one audit event. `actor` None means the system (a task, start-up)."""
    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    request_id = getattr(request, "request_id", "") or structlog.contextvars.get_contextvars().get("request_id", "")
    ip_address = client_address(request) if request is not None else None
    return AuditEvent.objects.create(
        actor=actor if authenticated else None,
        actor_email=getattr(actor, "email", "") if authenticated else "",
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_repr=str(target)[:255] if target is not None else "",
        data=data or {},
        ip_address=ip_address or None,
        request_id=request_id,
    )
