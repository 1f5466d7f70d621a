"""Refresh-token rotation that a race cannot double-spend.

simplejwt checks the blacklist when it reads the token and blacklists with get_or_create
later, so two concurrent refreshes of one token both pass and both get a new pair. Here
the blacklist insert is the claim: BlacklistedToken.token is unique in PostgreSQL, so of
two concurrent inserts for one token the second waits for the first to commit and then
fails; that request answers 401 and issues nothing.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from apps.users.authentication import user_for_token


def token_refresh(*, refresh_token: str) -> dict[str, str]:
    """A new access and refresh token for a valid, unused refresh token; the old one is
    blacklisted in the same transaction. Raises InvalidToken (401) for a bad, expired or
    already used token and AccountNotApproved (403) for an account that may not sign in."""
    try:
        refresh = RefreshToken(refresh_token)  # type: ignore[arg-type]  # signature, expiry, blacklist
    except TokenError as exc:
        raise InvalidToken(exc.args[0]) from exc
    user = user_for_token(refresh)
    with transaction.atomic():
        outstanding, _ = OutstandingToken.objects.get_or_create(
            jti=refresh["jti"],
            defaults={
                "user": user,
                "token": refresh_token,
                "created_at": refresh.current_time,
                "expires_at": datetime_from_epoch(refresh["exp"]),
            },
        )
        try:
            with transaction.atomic():
                BlacklistedToken.objects.create(token=outstanding)
        except IntegrityError as exc:
            raise InvalidToken("Token is blacklisted") from exc
        refresh.set_jti()
        refresh.set_exp()
        refresh.set_iat()
        refresh.outstand()
        return {"access": str(refresh.access_token), "refresh": str(refresh)}
