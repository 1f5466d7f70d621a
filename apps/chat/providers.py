"""Who writes the answer: Claude (streaming Messages API, with tools and prompt caching) or
the offline provider (an extractive answer from the retrieved passages, in the same
citation format, for when Claude is not configured, unavailable or over budget)."""

from __future__ import annotations

import asyncio
import re
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

import anthropic
import structlog
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from apps.chat import budget
from apps.chat.citations import Source

logger = structlog.get_logger(__name__)
# (tool name, input, room in estimated tokens) -> the tool_result text
ToolRunner = Callable[[str, dict[str, Any], int], Awaitable[str]]


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def add(self, usage: Any) -> None:
        """Add an Anthropic `Usage` (one request of a tool loop)."""
        self.input_tokens += usage.input_tokens or 0
        self.output_tokens += usage.output_tokens or 0
        self.cache_read_tokens += getattr(usage, "cache_read_input_tokens", 0) or 0
        self.cache_write_tokens += getattr(usage, "cache_creation_input_tokens", 0) or 0

    def cost_usd(self, model: str) -> Decimal:
        prices = price_of(model)
        input_price, output_price, write_price, read_price = (Decimal(str(price)) for price in prices)
        total = (
            self.input_tokens * input_price
            + self.output_tokens * output_price
            + self.cache_write_tokens * write_price
            + self.cache_read_tokens * read_price
        )
        return (total / Decimal(1_000_000)).quantize(Decimal("0.000001"))


def price_of(model: str) -> tuple[float, float, float, float]:
    """(input, output, cache write, cache read) USD per million tokens: the longest
    LLM_PRICES key that prefixes the model name, else "default"."""
    matches = [key for key in settings.LLM_PRICES if key != "default" and model.startswith(key)]
    return tuple(settings.LLM_PRICES[max(matches, key=len)] if matches else settings.LLM_PRICES["default"])


class ProviderFailed(Exception):
    """Claude could not answer (after the SDK's retries); `code` goes to the client.

    `provider_side`: the failure is Claude's (5xx, 529 overload, 429, timeout, connection),
    so it counts toward the shared circuit breaker. A 4xx the request itself caused (a
    prompt too large, a malformed request) or a bad API key is not: one user's request
    must not switch Claude off for everyone."""

    def __init__(self, code: str, message: str, *, provider_side: bool = True) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.provider_side = provider_side


# `error.type` of the API's error body for failures on Claude's side (a mid-stream `error`
# event arrives with HTTP status 200, so the type is what tells).
PROVIDER_SIDE_ERROR_TYPES = {"api_error", "overloaded_error", "rate_limit_error", "timeout_error"}


def is_provider_side(error: anthropic.APIStatusError) -> bool:
    status = error.status_code
    return status == 429 or status >= 500 or getattr(error, "type", None) in PROVIDER_SIDE_ERROR_TYPES


def _is_transport_error(error: BaseException) -> bool:
    """A connection that broke off outside the SDK's own error classes (httpx, h11, sockets)."""
    module = type(error).__module__.split(".")[0]
    return isinstance(error, (OSError, asyncio.TimeoutError)) or module in {"httpx", "httpx2", "httpcore", "h11"}


TOOLS: list[anthropic.types.ToolParam] = [
    {
        "name": "search_library",
        "description": (
            "Search the user's library (documents they may read), the curated knowledge store and the "
            "Bible. Returns new numbered sources you may cite like the others."
        ),
        "input_schema": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "Words, a question, or scripture references."},
                "scope": {"type": "string", "enum": ["all", "documents", "knowledge", "bible"]},
            },
            "required": ["query"],
        },
    },
    {
        "name": "lookup_scripture",
        "description": "Read Bible verses by reference (e.g. 'Rom 8:28-30', 'Ps 23') in the KJV or the WEB.",
        "input_schema": {
            "type": "object",
            "properties": {
                "reference": {"type": "string"},
                "translation": {"type": "string", "enum": ["kjv", "web"]},
            },
            "required": ["reference"],
        },
    },
]


def claude_configured() -> bool:
    return bool(settings.ANTHROPIC_API_KEY)


# Per event loop (a client's connections belong to its loop), then per configuration.
_clients: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], anthropic.AsyncAnthropic]] = weakref.WeakKeyDictionary()


def claude_client() -> anthropic.AsyncAnthropic:
    """One client per event loop and configuration: building one loads the CA bundle on
    the event loop (~20 ms), which would stall every other open stream at each answer."""
    per_loop = _clients.setdefault(asyncio.get_running_loop(), {})
    key = (
        settings.ANTHROPIC_API_KEY,
        settings.ANTHROPIC_BASE_URL,
        settings.ANTHROPIC_MAX_RETRIES,
        settings.CHAT_TIMEOUT_SECONDS,
    )
    client = per_loop.get(key)
    if client is None:
        client = per_loop[key] = anthropic.AsyncAnthropic(
            api_key=settings.ANTHROPIC_API_KEY,
            base_url=settings.ANTHROPIC_BASE_URL or None,
            max_retries=settings.ANTHROPIC_MAX_RETRIES,
            timeout=settings.CHAT_TIMEOUT_SECONDS,
        )
    return client


