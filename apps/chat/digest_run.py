"""Running a digest (the Celery task's body): claim it, read its passages afresh (access
as it is now: a share revoked since it was queued counts), then either map each group of
passages to notes with the small model and reduce them to one answer with the chat model,
or, offline, write the extractive summary. Safe to run twice: a finished digest is left
alone and notes already recorded are not asked for again."""

from __future__ import annotations

from typing import Any, cast

import anthropic
import structlog
from django.conf import settings
from django.db import transaction

from apps.chat import providers
from apps.chat.digest_offline import extractive_summary
from apps.chat.digest_plan import Plan, direct_request, map_request, plan_digest, reduce_request
from apps.chat.digest_selectors import digest_passages
from apps.chat.digest_services import (
    DigestGone,
    digest_fail,
    digest_finish,
    digest_note_record,
    digest_total_set,
    offline_reason,
)
from apps.chat.models import Digest
from apps.core.breaker import claude_breaker
from apps.core.errors import TheoError

logger = structlog.get_logger(__name__)


def _claim(digest_id: Any) -> Digest | None:
    """The digest, marked running; None when it is finished (or gone)."""
    with transaction.atomic():
        digest = (
            Digest.objects.select_for_update(of=("self",))
            .select_related("conversation__owner")
            .filter(pk=digest_id)
            .first()
        )
        if digest is None or digest.status in (Digest.Status.READY, Digest.Status.FAILED):
            return None
        digest.status = Digest.Status.RUNNING
        digest.save(update_fields=["status", "updated_at"])
    return digest


def claude_call(*, model: str, system: str, messages: list[dict[str, Any]], max_tokens: int) -> tuple[str, Any]:
    """One non-streaming request (a worker has nobody to stream to): (text, Anthropic usage).
    Raises ProviderFailed; the breaker hears of the outcome."""
    breaker = claude_breaker()
    client = anthropic.Anthropic(
        api_key=settings.ANTHROPIC_API_KEY,
        base_url=settings.ANTHROPIC_BASE_URL or None,
        max_retries=settings.ANTHROPIC_MAX_RETRIES,
        timeout=settings.CHAT_TIMEOUT_SECONDS,
    )
    try:
        response = client.messages.create(
            model=model,
            max_tokens=max_tokens,
            system=system,
            messages=cast("list[anthropic.types.MessageParam]", messages),
        )
    except anthropic.APIStatusError as error:
        side = providers.is_provider_side(error)
        breaker.record_failure() if side else breaker.record_neutral()
        raise providers.ProviderFailed(
            "provider_error", f"Claude answered with an error ({error.status_code}).", provider_side=side
        ) from error
    except Exception as error:  # timeouts, connections, transport
        breaker.record_failure()
        raise providers.ProviderFailed("provider_unreachable", "Theo could not reach Claude.") from error
    breaker.record_success()
    text = "".join(block.text for block in response.content if block.type == "text")
    return text, response.usage


def _usage(raw: Any) -> providers.Usage:
    usage = providers.Usage()
    usage.add(raw)
    return usage


def _claude_digest(digest: Digest, plan: Plan) -> None:
    for index in range(len(digest.notes), plan.map_calls):
        system, messages = map_request(plan, index)
        note, raw = claude_call(
            model=settings.DIGEST_MAP_MODEL, system=system, messages=messages, max_tokens=settings.DIGEST_NOTE_TOKENS
        )
        digest_note_record(digest=digest, index=index, note=note, model=settings.DIGEST_MAP_MODEL, usage=_usage(raw))
    system, messages = reduce_request(plan, digest.notes[: plan.map_calls]) if plan.map_calls else direct_request(plan)
    text, raw = claude_call(
        model=settings.CHAT_MODEL, system=system, messages=messages, max_tokens=settings.CHAT_MAX_OUTPUT_TOKENS
    )
    digest_finish(digest=digest, text=text, sources=plan.sources, model=settings.CHAT_MODEL, usage=_usage(raw))


def _offline_digest(digest: Digest, plan: Plan, reason: str) -> None:
    digest_total_set(digest=digest, total=digest.done + 1)
    text = extractive_summary(question=digest.question, sources=plan.sources, titles=plan.titles, reason=reason)
    digest_finish(digest=digest, text=text, sources=plan.sources, model="offline", usage=None, degraded_reason=reason)


def digest_run(*, digest_id: Any, final_attempt: bool = True) -> None:
    """Raises ProviderFailed (Claude's side) unless `final_attempt`: the task retries, and
    the notes recorded so far are kept. On the final attempt the digest falls back to the
    extractive summary; a request Claude refused fails it."""
    digest = _claim(digest_id)
    if digest is None:
        return
    try:
        _run(digest, final_attempt=final_attempt)
    except DigestGone:
        logger.info("digest_gone", digest_id=str(digest_id))  # deleted with its conversation


def _run(digest: Digest, *, final_attempt: bool) -> None:
    owner = digest.conversation.owner
    try:
        chosen = digest_passages(user=owner, question=digest.question, document_ids=digest.document_ids)
    except TheoError as error:  # a document deleted or unshared since, or reprocessing
        digest_fail(digest=digest, code=error.code, message=error.message)
        return
    plan = plan_digest(question=digest.question, chosen=chosen)
    reason = offline_reason(trial=True)
    if reason:
        _offline_digest(digest, plan, reason)
        return
    digest_total_set(digest=digest, total=plan.calls)
    try:
        _claude_digest(digest, plan)
    except providers.ProviderFailed as error:
        logger.warning("digest_claude_failed", digest_id=str(digest.pk), code=error.code, final=final_attempt)
        if not error.provider_side:
            digest_fail(digest=digest, code=error.code, message=f"{error.message} The digest was not written.")
        elif final_attempt:
            _offline_digest(digest, plan, "provider_error")
        else:
            raise
