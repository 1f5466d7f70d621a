"""A NUL character anywhere in the request line or headers is refused with 400
`invalid_input` naming where it was (PostgreSQL cannot store one: it was a 500)."""

from __future__ import annotations

import pytest

from tests.helpers import assert_error, bearer

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/documents/?q=grace%00", "q"),
        ("/api/v1/knowledge/entries/?tag=%00", "tag"),
        ("/api/v1/admin/users/?q=a%00b", "q"),
        ("/api/v1/audit/?action=user.%00", "action"),
        ("/api/v1/search/?q=%00", "q"),
    ],
)
def test_a_nul_in_a_query_parameter_is_invalid_input(client, admin_user, url, field):
    response = client.get(url, **bearer(admin_user))
    error = assert_error(response, 400, "invalid_input")
    assert error["details"] == {field: ["Null characters are not allowed."]}


def test_a_nul_in_the_path_is_invalid_input(client, user):
    error = assert_error(client.get("/api/v1/documents/%00/", **bearer(user)), 400, "invalid_input")
    assert error["details"] == {"path": ["Null characters are not allowed."]}


def test_a_nul_in_a_header_is_invalid_input(client, user):
    response = client.get("/api/v1/auth/me/", HTTP_X_CLIENT="a\x00b", **bearer(user))
    error = assert_error(response, 400, "invalid_input")
    assert error["details"] == {"header:X-Client": ["Null characters are not allowed."]}


def test_a_nul_in_a_body_field_is_a_validation_error(client, user):
    response = client.patch(
        "/api/v1/auth/me/", {"display_name": "Ann\x00"}, content_type="application/json", **bearer(user)
    )
    error = assert_error(response, 400, "validation_error")
    assert "display_name" in error["details"]
    user.refresh_from_db()
    assert "\x00" not in user.display_name


def test_pages_refuse_it_too(client, user):
    client.force_login(user)
    response = client.get("/search/?q=%00")
    assert response.status_code == 400
    assert "X-Request-ID" in response
