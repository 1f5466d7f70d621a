"""The one error format, {"error": {"code", "message", "details"}}, for every kind of error,
and X-Request-ID on every response."""

from __future__ import annotations

import re
import uuid

import pytest
from django.test import Client

from tests.core.boom_urls import SECRET_DETAIL
from tests.helpers import assert_error, bearer
from tests.users.factories import PASSWORD

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register/"
TOKEN = "/api/v1/auth/token/"
ME = "/api/v1/auth/me/"
AUDIT = "/api/v1/audit/"
GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")


# --- 400 ----------------------------------------------------------------------------


def test_invalid_data_is_a_400_validation_error_with_field_details(api_client):
    response = api_client.post(REGISTER, {"email": "not-an-email", "password": "x"}, format="json")
    error = assert_error(response, 400, "validation_error")
    assert "email" in error["details"]
    assert all(isinstance(m, str) for m in error["details"]["email"])


def test_missing_fields_are_named_in_the_details(api_client):
    error = assert_error(api_client.post(REGISTER, {}, format="json"), 400, "validation_error")
    assert {"email", "password"} <= set(error["details"])


def test_malformed_json_is_a_400_parse_error(api_client):
    response = api_client.post(REGISTER, data='{"email": "a@example.org",', content_type="application/json")
    error = assert_error(response, 400, "parse_error")
    assert error["details"] == {}


def test_disallowed_host_under_api_is_a_json_400(api_client):
    response = api_client.get(ME, HTTP_HOST="evil.example.com")
    assert_error(response, 400, "bad_request")


# --- 401 / 403 ----------------------------------------------------------------------


def test_anonymous_request_is_a_401_not_authenticated(api_client):
    response = api_client.get(ME)
    error = assert_error(response, 401, "not_authenticated")
    assert error["details"] == {}
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_garbage_bearer_token_is_a_401_token_not_valid(api_client):
    response = api_client.get(ME, HTTP_AUTHORIZATION="Bearer this.is.garbage")
    assert_error(response, 401, "token_not_valid")
    assert "WWW-Authenticate" in response


def test_non_staff_on_a_staff_endpoint_is_a_403_permission_denied(client_for, user):
    error = assert_error(client_for(user).get(AUDIT), 403, "permission_denied")
    assert "staff" in error["message"].lower()


# --- 404 ----------------------------------------------------------------------------


def test_unknown_api_path_is_a_json_404(api_client):
    response = api_client.get("/api/v1/no-such-thing/")
    error = assert_error(response, 404, "not_found")
    assert response["Content-Type"] == "application/json"
    assert error["details"]["path"] == "/api/v1/no-such-thing/"
    assert "hint" not in error["details"]


def test_api_path_without_trailing_slash_hints_at_the_slash(api_client, user):
    response = api_client.get("/api/v1/auth/me", **bearer(user))
    error = assert_error(response, 404, "not_found")
    assert "/api/v1/auth/me/" in error["details"]["hint"]
    assert "slash" in error["details"]["hint"]


def test_unknown_path_without_trailing_slash_gets_no_hint(api_client):
    error = assert_error(api_client.get("/api/v1/no-such-thing"), 404, "not_found")
    assert "hint" not in error["details"]


def test_post_to_api_path_without_trailing_slash_hints_at_the_slash():
    # A real API client sends no CSRF cookie: a typo'd path must still answer 404 + hint,
    # not a CSRF failure (the POST-without-slash mistake is the one the hint is for).
    client = Client(enforce_csrf_checks=True)
    response = client.post(TOKEN.rstrip("/"), {"email": "a@example.org", "password": PASSWORD}, "application/json")
    error = assert_error(response, 404, "not_found")
    assert TOKEN in error["details"]["hint"]


def test_unknown_api_path_is_json_even_with_debug(api_client, settings):
    settings.DEBUG = True
    for path in ("/api/v1/no-such-thing/", "/api/v1/auth/me", "/api/nothing-here"):
        response = api_client.get(path)
        assert response["Content-Type"] == "application/json", path
        assert_error(response, 404, "not_found")
    assert "hint" in api_client.get("/api/v1/auth/me").json()["error"]["details"]


def test_unknown_object_is_a_404_not_found(client_for, admin_user):
    response = client_for(admin_user).get(f"/api/v1/admin/users/{uuid.uuid4()}/")
    error = assert_error(response, 404, "not_found")
    assert error["message"] == "No such user."


