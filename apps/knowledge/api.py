"""Knowledge store API: list, create, read, edit, delete, approve and reject entries.

Every item route resolves the entry through selectors.entry_get_for: an entry the user may
not read is 404; one they may read but not change is 403. Guests may not list or write.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.pagination import StandardPagination, paginated
from apps.core.serializers import query_choice, validated
from apps.knowledge import selectors, services
from apps.knowledge.models import KnowledgeEntry
from apps.knowledge.selectors import entry_get_for
from apps.knowledge.serializers import (
    EntryCreateSerializer,
    EntrySerializer,
    EntryUpdateSerializer,
    RejectSerializer,
)


def _entry(request: Request, entry: KnowledgeEntry, **kwargs: Any) -> Response:
    return Response(EntrySerializer(entry, context={"request": request}).data, **kwargs)


class EntryListView(APIView):
    pagination_class = StandardPagination  # for the schema: the response is a page

    @extend_schema(
        parameters=[
            OpenApiParameter("tag", str, description="Entries with this tag"),
            OpenApiParameter("status", str, enum=KnowledgeEntry.Status.values),
            OpenApiParameter("q", str, description="Part of the title, body or source (any case)"),
        ],
        responses=EntrySerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        status_filter = query_choice(request, "status", KnowledgeEntry.Status.values)
        entries = selectors.entries_list(
            user=request.user,
            tag=request.query_params.get("tag"),
            status=status_filter,
            q=request.query_params.get("q"),
        )
        return paginated(request, self, entries, EntrySerializer)

    @extend_schema(request=EntryCreateSerializer, responses={201: EntrySerializer})
    def post(self, request: Request) -> Response:
        services.check_can_write(request.user)  # 403 before complaining about the body
        entry = services.entry_create(author=request.user, **validated(EntryCreateSerializer, request.data))
        return _entry(
            request,
            entry,
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/knowledge/entries/{entry.pk}/"},
        )


class EntryDetailView(APIView):
    @extend_schema(responses=EntrySerializer)
    def get(self, request: Request, pk: Any) -> Response:
        return _entry(request, entry_get_for(user=request.user, pk=pk))

    @extend_schema(request=EntryUpdateSerializer, responses=EntrySerializer)
    def patch(self, request: Request, pk: Any) -> Response:
        entry = entry_get_for(user=request.user, pk=pk, manage=True)
        services.entry_update(entry=entry, actor=request.user, **validated(EntryUpdateSerializer, request.data))
        return _entry(request, entry)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: Any) -> Response:
        entry = entry_get_for(user=request.user, pk=pk, manage=True)
        services.entry_delete(entry=entry, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EntryApproveView(APIView):
    @extend_schema(request=None, responses=EntrySerializer)
    def post(self, request: Request, pk: Any) -> Response:
        entry = entry_get_for(user=request.user, pk=pk, manage=True)
        return _entry(request, services.entry_approve(entry=entry, actor=request.user))


class EntryRejectView(APIView):
    @extend_schema(request=RejectSerializer, responses=EntrySerializer)
    def post(self, request: Request, pk: Any) -> Response:
        entry = entry_get_for(user=request.user, pk=pk, manage=True)
        services.check_staff(request.user)  # 403 before complaining about the body
        reason = validated(RejectSerializer, request.data)["reason"]
        return _entry(request, services.entry_reject(entry=entry, actor=request.user, reason=reason))
