"""Knowledge pages: browse and search the store, read an entry, write and review entries.

Plain forms posted to these views (session auth); every write goes through the services,
every read through the selectors, as in the API."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_http_methods, require_POST

from apps.bible import scripture
from apps.core.errors import PermissionDenied, TheoError
from apps.core.pages import add_form_errors, error_pages
from apps.knowledge import selectors, services
from apps.knowledge.forms import EntryForm
from apps.knowledge.models import KnowledgeEntry
from apps.users.requests import AuthenticatedHttpRequest

PAGE_SIZE = 20
SCRIPTURE_PAGE = "/scripture/"
# A book name (maybe numbered, maybe abbreviated) and a chapter, maybe verses: each match is
# checked with scripture.find_references, so "Chapter 5" or "Page 12" stay plain text.
_CITATION = re.compile(
    r"\b(?:[123]\s?|I{1,3}\s)?[A-Z][a-z]+\.?\s?\d{1,3}(?::\d{1,3}(?:[-–]\d{1,3}(?::\d{1,3})?)?|[-–]\d{1,3})?"
)
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def linked_body(text: str) -> SafeString:
    """The body as escaped HTML paragraphs, scripture references linked to the Bible page."""
    text = text.replace("\r\n", "\n")
    parts: list[str] = []
    last = 0
    for match in _CITATION.finditer(text):
        references = scripture.find_references(match.group())
        if not references:
            continue
        ref = "; ".join(reference.canonical for reference in references)
        parts.append(escape(text[last : match.start()]))
        parts.append(
            format_html(
                '<a class="scripture-ref" href="{}?{}" title="{}">{}</a>',
                SCRIPTURE_PAGE,
                urlencode({"ref": ref}),
                ref,
                match.group(),
            )
        )
        last = match.end()
    parts.append(escape(text[last:]))
    paragraphs = _PARAGRAPH_BREAK.split("".join(parts).strip())
    # Every piece of the user's text was escaped above; only <p>, <br> and the links are markup.
    return mark_safe("".join("<p>{}</p>".format(p.strip().replace("\n", "<br>")) for p in paragraphs))


GUESTS_HINT = "Ask a staff member if you need it."


def _denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    """Refusals on the knowledge pages: the index page, saying why (status 403)."""
    context = {"denied": exc.message, "denied_title": "Not allowed"}
    if exc.message == selectors.GUESTS_DENIED:
        context.update(denied_title="The knowledge store is closed to you", denied_hint=GUESTS_HINT)
    return render(request, "knowledge/index.html", context, status=403)


knowledge_page = error_pages(denied=_denied)


def _entry_to_manage(request: HttpRequest, pk: Any) -> KnowledgeEntry:
    selectors.check_can_read(request.user)
    return selectors.entry_get_for(user=request.user, pk=pk, manage=True)


def _entry_changes(form: EntryForm) -> dict[str, Any]:
    data = form.cleaned_data
    return {name: data[name] for name in ("title", "body", "tags", "source", "status")}


@login_required
@knowledge_page
def entry_index(request: HttpRequest) -> HttpResponse:
    selectors.check_can_read(request.user)
    can_write = selectors.can_write_knowledge(request.user)
    status = request.GET.get("status") or ""
    if not can_write or status not in KnowledgeEntry.Status.values:
        status = ""
    tag = " ".join(request.GET.get("tag", "").split()).lower()
    q = request.GET.get("q", "").strip()
    entries = selectors.entries_list(user=request.user, tag=tag or None, status=status or None, q=q or None)
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    filters = {name: value for name, value in (("q", q), ("tag", tag), ("status", status)) if value}
    return render(
        request,
        "knowledge/index.html",
        {
            "page": page,
            "cards": selectors.entry_cards(user=request.user, entries=page.object_list),
            "q": q,
            "tag": tag,
            "status": status,
            "statuses": KnowledgeEntry.Status.choices,
            "tags": selectors.entry_tags(user=request.user),
            "can_write": can_write,
            "filters": urlencode(filters),
        },
    )


@login_required
@knowledge_page
def entry_detail(request: HttpRequest, pk: Any) -> HttpResponse:
    selectors.check_can_read(request.user)
    entry = selectors.entry_get_for(user=request.user, pk=pk)
    context = {
        "entry": entry,
        "body_html": linked_body(entry.body),
        "references": scripture.find_references(entry.body),
        "scripture_page": SCRIPTURE_PAGE,
        "can_edit": selectors.entry_manageable_by(request.user, entry),
        "can_review": request.user.is_staff,
    }
    return render(request, "knowledge/detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
@knowledge_page
def entry_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    services.check_can_write(request.user)

    def create(changes: dict[str, Any]) -> tuple[KnowledgeEntry, str]:
        return services.entry_create(author=request.user, **changes), "Entry saved."

    return _entry_form(request, None, create)


@login_required
@require_http_methods(["GET", "POST"])
@knowledge_page
def entry_edit(request: HttpRequest, pk: Any) -> HttpResponse:
    entry = _entry_to_manage(request, pk)

    def update(changes: dict[str, Any]) -> tuple[KnowledgeEntry, str]:
        was_approved = entry.status == KnowledgeEntry.Status.APPROVED
        services.entry_update(entry=entry, actor=request.user, **changes)
        if was_approved and entry.status == KnowledgeEntry.Status.SUBMITTED and not request.user.is_staff:
            return entry, "Entry saved and sent back for review: staff approve the new text."
        return entry, "Entry saved."

    return _entry_form(request, entry, update)


def _entry_form(
    request: HttpRequest,
    entry: KnowledgeEntry | None,
    save: Callable[[dict[str, Any]], tuple[KnowledgeEntry, str]],
) -> HttpResponse:
    """The entry form: shown (GET), or saved through `save` (the entry and what to say) and
    followed to the entry; invalid input and the service's refusals come back on the form (400)."""
    form = EntryForm(request.POST or None, user=request.user, entry=entry)
    if request.method == "POST" and form.is_valid():
        try:
            saved, done = save(_entry_changes(form))
        except TheoError as exc:
            add_form_errors(form, exc)
        else:
            messages.success(request, done)
            return redirect("knowledge:detail", pk=saved.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "knowledge/form.html", {"form": form, "entry": entry}, status=status)


