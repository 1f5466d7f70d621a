"""Account services: the first admin (ensure_initial_admin, the ensure_admin command,
createsuperuser), status transitions with their audit events, and the guards."""

from __future__ import annotations

import contextlib
import threading
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from apps.core.errors import Conflict, PermissionDenied, ValidationFailed
from apps.core.models import AuditEvent
from apps.users import services
from apps.users.models import User, UserManager

TOKEN = "/api/v1/auth/token/"
ADMIN_PASSWORD = "the first admin's long passphrase"


def obtain_token(email: str, password: str):
    return APIClient().post(TOKEN, {"email": email, "password": password}, format="json")


def assert_approved_admin(user: User) -> None:
    user.refresh_from_db()
    assert user.role == User.Role.ADMIN
    assert user.status == User.Status.APPROVED
    assert user.is_staff is True
    assert user.is_superuser is True
    assert user.is_active is True


# --- ensure_initial_admin ---------------------------------------------------------------


@pytest.mark.django_db
def test_ensure_initial_admin_creates_an_approved_admin():
    user = services.ensure_initial_admin(email=" Founder@Example.org ", password=ADMIN_PASSWORD)
    assert user is not None
    assert user.email == "founder@example.org"
    assert_approved_admin(user)
    assert user.check_password(ADMIN_PASSWORD)
    assert user.display_name == "founder"
    assert AuditEvent.objects.filter(action="user.create_initial_admin", target_id=str(user.pk)).count() == 1
    assert obtain_token("founder@example.org", ADMIN_PASSWORD).status_code == 200


@pytest.mark.django_db
def test_ensure_initial_admin_is_idempotent():
    first = services.ensure_initial_admin(email="founder@example.org", password=ADMIN_PASSWORD)
    again = services.ensure_initial_admin(email="FOUNDER@example.org", password="a different long passphrase")
    assert again is not None and first is not None
    assert again.pk == first.pk
    assert User.objects.filter(email__iexact="founder@example.org").count() == 1
    assert AuditEvent.objects.filter(action="user.create_initial_admin", target_id=str(first.pk)).count() == 1
    # The password is not reset by a later start.
    again.refresh_from_db()
    assert again.check_password(ADMIN_PASSWORD)


@pytest.mark.django_db
@pytest.mark.parametrize(("email", "password"), [("", ADMIN_PASSWORD), ("founder@example.org", ""), ("", "")])
def test_ensure_initial_admin_needs_both_settings(email, password):
    assert services.ensure_initial_admin(email=email, password=password) is None
    assert not User.objects.filter(email="founder@example.org").exists()


@pytest.mark.django_db(transaction=True)
def test_ensure_initial_admin_is_race_safe(monkeypatch):
    """Two processes starting together: both see no admin, both try to create it; the
    unique e-mail constraint lets one win and the other returns the winner's row."""
    both_checked = threading.Barrier(2, timeout=20)
    original = UserManager.create_superuser

    def create_after_both_checked(self, *args, **kwargs):
        both_checked.wait()
        return original(self, *args, **kwargs)

    monkeypatch.setattr(UserManager, "create_superuser", create_after_both_checked)
    results: list[User | None] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            results.append(services.ensure_initial_admin(email="founder@example.org", password=ADMIN_PASSWORD))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert len(results) == 2
    assert results[0] is not None and results[1] is not None
    assert results[0].pk == results[1].pk
    admin = User.objects.get(email__iexact="founder@example.org")
    assert AuditEvent.objects.filter(action="user.create_initial_admin", target_id=str(admin.pk)).count() == 1
    assert_approved_admin(admin)


@pytest.mark.django_db
def test_ensure_initial_admin_never_promotes_an_account_registered_under_that_address(make_user):
    """Someone who registered the admin's address first does not become an admin."""
    squatter = make_user(email="founder@example.org", status="pending")
    result = services.ensure_initial_admin(email="founder@example.org", password=ADMIN_PASSWORD)
    assert result is not None and result.pk == squatter.pk
    squatter.refresh_from_db()
    assert (squatter.role, squatter.status, squatter.is_superuser) == ("user", "pending", False)
    assert not squatter.check_password(ADMIN_PASSWORD)


