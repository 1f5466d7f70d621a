"""System checks for the chat settings: a context window the prompt cannot fit in would turn
every question into `question_too_long`; say what to set instead."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register

# Persona, citation rules and a short question need about this many (estimated) tokens.
MIN_PROMPT_TOKENS = 4000


@register()
def check_chat_budget(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    from apps.chat import budget, providers

    windows = settings.CHAT_CONTEXT_WINDOWS
    if not isinstance(windows, dict) or not all(
        isinstance(value, int) and not isinstance(value, bool) for value in windows.values()
    ):
        return [
            Error(
                "THEO_CHAT_CONTEXT_WINDOWS must map model-name prefixes to token counts.",
                hint="e.g. THEO_CHAT_CONTEXT_WINDOWS='{\"claude-haiku\": 200000}'",
                id="chat.E001",
            )
        ]
    errors = []
    room = budget.input_budget(tools=providers.TOOLS)
    if room < MIN_PROMPT_TOKENS:
        errors.append(
            Error(
                f"The context window of {settings.CHAT_MODEL} ({budget.context_window(settings.CHAT_MODEL)} tokens) "
                f"leaves {room} for the prompt after THEO_CHAT_MAX_OUTPUT_TOKENS and the tools.",
                hint=f"Raise its THEO_CHAT_CONTEXT_WINDOWS entry or lower THEO_CHAT_MAX_OUTPUT_TOKENS "
                f"so that at least {MIN_PROMPT_TOKENS} remain.",
                id="chat.E002",
            )
        )
    if settings.CHAT_PASSAGE_CHARS < 100:
        errors.append(
            Error(
                "THEO_CHAT_PASSAGE_CHARS is below 100: passages would reach Claude as fragments.",
                hint="Set it to at least a few hundred (default 2000).",
                id="chat.E003",
            )
        )
    return errors
