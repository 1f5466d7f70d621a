"""Running a digest (the task's body, in this process): map calls to the small model, one
reduce call to the chat model, the answer stored as an assistant message with verified
page citations, every call in the user's usage; resuming after a lost worker without
paying twice; offline, the extractive summary; Claude failing."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from apps.chat.digest_run import digest_run
from apps.chat.digest_services import digest_start
from apps.chat.models import AIUsage, Digest, Message
from apps.chat.services import conversation_delete
from apps.core.breaker import claude_breaker
from tests.chat import fake_claude as fake
from tests.chat.digests import GRACE, HOPE, book, conversation_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def grace(user: Any) -> Any:
    return book(user, GRACE, title="Of Grace and Justification")


@pytest.fixture
def small_groups(settings: Any) -> None:
    settings.DIGEST_GROUP_TOKENS = 1000  # two or three passages a group


def message_of(digest: Digest) -> Message:
    assert digest.message is not None, digest.status
    return digest.message


def start(user: Any, question: str, *documents: Any) -> Digest:
    conversation = conversation_for(user)
    return digest_start(
        user=user, conversation_id=conversation.pk, question=question, document_ids=[d.pk for d in documents]
    )


def test_map_then_reduce_gives_one_cited_answer(
    user: Any, grace: Any, claude_settings: Any, settings: Any, small_groups: None
):
    digest = start(user, "Summarise this book", grace)
    maps = digest.total - 1
    assert maps >= 2
    for i in range(maps):
        claude_settings.respond(
            fake.text(f"- Note on part {i + 1} [1]", usage=fake.Usage(input_tokens=100, output_tokens=20))
        )
    claude_settings.respond(
        fake.text(
            "Grace is “the free favour of God” [1]; justification “rests on the righteousness of Christ” [3].",
            usage=fake.Usage(input_tokens=300, output_tokens=50),
        )
    )
    digest_run(digest_id=digest.pk)
    digest.refresh_from_db()
    assert digest.status == "ready" and (digest.done, digest.total) == (maps + 1, maps + 1)
    requests = claude_settings.requests
    assert [r["body"]["model"] for r in requests] == [settings.DIGEST_MAP_MODEL] * maps + [settings.CHAT_MODEL]
    assert all(not r["body"].get("stream") for r in requests)
    first_map = requests[0]["body"]["messages"][0]["content"]
    assert "[1] Of Grace and Justification, p. 1" in first_map and GRACE[0][:40] in first_map
    reduce_prompt = requests[-1]["body"]["messages"][0]["content"]
    assert all(f"Note on part {i + 1}" in reduce_prompt for i in range(maps))
    message = message_of(digest)
    assert message.role == "assistant" and message.conversation_id == digest.conversation_id
    items = {item["n"]: item for item in message.citations}
    assert items[1]["verified"] and items[1]["page_start"] == 1 and items[3]["page_start"] == 3
    usage = AIUsage.objects.filter(user=user)
    assert usage.count() == maps + 1 and usage.get(message=message).model == settings.CHAT_MODEL
    assert sum(u.input_tokens for u in usage) == 100 * maps + 300
    assert digest.cost_usd == sum(u.cost_usd for u in usage) > 0


def test_a_redelivered_task_resumes_after_the_recorded_notes(
    user: Any, grace: Any, claude_settings: Any, small_groups: None
) -> None:
    digest = start(user, "Summarise this book", grace)
    claude_settings.respond(fake.text("- First part [1]"), fake.error(400, message="prompt is too long"))
    digest_run(digest_id=digest.pk)  # the second map call is refused: failed, first note kept
    digest.refresh_from_db()
    assert digest.status == "failed" and digest.notes == ["- First part [1]"] and digest.done == 1
    # A worker lost mid-run: the task comes again while the digest is still running.
    Digest.objects.filter(pk=digest.pk).update(status="running", error_code="")
    claude_settings.requests.clear()
    digest_run(digest_id=digest.pk)
    digest.refresh_from_db()
    assert digest.status == "ready"
    assert len(claude_settings.requests) == digest.total - 1  # the first map call was not made again
    assert AIUsage.objects.filter(user=user).count() == digest.total
    digest_run(digest_id=digest.pk)  # finished: nothing happens
    assert len(claude_settings.requests) == digest.total - 1


def test_one_group_is_answered_by_one_call(user: Any, grace: Any, claude_settings: Any, settings: Any) -> None:
    digest = start(user, "What does chapter 2 say about faith?", grace)
    claude_settings.respond("Faith “is the instrument of justification” [2].")
    digest_run(digest_id=digest.pk)
    digest.refresh_from_db()
    (request,) = claude_settings.requests
    assert request["body"]["model"] == settings.CHAT_MODEL
    prompt = request["body"]["messages"][0]["content"]
    assert "CHAPTER II" in prompt and "CHAPTER III" not in prompt and "CHAPTER I." not in prompt
    (item,) = message_of(digest).citations
    assert item["verified"] and item["page_start"] == 4  # [2] of chapter 2 is the book's fourth page


def test_offline_an_extractive_summary_with_page_citations(user: Any, grace: Any, settings: Any) -> None:
    settings.ANTHROPIC_API_KEY = ""
    digest = start(user, "What is justification?", grace)
    digest_run(digest_id=digest.pk)
    digest.refresh_from_db()
    assert digest.status == "ready" and digest.degraded and digest.degraded_reason == "no_api_key"
    message = message_of(digest)
    assert message.degraded and message.model == "offline" and "not configured" in message.content
    assert message.citations and all(item["verified"] for item in message.citations)
    assert "Justification is the act by which God declares the sinner righteous" in message.content
    assert not AIUsage.objects.filter(user=user).exists() and digest.cost_usd == 0
    # In reading order: cited numbers ascend.
    numbers = [item["n"] for item in message.citations]
    assert numbers == sorted(numbers)


def test_offline_a_comparison_quotes_both_documents(user: Any, grace: Any, settings: Any) -> None:
    settings.ANTHROPIC_API_KEY = ""
    hope = book(user, HOPE, title="On Hope")
    digest = start(user, "Compare what these two say about justification and faith", grace, hope)
    digest_run(digest_id=digest.pk)
    digest.refresh_from_db()
    content = message_of(digest).content
    assert "**Of Grace and Justification**" in content and "**On Hope**" in content
    titles = {item["title"] for item in message_of(digest).citations}
    assert titles == {"Of Grace and Justification", "On Hope"}


def test_the_breaker_open_makes_it_extractive(user: Any, grace: Any, claude_settings: Any, settings: Any) -> None:
    digest = start(user, "Summarise", grace)
    breaker = claude_breaker()
    for _ in range(settings.LLM_BREAKER_FAILURES):
        breaker.record_failure()
    try:
        digest_run(digest_id=digest.pk)
    finally:
        breaker.reset()
    digest.refresh_from_db()
    assert digest.degraded_reason == "breaker_open" and not claude_settings.requests


def test_claude_failing_on_the_last_attempt_falls_back_to_the_extractive_summary(
    user: Any, grace: Any, claude_settings: Any
) -> None:
    digest = start(user, "Summarise", grace)
    claude_settings.respond(fake.error(529))
    with pytest.raises(Exception, match="error"):
        digest_run(digest_id=digest.pk, final_attempt=False)  # the task retries
    digest.refresh_from_db()
    assert digest.status == "running"
    claude_settings.respond(fake.error(529))
    digest_run(digest_id=digest.pk, final_attempt=True)
    digest.refresh_from_db()
    assert digest.status == "ready" and digest.degraded_reason == "provider_error"
    claude_breaker().reset()


def test_a_share_revoked_before_the_run_fails_it(user: Any, make_user: Any, grace: Any, claude_settings: Any) -> None:
    from apps.documents.services import document_share, document_unshare

    reader = make_user()
    document_share(document=grace, actor=user, email=reader.email, permission="view")
    digest = start(reader, "Summarise", grace)
    document_unshare(document=grace, actor=user, email=reader.email)
    digest_run(digest_id=digest.pk)
    digest.refresh_from_db()
    assert digest.status == "failed" and digest.error_code == "not_found" and not claude_settings.requests


@pytest.mark.django_db(transaction=True)
def test_a_conversation_deleted_mid_run_stops_it_and_keeps_the_paid_call_in_usage(
    user: Any, grace: Any, claude_settings: Any, small_groups: None
) -> None:
    digest = start(user, "Summarise this book", grace)
    claude_settings.respond(fake.text("- First part [1]", first_delay=1.0))

    def run() -> None:
        try:
            digest_run(digest_id=digest.pk)
        finally:
            connection.close()

    runner = threading.Thread(target=run)
    runner.start()
    claude_settings.wait_for_requests(1)
    conversation_delete(conversation=digest.conversation, actor=user)
    runner.join(timeout=20)
    assert not runner.is_alive()
    assert len(claude_settings.requests) == 1  # it stopped after the call under way
    assert not Digest.objects.filter(pk=digest.pk).exists()
    assert AIUsage.objects.filter(user=user).count() == 1
