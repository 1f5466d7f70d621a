"""The prompt of one answer: the persona and the numbered sources (the system blocks), the
recent turns of the conversation and the question, cut to fit the token budget
(chat.budget): the oldest turns go first, then the lowest-ranked sources."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from apps.chat import budget
from apps.chat.citations import Source
from apps.chat.models import Conversation, Message
from apps.chat.selectors import recent_messages

DEFAULT_PERSONA = "You are Theo, a careful theological research assistant. Answer from the sources you are given."
CITATION_RULES = (
    "Cite every claim with the number of its source in square brackets, e.g. [2]. When you quote, "
    "quote the source exactly, in quotation marks, in the sentence that cites it. Do not invent "
    "sources or numbers. If the sources do not answer the question, say so. The tools search_library "
    "and lookup_scripture return more numbered sources you may cite the same way."
)


def question_turns(question: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": question}]


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


def recent_turns(conversation: Conversation, *, before: Message) -> list[dict[str, Any]]:
    """Recent turns, newest kept first, within CHAT_HISTORY_TOKENS (about 4 characters a token)."""
    room = settings.CHAT_HISTORY_TOKENS * 4
    turns: list[dict[str, Any]] = []
    for message in reversed(recent_messages(conversation=conversation, limit=20)):
        if message.pk == before.pk or not message.content:
            continue
        room -= len(message.content)
        if room < 0:
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


def fit_to_budget(
    *, conversation: Conversation, question: str, sources: list[Source], history: list[dict[str, Any]], limit: int
) -> tuple[list[Source], list[dict[str, Any]]]:
    """The sources and history that fit in `limit` estimated tokens with the persona and the
    question: the oldest turns go first, then the lowest-ranked sources (admission checked
    that the question fits on its own)."""
    sources, history = list(sources), list(history)

    def size() -> int:
        system = budget.estimate_tokens(system_prompt(conversation, sources))
        return system + budget.estimate_tokens([*history, *question_turns(question)])

    while size() > limit and (history or sources):
        if history:
            history.pop(0)
            while history and history[0]["role"] != "user":  # the API wants a user turn first
                history.pop(0)
        else:
            sources.pop()
    return sources, history