# --- management commands --------------------------------------------------------------------


@pytest.mark.django_db
def test_createsuperuser_noinput_creates_an_approved_admin_who_can_sign_in(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "Root@Example.org")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.setenv("DJANGO_SUPERUSER_DISPLAY_NAME", "The Root")
    call_command("createsuperuser", "--noinput", stdout=StringIO())

    user = User.objects.get(email="root@example.org")
    assert_approved_admin(user)
    assert user.display_name == "The Root"
    response = obtain_token("root@example.org", ADMIN_PASSWORD)
    assert response.status_code == 200
    me = APIClient().get("/api/v1/auth/me/", HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    assert me.json()["role"] == "admin"
    assert me.json()["is_staff"] is True


@pytest.mark.django_db
def test_createsuperuser_refuses_an_existing_email_in_any_case(monkeypatch, make_user):
    make_user(email="root@example.org", status="pending")
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "ROOT@example.org")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.setenv("DJANGO_SUPERUSER_DISPLAY_NAME", "The Root")
    with pytest.raises(CommandError):
        call_command("createsuperuser", "--noinput", stdout=StringIO(), stderr=StringIO())
    assert User.objects.filter(email__iexact="root@example.org").count() == 1


@pytest.mark.django_db
def test_ensure_admin_command_creates_the_configured_admin_once(settings):
    settings.INITIAL_ADMIN_EMAIL = "founder@example.org"
    settings.INITIAL_ADMIN_PASSWORD = ADMIN_PASSWORD
    call_command("ensure_admin", stdout=StringIO())
    call_command("ensure_admin", stdout=StringIO())
    user = User.objects.get(email__iexact="founder@example.org")
    assert user.email == "founder@example.org"
    assert_approved_admin(user)
    assert obtain_token("founder@example.org", ADMIN_PASSWORD).status_code == 200


@pytest.mark.django_db
def test_ensure_admin_command_without_settings_warns_when_there_is_no_admin(settings):
    settings.INITIAL_ADMIN_EMAIL = ""
    settings.INITIAL_ADMIN_PASSWORD = ""
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    assert "No admin account yet" in out.getvalue()
    assert not User.objects.exists()


@pytest.mark.django_db
def test_ensure_admin_command_without_settings_is_quiet_when_an_admin_exists(settings, admin_user):
    settings.INITIAL_ADMIN_EMAIL = ""
    settings.INITIAL_ADMIN_PASSWORD = ""
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    assert out.getvalue() == ""
    assert list(User.objects.all()) == [admin_user]


# --- status transitions -------------------------------------------------------------------


