"""The optional rerank of retrieved passages by a small Claude model (THEO_RERANK): the
top CHAT_RERANK_CANDIDATES fused passages are shown to it, numbered, and it answers with
the numbers of the most relevant first; the best CHAT_SOURCES then go to the answer.
No local cross-encoder ships in a package registry, so without Claude (or when the call
fails, or its reply cannot be read) the fused order stands."""

from __future__ import annotations

import re

from django.conf import settings

from apps.chat.assist import AssistUsage, assist_call
from apps.chat.models import AIUsage
from apps.index.models import Passage

SYSTEM = (
    "You rank passages (Bible verses, pages of books, notes) by how well they answer a search query. "
    "Reply with the numbers of the passages, most relevant first, separated by commas; leave out the "
    "irrelevant ones. Numbers only, no comment."
)
PASSAGE_CHARS = 400  # of each passage shown to the reranker
_NUMBER = re.compile(r"\d+")


def enabled() -> bool:
    return bool(settings.CHAT_RERANK and settings.ANTHROPIC_API_KEY)


def _label(passage: Passage) -> str:
    if passage.source_kind == Passage.SourceKind.BIBLE:
        return f"{passage.reference} ({passage.translation.upper()})"
    return passage.title


def _prompt(query: str, passages: list[Passage]) -> str:
    blocks = [
        f"[{n}] {_label(passage)}: {' '.join(passage.text.split())[:PASSAGE_CHARS]}"
        for n, passage in enumerate(passages, start=1)
    ]
    return f"Search query: {query}\n\nPassages:\n" + "\n".join(blocks) + "\n\nNumbers, most relevant first:"


def order_from(reply: str, count: int) -> list[int] | None:
    """0-based indexes in the order the reply names them, then the unnamed ones in their
    fused order (a passage the reranker skipped is demoted, not lost); None for a reply
    that names no valid number."""
    named = list(dict.fromkeys(int(n) - 1 for n in _NUMBER.findall(reply) if 1 <= int(n) <= count))
    if not named:
        return None
    return named + [index for index in range(count) if index not in set(named)]


async def reranked(*, query: str, passages: list[Passage], record: list[AssistUsage]) -> list[Passage]:
    """`passages` (fused order) reordered by Claude; unchanged when it fails."""
    candidates = passages[: settings.CHAT_RERANK_CANDIDATES]
    if len(candidates) < 2:
        return passages
    reply = await assist_call(
        kind=AIUsage.Kind.RERANK,
        model=settings.CHAT_RERANK_MODEL,
        system=SYSTEM,
        prompt=_prompt(query, candidates),
        max_tokens=200,
        record=record,
    )
    order = order_from(reply or "", len(candidates))
    if order is None:
        return passages
    return [candidates[index] for index in order] + passages[len(candidates) :]
