"""The one answer pipeline behind every transport (WebSocket, SSE, plain POST), for a
question the transport admitted (chat.admission: validate → fit → rate limit):

save the question (the conversation read afresh: its persona, scope and title as they are
now) → the search query (a follow-up rewritten into a standalone query: chat.query_rewrite)
→ retrieve (hybrid search, access rule in SQL, the conversation's scope; optionally
reranked by a small Claude model: chat.rerank) → build the
prompt (chat.prompt: persona, numbered sources, recent history, within the token budget)
→ stream from Claude (tools, prompt caching) or the offline provider → check citations →
save the answer and its usage → done. The writes are chat.services'.

`answer_stream` yields the events of chat.realtime. `start_answer` runs it as a task of
its own, so an answer whose client disconnects still finishes and is saved.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import structlog
from asgiref.sync import sync_to_async
from django.conf import settings

from apps.chat import budget, providers, realtime, rerank, tools
from apps.chat.admission import Admission, refusal_event
from apps.chat.assist import AssistUsage, total_usage, usage_rows
from apps.chat.citations import Source, number_sources, validate_citations
from apps.chat.models import Conversation, Message
from apps.chat.prompt import fit_to_budget, question_turns, recent_turns, system_prompt
from apps.chat.query_rewrite import search_query_for
from apps.chat.selectors import over_budget, recent_messages
from apps.chat.services import answer_record, question_record
from apps.chat.sources import source_items
from apps.chat.tools import search_scope
from apps.core.breaker import claude_breaker
from apps.core.errors import TheoError
from apps.index.models import Passage
from apps.index.search import passages_search

logger = structlog.get_logger(__name__)
REWRITE_TURNS = 6  # earlier messages a follow-up is completed from


@dataclass
class Prepared:
    """Everything the provider needs, gathered before it is asked."""

    user: Any
    conversation: Conversation
    question: str
    question_message: Message
    sources: list[Source] = field(default_factory=list)
    system: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    input_budget: int = 0
    degraded_reason: str = ""
    failed_code: str = ""  # Claude broke off mid-answer: the answer is saved as failed
    usage: providers.Usage = field(default_factory=providers.Usage)
    search_query: str = ""  # what retrieval searched for: the question, or its rewrite
    assists: list[AssistUsage] = field(default_factory=list)  # the rewrite's and rerank's usage


def retrieve(*, user: Any, conversation: Conversation, query: str, k: int) -> list[Passage]:
    scope, source_ids = search_scope(conversation)
    return [
        hit.passage for hit in passages_search(user=user, query=query, scope=scope, k=k, source_ids=source_ids).hits
    ]


def open_question(*, admission: Admission) -> Prepared:
    """Save the question and decide who answers (Claude, or offline and why)."""
    conversation, question_message = question_record(
        conversation_id=admission.conversation_id, question=admission.question
    )
    prepared = Prepared(admission.user, conversation, admission.question, question_message)
    prepared.search_query = " ".join(admission.question.split())
    prepared.degraded_reason = _degraded_reason(admission.user)
    return prepared


def earlier_turns(prepared: Prepared) -> tuple[list[str], list[tuple[str, str]], str]:
    """(the earlier questions' standalone queries, the last few turns, the last answer)."""
    messages = [
        message
        for message in recent_messages(conversation=prepared.conversation, limit=REWRITE_TURNS)
        if message.pk != prepared.question_message.pk
    ]
    previous: list[str] = []
    for index, message in enumerate(messages):
        if message.role == Message.Role.USER:
            reply = messages[index + 1] if index + 1 < len(messages) else None
            searched = reply.search_query if reply is not None and reply.role == Message.Role.ASSISTANT else ""
            previous.append(searched or message.content)
    answers = [message.content for message in messages if message.role == Message.Role.ASSISTANT]
    turns = [(message.role, message.content) for message in messages[-4:]]
    return previous, turns, answers[-1] if answers else ""


async def choose_search_query(prepared: Prepared) -> None:
    previous, turns, last_answer = await sync_to_async(earlier_turns)(prepared)
    prepared.search_query = await search_query_for(
        question=prepared.question,
        previous=previous,
        turns=turns,
        last_answer=last_answer,
        use_claude=not prepared.degraded_reason,
        record=prepared.assists,
    )


def build_prompt(*, prepared: Prepared, passages: list[Passage]) -> None:
    """Number the sources; fit them and the history in the token budget; the system prompt."""
    limit = budget.input_budget(tools=providers.TOOLS)
    sources, history = fit_to_budget(
        conversation=prepared.conversation,
        question=prepared.question,
        sources=number_sources(passages),
        history=recent_turns(prepared.conversation, before=prepared.question_message),
        limit=limit,
    )
    prepared.sources, prepared.input_budget = sources, limit
    prepared.messages = [*history, *question_turns(prepared.question)]
    prepared.system = system_prompt(prepared.conversation, sources)


async def prepare(*, admission: Admission) -> Prepared:
    """Save the question, choose the search query, retrieve (and rerank), build the prompt."""
    prepared = await sync_to_async(open_question)(admission=admission)
    await choose_search_query(prepared)
    rerank_on = rerank.enabled() and not prepared.degraded_reason
    passages = await sync_to_async(retrieve)(
        user=prepared.user,
        conversation=prepared.conversation,
        query=prepared.search_query,
        k=max(settings.CHAT_RERANK_CANDIDATES, settings.CHAT_SOURCES) if rerank_on else settings.CHAT_SOURCES,
    )
    if rerank_on:
        passages = await rerank.reranked(query=prepared.search_query, passages=passages, record=prepared.assists)
    await sync_to_async(build_prompt)(prepared=prepared, passages=passages[: settings.CHAT_SOURCES])
    return prepared


def _degraded_reason(user: Any) -> str:
    if not providers.claude_configured():
        return "no_api_key"
    if over_budget(user=user):
        return "budget_exceeded"
    if not claude_breaker().allow():
        return "breaker_open"
    return ""


def finish(
    *, prepared: Prepared, text: str, degraded: bool, failed_code: str = ""
) -> tuple[Message, list[realtime.CitationItem], realtime.UsagePayload]:
    """Save the answer with its sources and search query, and its usage (the answer's row
    and one per helper call); the usage sent is the sum of them."""
    items = validate_citations(text, prepared.sources)
    cost = Decimal("0") if degraded else prepared.usage.cost_usd(settings.CHAT_MODEL)
    message = answer_record(
        conversation=prepared.conversation,
        user=prepared.user,
        text=text,
        citations=items,
        model="offline" if degraded else settings.CHAT_MODEL,
        usage=prepared.usage,
        cost=cost,
        degraded=degraded,
        failed_code=failed_code,
        search_query=prepared.search_query,
        sources=source_items(prepared.sources, items),
        assists=usage_rows(prepared.assists),
    )
    total = total_usage(prepared.assists, prepared.usage)
    usage: realtime.UsagePayload = {
        "input_tokens": total.input_tokens,
        "output_tokens": total.output_tokens,
        "cache_read_tokens": total.cache_read_tokens,
        "cache_write_tokens": total.cache_write_tokens,
        "cost_usd": float(cost + sum((spent.cost for spent in prepared.assists), Decimal("0"))),
    }
    return message, items, usage


# --- the pipeline -------------------------------------------------------------------------------


async def _claude_deltas(prepared: Prepared, parts: list[str]) -> AsyncIterator[realtime.ChatEvent]:
    """Claude's answer as delta events (text collected in `parts`). A failure before any
    text makes the answer offline (`prepared.degraded_reason`); one after ends it with an
    `error` event, the text so far kept (`prepared.failed_code`)."""
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
            prepared.failed_code = error.code
            yield realtime.error(error.code, f"{error.message} The answer is incomplete.")
        else:
            prepared.degraded_reason = "provider_error"


async def answer_stream(*, admission: Admission) -> AsyncIterator[realtime.ChatEvent]:
    """The events of the answer to an admitted question."""
    prepared = await prepare(admission=admission)
    parts: list[str] = []
    if not prepared.degraded_reason:
        async for event in _claude_deltas(prepared, parts):
            yield event
    degraded = bool(prepared.degraded_reason)
    if degraded:
        text = providers.offline_answer(prepared.question, prepared.sources, prepared.degraded_reason)
        async for piece in providers.offline_stream(text):
            parts.append(piece)
            yield realtime.delta(piece)
    message, items, usage = await sync_to_async(finish)(
        prepared=prepared, text="".join(parts), degraded=degraded, failed_code=prepared.failed_code
    )
    yield realtime.citations(items)
    yield realtime.done(
        message_id=str(message.pk),
        usage=usage,
        degraded=degraded,
        degraded_reason=prepared.degraded_reason,
        search_query=message.search_query,
        sources=message.sources,
    )


def start_answer(*, admission: Admission) -> asyncio.Queue:
    """Run the pipeline in its own task; events arrive on the returned queue, ending with
    None. The task does not depend on anyone reading: a client that goes away mid-answer
    finds the finished answer saved when it comes back."""
    queue: asyncio.Queue = asyncio.Queue()

    async def run() -> None:
        try:
            async for event in answer_stream(admission=admission):
                queue.put_nowait(event)
        except TheoError as error:  # e.g. the conversation was deleted since admission
            queue.put_nowait(refusal_event(error))
        except Exception:
            logger.exception("answer_failed", conversation_id=str(admission.conversation_id))
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


async def answer_complete(*, admission: Admission) -> list[realtime.ChatEvent]:
    """All events of one answer (the plain POST transport)."""
    return [event async for event in answer_stream(admission=admission)]
