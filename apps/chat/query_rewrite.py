"""The standalone search query for a question: Claude's rewrite of a follow-up when Claude
answers, else (and when it fails or says nothing usable) chat.followups' deterministic one.
A question that stands on its own (chat.followups.needs_context) is searched as asked."""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings

from apps.chat import followups
from apps.chat.assist import AssistUsage, assist_call
from apps.chat.models import AIUsage

SYSTEM = (
    "You turn the last question of a conversation about the Bible and theology into one standalone "
    "search query for a search engine over Bible verses and books. Resolve pronouns and phrases such as "
    "'the next verse', 'right after that' or 'and about hope?' from the earlier turns; give exact "
    "scripture references (e.g. 'John 3:17') when the question points at a verse. If the question "
    "already stands on its own, repeat it unchanged. Reply with the query only: no quotes, no comment."
)
TURN_CHARS = 600  # of each earlier turn shown to the rewriter
MAX_QUERY_CHARS = 500


def _prompt(question: str, turns: Sequence[tuple[str, str]]) -> str:
    lines = [f"{role.capitalize()}: {' '.join(text.split())[:TURN_CHARS]}" for role, text in turns]
    return "Conversation so far:\n" + "\n".join(lines) + f"\n\nLast question: {question}\n\nStandalone search query:"


def _usable(text: str | None) -> str:
    query = " ".join((text or "").split()).strip("\"'“”")
    return query if 0 < len(query) <= MAX_QUERY_CHARS else ""


async def search_query_for(
    *,
    question: str,
    previous: Sequence[str],
    turns: Sequence[tuple[str, str]],
    last_answer: str,
    use_claude: bool,
    record: list[AssistUsage],
) -> str:
    """`previous`: the earlier turns' standalone queries, oldest first; `turns`: the last
    few (role, text) turns for Claude to read."""
    question = " ".join(question.split())
    if not previous or not followups.needs_context(question):
        return question
    if use_claude:
        rewritten = await assist_call(
            kind=AIUsage.Kind.REWRITE,
            model=settings.CHAT_REWRITE_MODEL,
            system=SYSTEM,
            prompt=_prompt(question, turns),
            max_tokens=120,
            record=record,
        )
        if _usable(rewritten):
            return _usable(rewritten)
    return followups.rewrite(question, previous=previous, last_answer=last_answer)
