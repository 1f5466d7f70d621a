"""GET /api/v1/audit/: the staff-only audit trail, newest first, paginated and filterable;
events written by apps.core.services.audit_record."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from apps.core.middleware import RequestIdMiddleware
from apps.core.models import AuditEvent
from apps.core.services import audit_record
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db

AUDIT = "/api/v1/audit/"


def event(*, action: str, actor=None, target=None, at: datetime | None = None, **kwargs) -> AuditEvent:
    recorded = audit_record(actor=actor, action=action, target=target, **kwargs)
    if at is not None:  # created_at is auto_now_add: move it afterwards
        AuditEvent.objects.filter(pk=recorded.pk).update(created_at=at)
        recorded.refresh_from_db()
    return recorded


@pytest.fixture
def staff(client_for, admin_user):
    return client_for(admin_user)


def actions(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["action"] for row in response.json()["results"]]


# --- access -------------------------------------------------------------------------


def test_anonymous_gets_401(api_client):
    assert_error(api_client.get(AUDIT), 401, "not_authenticated")


def test_ordinary_user_gets_403(client_for, user):
    assert_error(client_for(user).get(AUDIT), 403, "permission_denied")


@pytest.mark.parametrize("role", ["power", "guest"])
def test_other_non_staff_roles_get_403(client_for, make_user, role):
    assert_error(client_for(make_user(role=role)).get(AUDIT), 403, "permission_denied")


def test_staff_sees_events_newest_first_with_their_fields(staff, admin_user, user):
    now = datetime.now(UTC)
    event(action="test.old", actor=admin_user, target=user, at=now - timedelta(days=2), data={"n": 1})
    event(action="test.new", actor=admin_user, target=user, at=now - timedelta(minutes=1))
    event(action="test.middle", actor=None, at=now - timedelta(days=1))

    response = staff.get(AUDIT, {"action": "test."})
    assert actions(response) == ["test.new", "test.middle", "test.old"]
    body = response.json()
    assert body["count"] == 3
    old = body["results"][2]
    assert old["actor_id"] == str(admin_user.pk)
    assert old["actor_email"] == admin_user.email
    assert old["target_type"] == "users.user"
    assert old["target_id"] == str(user.pk)
    assert old["target_repr"] == str(user)
    assert old["data"] == {"n": 1}
    system = body["results"][1]
    assert system["actor_id"] is None
    assert system["actor_email"] == ""


def test_list_is_paginated(staff):
    for n in range(7):
        event(action=f"page.{n}")
    first = staff.get(AUDIT, {"action": "page.", "page_size": 3}).json()
    assert first["count"] == 7
    assert len(first["results"]) == 3
    assert first["previous"] is None
    assert first["next"]
    last = staff.get(AUDIT, {"action": "page.", "page_size": 3, "page": 3}).json()
    assert len(last["results"]) == 1
    assert last["next"] is None
    pages = [staff.get(AUDIT, {"action": "page.", "page_size": 3, "page": p}).json() for p in (1, 2, 3)]
    assert len({row["id"] for page in pages for row in page["results"]}) == 7


def test_default_page_size_is_25(staff):
    for n in range(27):
        event(action=f"bulk.{n}")
    body = staff.get(AUDIT, {"action": "bulk."}).json()
    assert body["count"] == 27
    assert len(body["results"]) == 25


def test_page_past_the_end_is_a_json_404(staff):
    event(action="x.one")
    assert_error(staff.get(AUDIT, {"page": 99}), 404, "not_found")


def test_list_does_not_query_per_row(staff, django_assert_max_num_queries):
    for n in range(10):
        event(action=f"nq.{n}")
    with django_assert_max_num_queries(6):
        assert len(actions(staff.get(AUDIT, {"action": "nq."}))) == 10


# --- filters ------------------------------------------------------------------------


def test_action_filter_exact(staff):
    event(action="user.approve")
    event(action="user.approved_later")
    event(action="document.delete")
    assert actions(staff.get(AUDIT, {"action": "user.approve"})) == ["user.approve"]


def test_action_filter_prefix_ending_in_dot(staff, admin_user):
    event(action="user.approve")
    event(action="user.deny")
    event(action="userx.other")
    event(action="document.delete")
    found = set(actions(staff.get(AUDIT, {"action": "user."})))
    assert {"user.approve", "user.deny"} <= found
    assert "userx.other" not in found
    assert "document.delete" not in found
    assert all(a.startswith("user.") for a in found)


def test_action_without_dot_is_not_a_prefix(staff):
    event(action="user.approve")
    assert actions(staff.get(AUDIT, {"action": "user"})) == []


def test_actor_filter_by_email_any_case(staff, make_user):
    alice, bob = make_user(email="alice@example.org"), make_user(email="bob@example.org")
    event(action="a.by_alice", actor=alice)
    event(action="a.by_bob", actor=bob)
    assert actions(staff.get(AUDIT, {"actor": "Alice@Example.org"})) == ["a.by_alice"]


def test_actor_filter_by_id(staff, make_user):
    alice, bob = make_user(), make_user()
    event(action="a.by_alice", actor=alice)
    event(action="a.by_bob", actor=bob)
    assert actions(staff.get(AUDIT, {"actor": str(bob.pk)})) == ["a.by_bob"]


def test_actor_filter_with_an_unknown_id_finds_nothing(staff, user):
    event(action="a.something", actor=user)
    assert actions(staff.get(AUDIT, {"actor": str(uuid.uuid4())})) == []


def test_bad_actor_id_is_a_400(staff):
    error = assert_error(staff.get(AUDIT, {"actor": "12345"}), 400, "validation_error")
    assert "actor" in error["details"]


def test_target_type_and_target_id_filters(staff, make_user, admin_user):
    first, second = make_user(), make_user()
    event(action="t.first", target=first)
    event(action="t.second", target=second)
    event(action="t.nothing")
    assert set(actions(staff.get(AUDIT, {"target_type": "users.user", "action": "t."}))) == {"t.first", "t.second"}
    assert actions(staff.get(AUDIT, {"target_id": str(second.pk)})) == ["t.second"]
    assert actions(staff.get(AUDIT, {"target_type": "documents.document", "action": "t."})) == []


def test_since_and_until_window(staff):
    event(action="w.jan", at=datetime(2026, 1, 15, 12, 0, tzinfo=UTC))
    event(action="w.feb", at=datetime(2026, 2, 15, 12, 0, tzinfo=UTC))
    event(action="w.mar", at=datetime(2026, 3, 15, 12, 0, tzinfo=UTC))
    assert actions(staff.get(AUDIT, {"action": "w.", "since": "2026-02-01"})) == ["w.mar", "w.feb"]
    assert actions(staff.get(AUDIT, {"action": "w.", "until": "2026-02-01"})) == ["w.jan"]
    assert actions(staff.get(AUDIT, {"action": "w.", "since": "2026-02-01", "until": "2026-03-01"})) == ["w.feb"]
    # date-times; since is inclusive, until exclusive
    assert actions(staff.get(AUDIT, {"action": "w.", "since": "2026-02-15T12:00:00Z"})) == ["w.mar", "w.feb"]
    assert actions(staff.get(AUDIT, {"action": "w.", "until": "2026-02-15T12:00:00Z"})) == ["w.jan"]


@pytest.mark.parametrize("name", ["since", "until"])
def test_bad_date_is_a_400_validation_error(staff, name):
    error = assert_error(staff.get(AUDIT, {name: "last tuesday"}), 400, "validation_error")
    assert name in error["details"]


@pytest.mark.parametrize(("name", "value"), [("since", "2026-02-30"), ("until", "2026-13-01T10:00:00Z")])
def test_impossible_date_is_a_400_validation_error_not_a_500(staff, name, value):
    # Well-formed but impossible dates (30 February, month 13) are as invalid as prose.
    error = assert_error(staff.get(AUDIT, {name: value}), 400, "validation_error")
    assert name in error["details"]


def test_filters_combine(staff, make_user):
    alice, bob = make_user(), make_user()
    event(action="user.approve", actor=alice, target=bob)
    event(action="user.deny", actor=alice, target=bob)
    event(action="user.approve", actor=bob, target=alice)
    response = staff.get(AUDIT, {"action": "user.approve", "actor": alice.email, "target_id": str(bob.pk)})
    rows = response.json()["results"]
    assert len(rows) == 1
    assert rows[0]["actor_email"] == alice.email


# --- audit_record -------------------------------------------------------------------


def test_audit_record_in_a_request_records_request_id_and_address(admin_user, user):
    request = RequestFactory().post("/x/", HTTP_X_REQUEST_ID="req-audit-1", REMOTE_ADDR="10.1.2.3")
    recorded = []

    def view(req):
        recorded.append(audit_record(actor=admin_user, action="user.approve", target=user, request=req))
        return HttpResponse()

    response = RequestIdMiddleware(view)(request)
    assert response["X-Request-ID"] == "req-audit-1"
    saved = AuditEvent.objects.get(pk=recorded[0].pk)
    assert saved.request_id == "req-audit-1"
    assert saved.ip_address == "10.1.2.3"
    assert saved.actor_email == admin_user.email


def test_api_action_records_the_request_id_shown_in_the_audit_list(staff, admin_user, make_user):
    pending = make_user(status="pending")
    response = staff.post(f"/api/v1/admin/users/{pending.pk}/approve/", HTTP_X_REQUEST_ID="approve-req-7")
    assert response.status_code == 200, response.content
    assert response["X-Request-ID"] == "approve-req-7"
    rows = staff.get(AUDIT, {"target_id": str(pending.pk)}).json()["results"]
    approvals = [r for r in rows if r["request_id"] == "approve-req-7"]
    assert approvals, rows
    assert approvals[0]["actor_email"] == admin_user.email
    assert approvals[0]["action"].startswith("user.")


def test_audit_record_outside_a_request_has_no_request_id(user):
    recorded = audit_record(actor=None, action="system.task", target=user)
    assert recorded.request_id == ""
    assert recorded.actor_id is None
    assert recorded.ip_address is None
    assert recorded.target_id == str(user.pk)
