"""Work that `manage.py run` starts once everything is migrated, registered by the apps
that own it (core must not import the apps above it)."""

from __future__ import annotations

from collections.abc import Callable

# Each hook returns a line to print, or "" when it had nothing to do.
_hooks: list[Callable[[], str]] = []


def register_startup_hook(hook: Callable[[], str]) -> None:
    if hook not in _hooks:
        _hooks.append(hook)


def run_startup_hooks() -> list[str]:
    return [message for message in (hook() for hook in _hooks) if message]
