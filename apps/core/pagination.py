from __future__ import annotations

from typing import Any

from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class StandardPagination(PageNumberPagination):
    """`?page=N&page_size=M` (max 100); responses carry count, next, previous, results."""

    page_size_query_param = "page_size"
    max_page_size = 100


def paginated(request: Request, view: APIView, queryset: Any, serializer_class: type, **context: Any) -> Response:
    """One page of `queryset`, serialized with the request (and `context`) at hand."""
    paginator = StandardPagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    data = serializer_class(page, many=True, context={"request": request, **context}).data
    return paginator.get_paginated_response(data)
