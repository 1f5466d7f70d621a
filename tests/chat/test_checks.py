"""The chat settings checks: a window the prompt cannot fit in, or a passage cap that would
cut passages into fragments, stop start-up with a message that says what to set."""

from __future__ import annotations

from typing import Any

from apps.chat.checks import check_chat_budget


def test_the_default_settings_pass() -> None:
    assert check_chat_budget() == []


def test_a_window_too_small_for_any_prompt_is_an_error(settings: Any) -> None:
    settings.CHAT_CONTEXT_WINDOWS = {"default": 200_000, "claude-sonnet": 2000}
    (error,) = check_chat_budget()
    assert error.id == "chat.E002" and "THEO_CHAT_CONTEXT_WINDOWS" in (error.hint or "")


def test_a_malformed_window_table_is_an_error(settings: Any) -> None:
    settings.CHAT_CONTEXT_WINDOWS = {"default": "lots"}
    assert [error.id for error in check_chat_budget()] == ["chat.E001"]


def test_a_tiny_passage_cap_is_an_error(settings: Any) -> None:
    settings.CHAT_PASSAGE_CHARS = 10
    assert [error.id for error in check_chat_budget()] == ["chat.E003"]
