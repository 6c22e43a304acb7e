"""The client's address: X-Forwarded-For is believed only when the request came through a proxy we trust.

TRUSTED_PROXIES lists addresses or networks (CIDR) of reverse proxies in front of the portal; by default none, so
the header is ignored and a caller cannot pick a new identity (for throttles and the audit log) per request.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]):
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())


def _trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in _networks(tuple(settings.TRUSTED_PROXIES)))


def client_ip(request) -> str | None:
    """REMOTE_ADDR, or, when that is a trusted proxy, the nearest address in X-Forwarded-For that is not one."""
    if request is None:
        return None
    remote = request.META.get("REMOTE_ADDR") or None
    if not remote or not _trusted(remote):
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return remote  # a mangled header: keep the proxy's own address rather than guess
        if not _trusted(hop):
            return hop
    return hops[0] if hops else remote
