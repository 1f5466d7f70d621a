"""The client's real address, behind zero or more reverse proxies.

`client_address(request)` (HTTP) and `scope_client_address(scope)` (ASGI, WebSockets) are
the one answer to "who is asking": rate limits, the audit trail, the request log and
loopback-only endpoints all use them, never REMOTE_ADDR or X-Forwarded-For directly.

How much of X-Forwarded-For to believe (settings TRUSTED_PROXIES / BEHIND_PROXY):

- not behind a proxy: the TCP peer; every X-Forwarded-* header is ignored.
- `THEO_TRUSTED_PROXIES=N`: N proxies stand in front of Theo, each appending the address
  it saw; the client is the N-th entry from the right. A header with fewer entries did
  not pass all N proxies, so the peer's own address is used.
- `THEO_TRUSTED_PROXIES=10.0.0.0/8,192.0.2.7`: walk from the peer leftwards while the hop
  is a trusted proxy; the first hop that is not one is the client. A peer that is not a
  trusted proxy is the client itself (and its X-Forwarded-* headers are dropped, see
  middleware.ForwardedHeadersMiddleware).
- `THEO_BEHIND_PROXY=true` alone: one proxy (`THEO_TRUSTED_PROXIES=1`).

Entries left of the trusted part were written by the client and are never read, so
`X-Forwarded-For: <anything>` cannot choose the address. Garbage never raises: an entry
that is not an IP address where a trusted proxy should have written one counts as the
nearest trusted hop's address (a correct proxy never writes one).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.http import HttpRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_PROXY_COUNT = 16
MAX_HOPS_READ = 64  # a longer header is cut from the left: only the right end matters


class InvalidTrustedProxies(ValueError):
    """THEO_TRUSTED_PROXIES is neither a proxy count nor a list of addresses/networks."""


@dataclass(frozen=True)
class ProxyTrust:
    count: int = 0
    networks: tuple[IPNetwork, ...] = ()

    @property
    def enabled(self) -> bool:
        return bool(self.count or self.networks)

    def trusts(self, address: IPAddress | None) -> bool:
        """A peer without an address is a Unix socket: only local processes reach it."""
        if address is None:
            return True
        return any(address in network for network in self.networks)


NO_PROXY = ProxyTrust()


def parse_trusted_proxies(value: str, *, behind_proxy: bool) -> ProxyTrust:
    """Raises InvalidTrustedProxies with a message that says what is wrong."""
    value = (value or "").strip()
    if not behind_proxy:
        return NO_PROXY
    if not value:
        return ProxyTrust(count=1)
    if value.isdigit():
        count = int(value)
        if not 1 <= count <= MAX_PROXY_COUNT:
            raise InvalidTrustedProxies(f"a proxy count must be between 1 and {MAX_PROXY_COUNT}, not {count}")
        return ProxyTrust(count=count)
    networks = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise InvalidTrustedProxies(f"{part!r} is not an IP address or CIDR network") from None
    if not networks:
        raise InvalidTrustedProxies("no address or network given")
    return ProxyTrust(networks=tuple(networks))


@lru_cache(maxsize=8)
def _trust_for(value: str, behind_proxy: bool) -> ProxyTrust:
    try:
        return parse_trusted_proxies(value, behind_proxy=behind_proxy)
    except InvalidTrustedProxies:
        return NO_PROXY  # the system check (theo.E010) stops start-up; never trust by accident


def current_trust() -> ProxyTrust:
    return _trust_for(getattr(settings, "TRUSTED_PROXIES", ""), bool(getattr(settings, "BEHIND_PROXY", False)))


def parse_address(text: str | None) -> IPAddress | None:
    """An IP address from one header entry or peer: accepts `[v6]:port`, `v4:port`, a zone
    id, IPv4-mapped IPv6; anything else (garbage, `unknown`, a host name) is None."""
    if not text:
        return None
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    text = text.split("%", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def resolve_client(peer: str | None, forwarded_for: str, trust: ProxyTrust) -> IPAddress | None:
    """The client's address from the TCP peer and the X-Forwarded-For value."""
    peer_address = parse_address(peer)
    if not trust.enabled:
        return peer_address
    hops = forwarded_for.split(",")[-MAX_HOPS_READ:] if forwarded_for else []
    if trust.count:
        if len(hops) < trust.count:
            return peer_address
        return parse_address(hops[-trust.count]) or peer_address
    if (peer and peer_address is None) or not trust.trusts(peer_address):
        return peer_address
    current = peer_address
    for hop in reversed(hops):
        address = parse_address(hop)
        if address is None:
            break
        current = address
        if not trust.trusts(address):
            break
    return current


def peer_is_trusted_proxy(peer: str | None) -> bool:
    """Whether X-Forwarded-* headers from this peer may be believed at all."""
    trust = current_trust()
    if not trust.enabled:
        return False
    address = parse_address(peer)
    return bool(trust.count) or (not (peer and address is None) and trust.trusts(address))


def client_address(request: HttpRequest) -> str:
    """The client's real address as the last trusted proxy saw it ("" if unknown: a Unix
    socket without a proxy). Use this for anything that depends on who is asking."""
    address = resolve_client(
        request.META.get("REMOTE_ADDR"), request.META.get("HTTP_X_FORWARDED_FOR", ""), current_trust()
    )
    return str(address) if address is not None else ""


def scope_client_address(scope: dict[str, Any]) -> str:
    """client_address for an ASGI scope (WebSocket consumers, ASGI middleware). Needs the
    raw peer: daphne must run without --proxy-headers (it would trust the leftmost entry)."""
    client = scope.get("client")
    peer = client[0] if client else None
    forwarded = b",".join(value for name, value in scope.get("headers", []) if name.lower() == b"x-forwarded-for")
    address = resolve_client(peer, forwarded.decode("latin-1"), current_trust())
    return str(address) if address is not None else ""