TRANSITIONS = [
    ("pending", "approved", "", "user.approve"),
    ("pending", "denied", "Not a member", "user.deny"),
    ("pending", "suspended", "", "user.suspend"),
    ("approved", "suspended", "Spam", "user.suspend"),
    ("approved", "denied", "Fake identity", "user.deny"),
    ("approved", "pending", "", "user.reset_to_pending"),
    ("denied", "approved", "", "user.approve"),
    ("suspended", "approved", "", "user.approve"),
    ("denied", "pending", "", "user.reset_to_pending"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("before", "after", "reason", "action"), TRANSITIONS)
def test_user_set_status_transitions_are_audited(make_user, admin_user, before, after, reason, action):
    old_reason = "Earlier reason" if before in ("denied", "suspended") else ""
    target = make_user(status=before, denial_reason=old_reason)
    result = services.user_set_status(user=target, status=after, actor=admin_user, reason=reason)
    assert result.status == after
    target.refresh_from_db()
    assert target.status == after
    assert target.status_changed_at is not None
    kept_reason = reason if after in ("denied", "suspended") else ""
    assert target.denial_reason == kept_reason

    [event] = AuditEvent.objects.filter(target_id=str(target.pk))
    assert event.action == action
    assert event.actor == admin_user
    assert event.actor_email == admin_user.email
    assert event.data == {"from": before, "to": after, "reason": kept_reason}

    may_sign_in = obtain_token(target.email, "a sufficiently long passphrase").status_code == 200
    assert may_sign_in is (after == "approved")


@pytest.mark.django_db
def test_user_set_status_by_the_system_has_no_actor(make_user):
    target = make_user(status="pending")
    services.user_approve(user=target, actor=None)
    event = AuditEvent.objects.get(action="user.approve", target_id=str(target.pk))
    assert event.actor is None
    assert event.actor_email == ""


@pytest.mark.django_db
def test_user_set_status_to_the_same_status_is_a_no_op(make_user, admin_user):
    target = make_user(status="pending")
    services.user_set_status(user=target, status="pending", actor=admin_user)
    assert target.status_changed_at is None
    assert not AuditEvent.objects.filter(target_id=str(target.pk)).exists()


@pytest.mark.django_db
def test_changing_only_the_reason_is_recorded(make_user, admin_user):
    target = make_user(status="denied", denial_reason="First reason")
    services.user_deny(user=target, actor=admin_user, reason="Better reason")
    target.refresh_from_db()
    assert target.denial_reason == "Better reason"
    event = AuditEvent.objects.get(action="user.deny", target_id=str(target.pk))
    assert event.data == {"from": "denied", "to": "denied", "reason": "Better reason"}


@pytest.mark.django_db
def test_user_set_status_rejects_an_unknown_status(make_user, admin_user):
    target = make_user(status="pending")
    with pytest.raises(ValidationFailed) as caught:
        services.user_set_status(user=target, status="archived", actor=admin_user)
    assert "status" in caught.value.details
    target.refresh_from_db()
    assert target.status == "pending"
    assert not AuditEvent.objects.filter(target_id=str(target.pk)).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("reason", ["", "   "])
def test_deny_requires_a_reason(make_user, admin_user, reason):
    target = make_user(status="pending")
    with pytest.raises(ValidationFailed) as caught:
        services.user_deny(user=target, actor=admin_user, reason=reason)
    assert "reason" in caught.value.details
    target.refresh_from_db()
    assert target.status == "pending"


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["denied", "suspended", "pending"])
def test_nobody_can_deny_or_suspend_their_own_account(make_user, admin_user, status):
    make_user(role="admin")  # not the last admin
    with pytest.raises(PermissionDenied) as caught:
        services.user_set_status(user=admin_user, status=status, actor=admin_user, reason="Leaving")
    assert caught.value.code == "own_account"
    admin_user.refresh_from_db()
    assert admin_user.status == "approved"


@pytest.mark.django_db
def test_the_last_admin_cannot_be_suspended(admin_user, make_user):
    make_user(role="admin", status="suspended")  # an admin, but not an active one
    with pytest.raises(Conflict) as caught:
        services.user_suspend(user=admin_user, actor=None, reason="Oops")
    assert caught.value.code == "last_admin"
    admin_user.refresh_from_db()
    assert admin_user.status == "approved"
    assert not AuditEvent.objects.filter(target_id=str(admin_user.pk)).exists()


@pytest.mark.django_db
def test_the_last_admin_cannot_be_demoted(admin_user):
    with pytest.raises(Conflict) as caught:
        services.user_update(user=admin_user, actor=admin_user, role="power")
    assert caught.value.code == "last_admin"
    admin_user.refresh_from_db()
    assert admin_user.role == "admin"


