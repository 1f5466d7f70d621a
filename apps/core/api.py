from __future__ import annotations

import uuid

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.errors import ValidationFailed
from apps.core.pagination import StandardPagination, paginated
from apps.core.permissions import IsStaff
from apps.core.selectors import audit_events_list
from apps.core.serializers import AuditEventSerializer

AUDIT_FILTERS = ["action", "actor", "target_type", "target_id", "since", "until"]


class AuditEventListView(APIView):
    """Staff: the audit trail, newest first."""

    permission_classes = [IsStaff]
    pagination_class = StandardPagination  # for the schema: the response is a page

    @extend_schema(
        parameters=[
            OpenApiParameter("action", str, description="Exact action, or a prefix ending in '.' (e.g. 'user.')"),
            OpenApiParameter("actor", str, description="Actor e-mail address or id"),
            OpenApiParameter("target_type", str, description="e.g. users.user"),
            OpenApiParameter("target_id", str),
            OpenApiParameter("since", str, description="ISO date or date-time (inclusive)"),
            OpenApiParameter("until", str, description="ISO date or date-time (exclusive)"),
        ],
        responses=AuditEventSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        filters = {name: request.query_params.get(name) or None for name in AUDIT_FILTERS}
        if filters["actor"] and "@" not in filters["actor"]:
            try:
                uuid.UUID(filters["actor"])
            except ValueError as exc:
                raise ValidationFailed(details={"actor": ["Give an e-mail address or a user id."]}) from exc
        return paginated(request, self, audit_events_list(**filters), AuditEventSerializer)
