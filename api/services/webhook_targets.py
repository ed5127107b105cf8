"""Where a webhook may point: http(s) URLs whose host is a global address, unless settings
allow more. A webhook is registered by an admin, but the service makes the request from inside
its own network: without this rule a webhook could reach the database port, a cloud metadata
endpoint (169.254.169.254) or an admin page on the loopback interface (request forgery).

Refused, by default: loopback (127.0.0.0/8, ::1, `localhost`), private (10/8, 172.16/12,
192.168/16, fc00::/7), shared (100.64/10), link-local (169.254/16, fe80::/10), reserved,
documentation and every other address Python's `ipaddress` does not call global; IPv4 written
inside IPv6 (::ffff:10.0.0.1, 64:ff9b::a00:1, 2002:a00:1::) is judged as the IPv4 address.

Allowed besides: addresses in `FIELDROUTE_WEBHOOK_ALLOWED_NETWORKS`, or every non-global one
with `FIELDROUTE_WEBHOOK_ALLOW_PRIVATE`. Never allowed: the unspecified address (0.0.0.0, ::,
which connects to the local host) and multicast or broadcast.

Checked twice: `url_refusal` when the webhook is registered (the URL's literal address, or
`localhost`; names are not looked up then), and `delivery_address` before every delivery,
which looks the name up and refuses if **any** of its addresses is refused; the sender then
connects to that checked address itself, so a name that changes between the check and the
connection (DNS rebinding) cannot take it elsewhere.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from api.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}
#: the prefixes whose addresses are IPv4 addresses written in IPv6 (NAT64, RFC 6052)
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
BROADCAST = ipaddress.IPv4Address("255.255.255.255")
LOOPBACK = (ipaddress.IPv4Address("127.0.0.1"), ipaddress.IPv6Address("::1"))
HINT = "set FIELDROUTE_WEBHOOK_ALLOWED_NETWORKS or FIELDROUTE_WEBHOOK_ALLOW_PRIVATE to allow it"


class TargetRefused(Exception):
    """A delivery's target that may not be reached, or cannot be looked up."""


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, NAT64, 6to4), if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def address_refusal(address: IPAddress, settings: Settings) -> str | None:
    """Why `address` may not be a webhook's target under `settings`; None if it may."""
    inner = embedded_ipv4(address) or address
    if inner.is_unspecified or address.is_unspecified:
        return f"{address} is the unspecified address"
    if inner.is_multicast or address.is_multicast or inner == BROADCAST:
        return f"{address} is a multicast or broadcast address"
    networks = settings.webhook_networks()
    if any(a in n for n in networks for a in (address, inner) if a.version == n.version):
        return None
    if inner.is_global:  # an IPv6 address carrying IPv4 is judged by the IPv4 one
        return None
    if settings.webhook_allow_private:
        return None
    return f"{address} is {_kind(inner)} address, not a global one ({HINT})"


def _kind(address: IPAddress) -> str:
    if address.is_loopback:
        return "a loopback"
    if address.is_link_local:
        return "a link-local"
    if address.is_private:
        return "a private"
    if address.is_reserved:
        return "a reserved"
    return "a non-global"


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _is_localhost(host: str) -> bool:
    name = host.lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


def url_refusal(url: str, settings: Settings) -> str | None:
    """Why a webhook may not be registered with `url` (its scheme, or its host's literal
    address, `localhost` meaning 127.0.0.1 and ::1); None if it may. Names are looked up
    only when delivering (`delivery_address`)."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in SCHEMES:
        return "must be an http or https URL"
    host = parts.hostname or ""
    if not host:
        return "must name a host"
    address = _literal(host)
    if address is not None:
        return address_refusal(address, settings)
    if _is_localhost(host):
        for loopback in LOOPBACK:
            if (why := address_refusal(loopback, settings)) is not None:
                return f"{host} is the local host: {why}"
    return None


def resolve(host: str, port: int) -> list[str]:
    """The addresses `host` has for a TCP connection (the system resolver; tests replace it)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def delivery_address(url: str, settings: Settings) -> str:
    """The checked address to connect to for a delivery to `url`: its literal address, or the
    first one its host name resolves to now. `TargetRefused` (with a message fit for
    `last_error`: addresses, never the URL) if the scheme is not http(s), the name cannot be
    looked up, or any of its addresses is refused."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise TargetRefused("target refused: not an http or https URL")
    host = parts.hostname or ""
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        raise TargetRefused("target refused: the URL's port is not valid") from None
    literal = _literal(host)
    if literal is not None:
        found = [literal]
    else:
        try:
            found = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolve(host, port)]
        except (OSError, UnicodeError, ValueError):
            raise TargetRefused("DNS lookup failed: the host name has no address") from None
        if not found:
            raise TargetRefused("DNS lookup failed: the host name has no address")
    for address in found:
        why = address_refusal(address, settings)
        if why is not None:
            raise TargetRefused(f"target refused: {why}")
    return str(found[0])
