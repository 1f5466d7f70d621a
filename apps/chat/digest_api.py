"""Digests over HTTP (docs/api.md, "Digests"): estimate, start, follow.

POST .../conversations/{id}/digests/estimate/ {question, document_ids} → 200 the estimate
POST .../conversations/{id}/digests/ {question, document_ids} → 202 the digest (queued)
GET  .../conversations/{id}/digests/{digest_id}/ → its status and progress"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.chat.digest_selectors import digest_get_for
from apps.chat.digest_services import digest_estimate, digest_start
from apps.chat.models import Digest
from apps.core.openapi import errors
from apps.core.serializers import validated


class DigestRequestSerializer(serializers.Serializer):
    question = serializers.CharField(max_length=4000, help_text='e.g. "Summarise chapter 3", "pages 10-20"')
    document_ids = serializers.ListField(child=serializers.UUIDField(), allow_empty=False)

    def validate_question(self, value: str) -> str:
        if len(value) > settings.CHAT_MAX_QUESTION_CHARS:
            raise serializers.ValidationError(f"At most {settings.CHAT_MAX_QUESTION_CHARS} characters.")
        return value

    def validate_document_ids(self, value: list[Any]) -> list[Any]:
        unique = list(dict.fromkeys(value))
        if len(unique) > settings.DIGEST_MAX_DOCUMENTS:
            raise serializers.ValidationError(f"At most {settings.DIGEST_MAX_DOCUMENTS} documents at once.")
        return unique


class DigestEstimateSerializer(serializers.Serializer):
    passages = serializers.IntegerField()
    map_calls = serializers.IntegerField(help_text="Calls of the small model, one per group of passages")
    calls = serializers.IntegerField(help_text="All Claude calls: the map calls and the answer")
    estimated_input_tokens = serializers.IntegerField(help_text="An upper bound")
    estimated_output_tokens = serializers.IntegerField(help_text="An upper bound")
    estimated_cost_usd = serializers.FloatField(help_text="An upper bound; 0 when offline")
    offline = serializers.BooleanField(help_text="Claude unavailable: an extractive summary, no cost")
    part = serializers.CharField(help_text='The part the question names ("chapter 3", "pages 10-20"), or ""')
    budget_left_usd = serializers.FloatField()
    within_budget = serializers.BooleanField()


class DigestProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField()
    total = serializers.IntegerField()


class DigestSerializer(serializers.ModelSerializer):
    progress = serializers.SerializerMethodField()
    message_id = serializers.UUIDField(read_only=True, allow_null=True)
    cost_usd = serializers.FloatField(read_only=True)
    error = serializers.SerializerMethodField()

    class Meta:
        model = Digest
        fields = [
            "id",
            "status",
            "progress",
            "message_id",
            "question",
            "document_ids",
            "degraded",
            "degraded_reason",
            "cost_usd",
            "error",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(DigestProgressSerializer)
    def get_progress(self, digest: Digest) -> dict[str, int]:
        return {"done": digest.done, "total": digest.total}

    def get_error(self, digest: Digest) -> dict[str, str] | None:
        if digest.status != Digest.Status.FAILED:
            return None
        return {"code": digest.error_code, "message": digest.error_message}


def _request(request: Request) -> dict[str, Any]:
    fields = validated(DigestRequestSerializer, request.data)
    return {"question": fields["question"].strip(), "document_ids": fields["document_ids"]}


class DigestEstimateView(APIView):
    @extend_schema(
        request=DigestRequestSerializer,
        responses={200: DigestEstimateSerializer, **errors(400, 404)},
        summary="What a whole-document question would cost, before it starts",
    )
    def post(self, request: Request, pk: Any) -> Response:
        return Response(digest_estimate(user=request.user, conversation_id=pk, **_request(request)))


class DigestListView(APIView):
    @extend_schema(
        request=DigestRequestSerializer,
        responses={202: DigestSerializer, **errors(400, 403, 404, 429)},
        summary="Start a whole-document question (a map-reduce over the documents' passages)",
    )
    def post(self, request: Request, pk: Any) -> Response:
        digest = digest_start(user=request.user, conversation_id=pk, **_request(request))
        return Response(DigestSerializer(digest).data, status=202)


class DigestDetailView(APIView):
    @extend_schema(responses={200: DigestSerializer, **errors(404)}, summary="A digest's status and progress")
    def get(self, request: Request, pk: Any, digest_id: Any) -> Response:
        return Response(DigestSerializer(digest_get_for(user=request.user, conversation_id=pk, pk=digest_id)).data)
