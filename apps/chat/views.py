"""Pages: /chat/ (conversations, start one), /chat/<id>/ (the conversation, streaming over
the WebSocket), /usage/ (your AI usage of the last 30 days and your budget)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from apps.chat import selectors, services
from apps.chat.models import Conversation
from apps.chat.serializers import MessageSerializer
from apps.core.errors import TheoError
from apps.core.pages import error_pages
from apps.index.models import Passage
from apps.index.selectors import visible_passages
from apps.users.requests import AuthenticatedHttpRequest

SIDEBAR_SIZE = 50


def _readable_documents(user: Any) -> list[tuple[str, str]]:
    """(id, title) of documents the user may chat about (those with passages)."""
    rows = (
        visible_passages(user)
        .filter(source_kind=Passage.SourceKind.DOCUMENT)
        .values_list("source_id", "title")
        .distinct()
        .order_by("title")[:200]
    )
    return [(str(source_id), title) for source_id, title in rows]


def _context(request: AuthenticatedHttpRequest, **extra: Any) -> dict[str, Any]:
    user = request.user
    scopes = [(value, label) for value, label in Conversation.Scope.choices]
    if user.is_guest:
        scopes = [(Conversation.Scope.BIBLE, Conversation.Scope.BIBLE.label)]
    return {
        "conversations": selectors.conversations_of(user)[:SIDEBAR_SIZE],
        "personas": selectors.personas_active(),
        "scopes": scopes,
        "documents": _readable_documents(user),
        **extra,
    }


@login_required
def chat_index(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(request, "chat/index.html", _context(request))


def _uuid_or_none(value: str | None) -> uuid.UUID | None:
    """A form's id field: empty is None; anything that is not a UUID is ValueError."""
    return uuid.UUID(value) if value else None


@login_required
@require_POST
def chat_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    try:
        persona_id = _uuid_or_none(request.POST.get("persona"))
        document_id = _uuid_or_none(request.POST.get("document_id"))
        persona = selectors.personas_active().filter(pk=persona_id).first() if persona_id else None
        if persona_id and persona is None:
            raise ValueError("inactive or deleted persona")
    except ValueError:
        # Only a forged or stale form sends these: say so on the page, with status 400.
        messages.error(request, "That persona or document does not exist (any more). Choose one from the list.")
        return render(request, "chat/index.html", _context(request), status=400)
    try:
        conversation = services.conversation_create(
            owner=request.user,
            persona=persona,
            scope=request.POST.get("scope") or None,
            document_id=document_id,
        )
    except TheoError as error:
        messages.error(request, error.message)
        return redirect("chat:index")
    return redirect("chat:detail", pk=conversation.pk)


@login_required
@error_pages()
def chat_detail(request: AuthenticatedHttpRequest, pk: Any) -> HttpResponse:
    conversation = selectors.conversation_get_for(user=request.user, pk=pk)
    history = MessageSerializer(selectors.conversation_messages(conversation=conversation), many=True).data
    return render(
        request,
        "chat/detail.html",
        _context(request, conversation=conversation, history=history, max_chars=settings.CHAT_MAX_QUESTION_CHARS),
    )


@login_required
@require_POST
@error_pages()
def chat_delete(request: HttpRequest, pk: Any) -> HttpResponse:
    conversation = selectors.conversation_get_for(user=request.user, pk=pk)
    services.conversation_delete(conversation=conversation, actor=request.user)
    messages.success(request, "Conversation deleted.")
    return redirect("chat:index")


@login_required
def usage_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    since = (timezone.now() - timedelta(days=29)).replace(hour=0, minute=0, second=0, microsecond=0)
    days = selectors.usage_totals(usage=selectors.usage_visible_to(request.user), period="day", since=since)
    peak = max((float(day["cost_usd"]) for day in days), default=0) or 1
    for day in days:
        day["height"] = round(100 * float(day["cost_usd"]) / peak, 1)
    spent = selectors.spent_this_month(user=request.user)
    budget = request.user.monthly_budget_usd
    return render(
        request,
        "chat/usage.html",
        {
            "days": days,
            "totals": {key: sum(day[key] for day in days) for key in ("answers", *selectors.USAGE_FIELDS)},
            "spent": spent,
            "budget": budget,
            "budget_percent": min(100, int(100 * spent / budget)) if budget else 100,
            "everyone": request.user.is_staff,
            "users": selectors.usage_by_user(usage=selectors.usage_visible_to(request.user), since=since)
            if request.user.is_staff
            else [],
        },
    )
