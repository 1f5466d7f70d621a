"""API authentication: simplejwt access tokens, refused for accounts that are not approved."""

from __future__ import annotations

from typing import Any

from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token

from apps.users.models import User


def user_may_sign_in(user: Any) -> bool:
    """simplejwt USER_AUTHENTICATION_RULE: only approved accounts."""
    return user is not None and getattr(user, "is_approved", False)


def user_for_token(token: Token) -> User:
    """The account a valid token names; a token issued before suspension stops working.

    Raises InvalidToken (401) for a deleted account and AccountNotApproved (403, code
    account_<status>) for one that may not sign in.
    """
    from apps.users.services import AccountNotApproved

    user = User.objects.filter(pk=token.get(api_settings.USER_ID_CLAIM)).first()
    if user is None:
        raise InvalidToken({"detail": "The account for this token no longer exists.", "code": "user_not_found"})
    if not user_may_sign_in(user):
        raise AccountNotApproved(user)
    return user


class ApprovedJWTAuthentication(JWTAuthentication):
    def get_user(self, validated_token: Token) -> User:
        return user_for_token(validated_token)
