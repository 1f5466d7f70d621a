"""Admission: the one step every transport (WebSocket, SSE, plain POST) takes before an
answer streams. A question is admitted when it is a non-empty string within
CHAT_MAX_QUESTION_CHARS, fits in the model's context window on its own, and the asker is
within the chat rate limit (counted only for questions that pass the first two checks).

`question_admit` raises the domain error (ValidationFailed, RateLimited): HTTP answers it
as an ordinary 400/429 before any stream starts, the socket as an `error` event. The
pipeline (chat.answer) takes only an `Admission`, so nothing streams without one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from apps.chat import budget, providers, realtime
from apps.chat.models import Conversation
from apps.chat.prompt import question_turns, system_prompt
from apps.core.errors import RateLimited, TheoError, ValidationFailed
from apps.core.ratelimits import enforce_rate_limit


@dataclass(frozen=True)
class Admission:
    """A question admitted for an answer. The pipeline reads the conversation again (by
    `conversation_id`) when it saves the question, so a persona or scope changed since the
    transport loaded it counts."""

    user: Any
    conversation_id: Any
    question: str


def question_admit(*, user: Any, conversation: Conversation, content: Any) -> Admission:
    """Validate → fit → rate limit; `conversation` is one `user` may ask in
    (chat.selectors.conversation_get_for)."""
    question = validate_question(content)
    check_question_fits(conversation=conversation, question=question)
    chat_rate_limit(user=user)
    return Admission(user=user, conversation_id=conversation.pk, question=question)


def refusal_event(error: TheoError) -> realtime.ErrorEvent:
    """A refused question as the socket says it (HTTP says it with its status code)."""
    retry_after = error.retry_after if isinstance(error, RateLimited) else None
    return realtime.error(error.code, error.message, retry_after=retry_after)


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
    if budget.estimate_tokens(question_turns(question)) > allowed:
        raise budget.question_too_long(allowed_tokens=allowed - budget.OVERHEAD_PER_BLOCK * 2 - 30)


def chat_rate_limit(*, user: Any) -> None:
    enforce_rate_limit(
        scope="chat", key=f"user:{user.pk}", message="You have sent {count} messages {period}; wait a moment."
    )
