"""The Django admin as the approval console: the user list and its filters, the bulk
approve / deny / suspend actions (deny and suspend ask for a reason first), the change
form for role and budget, who may enter, and the read-only audit log."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from apps.core.models import AuditEvent
from apps.core.services import audit_record
from apps.users.models import User
from tests.users.factories import PASSWORD

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/users/user/"
AUDIT = "/admin/core/auditevent/"


@pytest.fixture
def console(admin_user: User) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def change_url(user: User) -> str:
    return f"{CHANGELIST}{user.pk}/change/"


def run_action(client: Client, action: str, users: list[User], **extra: str):
    return client.post(CHANGELIST, {"action": action, "_selected_action": [str(u.pk) for u in users], **extra})


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- the list -------------------------------------------------------------------------


def test_console_index_and_user_list_load(console, make_user):
    make_user(email="applicant@example.org", status="pending")
    index = console.get("/admin/")
    assert index.status_code == 200
    assert "Theo administration" in index.content.decode()
    response = console.get(CHANGELIST)
    assert response.status_code == 200
    content = response.content.decode()
    assert "applicant@example.org" in content
    assert "Approve selected accounts" in content


def test_user_list_filters_by_status(console, make_user):
    make_user(email="waiting@example.org", status="pending")
    make_user(email="member@example.org", status="approved")
    make_user(email="refused@example.org", status="denied", denial_reason="No")
    response = console.get(CHANGELIST, {"status__exact": "pending"})
    assert response.status_code == 200
    content = response.content.decode()
    assert "waiting@example.org" in content
    assert "member@example.org" not in content
    assert "refused@example.org" not in content
    assert list(response.context["cl"].result_list) == [User.objects.get(email="waiting@example.org")]


def test_user_list_searches(console, make_user):
    make_user(email="bonhoeffer@example.org")
    make_user(email="barth@example.org")
    content = console.get(CHANGELIST, {"q": "bonho"}).content.decode()
    assert "bonhoeffer@example.org" in content
    assert "barth@example.org" not in content


# --- bulk actions -----------------------------------------------------------------------


def test_bulk_approve(console, admin_user, make_user):
    applicants = [make_user(status="pending") for _ in range(3)]
    bystander = make_user(status="pending")
    response = run_action(console, "approve", applicants)
    assert response.status_code == 302
    assert "3 account(s) approved." in messages_of(response)
    for applicant in applicants:
        applicant.refresh_from_db()
        assert applicant.status == "approved"
        [event] = AuditEvent.objects.filter(action="user.approve", target_id=str(applicant.pk))
        assert event.actor == admin_user
        assert event.data["from"] == "pending"
    bystander.refresh_from_db()
    assert bystander.status == "pending"


def test_approved_user_can_then_sign_in(console, make_user):
    applicant = make_user(status="pending")
    run_action(console, "approve", [applicant])
    response = Client().post("/api/v1/auth/token/", {"email": applicant.email, "password": PASSWORD})
    assert response.status_code == 200


def test_deny_asks_for_a_reason_first(console, make_user):
    applicants = [make_user(status="pending", email=f"applicant{n}@example.org") for n in range(2)]
    response = run_action(console, "deny", applicants)
    assert response.status_code == 200
    assert "admin/users/reason_action.html" in [t.name for t in response.templates]
    content = response.content.decode()
    assert "Deny accounts" in content
    assert "applicant0@example.org" in content and "applicant1@example.org" in content
    assert 'name="reason"' in content
    assert 'name="apply"' in content
    # Nothing has happened yet.
    assert set(User.objects.filter(pk__in=[u.pk for u in applicants]).values_list("status", flat=True)) == {"pending"}
    assert not AuditEvent.objects.filter(action="user.deny").exists()


def test_deny_with_a_reason_denies_and_audits(console, admin_user, make_user):
    applicants = [make_user(status="pending") for _ in range(2)]
    response = run_action(console, "deny", applicants, reason="Not a member of the seminary", apply="1")
    assert response.status_code == 302
    assert "2 account(s) denied." in messages_of(response)
    for applicant in applicants:
        applicant.refresh_from_db()
        assert applicant.status == "denied"
        assert applicant.denial_reason == "Not a member of the seminary"
        [event] = AuditEvent.objects.filter(action="user.deny", target_id=str(applicant.pk))
        assert event.actor == admin_user
        assert event.data["reason"] == "Not a member of the seminary"

    refused = Client().post("/api/v1/auth/token/", {"email": applicants[0].email, "password": PASSWORD})
    assert refused.status_code == 403
    assert "Not a member of the seminary" in refused.json()["error"]["message"]


def test_deny_without_a_reason_shows_the_form_again(console, make_user):
    applicant = make_user(status="pending")
    response = run_action(console, "deny", [applicant], reason="  ", apply="1")
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    applicant.refresh_from_db()
    assert applicant.status == "pending"
    assert not AuditEvent.objects.filter(action="user.deny").exists()


def test_suspend_asks_for_a_reason_then_suspends(console, admin_user, make_user):
    member = make_user(status="approved", email="member@example.org")
    first = run_action(console, "suspend", [member])
    assert first.status_code == 200
    assert "Suspend accounts" in first.content.decode()
    assert "member@example.org" in first.content.decode()
    member.refresh_from_db()
    assert member.status == "approved"

    response = run_action(console, "suspend", [member], reason="Spam uploads", apply="1")
    assert response.status_code == 302
    assert "1 account(s) suspended." in messages_of(response)
    member.refresh_from_db()
    assert member.status == "suspended"
    assert member.denial_reason == "Spam uploads"
    [event] = AuditEvent.objects.filter(action="user.suspend", target_id=str(member.pk))
    assert event.actor == admin_user
    assert event.data == {"from": "approved", "to": "suspended", "reason": "Spam uploads"}


def test_bulk_action_reports_refusals_per_account(console, admin_user, make_user):
    """The admin's own account is refused, the others are suspended."""
    member = make_user(status="approved")
    response = run_action(console, "suspend", [member, admin_user], reason="Clean-up", apply="1")
    assert response.status_code == 302
    notes = messages_of(response)
    assert "1 account(s) suspended." in notes
    assert any(note.startswith(f"{admin_user.email}:") for note in notes)
    admin_user.refresh_from_db()
    member.refresh_from_db()
    assert admin_user.status == "approved"
    assert member.status == "suspended"


