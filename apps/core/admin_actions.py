"""Admin helpers: bulk actions that go through services (one refusal does not stop the
rest), and the base of admins whose rows only services write."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from apps.core.errors import TheoError


class ViewOnlyAdmin(admin.ModelAdmin):
    """Rows written by services (audit events, usage, passages): staff read them here and
    never add or change them; deleting stays as each admin allows."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def apply_to_each(
    request: HttpRequest,
    objects: Iterable[Any],
    change: Callable[[Any], Any],
    *,
    done: str,
    label: Callable[[Any], str] = str,
) -> None:
    """Run `change` on each object; report refusals one by one and successes in one message."""
    changed = 0
    for obj in objects:
        try:
            change(obj)
            changed += 1
        except TheoError as exc:
            messages.error(request, f"{label(obj)}: {exc.message}")
    if changed:
        messages.success(request, f"{changed} {done}.")


def apply_with_reason(
    modeladmin: Any,
    request: HttpRequest,
    queryset: QuerySet[Any],
    *,
    form_class: type[forms.Form],
    action: str,
    title: str,
    change: Callable[[Any, str], Any],
    done: str,
    describe: Callable[[Any], str] = str,
    label: Callable[[Any], str] = str,
    template: str = "admin/reason_action.html",
) -> HttpResponse | None:
    """A bulk action that needs a reason: first an intermediate page asking for it (the
    form's `reason` field), then `change(obj, reason)` for each selected object."""
    form = form_class(request.POST if "apply" in request.POST else None)
    if form.is_bound and form.is_valid():
        reason = form.cleaned_data["reason"]
        apply_to_each(request, queryset, lambda obj: change(obj, reason), done=done, label=label)
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "items": [(obj.pk, describe(obj)) for obj in queryset],
        "form": form,
        "action": action,
        "opts": modeladmin.model._meta,
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, template, context)
