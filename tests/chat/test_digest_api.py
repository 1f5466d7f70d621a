"""Digests over HTTP: the estimate before one starts (passages, calls, cost from the chat's
price table, offline), starting one (202, queued, the question saved), and every refusal in
the API's error format: bad input, another reader's document or conversation, a part not
found, over budget."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest

from apps.chat.digest_plan import plan_digest
from apps.chat.digest_selectors import digest_passages
from apps.chat.models import AIUsage, Digest, Message
from apps.chat.providers import Usage
from tests.chat.digests import GRACE, HOPE, body, book, conversation_for, digests_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def grace(user: Any) -> Any:
    return book(user, GRACE, title="Of Grace and Justification")


def estimate(client: Any, conversation: Any, question: str, *documents: Any) -> Any:
    return client.post(digests_url(conversation, "estimate/"), body(question, *documents), format="json")


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code and error["message"] and isinstance(error["details"], dict)
    return error


def test_offline_the_estimate_costs_nothing(client_for: Any, user: Any, grace: Any, settings: Any) -> None:
    settings.ANTHROPIC_API_KEY = ""
    response = estimate(client_for(user), conversation_for(user, grace), "Summarise this book", grace)
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["offline"] is True and data["estimated_cost_usd"] == 0
    assert data["passages"] == len(GRACE) and data["part"] == "" and data["within_budget"] is True


def test_the_estimate_prices_map_and_reduce_calls_from_the_chat_price_table(
    client_for: Any, user: Any, grace: Any, claude_settings: Any, settings: Any
) -> None:
    settings.DIGEST_GROUP_TOKENS = 1000  # a few passages per group: several map calls
    data = estimate(client_for(user), conversation_for(user, grace), "Summarise this book", grace).json()
    assert data["offline"] is False and data["map_calls"] >= 2 and data["calls"] == data["map_calls"] + 1
    map_output = data["map_calls"] * settings.DIGEST_NOTE_TOKENS
    assert data["estimated_output_tokens"] == map_output + settings.CHAT_MAX_OUTPUT_TOKENS
    # Every byte sent counts as a token at most: the estimate is an upper bound.
    assert data["estimated_input_tokens"] > sum(len(text.encode()) for text in GRACE)
    chosen = digest_passages(user=user, question="Summarise this book", document_ids=[grace.pk])
    assert plan_digest(question="Summarise this book", chosen=chosen).map_calls == data["map_calls"]
    # The map calls at the small model's price, the answer at the chat model's.
    cheapest = Usage(input_tokens=data["estimated_input_tokens"], output_tokens=data["estimated_output_tokens"])
    assert cheapest.cost_usd(settings.DIGEST_MAP_MODEL) < Decimal(str(data["estimated_cost_usd"]))
    assert Decimal(str(data["estimated_cost_usd"])) < cheapest.cost_usd(settings.CHAT_MODEL)


def test_one_group_is_one_call_with_no_map_step(client_for: Any, user: Any, grace: Any, claude_settings: Any) -> None:
    data = estimate(client_for(user), conversation_for(user, grace), "Summarise this book", grace).json()
    assert data["map_calls"] == 0 and data["calls"] == 1


@pytest.mark.parametrize(
    ("question", "passages", "part"),
    [
        ("Summarise pages 2-3", 2, "pages 2-3"),
        ("What does p. 5 say?", 1, "p. 5"),
        ("Summarise chapter 2", 3, "chapter 2"),
        ("Summarise Chapter III", 1, "chapter iii"),
        ("Summarise chapter one", 2, "chapter one"),
    ],
)
def test_a_part_named_in_the_question_limits_the_passages(
    client_for: Any, user: Any, grace: Any, question: str, passages: int, part: str
) -> None:
    data = estimate(client_for(user), conversation_for(user, grace), question, grace).json()
    assert (data["passages"], data["part"]) == (passages, part)


def test_a_part_not_found_is_a_clear_400(client_for: Any, user: Any, grace: Any) -> None:
    response = estimate(client_for(user), conversation_for(user, grace), "Summarise chapter 9", grace)
    error = assert_error(response, 400, "part_not_found")
    assert "chapter 9" in error["message"] and "question" in error["details"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"question": "", "document_ids": ["DOC"]}, "question"),
        ({"question": "   ", "document_ids": ["DOC"]}, "question"),
        ({"document_ids": ["DOC"]}, "question"),
        ({"question": "Summarise", "document_ids": []}, "document_ids"),
        ({"question": "Summarise"}, "document_ids"),
        ({"question": "Summarise", "document_ids": ["not-a-uuid"]}, "document_ids"),
        ({"question": "Summarise", "document_ids": "DOC"}, "document_ids"),
        ({"question": ["Summarise"], "document_ids": ["DOC"]}, "question"),
    ],
)
@pytest.mark.parametrize("suffix", ["estimate/", ""])
def test_bad_input_is_a_400_in_the_error_format(
    client_for: Any, user: Any, grace: Any, payload: dict[str, Any], field: str, suffix: str
) -> None:
    payload = {k: ([str(grace.pk)] if v == ["DOC"] else v) for k, v in payload.items()}
    response = client_for(user).post(digests_url(conversation_for(user, grace), suffix), payload, format="json")
    error = assert_error(response, 400, "validation_error")
    assert field in error["details"]
    assert not Digest.objects.exists() and not Message.objects.exists()


def test_too_many_documents_is_a_400(client_for: Any, user: Any, grace: Any, settings: Any) -> None:
    settings.DIGEST_MAX_DOCUMENTS = 1
    other = book(user, HOPE, title="On Hope")
    response = estimate(client_for(user), conversation_for(user), "Compare", grace, other)
    assert "document_ids" in assert_error(response, 400, "validation_error")["details"]


@pytest.mark.parametrize("suffix", ["estimate/", ""])
def test_another_readers_document_or_an_unknown_one_is_a_404(
    client_for: Any, user: Any, make_user: Any, grace: Any, suffix: str
) -> None:
    stranger = make_user()
    conversation = conversation_for(stranger)
    for document_id in (grace.pk, uuid.uuid4()):
        response = client_for(stranger).post(
            digests_url(conversation, suffix), body("Summarise", document_id), format="json"
        )
        assert_error(response, 404, "not_found")
    assert not Digest.objects.exists()


def test_another_users_conversation_is_a_404(client_for: Any, user: Any, make_user: Any, grace: Any) -> None:
    stranger = make_user()
    response = estimate(client_for(stranger), conversation_for(user, grace), "Summarise", grace)
    assert_error(response, 404, "not_found")
    digest = Digest.objects.create(conversation=conversation_for(user, grace), question="q", document_ids=[grace.pk])
    response = client_for(stranger).get(digests_url(digest.conversation, f"{digest.pk}/"))
    assert_error(response, 404, "not_found")


def test_a_shared_document_can_be_digested_by_its_reader(client_for: Any, user: Any, make_user: Any, grace: Any):
    from apps.documents.services import document_share

    reader = make_user()
    document_share(document=grace, actor=user, email=reader.email, permission="view")
    response = estimate(client_for(reader), conversation_for(reader), "Summarise", grace)
    assert response.status_code == 200, response.content


def test_a_document_without_passages_yet_is_a_400(client_for: Any, user: Any) -> None:
    empty = book(user, [], title="Still processing")
    response = estimate(client_for(user), conversation_for(user), "Summarise", empty)
    assert_error(response, 400, "document_not_ready")


def test_over_budget_it_does_not_start(client_for: Any, user: Any, grace: Any, claude_settings: Any) -> None:
    user.monthly_budget_usd = Decimal("0.01")
    user.save(update_fields=["monthly_budget_usd"])
    conversation = conversation_for(user, grace)
    data = estimate(client_for(user), conversation, "Summarise", grace).json()
    assert data["within_budget"] is False and data["budget_left_usd"] == pytest.approx(0.01)
    response = client_for(user).post(digests_url(conversation), body("Summarise", grace), format="json")
    error = assert_error(response, 403, "budget_exceeded")
    assert error["details"]["estimated_cost_usd"] == data["estimated_cost_usd"]
    assert not Digest.objects.exists() and not conversation.messages.exists()


def test_spent_budget_refuses_even_a_cheap_digest(client_for: Any, user: Any, grace: Any, claude_settings: Any):
    AIUsage.objects.create(user=user, model="claude-sonnet", cost_usd=user.monthly_budget_usd)
    response = client_for(user).post(
        digests_url(conversation_for(user, grace)), body("Summarise", grace), format="json"
    )
    assert_error(response, 403, "budget_exceeded")


def test_offline_the_budget_does_not_matter(client_for: Any, user: Any, grace: Any, settings: Any) -> None:
    settings.ANTHROPIC_API_KEY = ""
    AIUsage.objects.create(user=user, model="claude-sonnet", cost_usd=user.monthly_budget_usd)
    response = client_for(user).post(
        digests_url(conversation_for(user, grace)), body("Summarise", grace), format="json"
    )
    assert response.status_code == 202, response.content


def test_starting_queues_it_and_saves_the_question(
    client_for: Any, user: Any, grace: Any, claude_settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    conversation = conversation_for(user, grace)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client_for(user).post(
            digests_url(conversation), body("Summarise chapter 2", grace, grace), format="json"
        )
    assert response.status_code == 202, response.content
    data = response.json()
    assert data["status"] == "queued" and data["progress"] == {"done": 0, "total": 1} and data["message_id"] is None
    assert data["document_ids"] == [str(grace.pk)]  # asked twice, read once
    assert len(callbacks) == 1  # the task, once committed
    (question,) = conversation.messages.all()
    assert (question.role, question.content) == ("user", "Summarise chapter 2")
    followed = client_for(user).get(digests_url(conversation, f"{data['id']}/")).json()
    assert followed["status"] == "queued" and followed["id"] == data["id"]


def test_guests_may_not_digest_even_a_document_shared_with_them(
    client_for: Any, make_user: Any, user: Any, grace: Any
) -> None:
    from apps.documents.services import document_share

    guest = make_user(role="guest")
    document_share(document=grace, actor=user, email=guest.email, permission="view")
    response = estimate(client_for(guest), conversation_for(guest), "Summarise", grace)
    assert_error(response, 403, "permission_denied")


def test_too_many_parts_is_a_400_that_says_how_to_narrow_it(
    client_for: Any, user: Any, grace: Any, claude_settings: Any, settings: Any
) -> None:
    settings.DIGEST_GROUP_TOKENS, settings.DIGEST_MAX_MAP_CALLS = 1000, 1
    response = estimate(client_for(user), conversation_for(user, grace), "Summarise", grace)
    assert "chapter or pages" in assert_error(response, 400, "digest_too_large")["message"]
    response = estimate(client_for(user), conversation_for(user, grace), "Summarise chapter 3", grace)
    assert response.status_code == 200, response.content  # one passage: no map step at all


def test_starting_digests_counts_toward_the_chat_rate_limit(
    client_for: Any, user: Any, grace: Any, settings: Any
) -> None:
    settings.ANTHROPIC_API_KEY = ""
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "chat": "2/m"}
    conversation = conversation_for(user, grace)
    statuses = [
        client_for(user).post(digests_url(conversation), body("Summarise", grace), format="json").status_code
        for _ in range(3)
    ]
    assert statuses == [202, 202, 429]
    assert Digest.objects.count() == 2
    # The estimate is not rate limited: it spends nothing.
    assert estimate(client_for(user), conversation, "Summarise", grace).status_code == 200
