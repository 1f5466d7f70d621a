"""Bulk admin actions that go through services: one refusal does not stop the rest."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest

from apps.core.errors import TheoError


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