@login_required
@require_POST
def entry_delete(request: HttpRequest, pk: Any) -> HttpResponse:
    return _manage(request, pk, lambda entry: services.entry_delete(entry=entry, actor=request.user), "Entry deleted.")


@login_required
@require_POST
def entry_approve(request: HttpRequest, pk: Any) -> HttpResponse:
    return _manage(
        request, pk, lambda entry: services.entry_approve(entry=entry, actor=request.user), "Entry approved."
    )


@login_required
@require_POST
def entry_reject(request: HttpRequest, pk: Any) -> HttpResponse:
    reason = request.POST.get("reason", "")
    return _manage(
        request,
        pk,
        lambda entry: services.entry_reject(entry=entry, actor=request.user, reason=reason),
        "Entry rejected; its author sees your reason.",
    )


@knowledge_page
def _manage(request: HttpRequest, pk: Any, change: Callable[[KnowledgeEntry], Any], done: str) -> HttpResponse:
    """Run one change on an entry the user may manage; refusals come back as messages."""
    entry = _entry_to_manage(request, pk)
    try:
        change(entry)
    except TheoError as exc:
        messages.error(request, exc.details.get("reason", [exc.message])[0] if exc.details else exc.message)
        return redirect("knowledge:detail", pk=pk)
    messages.success(request, done)
    if not KnowledgeEntry.objects.filter(pk=pk).exists():
        return redirect("knowledge:index")
    return redirect("knowledge:detail", pk=pk)
