"""The prompt's token budget: persona, sources, history, tool results across tool rounds and
the answer (max output tokens) together stay inside the model's context window.

Tokens are estimated locally, one token per UTF-8 byte of the JSON sent. Claude's
tokenizer works on bytes and no token is shorter than one byte, so this never counts low,
whatever the script (Greek and Hebrew take 2 bytes a letter, CJK 3) or the junk a PDF holds.
It counts 3-4 times high for English prose; a normal prompt (8 passages, a few turns of
history) is ~25k estimated tokens against a 200k window, so the margin costs nothing until
something pathological arrives, which is exactly when the budget must hold.
`client.messages.count_tokens` would be exact but is a network round trip before every
answer (and one more failure mode).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings

from apps.core.errors import ValidationFailed

# Role markers and block framing the API adds per message or content block.
OVERHEAD_PER_BLOCK = 16


def estimate_tokens(value: Any) -> int:
    """At least the tokens `value` (text, or JSON-able blocks) takes in a request."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    blocks = len(value) if isinstance(value, list) else 1
    return len(text.encode("utf-8")) + OVERHEAD_PER_BLOCK * blocks


def context_window(model: str) -> int:
    """CHAT_CONTEXT_WINDOWS: the longest key that prefixes the model name, else "default"."""
    windows = settings.CHAT_CONTEXT_WINDOWS
    matches = [key for key in windows if key != "default" and model.startswith(key)]
    return int(windows[max(matches, key=len)] if matches else windows["default"])


def input_budget(*, tools: Sequence[Mapping[str, Any]]) -> int:
    """Tokens left for system + messages in one request: the window minus the answer and
    the tool definitions (sent with every request)."""
    return context_window(settings.CHAT_MODEL) - settings.CHAT_MAX_OUTPUT_TOKENS - estimate_tokens(tools)


def trim_to(text: str, tokens: int) -> str:
    """`text` cut (at a character boundary) so that it estimates at most `tokens`."""
    room = max(0, tokens - OVERHEAD_PER_BLOCK)
    raw = text.encode("utf-8")
    if len(raw) <= room:
        return text
    return raw[: max(0, room - 4)].decode("utf-8", errors="ignore") + " …"


def question_too_long(*, allowed_tokens: int) -> ValidationFailed:
    allowed = max(0, allowed_tokens)
    return ValidationFailed(
        "This question is too long: with the persona and room for the answer it does not fit in the "
        "model's context window. Shorten it, or split it into several questions.",
        code="question_too_long",
        details={"content": [f"At most {allowed} bytes of UTF-8 text fit (about as many letters of English)."]},
    )
