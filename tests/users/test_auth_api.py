"""Registration, tokens (rotation, blacklist, logout), `me`, and every sign-in route refusing
accounts that are not approved."""

from __future__ import annotations

import pytest
from rest_framework_simplejwt.tokens import RefreshToken

from apps.core.models import AuditEvent
from apps.users.models import User
from apps.users.services import user_suspend
from tests.helpers import assert_error, bearer
from tests.users.factories import PASSWORD

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register/"
TOKEN = "/api/v1/auth/token/"
REFRESH = "/api/v1/auth/token/refresh/"
LOGOUT = "/api/v1/auth/logout/"
ME = "/api/v1/auth/me/"


def obtain(api_client, email, password=PASSWORD, ip="10.0.0.1"):
    return api_client.post(TOKEN, {"email": email, "password": password}, format="json", REMOTE_ADDR=ip)


# --- registration -------------------------------------------------------------------


def test_register_creates_a_pending_account(api_client):
    response = api_client.post(
        REGISTER, {"email": "New@Example.org", "password": PASSWORD, "display_name": "Ann"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "pending"
    assert body["email"] == "new@example.org"
    assert body["role"] == "user"
    assert "password" not in body
    user = User.objects.get(email="new@example.org")
    assert user.status == User.Status.PENDING
    assert user.check_password(PASSWORD)
    assert AuditEvent.objects.filter(action="user.register", target_id=str(user.pk)).exists()


def test_register_display_name_is_optional(api_client):
    response = api_client.post(REGISTER, {"email": "solo@example.org", "password": PASSWORD}, format="json")
    assert response.status_code == 201
    assert response.json()["display_name"] == "solo"


def test_register_same_email_in_other_case_is_a_conflict(api_client, user):
    response = api_client.post(REGISTER, {"email": user.email.upper(), "password": PASSWORD}, format="json")
    error = assert_error(response, 409, "email_taken")
    assert "email" in error["details"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "not-an-email", "password": PASSWORD}, "email"),
        ({"email": "a@example.org", "password": "short"}, "password"),
        ({"email": "a@example.org", "password": "1234567890123"}, "password"),
        ({"password": PASSWORD}, "email"),
        ({"email": "a@example.org"}, "password"),
    ],
)
def test_register_rejects_bad_input_with_field_details(api_client, payload, field):
    error = assert_error(api_client.post(REGISTER, payload, format="json"), 400, "validation_error")
    assert field in error["details"]
    assert not User.objects.filter(email="a@example.org").exists()


def test_register_is_rate_limited_per_address(api_client, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "register": "2/h"}
    for n in range(2):
        r = api_client.post(REGISTER, {"email": f"r{n}@example.org", "password": PASSWORD}, format="json")
        assert r.status_code == 201
    response = api_client.post(REGISTER, {"email": "r9@example.org", "password": PASSWORD}, format="json")
    error = assert_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) >= 1
    assert error["details"]["retry_after"] >= 1


# --- tokens -------------------------------------------------------------------------


def test_approved_user_gets_a_token_pair_and_me(api_client, user):
    response = obtain(api_client, user.email.upper())
    assert response.status_code == 200
    tokens = response.json()
    assert set(tokens) == {"access", "refresh"}
    me = api_client.get(ME, HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert me.status_code == 200
    assert me.json()["id"] == str(user.pk)
    assert me.json()["email"] == user.email
    assert me.json()["role"] == "user"
    assert me.json()["status"] == "approved"


def test_wrong_password_is_401(api_client, user):
    assert_error(obtain(api_client, user.email, "wrong password!"), 401, "invalid_credentials")
    assert_error(obtain(api_client, "nobody@example.org"), 401, "invalid_credentials")


@pytest.mark.parametrize("status", ["pending", "denied", "suspended"])
def test_non_approved_accounts_get_no_token(api_client, make_user, status):
    user = make_user(status=status, denial_reason="Not a member" if status != "pending" else "")
    error = assert_error(obtain(api_client, user.email), 403, f"account_{status}")
    assert error["details"]["status"] == status
    if status == "denied":
        assert "Not a member" in error["message"]


def test_non_approved_status_is_not_revealed_without_the_password(api_client, make_user):
    user = make_user(status="denied", denial_reason="secret reason")
    error = assert_error(obtain(api_client, user.email, "wrong password!"), 401, "invalid_credentials")
    assert "secret" not in str(error)


def test_refresh_rotates_and_the_used_token_is_then_rejected(api_client, user):
    tokens = obtain(api_client, user.email).json()
    rotated = api_client.post(REFRESH, {"refresh": tokens["refresh"]}, format="json")
    assert rotated.status_code == 200
    new = rotated.json()
    assert set(new) == {"access", "refresh"}
    assert new["refresh"] != tokens["refresh"]
    reuse = api_client.post(REFRESH, {"refresh": tokens["refresh"]}, format="json")
    assert_error(reuse, 401, "token_not_valid")
    # The new refresh token works.
    assert api_client.post(REFRESH, {"refresh": new["refresh"]}, format="json").status_code == 200


def test_garbage_refresh_token_is_401(api_client):
    assert_error(api_client.post(REFRESH, {"refresh": "not.a.token"}, format="json"), 401, "token_not_valid")
    assert_error(api_client.post(REFRESH, {}, format="json"), 400, "validation_error")


def test_logout_blacklists_the_refresh_token(api_client, user):
    tokens = obtain(api_client, user.email).json()
    response = api_client.post(LOGOUT, {"refresh": tokens["refresh"]}, format="json")
    assert response.status_code == 204
    assert_error(api_client.post(REFRESH, {"refresh": tokens["refresh"]}, format="json"), 401, "token_not_valid")
    assert_error(api_client.post(LOGOUT, {"refresh": tokens["refresh"]}, format="json"), 401, "token_not_valid")


def test_tokens_issued_before_suspension_stop_working(api_client, user, admin_user):
    tokens = obtain(api_client, user.email).json()
    user_suspend(user=user, actor=admin_user, reason="Spam")
    me = api_client.get(ME, HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert_error(me, 403, "account_suspended")
    refresh = api_client.post(REFRESH, {"refresh": tokens["refresh"]}, format="json")
    assert refresh.status_code in (401, 403)
    assert refresh.json()["error"]["code"] in ("token_not_valid", "account_suspended")


def test_password_change_revokes_tokens(api_client, user):
    tokens = obtain(api_client, user.email).json()
    user.set_password("another long passphrase")
    user.save()
    assert api_client.get(ME, HTTP_AUTHORIZATION=f"Bearer {tokens['access']}").status_code == 401


def test_token_for_deleted_user_is_401(api_client, user):
    headers = bearer(user)
    refresh = str(RefreshToken.for_user(user))
    user.delete()
    assert_error(api_client.get(ME, **headers), 401, "user_not_found")
    assert api_client.post(REFRESH, {"refresh": refresh}, format="json").status_code == 401


# --- me -----------------------------------------------------------------------------


def test_me_requires_authentication(api_client):
    response = api_client.get(ME)
    assert_error(response, 401, "not_authenticated")
    assert "Bearer" in response["WWW-Authenticate"]


def test_me_patch_changes_only_the_display_name(client_for, user):
    client = client_for(user)
    response = client.patch(ME, {"display_name": "Augustine", "role": "admin"}, format="json")
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.display_name == "Augustine"
    assert user.role == "user"


def test_session_of_a_suspended_user_no_longer_authenticates(client, user, admin_user):
    client.force_login(user)
    assert client.get(ME).status_code == 200
    user_suspend(user=user, actor=admin_user)
    assert_error(client.get(ME), 401, "not_authenticated")
