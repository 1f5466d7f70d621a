"""Staff user administration over the API: listing and filtering accounts, approving,
denying, suspending and editing them, who may do it, the guards that keep an admin in
charge, and the audit trail every change leaves."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.core.models import AuditEvent
from apps.users.models import User
from tests.helpers import assert_error
from tests.users.factories import PASSWORD

pytestmark = pytest.mark.django_db

USERS = "/api/v1/admin/users/"
TOKEN = "/api/v1/auth/token/"
REFRESH = "/api/v1/auth/token/refresh/"

ROLES = ["admin", "power", "user", "guest"]
STATUSES = ["pending", "approved", "denied", "suspended"]


def detail(user: User) -> str:
    return f"{USERS}{user.pk}/"


def events(action: str, target: User) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, target_id=str(target.pk)).order_by("created_at"))


# --- permission matrix ----------------------------------------------------------------

# Each route as (method, path for a target, payload).
ROUTES = {
    "list": ("get", lambda t: USERS, None),
    "detail": ("get", detail, None),
    "update": ("patch", detail, {"role": "power", "monthly_budget_usd": "9.00"}),
    "approve": ("post", lambda t: f"{detail(t)}approve/", None),
    "deny": ("post", lambda t: f"{detail(t)}deny/", {"reason": "Not a member of the seminary"}),
    "suspend": ("post", lambda t: f"{detail(t)}suspend/", {"reason": "Spam"}),
}

EXPECTED_AFTER_SUCCESS = {
    "list": {"status": "pending", "role": "user"},
    "detail": {"status": "pending", "role": "user"},
    "update": {"status": "pending", "role": "power"},
    "approve": {"status": "approved", "role": "user"},
    "deny": {"status": "denied", "role": "user"},
    "suspend": {"status": "suspended", "role": "user"},
}

ACTORS = [pytest.param(None, None, id="anonymous")] + [
    pytest.param(role, status, id=f"{role}-{status}") for role in ROLES for status in STATUSES
]


def call(client, route: str, target: User):
    method, path, payload = ROUTES[route]
    if payload is None:
        return getattr(client, method)(path(target))
    return getattr(client, method)(path(target), payload, format="json")


@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize(("role", "status"), ACTORS)
def test_only_an_approved_admin_may_use_the_admin_api(client_for, make_user, route, role, status):
    target = make_user(status="pending", email="applicant@example.org")
    actor = None if role is None else make_user(role=role, status=status, denial_reason="")
    response = call(client_for(actor), route, target)

    if role == "admin" and status == "approved":
        assert response.status_code == 200, response.content
        body = response.json()
        if route == "list":
            assert str(target.pk) in {row["id"] for row in body["results"]}
        else:
            assert body["id"] == str(target.pk)
            assert body["email"] == "applicant@example.org"
            for field, value in EXPECTED_AFTER_SUCCESS[route].items():
                assert body[field] == value
    elif role is None:
        assert_error(response, 401, "not_authenticated")
    elif status == "approved":
        assert_error(response, 403, "permission_denied")
    else:
        error = assert_error(response, 403, f"account_{status}")
        assert error["details"]["status"] == status

    target.refresh_from_db()
    expected = (
        EXPECTED_AFTER_SUCCESS[route]
        if (role, status) == ("admin", "approved")
        else {"status": "pending", "role": "user"}
    )
    assert {"status": target.status, "role": target.role} == expected


def test_a_superuser_with_a_plain_role_is_staff(client_for, make_user):
    superuser = make_user(role="user", is_superuser=True)
    response = client_for(superuser).get(USERS)
    assert response.status_code == 200


# --- listing ----------------------------------------------------------------------------


def test_list_is_paginated_and_rows_carry_the_contract_fields(client_for, admin_user, make_user):
    for _ in range(4):
        make_user(status="pending")
    client = client_for(admin_user)
    response = client.get(USERS, {"page_size": 2})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 5
    assert len(body["results"]) == 2
    assert body["previous"] is None
    assert "page=2" in body["next"]
    row = body["results"][0]
    assert {"id", "email", "role", "status", "display_name", "monthly_budget_usd", "denial_reason"} <= set(row)
    assert "password" not in row

    last = client.get(USERS, {"page_size": 2, "page": 3}).json()
    assert len(last["results"]) == 1
    assert last["next"] is None
    ids = {r["id"] for p in (1, 2, 3) for r in client.get(USERS, {"page_size": 2, "page": p}).json()["results"]}
    assert len(ids) == 5


def test_list_newest_first(client_for, admin_user, make_user):
    first = make_user(email="first@example.org")
    second = make_user(email="second@example.org")
    rows = client_for(admin_user).get(USERS).json()["results"]
    emails = [row["email"] for row in rows]
    assert emails.index(second.email) < emails.index(first.email)


def test_list_filters_by_status(client_for, admin_user, make_user):
    pending = [make_user(status="pending") for _ in range(2)]
    make_user(status="denied", denial_reason="No")
    make_user(status="suspended")
    response = client_for(admin_user).get(USERS, {"status": "pending"})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert {row["id"] for row in body["results"]} == {str(u.pk) for u in pending}
    assert all(row["status"] == "pending" for row in body["results"])

    denied = client_for(admin_user).get(USERS, {"status": "denied"}).json()
    assert [row["denial_reason"] for row in denied["results"]] == ["No"]


def test_list_filters_by_role(client_for, admin_user, make_user):
    guest = make_user(role="guest")
    make_user(role="power")
    body = client_for(admin_user).get(USERS, {"role": "guest"}).json()
    assert [row["id"] for row in body["results"]] == [str(guest.pk)]
    admins = client_for(admin_user).get(USERS, {"role": "admin"}).json()
    assert [row["email"] for row in admins["results"]] == [admin_user.email]


def test_list_searches_email_and_display_name(client_for, admin_user, make_user):
    by_email = make_user(email="calvin@geneva.example", display_name="Jean")
    by_name = make_user(email="someone@example.org", display_name="John Calvin")
    make_user(email="luther@example.org", display_name="Martin")
    body = client_for(admin_user).get(USERS, {"q": "CALVIN"}).json()
    assert {row["id"] for row in body["results"]} == {str(by_email.pk), str(by_name.pk)}


def test_list_filters_combine(client_for, admin_user, make_user):
    match = make_user(role="guest", status="pending", display_name="Anselm")
    make_user(role="guest", status="approved", display_name="Anselm too")
    make_user(role="user", status="pending", display_name="Anselm again")
    body = client_for(admin_user).get(USERS, {"status": "pending", "role": "guest", "q": "anselm"}).json()
    assert [row["id"] for row in body["results"]] == [str(match.pk)]


@pytest.mark.parametrize(("param", "value"), [("status", "bogus"), ("role", "superhero")])
def test_list_rejects_unknown_filter_values(client_for, admin_user, param, value):
    error = assert_error(client_for(admin_user).get(USERS, {param: value}), 400, "validation_error")
    assert param in error["details"]


def test_list_has_no_n_plus_one(client_for, admin_user, make_user, django_assert_num_queries):
    client = client_for(admin_user)
    for _ in range(2):
        make_user(status="pending")
    with CaptureQueriesContext(connection) as few:
        assert client.get(USERS).json()["count"] == 3
    baseline = len(few.captured_queries)
    assert baseline <= 4, [q["sql"] for q in few.captured_queries]

    for _ in range(17):
        make_user(status="pending")
    with django_assert_num_queries(baseline):
        response = client.get(USERS)
    assert response.json()["count"] == 20
    assert len(response.json()["results"]) == 20


# --- detail and update ----------------------------------------------------------------


def test_detail_shows_one_account(client_for, admin_user, make_user):
    target = make_user(role="power", status="denied", denial_reason="Duplicate account")
    body = client_for(admin_user).get(detail(target)).json()
    assert body["id"] == str(target.pk)
    assert body["role"] == "power"
    assert body["status"] == "denied"
    assert body["denial_reason"] == "Duplicate account"
    assert body["is_staff"] is False


@pytest.mark.parametrize("route", ["", "approve/", "deny/", "suspend/"])
def test_unknown_user_is_404(client_for, admin_user, route):
    client = client_for(admin_user)
    path = f"{USERS}{uuid.uuid4()}/{route}"
    if route == "":
        assert_error(client.get(path), 404, "not_found")
        assert_error(client.patch(path, {"role": "power"}, format="json"), 404, "not_found")
    else:
        assert_error(client.post(path, {"reason": "x"}, format="json"), 404, "not_found")


def test_malformed_user_id_is_a_json_404(client_for, admin_user):
    assert_error(client_for(admin_user).get(f"{USERS}not-a-uuid/"), 404, "not_found")


def test_patch_changes_role_budget_and_display_name_and_is_audited(client_for, admin_user, make_user):
    target = make_user(role="user", display_name="Old name")
    response = client_for(admin_user).patch(
        detail(target),
        {"role": "power", "monthly_budget_usd": "12.50", "display_name": "  New name  "},
        format="json",
        HTTP_X_REQUEST_ID="req-patch-1",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["role"] == "power"
    assert body["monthly_budget_usd"] == "12.50"
    assert body["display_name"] == "New name"

    target.refresh_from_db()
    assert target.role == "power"
    assert target.monthly_budget_usd == Decimal("12.50")
    assert target.display_name == "New name"

    [event] = events("user.update", target)
    assert event.actor == admin_user
    assert event.actor_email == admin_user.email
    assert event.data["role"] == {"from": "user", "to": "power"}
    assert event.data["monthly_budget_usd"]["to"] == "12.50"
    assert event.data["display_name"] == {"from": "Old name", "to": "New name"}
    assert event.request_id == "req-patch-1"


def test_patch_without_changes_writes_no_audit_event(client_for, admin_user, make_user):
    target = make_user(role="power")
    response = client_for(admin_user).patch(detail(target), {"role": "power"}, format="json")
    assert response.status_code == 200
    assert events("user.update", target) == []


def test_patch_zero_budget_is_allowed(client_for, admin_user, make_user):
    target = make_user()
    response = client_for(admin_user).patch(detail(target), {"monthly_budget_usd": "0"}, format="json")
    assert response.status_code == 200
    target.refresh_from_db()
    assert target.monthly_budget_usd == Decimal("0")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"monthly_budget_usd": "-1.00"}, "monthly_budget_usd"),
        ({"monthly_budget_usd": "lots"}, "monthly_budget_usd"),
        ({"role": "pope"}, "role"),
        ({"status": "retired"}, "status"),
    ],
)
def test_patch_rejects_invalid_values(client_for, admin_user, make_user, payload, field):
    target = make_user(role="user")
    budget = target.monthly_budget_usd
    error = assert_error(client_for(admin_user).patch(detail(target), payload, format="json"), 400, "validation_error")
    assert field in error["details"]
    target.refresh_from_db()
    assert (target.role, target.status, target.monthly_budget_usd) == ("user", "approved", budget)
    assert not AuditEvent.objects.filter(target_id=str(target.pk)).exists()


def test_patch_status_goes_through_the_status_rules(client_for, admin_user, make_user):
    target = make_user(status="pending")
    client = client_for(admin_user)
    response = client.patch(detail(target), {"status": "suspended", "reason": "Later"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "suspended"
    [event] = events("user.suspend", target)
    assert event.actor == admin_user
    assert event.data == {"from": "pending", "to": "suspended", "reason": "Later"}


def test_patch_that_fails_half_way_changes_nothing(client_for, admin_user, make_user):
    """Denying needs a reason; a role change in the same request is not kept either."""
    target = make_user(role="user", status="pending")
    response = client_for(admin_user).patch(detail(target), {"role": "power", "status": "denied"}, format="json")
    error = assert_error(response, 400, "validation_error")
    assert "reason" in error["details"]
    target.refresh_from_db()
    assert (target.role, target.status) == ("user", "pending")
    assert not AuditEvent.objects.filter(target_id=str(target.pk)).exists()


# --- approve, deny, suspend -----------------------------------------------------------


def test_approve_lets_the_account_sign_in_and_is_audited(client_for, api_client, admin_user, make_user):
    target = make_user(status="pending")
    assert_error(api_client.post(TOKEN, {"email": target.email, "password": PASSWORD}), 403, "account_pending")

    response = client_for(admin_user).post(f"{detail(target)}approve/", HTTP_X_REQUEST_ID="req-approve-1")
    assert response.status_code == 200
    assert response.json()["status"] == "approved"
    assert response.json()["status_changed_at"]
    target.refresh_from_db()
    assert target.status == "approved"

    [event] = events("user.approve", target)
    assert event.actor == admin_user
    assert event.actor_email == admin_user.email
    assert event.target_type == "users.user"
    assert event.target_repr == target.email
    assert event.data == {"from": "pending", "to": "approved", "reason": ""}
    assert event.request_id == "req-approve-1"

    signed_in = api_client.post(TOKEN, {"email": target.email, "password": PASSWORD})
    assert signed_in.status_code == 200
    assert set(signed_in.json()) == {"access", "refresh"}


def test_approving_an_approved_account_changes_nothing(client_for, admin_user, make_user):
    target = make_user(status="approved")
    response = client_for(admin_user).post(f"{detail(target)}approve/")
    assert response.status_code == 200
    assert response.json()["status"] == "approved"
    assert events("user.approve", target) == []


def test_approve_reinstates_a_denied_account_and_clears_the_reason(client_for, admin_user, make_user):
    target = make_user(status="denied", denial_reason="Wrong parish")
    body = client_for(admin_user).post(f"{detail(target)}approve/").json()
    assert body["status"] == "approved"
    assert body["denial_reason"] == ""
    [event] = events("user.approve", target)
    assert event.data["from"] == "denied"


def test_deny_requires_a_reason(client_for, admin_user, make_user):
    target = make_user(status="pending")
    client = client_for(admin_user)
    for payload in ({}, {"reason": ""}, {"reason": "   "}):
        error = assert_error(client.post(f"{detail(target)}deny/", payload, format="json"), 400, "validation_error")
        assert "reason" in error["details"]
    target.refresh_from_db()
    assert target.status == "pending"
    assert events("user.deny", target) == []


def test_denied_user_is_told_the_reason_when_signing_in(client_for, api_client, admin_user, make_user):
    target = make_user(status="pending")
    response = client_for(admin_user).post(
        f"{detail(target)}deny/", {"reason": "Not a member of the seminary"}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "denied"
    assert body["denial_reason"] == "Not a member of the seminary"

    [event] = events("user.deny", target)
    assert event.actor == admin_user
    assert event.data == {"from": "pending", "to": "denied", "reason": "Not a member of the seminary"}

    refused = api_client.post(TOKEN, {"email": target.email, "password": PASSWORD}, format="json")
    error = assert_error(refused, 403, "account_denied")
    assert "Not a member of the seminary" in error["message"]
    assert error["details"] == {"status": "denied", "reason": "Not a member of the seminary"}


def test_suspend_revokes_sign_in_and_is_audited(client_for, api_client, admin_user, make_user):
    target = make_user(status="approved")
    tokens = api_client.post(TOKEN, {"email": target.email, "password": PASSWORD}, format="json").json()

    response = client_for(admin_user).post(f"{detail(target)}suspend/", {"reason": "Spam"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "suspended"
    assert response.json()["denial_reason"] == "Spam"

    [event] = events("user.suspend", target)
    assert event.actor == admin_user
    assert event.data == {"from": "approved", "to": "suspended", "reason": "Spam"}

    assert_error(
        api_client.get("/api/v1/auth/me/", HTTP_AUTHORIZATION=f"Bearer {tokens['access']}"), 403, "account_suspended"
    )
    assert api_client.post(REFRESH, {"refresh": tokens["refresh"]}, format="json").status_code in (401, 403)
    error = assert_error(
        api_client.post(TOKEN, {"email": target.email, "password": PASSWORD}, format="json"), 403, "account_suspended"
    )
    assert "Spam" in error["message"]


def test_suspend_reason_is_optional(client_for, admin_user, make_user):
    target = make_user(status="approved")
    response = client_for(admin_user).post(f"{detail(target)}suspend/")
    assert response.status_code == 200
    assert response.json()["status"] == "suspended"
    assert response.json()["denial_reason"] == ""


# --- guards ---------------------------------------------------------------------------


def test_last_admin_cannot_demote_themselves(client_for, admin_user):
    response = client_for(admin_user).patch(detail(admin_user), {"role": "user"}, format="json")
    assert_error(response, 409, "last_admin")
    admin_user.refresh_from_db()
    assert admin_user.role == "admin"
    assert events("user.update", admin_user) == []


@pytest.mark.parametrize(
    ("method", "suffix", "payload"),
    [
        ("post", "suspend/", {"reason": "Testing"}),
        ("post", "deny/", {"reason": "Testing"}),
        ("patch", "", {"status": "suspended"}),
    ],
)
def test_admin_cannot_deny_or_suspend_their_own_account(client_for, admin_user, make_user, method, suffix, payload):
    make_user(role="admin")  # not the last admin: the own-account rule alone refuses it
    response = getattr(client_for(admin_user), method)(f"{detail(admin_user)}{suffix}", payload, format="json")
    assert_error(response, 403, "own_account")
    admin_user.refresh_from_db()
    assert admin_user.status == "approved"
    assert not AuditEvent.objects.filter(target_id=str(admin_user.pk), action__in=["user.suspend", "user.deny"])


def test_last_admin_cannot_suspend_themselves(client_for, admin_user):
    response = client_for(admin_user).post(f"{detail(admin_user)}suspend/", {}, format="json")
    assert response.status_code in (403, 409)
    assert_error(response, response.status_code, {403: "own_account", 409: "last_admin"}[response.status_code])
    admin_user.refresh_from_db()
    assert admin_user.status == "approved"


def test_an_admin_may_step_down_when_another_admin_remains(client_for, admin_user, make_user):
    other = make_user(role="admin")
    response = client_for(admin_user).patch(detail(admin_user), {"role": "power"}, format="json")
    assert response.status_code == 200
    admin_user.refresh_from_db()
    assert admin_user.role == "power"
    # The former admin's token no longer opens the admin API; the other admin still can.
    assert_error(client_for(admin_user).get(USERS), 403, "permission_denied")
    assert client_for(other).get(USERS).status_code == 200


def test_an_admin_may_suspend_another_admin(client_for, admin_user, make_user):
    other = make_user(role="admin")
    response = client_for(admin_user).post(f"{detail(other)}suspend/", {"reason": "Left"}, format="json")
    assert response.status_code == 200
    other.refresh_from_db()
    assert other.status == "suspended"
    assert_error(client_for(other).get(USERS), 403, "account_suspended")