# --- the change form --------------------------------------------------------------------


def test_change_form_edits_role_and_budget_with_an_audit_event(console, admin_user, make_user):
    target = make_user(role="user", display_name="Reader")
    page = console.get(change_url(target))
    assert page.status_code == 200
    assert 'name="role"' in page.content.decode()
    assert 'name="monthly_budget_usd"' in page.content.decode()

    response = console.post(
        change_url(target), {"display_name": "Reader", "role": "power", "monthly_budget_usd": "25.00"}
    )
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.role == "power"
    assert target.monthly_budget_usd == Decimal("25.00")
    [event] = AuditEvent.objects.filter(action="user.update", target_id=str(target.pk))
    assert event.actor == admin_user
    assert event.data["role"] == {"from": "user", "to": "power"}
    assert event.data["monthly_budget_usd"]["to"] == "25.00"


def test_change_form_refuses_a_negative_budget(console, make_user):
    target = make_user()
    budget = target.monthly_budget_usd
    response = console.post(change_url(target), {"display_name": "Reader", "role": "user", "monthly_budget_usd": "-5"})
    assert response.status_code == 200  # the form again, with the error
    assert response.context["adminform"].form.errors
    target.refresh_from_db()
    assert target.monthly_budget_usd == budget
    assert not AuditEvent.objects.filter(action="user.update").exists()


def test_change_form_cannot_edit_status_or_email_directly(console, make_user):
    target = make_user(status="pending", email="applicant@example.org")
    console.post(
        change_url(target),
        {
            "display_name": target.display_name,
            "role": "user",
            "monthly_budget_usd": "5.00",
            "status": "approved",
            "email": "hijack@example.org",
        },
    )
    target.refresh_from_db()
    assert target.status == "pending"
    assert target.email == "applicant@example.org"


def test_last_admin_cannot_demote_themselves_in_the_console(console, admin_user):
    response = console.post(
        change_url(admin_user),
        {"display_name": admin_user.display_name, "role": "user", "monthly_budget_usd": "5.00"},
        follow=True,
    )
    page = response.content.decode()
    assert "This is the last active admin" in page
    assert "was changed successfully" not in page  # the form is shown again with the error
    assert response.redirect_chain == []
    admin_user.refresh_from_db()
    assert admin_user.role == "admin"
    assert not AuditEvent.objects.filter(action="user.update").exists()


def test_add_form_creates_an_approved_account(console, admin_user):
    response = console.post(
        f"{CHANGELIST}add/",
        {"email": "Staffmade@Example.org", "display_name": "Made", "role": "guest", "password": PASSWORD},
    )
    assert response.status_code == 302
    created = User.objects.get(email="staffmade@example.org")
    assert created.status == "approved"
    assert created.role == "guest"
    assert created.check_password(PASSWORD)
    [event] = AuditEvent.objects.filter(action="user.create", target_id=str(created.pk))
    assert event.actor == admin_user


# --- who may enter --------------------------------------------------------------------


