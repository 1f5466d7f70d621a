"""WebSocket authentication: `?token=<access JWT>` or the session cookie.

Sets scope["user"] to the account (approved or not) or AnonymousUser; consumers built on
ApprovedUserConsumer close with 4401 (anonymous) or 4403 (not approved). The close codes
of every Theo socket are defined in apps/core/realtime.py.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import AnonymousUser
from django.utils.crypto import constant_time_compare
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

from apps.core.realtime import CLOSE_NOT_APPROVED, CLOSE_UNAUTHENTICATED
from apps.users.authentication import token_user
from apps.users.models import User


def close_code_for(user: Any) -> int | None:
    """None when the user may use a socket, else the close code that says why not."""
    if user is None or not user.is_authenticated:
        return CLOSE_UNAUTHENTICATED
    if not user.is_approved:
        return CLOSE_NOT_APPROVED
    return None


@database_sync_to_async
def user_from_token(raw_token: str) -> Any:
    try:
        token = AccessToken(raw_token)  # type: ignore[arg-type]  # simplejwt: str accepted, annotated Token
    except TokenError:
        return AnonymousUser()
    return token_user(token) or AnonymousUser()


@database_sync_to_async
def user_from_session(session: Any) -> Any:
    """Like django.contrib.auth.get_user, but keeps a non-approved account so the consumer
    can tell it apart from an anonymous visitor."""
    user_id = session.get(SESSION_KEY)
    if not user_id or session.get(BACKEND_SESSION_KEY) not in settings.AUTHENTICATION_BACKENDS:
        return AnonymousUser()
    user = User.objects.filter(pk=user_id).first()
    if user is None or not constant_time_compare(session.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash()):
        return AnonymousUser()
    return user


class _TokenOrSessionUserMiddleware(BaseMiddleware):
    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        query = parse_qs(scope.get("query_string", b"").decode())
        token = (query.get("token") or [""])[0]
        scope = dict(scope)
        scope["user"] = await user_from_token(token) if token else await user_from_session(scope["session"])
        return await super().__call__(scope, receive, send)


def WebSocketAuthMiddleware(inner: Any) -> Any:  # noqa: N802 - mirrors channels' AuthMiddlewareStack
    return CookieMiddleware(SessionMiddleware(_TokenOrSessionUserMiddleware(inner)))