@receiver(setting_changed)
def _forget_clients(setting: str, **kwargs: Any) -> None:
    """Tests point Theo at a new fake server: build a new client then."""
    if setting.startswith(("ANTHROPIC_", "CHAT_TIMEOUT")):
        for per_loop in list(_clients.values()):
            per_loop.clear()


NO_ROOM = "No room is left in this answer's context for more sources: answer from the sources you have."
TOOL_FAILED = "The tool failed; answer from the sources you have."
MIN_TOOL_ROOM = 200  # estimated tokens below which a tool is not worth running


def _assistant_turn(final: Any) -> dict[str, Any]:
    """Claude's turn sent back as it came, minus empty text blocks (the API refuses them)."""
    blocks = [b.model_dump(mode="json", exclude_none=True) for b in final.content]
    return {"role": "assistant", "content": [b for b in blocks if b.get("type") != "text" or b.get("text", "").strip()]}


async def _tool_results(final: Any, *, run_tool: ToolRunner, room: int) -> list[dict[str, Any]] | None:
    """A tool_result for every tool_use of `final`, each within its share of `room`
    (estimated tokens); None when not even a short note fits."""
    calls = [block for block in final.content if block.type == "tool_use"]
    share = (room // max(1, len(calls))) - budget.estimate_tokens({"type": "tool_result", "tool_use_id": "x" * 40})
    if share < budget.estimate_tokens(NO_ROOM):
        return None
    results = []
    for block in calls:
        result: dict[str, Any] = {"type": "tool_result", "tool_use_id": block.id}
        if share < MIN_TOOL_ROOM:
            output = NO_ROOM
        else:
            try:
                output = await run_tool(block.name, dict(block.input or {}), share)
            except Exception:  # a bug or outage of Theo's own, not Claude's: tell Claude, go on
                logger.exception("chat_tool_failed", tool=block.name)
                output, result["is_error"] = TOOL_FAILED, True
        result["content"] = budget.trim_to(output, share) or NO_ROOM
        results.append(result)
    return results


def _fits(system: list[dict[str, Any]], messages: list[dict[str, Any]], input_budget: int) -> bool:
    return budget.estimate_tokens(system) + budget.estimate_tokens(messages) <= input_budget


async def claude_stream(
    *,
    system: list[dict[str, Any]],
    messages: list[dict[str, Any]],
    run_tool: ToolRunner,
    usage: Usage,
    input_budget: int,
) -> AsyncIterator[str]:
    """Text deltas of Claude's answer; tool calls are executed between requests (at most
    CHAT_MAX_TOOL_ROUNDS rounds, then Claude must answer). Every request's system +
    messages stay within `input_budget` estimated tokens: tool results get the room left;
    with none left, ProviderFailed("context_full") (not Claude's fault). Raises ProviderFailed."""
    client = claude_client()
    messages = list(messages)
    try:
        for round_number in range(settings.CHAT_MAX_TOOL_ROUNDS + 1):
            last_round = round_number == settings.CHAT_MAX_TOOL_ROUNDS
            async with client.messages.stream(
                model=settings.CHAT_MODEL,
                max_tokens=settings.CHAT_MAX_OUTPUT_TOKENS,
                system=cast("list[anthropic.types.TextBlockParam]", system),
                messages=cast("list[anthropic.types.MessageParam]", messages),
                tools=TOOLS,
                tool_choice={"type": "none"} if last_round else {"type": "auto"},
            ) as stream:
                async for text in stream.text_stream:
                    yield text
                final = await stream.get_final_message()
            usage.add(final.usage)
            if final.stop_reason != "tool_use":
                return
            messages.append(_assistant_turn(final))
            turn = await _tool_turn(
                final, system=system, messages=messages, run_tool=run_tool, input_budget=input_budget
            )
            if turn is None:
                logger.warning("chat_context_full", round=round_number, room=_room(system, messages, input_budget))
                raise ProviderFailed(
                    "context_full", "The answer ran out of room in Claude's context window.", provider_side=False
                )
            messages.append(turn)
    except ProviderFailed:
        raise
    except Exception as error:
        raise _provider_failed(error) from error


async def _tool_turn(
    final: Any, *, system: list[dict[str, Any]], messages: list[dict[str, Any]], run_tool: ToolRunner, input_budget: int
) -> dict[str, Any] | None:
    """The user turn with the results of `final`'s tool calls, within the room `input_budget`
    leaves after `system` and `messages`; None when not even the "no room" notes fit."""
    results = await _tool_results(final, run_tool=run_tool, room=_room(system, messages, input_budget))
    if results is None:
        return None
    turn = {"role": "user", "content": results}
    if not _fits(system, [*messages, turn], input_budget):
        # JSON escapes made the results larger than their text: fall back to the note.
        turn["content"] = [{**result, "content": NO_ROOM} for result in results]
    return turn if _fits(system, [*messages, turn], input_budget) else None


def _room(system: list[dict[str, Any]], messages: list[dict[str, Any]], input_budget: int) -> int:
    """Estimated tokens left for one more user turn."""
    wrapper = budget.estimate_tokens([{"role": "user", "content": []}])
    return input_budget - budget.estimate_tokens(system) - budget.estimate_tokens(messages) - wrapper


async def claude_complete(
    *, model: str, system: str, messages: list[dict[str, Any]], max_tokens: int, usage: Usage
) -> str:
    """The text of one short, non-streamed request (a follow-up rewrite, a rerank), its
    tokens added to `usage`. Raises ProviderFailed."""
    try:
        final = await claude_client().messages.create(
            model=model,
            max_tokens=max_tokens,
            system=system,
            messages=cast("list[anthropic.types.MessageParam]", messages),
            timeout=settings.CHAT_ASSIST_TIMEOUT_SECONDS,
        )
    except Exception as error:
        raise _provider_failed(error) from error
    usage.add(final.usage)
    return "".join(block.text for block in final.content if block.type == "text").strip()


def _provider_failed(error: Exception) -> ProviderFailed:
    """What went wrong while talking to Claude, as the client is told it."""
    if isinstance(error, anthropic.RateLimitError):
        return ProviderFailed("provider_rate_limited", "Claude is rate limiting Theo right now.")
    if isinstance(error, anthropic.APIStatusError):
        return ProviderFailed(
            "provider_error",
            f"Claude answered with an error ({error.status_code}).",
            provider_side=is_provider_side(error),
        )
    if isinstance(error, anthropic.APITimeoutError):
        return ProviderFailed("provider_timeout", "Claude did not answer in time.")
    if isinstance(error, anthropic.APIConnectionError):
        return ProviderFailed("provider_unreachable", "Theo could not reach Claude.")
    if isinstance(error, anthropic.APIError):  # e.g. a malformed event in the middle of the stream
        return ProviderFailed("provider_error", f"Claude stopped with an error: {error}")
    if _is_transport_error(error):
        return ProviderFailed("provider_unreachable", "The connection to Claude broke off.")
    logger.exception("chat_stream_failed")
    return ProviderFailed("provider_error", "Theo failed while talking to Claude.", provider_side=False)


# --- the offline provider ------------------------------------------------------------------

DEGRADED_INTROS = {
    "no_api_key": "Claude is not configured on this server, so here is what your sources say:",
    "breaker_open": "Claude is unavailable at the moment, so here is what your sources say:",
    "provider_error": "Claude could not answer just now, so here is what your sources say:",
    "budget_exceeded": "Your monthly AI budget is used up, so here is what your sources say (no AI involved):",
}
_SENTENCES = re.compile(r"(?<=[.!?;])\s+")
_WORDS = re.compile(r"\w+")
OFFLINE_SOURCES = 4


def _best_sentence(text: str, question_words: set[str]) -> str:
    sentences = [s.strip() for s in _SENTENCES.split(" ".join(text.split())) if len(s.strip()) > 20] or [text.strip()]
    best = max(sentences, key=lambda s: len(question_words & set(_WORDS.findall(s.lower()))))
    return best if len(best) <= 300 else best[:300].rsplit(" ", 1)[0]


def offline_answer(question: str, sources: list[Source], reason: str) -> str:
    """An extractive answer: the most relevant sentence of the best sources, quoted exactly
    and cited, so citation checks verify it like any other answer."""
    intro = DEGRADED_INTROS.get(reason, DEGRADED_INTROS["provider_error"])
    if not sources:
        situation = intro.rsplit(",", 1)[0]
        return f"{situation}, and nothing you may read matched the question. Try other words or a wider scope."
    question_words = set(_WORDS.findall(question.lower()))
    lines = [intro, ""]
    for source in sources[:OFFLINE_SOURCES]:
        sentence = _best_sentence(source.passage.text, question_words).replace("“", "'").replace("”", "'")
        lines.append(f"- {source.locator}: “{sentence}” [{source.n}]")
    return "\n".join(lines)


async def offline_stream(text: str, *, words_per_delta: int = 6) -> AsyncIterator[str]:
    words = re.split(r"(\s+)", text)
    for start in range(0, len(words), words_per_delta * 2):
        yield "".join(words[start : start + words_per_delta * 2])
