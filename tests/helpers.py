"""Helpers for tests (import them; fixtures live in conftest.py)."""

from __future__ import annotations

from typing import Any

from rest_framework_simplejwt.tokens import RefreshToken

from apps.users.models import User


def bearer(user: User) -> dict[str, str]:
    """Authorization header with a fresh access token for `user` (whatever its status)."""
    return {"HTTP_AUTHORIZATION": f"Bearer {RefreshToken.for_user(user).access_token}"}


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The one error format, with the given status and code; returns the error object."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    assert "X-Request-ID" in response
    return error
