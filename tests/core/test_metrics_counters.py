"""/metrics after the real action: AI usage, API errors by code, the pool, cache and backlog."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.test import Client

from apps.chat.models import AIUsage
from apps.chat.providers import Usage
from apps.chat.services import usage_record
from apps.core.metrics import cache_request_count
from apps.documents.models import Document
from tests.core.test_metrics import metrics_text, sample
from tests.documents.factories import DocumentFactory
from tests.users.factories import UserFactory


def tokens(text: str, kind: str) -> float:
    return sample(text, "theo_ai_tokens_total", f'kind="{kind}"') or 0.0


@pytest.mark.django_db(transaction=True)
def test_a_recorded_usage_counts_its_tokens_and_cost():
    user = UserFactory()
    before = metrics_text()
    usage_record(
        user=user,
        message=None,
        model="claude-test",
        kind=AIUsage.Kind.RERANK,
        usage=Usage(input_tokens=120, output_tokens=30, cache_read_tokens=999),
        cost=Decimal("0.0125"),
    )
    after = metrics_text()
    assert tokens(after, "rerank") == tokens(before, "rerank") + 150
    assert tokens(after, "answer") == tokens(before, "answer")
    cost = (sample(after, "theo_ai_cost_usd_total") or 0) - (sample(before, "theo_ai_cost_usd_total") or 0)
    assert cost == pytest.approx(0.0125)


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_usage_is_not_counted():
    user = UserFactory()
    before = metrics_text()
    with pytest.raises(RuntimeError), transaction.atomic():
        usage_record(user=user, message=None, model="m", usage=Usage(input_tokens=500), cost=Decimal("1"))
        raise RuntimeError("the answer failed after its usage was written")
    after = metrics_text()
    assert not AIUsage.objects.exists()
    assert tokens(after, "answer") == tokens(before, "answer")
    assert sample(after, "theo_ai_cost_usd_total") == sample(before, "theo_ai_cost_usd_total")


@pytest.mark.django_db
def test_every_usage_kind_and_cache_series_is_exported_from_the_start():
    text = metrics_text()
    for kind in AIUsage.Kind.values:
        assert sample(text, "theo_ai_tokens_total", f'kind="{kind}"') is not None
    for tier in ("hot", "redis"):
        for result in ("hit", "miss"):
            assert sample(text, "theo_cache_requests_total", f'result="{result}",tier="{tier}"') is not None


@pytest.mark.django_db
def test_cache_helper_counts_hits_and_misses():
    def read(result: str) -> float:
        return sample(metrics_text(), "theo_cache_requests_total", f'result="{result}",tier="redis"') or 0.0

    hits, misses = read("hit"), read("miss")
    cache_request_count(tier="redis", hit=True)
    cache_request_count(tier="redis", hit=True)
    cache_request_count(tier="redis", hit=False)
    assert (read("hit"), read("miss")) == (hits + 2, misses + 1)


def errors(code: str) -> float:
    return sample(metrics_text(), "theo_api_errors_total", f'code="{code}"') or 0.0


@pytest.mark.django_db
def test_api_errors_are_counted_by_code():
    unauthenticated, not_found = errors("not_authenticated"), errors("not_found")
    response = Client().get("/api/v1/auth/me/")  # DRF's exception handler
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    response = Client().get("/api/v1/no-such-endpoint/")  # the API 404 view
    assert response.json()["error"]["code"] == "not_found"
    assert errors("not_authenticated") == unauthenticated + 1
    assert errors("not_found") == not_found + 1


@pytest.mark.django_db
def test_pool_gauge_shows_in_use_within_size_and_max(settings):
    text = metrics_text()
    size = sample(text, "theo_db_pool_connections", 'state="size"')
    in_use = sample(text, "theo_db_pool_connections", 'state="in_use"')
    assert size is not None and in_use is not None
    assert 1 <= in_use <= size <= settings.DB_POOL_MAX_SIZE


@pytest.mark.django_db
def test_ingestion_backlog_counts_pending_documents_and_the_oldest_age():
    text = metrics_text()
    assert sample(text, "theo_ingestion_documents", 'status="queued"') == 0
    assert sample(text, "theo_ingestion_oldest_seconds") == 0
    stalled = DocumentFactory(status=Document.Status.PROCESSING, content=None)
    DocumentFactory(status=Document.Status.QUEUED, content=None)
    DocumentFactory(status=Document.Status.COMPLETED, content=None)
    Document.objects.filter(pk=stalled.pk).update(updated_at=stalled.updated_at - timedelta(hours=1))
    text = metrics_text()
    assert sample(text, "theo_ingestion_documents", 'status="queued"') == 1
    assert sample(text, "theo_ingestion_documents", 'status="processing"') == 1
    assert 3600 <= (sample(text, "theo_ingestion_oldest_seconds") or 0) < 3700