@pytest.mark.django_db(transaction=True)
def test_two_admins_stepping_down_at_once_leave_one_admin(monkeypatch, make_user):
    """The last-admin guard must hold under concurrency: if both admins demote themselves
    at the same moment, one of them has to be refused (409 last_admin)."""
    first = make_user(role="admin", email="first-admin@example.org")
    second = make_user(role="admin", email="second-admin@example.org")
    both_checked = threading.Barrier(2)
    original = services._other_active_admins

    def check_then_wait(user: User) -> bool:
        result = original(user)
        # Let the other request run its check too, if it can get that far.
        with contextlib.suppress(threading.BrokenBarrierError):
            both_checked.wait(timeout=1)
        return result

    monkeypatch.setattr(services, "_other_active_admins", check_then_wait)
    outcomes: dict[str, str] = {}

    def step_down(admin: User) -> None:
        try:
            fresh = User.objects.get(pk=admin.pk)
            services.user_update(user=fresh, actor=fresh, role="power")
            outcomes[admin.email] = "demoted"
        except Conflict as exc:
            outcomes[admin.email] = exc.code
        except BaseException as exc:
            outcomes[admin.email] = repr(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=step_down, args=(admin,)) for admin in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes.values()) == ["demoted", "last_admin"], outcomes
    remaining = User.objects.filter(pk__in=[first.pk, second.pk], role="admin", status="approved")
    assert remaining.count() == 1


@pytest.mark.django_db
def test_a_superuser_counts_as_an_active_admin(admin_user, make_user):
    make_user(role="user", is_superuser=True)
    services.user_update(user=admin_user, actor=admin_user, role="power")
    admin_user.refresh_from_db()
    assert admin_user.role == "power"


@pytest.mark.django_db
def test_suspension_blacklists_outstanding_refresh_tokens(make_user, admin_user, django_capture_on_commit_callbacks):
    target = make_user(status="approved")
    refresh = RefreshToken.for_user(target)
    other = RefreshToken.for_user(admin_user)
    with django_capture_on_commit_callbacks() as callbacks:
        services.user_suspend(user=target, actor=admin_user, reason="Spam")
    assert len(callbacks) == 1  # the open WebSockets are told after commit
    outstanding = OutstandingToken.objects.get(jti=refresh["jti"])
    assert BlacklistedToken.objects.filter(token=outstanding).exists()
    assert not BlacklistedToken.objects.filter(token__jti=other["jti"]).exists()
    response = APIClient().post("/api/v1/auth/token/refresh/", {"refresh": str(refresh)}, format="json")
    assert response.status_code in (401, 403)


# --- user_update ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_user_update_records_what_changed(make_user, admin_user):
    target = make_user(role="guest", display_name="Before")
    budget_before = str(target.monthly_budget_usd)
    services.user_update(
        user=target, actor=admin_user, role="user", monthly_budget_usd=Decimal("7.25"), display_name="After"
    )
    target.refresh_from_db()
    assert (target.role, target.monthly_budget_usd, target.display_name) == ("user", Decimal("7.25"), "After")
    event = AuditEvent.objects.get(action="user.update", target_id=str(target.pk))
    assert event.actor == admin_user
    assert event.data == {
        "role": {"from": "guest", "to": "user"},
        "monthly_budget_usd": {"from": budget_before, "to": "7.25"},
        "display_name": {"from": "Before", "to": "After"},
    }


@pytest.mark.django_db
def test_user_update_refuses_a_negative_budget(make_user, admin_user):
    target = make_user()
    budget = target.monthly_budget_usd
    with pytest.raises(ValidationFailed) as caught:
        services.user_update(user=target, actor=admin_user, monthly_budget_usd=Decimal("-0.01"))
    assert "monthly_budget_usd" in caught.value.details
    target.refresh_from_db()
    assert target.monthly_budget_usd == budget


@pytest.mark.django_db
def test_user_update_refuses_an_unknown_role(make_user, admin_user):
    target = make_user()
    with pytest.raises(ValidationFailed):
        services.user_update(user=target, actor=admin_user, role="archbishop")
    target.refresh_from_db()
    assert target.role == "user"