def test_malformed_object_id_is_a_json_404(client_for, admin_user):
    assert_error(client_for(admin_user).get("/api/v1/admin/users/not-a-uuid/"), 404, "not_found")


def test_unknown_page_outside_api_is_html(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert "X-Request-ID" in response


# --- 405 / 415 / 429 ----------------------------------------------------------------


def test_wrong_method_is_a_405_method_not_allowed(client_for, user):
    response = client_for(user).delete(ME)
    error = assert_error(response, 405, "method_not_allowed")
    assert "DELETE" in error["message"]
    assert "GET" in response["Allow"]


def test_unsupported_content_type_is_a_415(api_client):
    response = api_client.post(REGISTER, data="email=a@example.org", content_type="text/plain")
    error = assert_error(response, 415, "unsupported_media_type")
    assert "text/plain" in error["message"]


def test_too_many_requests_is_a_429_with_retry_after(api_client, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "register": "1/h"}
    first = api_client.post(REGISTER, {"email": "one@example.org", "password": PASSWORD}, format="json")
    assert first.status_code == 201
    response = api_client.post(REGISTER, {"email": "two@example.org", "password": PASSWORD}, format="json")
    error = assert_error(response, 429, "rate_limited")
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= 3600
    assert error["details"]["retry_after"] == retry_after


# --- 500 ----------------------------------------------------------------------------


@pytest.fixture
def boom_client(settings) -> Client:
    settings.ROOT_URLCONF = "tests.core.boom_urls"
    return Client(raise_request_exception=False)


def _assert_no_leak(response) -> None:
    text = response.content.decode()
    for leak in ("Traceback", "RuntimeError", SECRET_DETAIL, "boom_urls", 'File "'):
        assert leak not in text, text


@pytest.mark.parametrize("path", ["/api/v1/boom/", "/api/v1/plain-boom/"])
def test_unhandled_exception_is_a_json_500_without_traceback(boom_client, path):
    response = boom_client.get(path, HTTP_X_REQUEST_ID="trace-500")
    error = assert_error(response, 500, "server_error")
    assert response["Content-Type"] == "application/json"
    assert response["X-Request-ID"] == "trace-500"
    assert error["details"] == {}
    assert "try again" in error["message"]
    _assert_no_leak(response)


def test_unhandled_exception_outside_api_is_an_html_500_page(boom_client):
    response = boom_client.get("/plain-boom/")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    assert "X-Request-ID" in response
    _assert_no_leak(response)


def test_other_urls_still_work_under_the_test_urlconf(boom_client):
    assert boom_client.get("/health/live").status_code == 200


# --- X-Request-ID -------------------------------------------------------------------


def test_valid_request_id_is_echoed(api_client):
    response = api_client.get("/health/live", HTTP_X_REQUEST_ID="abc-123")
    assert response.status_code == 200
    assert response["X-Request-ID"] == "abc-123"


@pytest.mark.parametrize("bad", ["x" * 300, "has spaces in it", "semi;colon", "<script>"])
def test_invalid_request_id_is_replaced(api_client, bad):
    response = api_client.get("/health/live", HTTP_X_REQUEST_ID=bad)
    assert response["X-Request-ID"] != bad
    assert GENERATED_ID.match(response["X-Request-ID"])


def test_request_id_is_generated_when_absent_and_unique(api_client):
    first = api_client.get("/health/live")["X-Request-ID"]
    second = api_client.get("/health/live")["X-Request-ID"]
    assert GENERATED_ID.match(first) and GENERATED_ID.match(second)
    assert first != second


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/health/live", 200),  # success
        (ME, 401),  # API error
        ("/api/v1/nope/", 404),  # unknown API path
        ("/", 200),  # page
        ("/accounts/login/", 200),  # page
        ("/no-such-page/", 404),  # page error
    ],
)
def test_request_id_is_on_every_response(client, path, status):
    response = client.get(path, HTTP_X_REQUEST_ID="req-42.a:b_c")
    assert response.status_code == status
    assert response["X-Request-ID"] == "req-42.a:b_c"


def test_request_id_is_on_success_responses_of_the_api(client_for, user):
    response = client_for(user).get(ME, HTTP_X_REQUEST_ID="abc-123")
    assert response.status_code == 200
    assert response["X-Request-ID"] == "abc-123"