@pytest.mark.parametrize("role", ["power", "user", "guest"])
def test_non_staff_are_sent_to_the_admin_login(make_user, role):
    client = Client()
    client.force_login(make_user(role=role))
    for path in ("/admin/", CHANGELIST):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


def test_anonymous_is_sent_to_the_admin_login():
    response = Client().get(CHANGELIST)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_non_staff_cannot_run_actions(make_user):
    applicant = make_user(status="pending")
    client = Client()
    client.force_login(make_user(role="power"))
    response = run_action(client, "approve", [applicant])
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    applicant.refresh_from_db()
    assert applicant.status == "pending"


@pytest.mark.parametrize("status", ["pending", "denied", "suspended"])
def test_non_approved_admin_cannot_sign_in_to_the_console(make_user, status):
    make_user(role="admin", status=status, email="dormant@example.org")
    client = Client()
    response = client.post(
        "/accounts/login/", {"email": "dormant@example.org", "password": PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/pending/"
    assert client.get("/admin/").status_code == 302


def test_admin_signs_in_to_the_console_with_email_and_password(admin_user):
    client = Client()
    response = client.post("/accounts/login/", {"email": admin_user.email, "password": PASSWORD, "next": "/admin/"})
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_console_sign_in_goes_through_the_rate_limited_sign_in_page(admin_user):
    """DESIGN: login is limited to 5/min per address and account, on every route; the
    admin has no sign-in form of its own."""
    client = Client()
    response = client.get("/admin/login/?next=/admin/users/user/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=%2Fadmin%2Fusers%2Fuser%2F"
    # Posting credentials to the admin's login path signs nobody in.
    client.post("/admin/login/", {"username": admin_user.email, "password": PASSWORD})
    assert client.get("/admin/").status_code == 302
    for _ in range(5):
        client.post("/accounts/login/", {"email": admin_user.email, "password": "not the password"})
    response = client.post("/accounts/login/", {"email": admin_user.email, "password": PASSWORD, "next": "/admin/"})
    assert response.status_code == 429
    assert client.get("/admin/").status_code == 302


def test_signed_in_non_staff_get_a_403_not_a_redirect_loop(make_user):
    client = Client()
    client.force_login(make_user(role="user"))
    assert client.get("/admin/login/?next=/admin/").status_code == 403


def test_session_of_a_suspended_admin_stops_working(console, admin_user, make_user):
    other = make_user(role="admin")
    other_console = Client()
    other_console.force_login(other)
    run_action(other_console, "suspend", [admin_user], reason="Left", apply="1")
    admin_user.refresh_from_db()
    assert admin_user.status == "suspended"
    assert console.get(CHANGELIST).status_code == 302


# --- the audit log ----------------------------------------------------------------------


@pytest.fixture
def audit_event(admin_user: User) -> AuditEvent:
    return audit_record(actor=admin_user, action="user.approve", target=admin_user, data={"note": "original"})


def test_audit_log_lists_events(console, audit_event):
    response = console.get(AUDIT)
    assert response.status_code == 200
    content = response.content.decode()
    assert "user.approve" in content
    assert audit_event.actor_email in content


def test_audit_log_cannot_be_added_to(console, audit_event):
    assert "/admin/core/auditevent/add/" not in console.get(AUDIT).content.decode()
    assert console.get(f"{AUDIT}add/").status_code == 403
    response = console.post(f"{AUDIT}add/", {"action": "user.forged", "actor_email": "x@example.org"})
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="user.forged").exists()


def test_audit_event_page_is_read_only(console, audit_event):
    page = console.get(f"{AUDIT}{audit_event.pk}/change/")
    assert page.status_code == 200
    content = page.content.decode()
    assert 'name="_save"' not in content
    assert 'name="_continue"' not in content
    assert 'name="action"' not in content  # no editable inputs, only read-only values

    response = console.post(
        f"{AUDIT}{audit_event.pk}/change/", {"action": "user.forged", "actor_email": "x@example.org", "_save": "Save"}
    )
    assert response.status_code == 403
    audit_event.refresh_from_db()
    assert audit_event.action == "user.approve"
    assert audit_event.actor_email != "x@example.org"
    assert audit_event.data == {"note": "original"}


def test_audit_events_cannot_be_deleted(console, audit_event):
    assert console.get(f"{AUDIT}{audit_event.pk}/delete/").status_code == 403
    assert console.post(f"{AUDIT}{audit_event.pk}/delete/", {"post": "yes"}).status_code == 403
    response = console.post(AUDIT, {"action": "delete_selected", "_selected_action": [str(audit_event.pk)]})
    assert response.status_code in (200, 302, 403)
    assert AuditEvent.objects.filter(pk=audit_event.pk).exists()
