"""The client's real address behind trusted proxies (THEO_BEHIND_PROXY, THEO_TRUSTED_PROXIES):
a spoofed X-Forwarded-For neither picks the address rate limits count nor breaks a request."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from apps.core.models import AuditEvent
from apps.core.proxies import (
    InvalidTrustedProxies,
    ProxyTrust,
    client_address,
    parse_trusted_proxies,
    resolve_client,
    scope_client_address,
)
from tests.users.factories import PASSWORD

TOKEN = "/api/v1/auth/token/"
LOGIN = "/accounts/login/"
REGISTER = "/api/v1/auth/register/"

ONE = ProxyTrust(count=1)
TWO = ProxyTrust(count=2)
NETS = parse_trusted_proxies("10.0.0.0/8, 192.0.2.7", behind_proxy=True)


@pytest.mark.parametrize(
    ("trust", "peer", "forwarded", "client"),
    [
        # No proxy: the peer, whatever the headers say.
        (ProxyTrust(), "203.0.113.5", "1.2.3.4", "203.0.113.5"),
        # One proxy: the address it appended (rightmost); the client's own entries are ignored.
        (ONE, "10.0.0.2", "6.6.6.6, 203.0.113.5", "203.0.113.5"),
        (ONE, "10.0.0.2", "203.0.113.5", "203.0.113.5"),
        (ONE, "10.0.0.2", "", "10.0.0.2"),  # no header: did not come through the proxy
        (ONE, "10.0.0.2", "x", "10.0.0.2"),  # garbage where the proxy writes: the proxy
        (ONE, "10.0.0.2", "x, 203.0.113.5", "203.0.113.5"),
        (ONE, "10.0.0.2", "203.0.113.5:4711", "203.0.113.5"),
        (ONE, "10.0.0.2", "[2001:db8::1]:443", "2001:db8::1"),
        (ONE, "10.0.0.2", "::ffff:203.0.113.5", "203.0.113.5"),
        (ONE, "10.0.0.2", ",,,", "10.0.0.2"),
        (ONE, "10.0.0.2", "1.2.3.4," * 10_000 + "203.0.113.5", "203.0.113.5"),
        # Two proxies: the second entry from the right; too few entries: the peer.
        (TWO, "10.0.0.2", "6.6.6.6, 203.0.113.5, 10.0.0.9", "203.0.113.5"),
        (TWO, "10.0.0.2", "203.0.113.5", "10.0.0.2"),
        # Networks: walk left while the hop is trusted.
        (NETS, "10.0.0.2", "6.6.6.6, 203.0.113.5, 10.1.1.1", "203.0.113.5"),
        (NETS, "192.0.2.7", "203.0.113.5", "203.0.113.5"),
        (NETS, "198.51.100.1", "6.6.6.6", "198.51.100.1"),  # peer not a proxy: headers ignored
        (NETS, "10.0.0.2", "10.0.0.3", "10.0.0.3"),  # all internal: the leftmost
        (NETS, "10.0.0.2", "x, 10.0.0.3", "10.0.0.3"),
        (NETS, None, "203.0.113.5", "203.0.113.5"),  # Unix socket peer: local, trusted
        (NETS, "garbage", "203.0.113.5", None),
    ],
)
def test_resolve_client(trust, peer, forwarded, client):
    resolved = resolve_client(peer, forwarded, trust)
    assert (str(resolved) if resolved is not None else None) == client


@pytest.mark.parametrize(
    ("value", "behind", "expected"),
    [
        ("", False, ProxyTrust()),
        ("", True, ProxyTrust(count=1)),
        ("2", True, ProxyTrust(count=2)),
        ("3", False, ProxyTrust()),  # the check (theo.E011) reports the contradiction
    ],
)
def test_parse_trusted_proxies(value, behind, expected):
    assert parse_trusted_proxies(value, behind_proxy=behind) == expected


@pytest.mark.parametrize("value", ["0", "17", "10.0.0.0/33", "proxy.example.org", "1.2.3.4, nope", ","])
def test_invalid_trusted_proxies_say_what_is_wrong(value):
    with pytest.raises(InvalidTrustedProxies):
        parse_trusted_proxies(value, behind_proxy=True)


def test_scope_client_address_reads_the_raw_peer_and_headers(settings):
    settings.BEHIND_PROXY, settings.TRUSTED_PROXIES = True, "10.0.0.0/8"
    scope = {"client": ["10.0.0.2", 5000], "headers": [(b"x-forwarded-for", b"6.6.6.6, 203.0.113.5")]}
    assert scope_client_address(scope) == "203.0.113.5"
    assert scope_client_address({"client": ["198.51.100.1", 1], "headers": scope["headers"]}) == "198.51.100.1"


def test_client_address_without_a_proxy_ignores_the_header(settings):
    settings.BEHIND_PROXY, settings.TRUSTED_PROXIES = False, ""
    request = RequestFactory().get("/", REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR="6.6.6.6")
    assert client_address(request) == "203.0.113.5"


# --- through the real views ---------------------------------------------------------


@pytest.fixture
def behind_one_proxy(settings):
    settings.BEHIND_PROXY, settings.TRUSTED_PROXIES = True, ""
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login_address": "3/h", "register": "2/h"}
    return settings


def sign_in(api_client, email, password, forwarded, peer="10.0.0.2"):
    return api_client.post(
        TOKEN, {"email": email, "password": password}, format="json", REMOTE_ADDR=peer, HTTP_X_FORWARDED_FOR=forwarded
    )


@pytest.mark.django_db
def test_a_random_leftmost_address_does_not_escape_the_sign_in_limit(api_client, behind_one_proxy, make_user):
    users = [make_user() for _ in range(4)]
    for n, user in enumerate(users[:3]):
        response = sign_in(api_client, user.email, "wrong password!", f"198.51.100.{n}, 203.0.113.5")
        assert response.status_code == 401
    # A fresh spoofed leftmost address changes nothing: the proxy saw 203.0.113.5.
    response = sign_in(api_client, users[3].email, "wrong password!", "198.51.100.99, 203.0.113.5")
    assert response.status_code == 429, response.content
    # Someone else behind the same proxy is not affected.
    assert sign_in(api_client, users[3].email, PASSWORD, "203.0.113.77").status_code == 200


@pytest.mark.django_db
def test_a_random_leftmost_address_does_not_escape_the_registration_limit(api_client, behind_one_proxy):
    for n in range(3):
        response = api_client.post(
            REGISTER,
            {"email": f"r{n}@example.org", "password": PASSWORD},
            format="json",
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}, 203.0.113.5",
        )
        assert response.status_code == (201 if n < 2 else 429), response.content


@pytest.mark.django_db
@pytest.mark.parametrize("behind", [False, True])
@pytest.mark.parametrize("forwarded", ["x", "", ",", "[::1", "999.1.1.1", "unknown, x:y:z", "\u00e9"])
def test_a_garbage_forwarded_header_never_500s(client, api_client, settings, user, behind, forwarded):
    settings.BEHIND_PROXY, settings.TRUSTED_PROXIES = behind, ""
    headers = {"HTTP_X_FORWARDED_FOR": forwarded}
    assert sign_in(api_client, user.email, PASSWORD, forwarded).status_code == 200
    assert client.post(LOGIN, {"email": user.email, "password": "wrong password!"}, **headers).status_code == 400
    response = api_client.post(REGISTER, {"email": "g@example.org", "password": PASSWORD}, format="json", **headers)
    assert response.status_code in (201, 409)
    assert client.get("/health/live", **headers).status_code == 200


@pytest.mark.django_db
def test_the_audit_trail_records_the_address_the_proxy_saw(api_client, behind_one_proxy, user):
    assert sign_in(api_client, user.email, PASSWORD, "6.6.6.6, 203.0.113.5").status_code == 200
    event = AuditEvent.objects.get(action="user.login", target_id=str(user.pk))
    assert event.data["ip"] == "203.0.113.5"


@pytest.mark.django_db
def test_forwarded_proto_from_a_peer_that_is_not_a_trusted_proxy_is_ignored(client, settings):
    settings.BEHIND_PROXY, settings.TRUSTED_PROXIES = True, "10.0.0.0/8"
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    # From the proxy: https is believed, no redirect.
    assert client.get(LOGIN, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_PROTO="https").status_code == 200
    # From anyone else: the claim is dropped, so plain HTTP is redirected to HTTPS.
    response = client.get(LOGIN, REMOTE_ADDR="198.51.100.1", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 301


def test_the_request_log_binds_the_real_client_address(settings):
    """django-structlog's own guess (ipware) believes the leftmost forwarded address."""
    import structlog

    from apps.core.middleware import _log_real_client_address

    settings.BEHIND_PROXY, settings.TRUSTED_PROXIES = True, ""
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.5")
    structlog.contextvars.bind_contextvars(ip="6.6.6.6")
    try:
        _log_real_client_address(request=request, logger=None, log_kwargs={})
        assert structlog.contextvars.get_contextvars()["ip"] == "203.0.113.5"
    finally:
        structlog.contextvars.unbind_contextvars("ip")
