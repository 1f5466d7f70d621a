"""API authentication: simplejwt access tokens, refused for accounts that are not approved."""

from __future__ import annotations

from typing import Any

from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import get_md5_hash_password

from apps.users.models import User


def user_may_sign_in(user: Any) -> bool:
    """simplejwt USER_AUTHENTICATION_RULE: only approved accounts."""
    return user is not None and getattr(user, "is_approved", False)


def token_user(token: Token) -> User | None:
    """The account a valid token names, unless it was deleted or its password changed
    after the token was issued (CHECK_REVOKE_TOKEN). Its status is not checked here."""
    user = User.objects.filter(pk=token.get(api_settings.USER_ID_CLAIM)).first()
    if user is None:
        return None
    if api_settings.CHECK_REVOKE_TOKEN and token.get(api_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(
        user.password
    ):
        return None
    return user


def user_for_token(token: Token) -> User:
    """The account a valid token names; a token issued before suspension stops working.

    Raises InvalidToken (401) for a deleted account or a changed password, and
    AccountNotApproved (403, code account_<status>) for an account that may not sign in.
    """
    from apps.users.services import AccountNotApproved

    user = token_user(token)
    if user is None:
        raise InvalidToken(
            {"detail": "This token's account no longer exists or its password has changed.", "code": "user_not_found"}
        )
    if not user_may_sign_in(user):
        raise AccountNotApproved(user)
    return user


class ApprovedJWTAuthentication(JWTAuthentication):
    def get_user(self, validated_token: Token) -> User:  # type: ignore[override]  # simplejwt: an unbound TypeVar
        return user_for_token(validated_token)
