"""Server-rendered account pages: the landing and home pages, sign in (and why an account
may not), register, the awaiting-approval page, sign out, CSRF and safe redirects."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.core.models import AuditEvent
from apps.users.models import User
from tests.helpers import assert_error
from tests.users.factories import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
REGISTER = "/accounts/register/"
PENDING = "/accounts/pending/"
LOGOUT = "/accounts/logout/"
ME = "/api/v1/auth/me/"


def sign_in(client: Client, email: str, password: str = PASSWORD, follow: bool = False, **extra: str):
    return client.post(LOGIN, {"email": email, "password": password, **extra}, follow=follow)


def text(response) -> str:
    return response.content.decode()


def register_form(**overrides: str) -> dict[str, str]:
    return {
        "display_name": "Lydia",
        "email": "lydia@thyatira.example",
        "password": PASSWORD,
        "password_again": PASSWORD,
        **overrides,
    }


# --- plain pages ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "heading"),
    [(LOGIN, "Sign in"), (REGISTER, "Request an account"), (PENDING, "Awaiting approval")],
)
def test_account_pages_load(client, path, heading):
    response = client.get(path)
    assert response.status_code == 200
    assert heading in text(response)
    assert "X-Request-ID" in response


def test_login_and_register_forms_carry_a_csrf_token(client):
    for path in (LOGIN, REGISTER):
        assert 'name="csrfmiddlewaretoken"' in text(client.get(path))


def test_anonymous_landing_page(client):
    response = client.get("/")
    assert response.status_code == 200
    content = text(response)
    assert "Study with sources you can check." in content
    assert 'href="/accounts/register/"' in content
    assert 'href="/accounts/login/"' in content
    assert "Admin console" not in content
    assert "Welcome," not in content


def test_home_for_staff_offers_the_admin_console(client, admin_user):
    client.force_login(admin_user)
    content = text(client.get("/"))
    assert f"Welcome, {admin_user.display_name}" in content
    assert "Admin console" in content
    assert 'href="/admin/"' in content


@pytest.mark.parametrize("role", ["power", "user", "guest"])
def test_home_for_non_staff_has_no_admin_console(client, make_user, role):
    user = make_user(role=role)
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 200
    content = text(response)
    assert f"Welcome, {user.display_name}" in content
    assert user.get_role_display() in content
    assert "Admin console" not in content
    assert 'href="/admin/"' not in content


def test_signed_in_user_visiting_login_is_sent_home(client, user):
    client.force_login(user)
    response = client.get(LOGIN)
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_signed_in_user_visiting_register_is_sent_home(client, user):
    client.force_login(user)
    response = client.get(REGISTER)
    assert response.status_code == 302
    assert response["Location"] == "/"


# --- signing in ---------------------------------------------------------------------------


def test_approved_user_signs_in_and_the_session_works(client, user):
    response = sign_in(client, user.email.upper())
    assert response.status_code == 302
    assert response["Location"] == "/"
    home = client.get("/")
    assert f"Welcome, {user.display_name}" in text(home)
    me = client.get(ME)
    assert me.status_code == 200
    assert me.json()["email"] == user.email
    assert AuditEvent.objects.filter(action="user.login", target_id=str(user.pk)).exists()


def test_sign_in_follows_a_same_site_next(client, user):
    response = sign_in(client, user.email, next="/accounts/pending/?from=login")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/pending/?from=login"


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/steal", "http://evil.example", "javascript:alert(1)"]
)
def test_sign_in_never_redirects_off_site(client, user, target):
    page = client.get(LOGIN, {"next": target})
    assert target not in text(page)
    response = sign_in(client, user.email, next=target)
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_signed_in_user_with_off_site_next_stays_on_site(client, user):
    client.force_login(user)
    response = client.get(LOGIN, {"next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_pending_user_is_told_the_account_awaits_approval(client, make_user):
    pending = make_user(status="pending")
    response = sign_in(client, pending.email)
    assert response.status_code == 302
    assert response["Location"] == PENDING
    page = client.get(PENDING)
    assert "awaiting approval" in text(page)
    # Not signed in.
    assert "Welcome," not in text(client.get("/"))
    assert client.get(ME).status_code == 401


def test_denied_user_sees_the_reason(client, make_user):
    denied = make_user(status="denied", denial_reason="Only members of St Giles may register.")
    response = sign_in(client, denied.email, follow=True)
    assert response.redirect_chain == [(PENDING, 302)]
    content = text(response)
    assert "Registration denied" in content
    assert "Only members of St Giles may register." in content
    assert "awaiting approval" not in content
    assert client.get(ME).status_code == 401


def test_suspended_user_is_told_so(client, make_user):
    suspended = make_user(status="suspended", denial_reason="Spam uploads")
    response = sign_in(client, suspended.email, follow=True)
    content = text(response)
    assert "Account suspended" in content
    assert "Spam uploads" in content
    assert client.get(ME).status_code == 401


def test_reason_on_the_status_page_is_escaped(client, make_user):
    denied = make_user(status="denied", denial_reason="<script>alert(1)</script>")
    content = text(sign_in(client, denied.email, follow=True))
    assert "<script>alert(1)</script>" not in content
    assert "&lt;script&gt;" in content


def test_account_status_is_only_revealed_with_the_right_password(client, make_user):
    denied = make_user(status="denied", denial_reason="secret reason")
    response = sign_in(client, denied.email, "not the password")
    assert response.status_code == 400
    assert "secret reason" not in text(response)


def test_wrong_password_shows_an_error(client, user):
    response = sign_in(client, user.email, "not the password")
    assert response.status_code == 400
    assert "That e-mail address and password do not match an account." in text(response)
    assert client.get(ME).status_code == 401
    assert AuditEvent.objects.filter(action="user.login_failed", target_id=str(user.pk)).exists()


def test_unknown_account_shows_the_same_error(client):
    response = sign_in(client, "nobody@example.org")
    assert response.status_code == 400
    assert "That e-mail address and password do not match an account." in text(response)


def test_incomplete_login_form_is_400(client):
    response = client.post(LOGIN, {"email": "not-an-email"})
    assert response.status_code == 400
    assert "This field is required." in text(response)


def test_sixth_attempt_in_a_minute_after_five_wrong_passwords_is_refused(client, user):
    for _ in range(5):
        assert sign_in(client, user.email, "not the password").status_code == 400
    response = sign_in(client, user.email)  # even the right password, from this address
    assert response.status_code == 429
    assert "Too many wrong passwords" in text(response)
    assert client.get(ME).status_code == 401


# --- registering --------------------------------------------------------------------------


def test_register_creates_a_pending_account(client):
    response = client.post(REGISTER, register_form(email="Lydia@Thyatira.example"))
    assert response.status_code == 302
    assert response["Location"] == PENDING
    user = User.objects.get(email="lydia@thyatira.example")
    assert user.status == "pending"
    assert user.display_name == "Lydia"
    assert user.check_password(PASSWORD)
    assert AuditEvent.objects.filter(action="user.register", target_id=str(user.pk)).exists()

    page = client.get(PENDING)
    assert "registered" in text(page)
    assert "awaiting approval" in text(page)
    # Registering does not sign anyone in.
    assert client.get(ME).status_code == 401
    assert sign_in(client, "lydia@thyatira.example")["Location"] == PENDING


def test_register_mismatched_passwords(client):
    response = client.post(REGISTER, register_form(password_again="a different long passphrase"))
    assert response.status_code == 400
    assert "The two passwords differ." in text(response)
    assert not User.objects.filter(email="lydia@thyatira.example").exists()


def test_register_duplicate_email(client, user):
    response = client.post(REGISTER, register_form(email=user.email.upper()))
    assert response.status_code == 400
    assert "An account with this e-mail address already exists." in text(response)
    assert User.objects.filter(email__iexact=user.email).count() == 1


def test_register_weak_password(client):
    response = client.post(REGISTER, register_form(password="password", password_again="password"))
    assert response.status_code == 400
    assert response.context["form"].errors["password"]
    assert not User.objects.filter(email="lydia@thyatira.example").exists()


def test_register_invalid_email(client):
    response = client.post(REGISTER, register_form(email="not-an-email"))
    assert response.status_code == 400
    assert response.context["form"].errors["email"]
    assert User.objects.count() == 0


# --- signing out --------------------------------------------------------------------------


def test_logout_is_post_only(client, user):
    client.force_login(user)
    assert client.get(LOGOUT).status_code == 405
    assert client.get(ME).status_code == 200


def test_logout_signs_out(client, user):
    client.force_login(user)
    response = client.post(LOGOUT)
    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert client.get(ME).status_code == 401
    assert "Study with sources you can check." in text(client.get("/"))


# --- CSRF -------------------------------------------------------------------------------------


def test_login_post_without_csrf_token_is_refused(user):
    client = Client(enforce_csrf_checks=True)
    response = sign_in(client, user.email)
    assert response.status_code == 403
    assert "This form has expired" in text(response)
    assert client.get(ME).status_code == 401
    assert not AuditEvent.objects.filter(action="user.login").exists()


def test_login_post_with_csrf_token_works(user):
    client = Client(enforce_csrf_checks=True)
    client.get(LOGIN)
    token = client.cookies["csrftoken"].value
    response = client.post(LOGIN, {"email": user.email, "password": PASSWORD, "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert client.get(ME).status_code == 200


def test_api_write_with_a_session_needs_the_csrf_token(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.patch(ME, {"display_name": "Forged"}, content_type="application/json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] in ("csrf_failed", "permission_denied")
    assert_error(response, 403, response.json()["error"]["code"])
    user.refresh_from_db()
    assert user.display_name != "Forged"

    client.get("/")  # any page hands out the csrftoken cookie
    token = client.cookies["csrftoken"].value
    response = client.patch(ME, {"display_name": "Genuine"}, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.display_name == "Genuine"


def test_logout_without_csrf_token_is_refused(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post(LOGOUT).status_code == 403
    assert client.get(ME).status_code == 200
