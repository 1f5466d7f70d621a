"""Small Claude calls made for an answer before it is written (the follow-up rewrite, the
rerank of sources): one non-streamed request to a small model, its usage kept for the
answer's record (an AIUsage row of its own kind), its failure reported to the circuit
breaker and answered with None, so the caller falls back to what works offline.

They run only when the answer itself is going to Claude (`Prepared.degraded_reason` is
""): the breaker has then already let this answer through, so a half-open trial is not
taken twice, and an over-budget user or a missing key never reaches here."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import structlog
from asgiref.sync import sync_to_async

from apps.chat import providers
from apps.core.breaker import claude_breaker

logger = structlog.get_logger(__name__)


@dataclass
class AssistUsage:
    kind: str  # AIUsage.Kind
    model: str
    usage: providers.Usage = field(default_factory=providers.Usage)

    @property
    def cost(self) -> Decimal:
        return self.usage.cost_usd(self.model)


async def assist_call(
    *, kind: str, model: str, system: str, prompt: str, max_tokens: int, record: list[AssistUsage]
) -> str | None:
    """Claude's text for `prompt`, or None if the call failed. The call's usage joins
    `record` whether or not its answer is used (tokens were spent)."""
    spent = AssistUsage(kind=kind, model=model)
    try:
        text = await providers.claude_complete(
            model=model,
            system=system,
            messages=[{"role": "user", "content": prompt}],
            max_tokens=max_tokens,
            usage=spent.usage,
        )
    except providers.ProviderFailed as error:
        breaker = claude_breaker()
        await sync_to_async(breaker.record_failure if error.provider_side else breaker.record_neutral)()
        logger.warning("chat_assist_failed", kind=kind, code=error.code)
        return None
    finally:
        if spent.usage.input_tokens or spent.usage.output_tokens:
            record.append(spent)
    return text


def total_usage(record: list[AssistUsage], answer: providers.Usage) -> providers.Usage:
    """The answer's usage plus its helpers' (what the message cost in tokens)."""
    total = providers.Usage()
    for usage in [answer, *(spent.usage for spent in record)]:
        total.input_tokens += usage.input_tokens
        total.output_tokens += usage.output_tokens
        total.cache_read_tokens += usage.cache_read_tokens
        total.cache_write_tokens += usage.cache_write_tokens
    return total


def usage_rows(record: list[AssistUsage]) -> list[dict[str, Any]]:
    return [{"kind": spent.kind, "model": spent.model, "usage": spent.usage, "cost": spent.cost} for spent in record]
