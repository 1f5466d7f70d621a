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
from apps.core.errors import NotFound, PermissionDenied, TheoError
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


def _denied(request: HttpRequest, message: str) -> HttpResponse:
    title = "The knowledge store is closed to you" if message == GUESTS_DENIED else "Not allowed"
    return render(request, "knowledge/index.html", {"denied": message, "denied_title": title}, status=403)


GUESTS_DENIED = "Guest accounts have no access to the knowledge store. Ask a staff member if you need it."
WRITERS_ONLY = "Only power users and staff write knowledge entries; you can read the approved ones."


def _service_errors(form: EntryForm, exc: TheoError) -> None:
    if not exc.details:
        form.add_error(None, exc.message)
    for field, errors in exc.details.items():
        for error in errors:
            form.add_error(field if field in form.fields else None, error)


def _entry_changes(form: EntryForm) -> dict[str, Any]:
    data = form.cleaned_data
    return {name: data[name] for name in ("title", "body", "tags", "source", "status")}


@login_required
def entry_index(request: HttpRequest) -> HttpResponse:
    if not selectors.can_read_knowledge(request.user):
        return _denied(request, GUESTS_DENIED)
    can_write = selectors.can_write_knowledge(request.user)
    status = request.GET.get("status") or ""
    if not can_write or status not in KnowledgeEntry.Status.values:
        status = ""
    tag = " ".join(request.GET.get("tag", "").split()).lower()
    q = request.GET.get("q", "").strip()
    entries = selectors.entries_list(user=request.user, tag=tag or None, status=status or None, q=q or None)
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    for entry in page.object_list:
        entry.can_edit = selectors.entry_manageable_by(request.user, entry)
    filters = {name: value for name, value in (("q", q), ("tag", tag), ("status", status)) if value}
    return render(
        request,
        "knowledge/index.html",
        {
            "page": page,
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
def entry_detail(request: HttpRequest, pk: Any) -> HttpResponse:
    if not selectors.can_read_knowledge(request.user):
        return _denied(request, GUESTS_DENIED)
    try:
        entry = selectors.entry_get_for(user=request.user, pk=pk)
    except NotFound:
        return render(request, "404.html", status=404)
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
def entry_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    if not selectors.can_write_knowledge(request.user):
        return _denied(request, GUESTS_DENIED if request.user.is_guest else WRITERS_ONLY)
    form = EntryForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            entry = services.entry_create(author=request.user, **_entry_changes(form))
        except TheoError as exc:
            _service_errors(form, exc)
        else:
            messages.success(request, "Entry saved.")
            return redirect("knowledge:detail", pk=entry.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "knowledge/form.html", {"form": form, "entry": None}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def entry_edit(request: HttpRequest, pk: Any) -> HttpResponse:
    if not selectors.can_read_knowledge(request.user):
        return _denied(request, GUESTS_DENIED)
    try:
        entry = selectors.entry_get_for(user=request.user, pk=pk, manage=True)
    except NotFound:
        return render(request, "404.html", status=404)
    except PermissionDenied as exc:
        return _denied(request, exc.message)
    form = EntryForm(request.POST or None, user=request.user, entry=entry)
    if request.method == "POST" and form.is_valid():
        was_approved = entry.status == KnowledgeEntry.Status.APPROVED
        try:
            services.entry_update(entry=entry, actor=request.user, **_entry_changes(form))
        except TheoError as exc:
            _service_errors(form, exc)
        else:
            if was_approved and entry.status == KnowledgeEntry.Status.SUBMITTED and not request.user.is_staff:
                messages.success(request, "Entry saved and sent back for review: staff approve the new text.")
            else:
                messages.success(request, "Entry saved.")
            return redirect("knowledge:detail", pk=entry.pk)
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


def _manage(request: HttpRequest, pk: Any, change: Callable[[KnowledgeEntry], Any], done: str) -> HttpResponse:
    """Run one change on an entry the user may manage; refusals come back as messages."""
    if not selectors.can_read_knowledge(request.user):
        return _denied(request, GUESTS_DENIED)
    try:
        entry = selectors.entry_get_for(user=request.user, pk=pk, manage=True)
    except NotFound:
        return render(request, "404.html", status=404)
    except PermissionDenied as exc:
        return _denied(request, exc.message)
    try:
        change(entry)
    except TheoError as exc:
        messages.error(request, exc.details.get("reason", [exc.message])[0] if exc.details else exc.message)
        return redirect("knowledge:detail", pk=pk)
    messages.success(request, done)
    if not KnowledgeEntry.objects.filter(pk=pk).exists():
        return redirect("knowledge:index")
    return redirect("knowledge:detail", pk=pk)
