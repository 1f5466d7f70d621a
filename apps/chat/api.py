"""Chat over HTTP: personas, conversations, and asking (plain JSON or an SSE stream)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

from asgiref.sync import async_to_sync
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import renderers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.chat import answer, realtime, selectors, services
from apps.chat.admission import Admission, question_admit
from apps.chat.models import Persona
from apps.chat.serializers import (
    AskSerializer,
    ConversationDetailSerializer,
    ConversationSerializer,
    ConversationWriteSerializer,
    MessageSerializer,
    PersonaPublicSerializer,
    PersonaSerializer,
    UsageParams,
    UsageResponseSerializer,
)
from apps.core.errors import TheoError, ValidationFailed
from apps.core.openapi import errors
from apps.core.pagination import StandardPagination
from apps.core.serializers import validated
from apps.core.streaming import EventStreamAPIView, EventStreamRenderer, event_stream_response, sse_frame
from apps.users.requests import AuthenticatedRequest


def _persona(persona_id: Any) -> Persona | None:
    if persona_id is None:
        return None
    persona = selectors.personas_active().filter(pk=persona_id).first()
    if persona is None:
        raise ValidationFailed(details={"persona_id": ["No such persona."]})
    return persona


class PersonaListView(APIView):
    @extend_schema(
        responses=PersonaPublicSerializer(many=True),
        summary="Active personas (staff also see inactive ones, and each one's system_prompt)",
    )
    def get(self, request: Request) -> Response:
        serializer = PersonaSerializer if request.user.is_staff else PersonaPublicSerializer
        return Response(serializer(selectors.personas_for(request.user), many=True).data)

    @extend_schema(request=PersonaSerializer, responses={201: PersonaSerializer}, summary="Create a persona (staff)")
    def post(self, request: Request) -> Response:
        services.persona_check_staff(request.user)
        fields = validated(PersonaSerializer, request.data)
        persona = services.persona_create(actor=request.user, **fields)
        return Response(PersonaSerializer(persona).data, status=201)


class ConversationListView(APIView):
    pagination_class = StandardPagination  # for the schema: the response is a page

    @extend_schema(responses=ConversationSerializer(many=True), summary="Your conversations, most recent first")
    def get(self, request: Request) -> Response:
        paginator = StandardPagination()
        page = paginator.paginate_queryset(selectors.conversations_of(request.user), request, view=self)
        return paginator.get_paginated_response(ConversationSerializer(page, many=True).data)

    @extend_schema(request=ConversationWriteSerializer, responses={201: ConversationSerializer})
    def post(self, request: Request) -> Response:
        fields = validated(ConversationWriteSerializer, request.data)
        conversation = services.conversation_create(
            owner=request.user,
            title=fields.get("title", ""),
            persona=_persona(fields.get("persona_id")),
            scope=fields.get("scope"),
            document_id=fields.get("document_id"),
        )
        return Response(ConversationSerializer(conversation).data, status=201)


class ConversationDetailView(APIView):
    @extend_schema(responses=ConversationDetailSerializer, summary="A conversation with all its messages")
    def get(self, request: Request, pk: Any) -> Response:
        conversation = selectors.conversation_get_for(user=request.user, pk=pk, with_messages=True)
        return Response(ConversationDetailSerializer(conversation).data)

    @extend_schema(request=ConversationWriteSerializer, responses=ConversationDetailSerializer)
    def patch(self, request: Request, pk: Any) -> Response:
        conversation = selectors.conversation_get_for(user=request.user, pk=pk, with_messages=True)
        fields = validated(ConversationWriteSerializer, request.data)
        if "persona_id" in fields:
            fields["persona"] = _persona(fields.pop("persona_id"))
        services.conversation_update(conversation=conversation, actor=request.user, **fields)
        return Response(ConversationDetailSerializer(conversation).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: Any) -> Response:
        conversation = selectors.conversation_get_for(user=request.user, pk=pk)
        services.conversation_delete(conversation=conversation, actor=request.user)
        return Response(status=204)


async def _sse(admission: Admission) -> AsyncIterator[bytes]:
    queue = answer.start_answer(admission=admission)
    async for event in answer.events_of(queue):
        yield sse_frame(event["type"], event)


class AskView(EventStreamAPIView):
    """POST {content}: with `Accept: text/event-stream`, the answer streams as SSE events
    (delta, citations, done, error); otherwise the finished assistant message as JSON."""

    renderer_classes = [renderers.JSONRenderer, EventStreamRenderer]

    @extend_schema(request=AskSerializer, responses={201: MessageSerializer, **errors(429)}, summary="Ask a question")
    def post(self, request: Request, pk: Any) -> Any:
        conversation = selectors.conversation_get_for(user=request.user, pk=pk)
        content = validated(AskSerializer, request.data)["content"]
        admission = question_admit(user=request.user, conversation=conversation, content=content)  # 400, 429
        if "text/event-stream" in request.headers.get("Accept", ""):
            return event_stream_response(_sse(admission))
        events = async_to_sync(answer.answer_complete)(admission=admission)
        errors = [event for event in events if event["type"] == "error"]
        done = next((event for event in events if event["type"] == "done"), None)
        if done is None:
            error = errors[-1] if errors else realtime.error("internal_error", "No answer.")
            raise TheoError(error["message"], code=error["code"])
        message = conversation.messages.prefetch_related("usages").get(pk=done["message_id"])
        return Response(MessageSerializer(message).data, status=201)


class UsageView(APIView):
    """Your AI usage per day (or month) and this month's budget; staff see everyone's,
    with a row per user."""

    @extend_schema(parameters=[UsageParams], responses=UsageResponseSerializer, summary="AI usage totals and budget")
    def get(self, request: AuthenticatedRequest) -> Response:
        params = validated(UsageParams, request.query_params)
        since = timezone.now() - timedelta(days=params["days"] - 1)
        since = since.replace(hour=0, minute=0, second=0, microsecond=0)
        usage = selectors.usage_visible_to(request.user)
        spent = selectors.spent_this_month(user=request.user)
        body: dict[str, Any] = {
            "period": params["period"],
            "since": since.date().isoformat(),
            "covers": "everyone" if request.user.is_staff else "you",
            "budget": {
                "monthly_budget_usd": float(request.user.monthly_budget_usd),
                "spent_this_month_usd": float(spent),
                "remaining_usd": float(max(request.user.monthly_budget_usd - spent, Decimal(0))),
            },
            "results": selectors.usage_totals(usage=usage, period=params["period"], since=since),
        }
        if request.user.is_staff:
            body["users"] = selectors.usage_by_user(usage=usage, since=since)
        return Response(_floats(body))


def _floats(value: Any) -> Any:
    """Decimals (costs) as JSON numbers."""
    if isinstance(value, dict):
        return {key: _floats(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_floats(item) for item in value]
    if isinstance(value, Decimal):
        return float(value)
    return value
