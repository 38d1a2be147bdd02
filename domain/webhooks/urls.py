"""Where webhooks may go: http(s) URLs whose host resolves only to public addresses, unless
the operator allows private ones (``SFD_WEBHOOK_ALLOW_PRIVATE``). Checked when an endpoint
is created and again before each delivery (a name may resolve elsewhere later)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from domain.errors import Invalid


def _blocked(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
        or not ip.is_global
    )


def check_url(url: str, allow_private: bool) -> str:
    """``url`` if webhooks may be sent there; :class:`Invalid` (``webhook_url_not_allowed``)
    otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("a webhook URL must be http:// or https:// with a host", code="invalid_url")
    if parts.username or parts.password:
        raise Invalid("a webhook URL must not carry credentials", code="invalid_url")
    if allow_private:
        return url
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (OSError, ValueError):
        raise Invalid(
            f"the webhook host {parts.hostname!r} does not resolve", code="webhook_url_unresolved"
        ) from None
    if any(_blocked(str(info[4][0])) for info in infos):
        raise Invalid(
            f"the webhook host {parts.hostname!r} resolves to a loopback, link-local or private "
            "address; webhooks go to public addresses only",
            code="webhook_url_not_allowed",
        )
    return url
