"""OpenAPI: every operation documents the errors it can answer, in the one error format.

`TheoAutoSchema` (DEFAULT_SCHEMA_CLASS) adds, unless a view declares them itself:
400 everywhere (bad query strings, NUL characters), 401/403 where an account is needed,
404 on routes with a path parameter and on pages, 415 where a body is taken. Views add what only they
answer with `errors(...)` in `extend_schema(responses=...)`, e.g. 409 or 429.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework.permissions import AllowAny

from apps.core.serializers import ErrorSerializer

ERROR_DESCRIPTIONS = {
    400: "Invalid input (validation_error, invalid_input, parse_error, ...)",
    401: "Not signed in, or the credentials or token do not check out",
    403: "Not allowed (permission_denied, account_<status>, ...)",
    404: "No such object, or one you may not see",
    409: "Conflicts with the current state (duplicate, in progress, last admin, ...)",
    413: "The upload is too large (payload_too_large), or past your storage quota (quota_exceeded)",
    415: "A body or file type this operation does not take",
    429: "Rate limited: retry after details.retry_after seconds (also the Retry-After header)",
    500: "An operator's problem, e.g. a stored file is missing",
}


def errors(*statuses: int) -> dict[int, OpenApiResponse]:
    """`extend_schema(responses={200: X, **errors(409, 429)})`."""
    return {status: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[status]) for status in statuses}


class TheoAutoSchema(AutoSchema):
    def _default_error_statuses(self) -> list[int]:
        statuses = [400]
        if not any(
            isinstance(permission, type) and issubclass(permission, AllowAny)
            for permission in self.view.permission_classes
        ):
            statuses += [401, 403]
        paginated = self._get_paginator() is not None  # type: ignore[no-untyped-call]  # drf-spectacular internals
        if "{" in self.path or (paginated and self._is_list_view()):
            statuses.append(404)  # no such object; or a page past the last one
        if self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer() is not None:
            statuses.append(415)
        return statuses

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        for status in self._default_error_statuses():
            if str(status) not in responses:
                responses[str(status)] = self._get_response_for_code(  # type: ignore[no-untyped-call]
                    OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[status]),
                    str(status),
                    ["application/json"],
                    direction,
                )
        return responses
