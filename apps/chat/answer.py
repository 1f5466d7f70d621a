"""The one answer pipeline behind every transport (WebSocket, SSE, plain POST):

validate → rate limit → save the question → retrieve (hybrid search, access rule in SQL,
the conversation's scope) → build the prompt (persona, numbered sources, recent history)
→ stream from Claude (tools, prompt caching) or the offline provider → check citations →
save the answer and its usage → done.

`answer_stream` yields the events of chat.realtime. `start_answer` runs it as a task of
its own, so an answer whose client disconnects still finishes and is saved.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import structlog
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from apps.chat import budget, providers, realtime, tools
from apps.chat.citations import Source, number_sources, validate_citations
from apps.chat.models import AIUsage, Conversation, Message
from apps.chat.selectors import recent_messages
from apps.chat.services import conversation_title_from
from apps.chat.tools import search_scope
from apps.core.breaker import claude_breaker
from apps.core.errors import RateLimited, TheoError, ValidationFailed
from apps.core.ratelimits import enforce_rate_limit
from apps.index.models import Passage
from apps.index.search import passages_search

logger = structlog.get_logger(__name__)


@dataclass
class Prepared:
    """Everything the provider needs, gathered in one synchronous step."""

    user: Any
    conversation: Conversation
    question: str
    sources: list[Source]
    system: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    input_budget: int = 0
    degraded_reason: str = ""
    usage: providers.Usage = field(default_factory=providers.Usage)


# --- validation and limits ----------------------------------------------------------------


def validate_question(content: Any) -> str:
    if not isinstance(content, str) or not content.strip():
        raise ValidationFailed(
            "Ask a question: the message is empty.", details={"content": ["This field is required."]}
        )
    if len(content) > settings.CHAT_MAX_QUESTION_CHARS:
        raise ValidationFailed(
            f"Keep a question under {settings.CHAT_MAX_QUESTION_CHARS:,} characters.",
            code="message_too_long",
            details={"content": [f"At most {settings.CHAT_MAX_QUESTION_CHARS} characters."]},
        )
    return content.strip()


def check_question_fits(*, conversation: Conversation, question: str) -> None:
    """400 `question_too_long` when the question alone (with the persona, the citation rules
    and room for the answer) would not fit in the model's context window: then no number of
    dropped sources or turns could make it fit."""
    allowed = budget.input_budget(tools=providers.TOOLS) - budget.estimate_tokens(system_prompt(conversation, []))
    if budget.estimate_tokens(_question_turns(question)) > allowed:
        raise budget.question_too_long(allowed_tokens=allowed - budget.OVERHEAD_PER_BLOCK * 2 - 30)


def _question_turns(question: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": question}]


def chat_rate_limit(user: Any) -> None:
    enforce_rate_limit(
        scope="chat", key=f"user:{user.pk}", message="You have sent 10 messages this minute; wait a moment."
    )


def month_start(now: datetime | None = None) -> datetime:
    now = now or timezone.now()
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def spent_this_month(user: Any) -> Decimal:
    total = AIUsage.objects.filter(user=user, created_at__gte=month_start()).aggregate(total=Sum("cost_usd"))["total"]
    return total or Decimal("0")


def over_budget(user: Any) -> bool:
    return spent_this_month(user) >= user.monthly_budget_usd


# --- retrieval and prompt -----------------------------------------------------------------


def retrieve(*, user: Any, conversation: Conversation, query: str, k: int) -> list[Passage]:
    scope, source_ids = search_scope(conversation)
    return [
        hit.passage for hit in passages_search(user=user, query=query, scope=scope, k=k, source_ids=source_ids).hits
    ]


def _history(conversation: Conversation, *, before: Message) -> list[dict[str, Any]]:
    """Recent turns, newest kept first, within CHAT_HISTORY_TOKENS (about 4 characters a token)."""
    budget = settings.CHAT_HISTORY_TOKENS * 4
    turns: list[dict[str, Any]] = []
    for message in reversed(recent_messages(conversation=conversation, limit=20)):
        if message.pk == before.pk or not message.content:
            continue
        budget -= len(message.content)
        if budget < 0:
            break
        turns.insert(0, {"role": message.role, "content": message.content})
    while turns and turns[0]["role"] != "user":  # the API wants a user turn first
        turns.pop(0)
    merged: list[dict[str, Any]] = []
    for turn in turns:  # and roles alternating (a failed answer leaves two user turns in a row)
        if merged and merged[-1]["role"] == turn["role"]:
            merged[-1] = {"role": turn["role"], "content": merged[-1]["content"] + "\n\n" + turn["content"]}
        else:
            merged.append(turn)
    return merged


def system_prompt(conversation: Conversation, sources: list[Source]) -> list[dict[str, Any]]:
    persona = conversation.persona.system_prompt if conversation.persona else DEFAULT_PERSONA
    numbered = "\n\n".join(source.prompt_block() for source in sources) or "(No sources matched the question.)"
    return [
        {"type": "text", "text": persona},
        {
            "type": "text",
            "text": f"{CITATION_RULES}\n\nSources:\n\n{numbered}",
            "cache_control": {"type": "ephemeral"},  # persona + sources are cached across tool rounds
        },
    ]


DEFAULT_PERSONA = "You are Theo, a careful theological research assistant. Answer from the sources you are given."
CITATION_RULES = (
    "Cite every claim with the number of its source in square brackets, e.g. [2]. When you quote, "
    "quote the source exactly, in quotation marks, in the sentence that cites it. Do not invent "
    "sources or numbers. If the sources do not answer the question, say so. The tools search_library "
    "and lookup_scripture return more numbered sources you may cite the same way."
)


def fit_to_budget(
    *, conversation: Conversation, question: str, sources: list[Source], history: list[dict[str, Any]], limit: int
) -> tuple[list[Source], list[dict[str, Any]]]:
    """The sources and history that fit in `limit` estimated tokens with the persona and the
    question: the oldest turns go first, then the lowest-ranked sources (the question was
    checked to fit on its own)."""
    sources, history = list(sources), list(history)

    def size() -> int:
        system = budget.estimate_tokens(system_prompt(conversation, sources))
        return system + budget.estimate_tokens([*history, *_question_turns(question)])

    while size() > limit and (history or sources):
        if history:
            history.pop(0)
            while history and history[0]["role"] != "user":  # the API wants a user turn first
                history.pop(0)
        else:
            sources.pop()
    return sources, history


def prepare(*, user: Any, conversation: Conversation, question: str) -> tuple[Prepared, Message]:
    """Save the question, retrieve, build the prompt within the token budget and decide who answers."""
    with transaction.atomic():
        question_message = Message.objects.create(conversation=conversation, role=Message.Role.USER, content=question)
        conversation_title_from(conversation=conversation, question=question)
        Conversation.objects.filter(pk=conversation.pk).update(updated_at=timezone.now())
    limit = budget.input_budget(tools=providers.TOOLS)
    sources, history = fit_to_budget(
        conversation=conversation,
        question=question,
        sources=number_sources(retrieve(user=user, conversation=conversation, query=question, k=settings.CHAT_SOURCES)),
        history=_history(conversation, before=question_message),
        limit=limit,
    )
    messages = [*history, *_question_turns(question)]
    prepared = Prepared(user, conversation, question, sources, system_prompt(conversation, sources), messages, limit)
    prepared.degraded_reason = _degraded_reason(user)
    return prepared, question_message


def _degraded_reason(user: Any) -> str:
    if not providers.claude_configured():
        return "no_api_key"
    if over_budget(user):
        return "budget_exceeded"
    if not claude_breaker().allow():
        return "breaker_open"
    return ""


# --- finishing --------------------------------------------------------------------------------


def finish(
    *, prepared: Prepared, text: str, degraded: bool, failed_code: str = ""
) -> tuple[Message, list[realtime.CitationItem], realtime.UsagePayload]:
    items = validate_citations(text, prepared.sources)
    model = "offline" if degraded else settings.CHAT_MODEL
    cost = Decimal("0") if degraded else prepared.usage.cost_usd(settings.CHAT_MODEL)
    with transaction.atomic():
        message = Message.objects.create(
            conversation=prepared.conversation,
            role=Message.Role.ASSISTANT,
            content=text,
            citations=items,
            degraded=degraded,
            status=Message.Status.FAILED if failed_code else Message.Status.COMPLETE,
            error_code=failed_code,
            model=model,
        )
        AIUsage.objects.create(
            user=prepared.user,
            message=message,
            model=model,
            input_tokens=prepared.usage.input_tokens,
            output_tokens=prepared.usage.output_tokens,
            cache_read_tokens=prepared.usage.cache_read_tokens,
            cache_write_tokens=prepared.usage.cache_write_tokens,
            cost_usd=cost,
            degraded=degraded,
        )
        Conversation.objects.filter(pk=prepared.conversation.pk).update(updated_at=timezone.now())
    usage: realtime.UsagePayload = {
        "input_tokens": prepared.usage.input_tokens,
        "output_tokens": prepared.usage.output_tokens,
        "cache_read_tokens": prepared.usage.cache_read_tokens,
        "cache_write_tokens": prepared.usage.cache_write_tokens,
        "cost_usd": float(cost),
    }
    return message, items, usage


# --- the pipeline -------------------------------------------------------------------------------


async def answer_stream(
    *, user: Any, conversation: Conversation, content: Any, checked: bool = False
) -> AsyncIterator[realtime.ChatEvent]:
    """`checked`: the transport already validated the question and counted the rate limit
    (so HTTP can answer 400/429 in the error format before a stream starts)."""
    try:
        question = validate_question(content)
        await sync_to_async(check_question_fits)(conversation=conversation, question=question)
        if not checked:
            await sync_to_async(chat_rate_limit)(user)
    except RateLimited as error:
        yield realtime.error(error.code, error.message, retry_after=error.retry_after)
        return
    except TheoError as error:
        yield realtime.error(error.code, error.message)
        return
    prepared, _ = await sync_to_async(prepare)(user=user, conversation=conversation, question=question)
    parts: list[str] = []
    failed_code = ""
    if not prepared.degraded_reason:
        breaker = claude_breaker()
        try:
            async for text in providers.claude_stream(
                system=prepared.system,
                messages=prepared.messages,
                run_tool=sync_to_async(lambda name, tool_input, room: tools.run_tool(prepared, name, tool_input, room)),
                usage=prepared.usage,
                input_budget=prepared.input_budget,
            ):
                parts.append(text)
                yield realtime.delta(text)
            await sync_to_async(breaker.record_success)()
        except providers.ProviderFailed as error:
            if error.provider_side:  # a request Claude refused (e.g. too large) is not Claude failing
                await sync_to_async(breaker.record_failure)()
            else:
                await sync_to_async(breaker.record_neutral)()
                logger.warning("claude_refused_request", code=error.code, error=str(error.__cause__ or error)[:500])
            if parts:  # the answer broke off: keep what came, say so
                failed_code = error.code
                yield realtime.error(error.code, f"{error.message} The answer is incomplete.")
            else:
                prepared.degraded_reason = "provider_error"
    degraded = bool(prepared.degraded_reason)
    if degraded:
        text = providers.offline_answer(question, prepared.sources, prepared.degraded_reason)
        async for piece in providers.offline_stream(text):
            parts.append(piece)
            yield realtime.delta(piece)
    message, items, usage = await sync_to_async(finish)(
        prepared=prepared, text="".join(parts), degraded=degraded, failed_code=failed_code
    )
    yield realtime.citations(items)
    yield realtime.done(
        message_id=str(message.pk), usage=usage, degraded=degraded, degraded_reason=prepared.degraded_reason
    )


def start_answer(*, user: Any, conversation: Conversation, content: Any, checked: bool = False) -> asyncio.Queue:
    """Run the pipeline in its own task; events arrive on the returned queue, ending with
    None. The task does not depend on anyone reading: a client that goes away mid-answer
    finds the finished answer saved when it comes back."""
    queue: asyncio.Queue = asyncio.Queue()

    async def run() -> None:
        try:
            async for event in answer_stream(user=user, conversation=conversation, content=content, checked=checked):
                queue.put_nowait(event)
        except Exception:
            logger.exception("answer_failed", conversation_id=str(conversation.pk))
            queue.put_nowait(realtime.error("internal_error", "Theo could not finish this answer; please try again."))
        finally:
            queue.put_nowait(None)

    task = asyncio.get_running_loop().create_task(run())
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)
    return queue


_RUNNING: set[asyncio.Task] = set()  # strong references: a task nobody awaits must not be collected


async def events_of(queue: asyncio.Queue) -> AsyncIterator[realtime.ChatEvent]:
    while (event := await queue.get()) is not None:
        yield event


async def answer_complete(
    *, user: Any, conversation: Conversation, content: Any, checked: bool = False
) -> list[realtime.ChatEvent]:
    """All events of one answer (the plain POST transport)."""
    stream = answer_stream(user=user, conversation=conversation, content=content, checked=checked)
    return [event async for event in stream]
