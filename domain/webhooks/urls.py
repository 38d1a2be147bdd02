"""Where webhooks may go: http(s) URLs whose host resolves only to public addresses, unless
the operator allows private ones (``SFD_WEBHOOK_ALLOW_PRIVATE``). Checked when an endpoint
is created and again before each delivery, which is then sent to the address checked (a name
may resolve elsewhere later: DNS rebinding)."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

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


def _public_addresses(hostname: str, port: int) -> list[str]:
    """Every address ``hostname`` resolves to; :class:`Invalid` if it does not resolve or any
    address is not public."""
    try:
        infos = socket.getaddrinfo(hostname, port, proto=socket.IPPROTO_TCP)
    except (OSError, ValueError):
        raise Invalid(
            f"the webhook host {hostname!r} does not resolve", code="webhook_url_unresolved"
        ) from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses or any(_blocked(address) for address in addresses):
        raise Invalid(
            f"the webhook host {hostname!r} resolves to a loopback, link-local or private "
            "address; webhooks go to public addresses only",
            code="webhook_url_not_allowed",
        )
    return addresses


def _checked_form(url: str) -> httpx.URL:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("a webhook URL must be http:// or https:// with a host", code="invalid_url")
    if parts.username or parts.password:
        raise Invalid("a webhook URL must not carry credentials", code="invalid_url")
    try:
        return httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise Invalid(f"not a valid webhook URL: {exc}", code="invalid_url") from None


def check_url(url: str, allow_private: bool) -> str:
    """``url`` if webhooks may be sent there; :class:`Invalid` (``webhook_url_not_allowed``)
    otherwise."""
    pin(url, allow_private)
    return url


@dataclass(frozen=True)
class Pinned:
    """A webhook request aimed at the address its host was checked at. Sending to that address
    (with the host name kept in ``Host`` and as TLS's server name, which the certificate is
    checked against) closes DNS rebinding: a name that resolves to a private address a moment
    after the check cannot redirect the request."""

    url: httpx.URL
    headers: dict[str, str]
    extensions: dict[str, str]


def pin(url: str, allow_private: bool) -> Pinned:
    """Check ``url`` as :func:`check_url` does and aim the request at the checked address
    (with private addresses allowed, no check is made and the URL is used as it is)."""
    parsed = _checked_form(url)
    if allow_private:
        return Pinned(parsed, {}, {})
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    address = _public_addresses(parsed.host, port)[0].split("%", 1)[0]
    name = parsed.raw_host.decode("ascii")  # IDNA-encoded
    extensions = {"sni_hostname": name} if parsed.scheme == "https" else {}
    # Host keeps the name (and the port, if the URL gave one); httpx brackets an IPv6 address.
    headers = {"Host": parsed.netloc.decode("ascii")}
    return Pinned(parsed.copy_with(host=address), headers, extensions)
