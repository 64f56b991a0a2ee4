"""Which image URLs Nanke may fetch, and which addresses it may connect to (torch-free, pure).

API (issue 15):

- `check_url(text, policy) -> ImageUrl`: the URL's scheme (https only unless
  `policy.https_only` is off), host and port, with numeric hosts normalised: decimal
  (`2130706433`), octal (`0177.0.0.1`), hex (`0x7f.1`) and short (`127.1`) IPv4 forms are read
  the way browsers and libc read them, so they are checked as the address they really are.
  Raises `UrlRefused` (member-safe message).
- `check_address(ip, policy)`: refuses loopback, private, shared (CGNAT), link-local (cloud
  metadata 169.254.169.254, fd00:ec2::254), multicast, reserved, unspecified and documentation
  addresses, for IPv4 and IPv6 alike, including IPv4 embedded in IPv6 (mapped `::ffff:a.b.c.d`,
  compatible, NAT64 `64:ff9b::/96`, 6to4, Teredo). `policy.allowed_addresses` (a test setting)
  lets exactly those addresses through; nothing else does.
- `is_discord_attachment(url)`: a Discord CDN attachment link (cdn.discordapp.com,
  media.discordapp.net `/attachments/…`), which Nanke stores as an attachment.

The fetch itself (DNS once, connection pinned to the checked address, redirects re-checked) is
`pipeline/image_fetch.py`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_URL_LENGTH = 2048
_DISCORD_CDN = {"cdn.discordapp.com", "media.discordapp.net"}
_HOST_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9-]{1,63})*\.?")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_EXTRA_BLOCKED = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "100.64.0.0/10",  # shared address space (CGNAT; Alibaba's metadata 100.100.100.200)
        "192.0.0.0/24",
        "198.18.0.0/15",
        "255.255.255.255/32",
        "64:ff9b:1::/48",
        "fd00:ec2::254/128",
    )
)


class UrlRefused(ValueError):
    """A URL or address Nanke will not fetch; `str()` is safe to show the member."""


@dataclass(frozen=True)
class FetchPolicy:
    """What the fetcher allows; `pipeline.settings.ImageFetchSettings` builds it."""

    https_only: bool = True
    # Tests only: these exact addresses pass (a local test server); nothing else does.
    allowed_addresses: frozenset[IPAddress] = frozenset()
    max_redirects: int = 3
    timeout_s: float = 10.0
    max_bytes: int = 20 * 2**20


@dataclass(frozen=True)
class ImageUrl:
    url: str  # as given
    scheme: str  # "https" or "http"
    host: str  # lower-case name, or the normalised address
    port: int
    target: str  # path and query, sent in the request line
    literal: IPAddress | None  # the host was an address, not a name


def _ipv4_part(part: str) -> int:
    if re.fullmatch(r"0[xX][0-9a-fA-F]*", part):
        return int(part[2:] or "0", 16)
    if re.fullmatch(r"0[0-7]+", part):
        return int(part, 8)
    if re.fullmatch(r"[0-9]+", part):
        return int(part, 10)
    raise ValueError(part)


def parse_numeric_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The address a numeric host means (WHATWG / inet_aton rules), or None for a name."""
    parts = host.rstrip(".").split(".")
    if not 1 <= len(parts) <= 4 or not all(parts):
        return None
    try:
        numbers = [_ipv4_part(p) for p in parts]
    except ValueError:
        return None
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        raise UrlRefused("That image URL has an invalid numeric address.")
    value = last
    for i, n in enumerate(head):
        value += n << (8 * (3 - i))
    return ipaddress.IPv4Address(value)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64 or int(ip) >> 32 == 0:  # NAT64, or IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def check_address(ip: IPAddress, policy: FetchPolicy) -> None:
    """Refuse an address Nanke must never connect to (see the module's doc)."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None and int(inner) != 0:
            check_address(inner, policy)
            if ip.ipv4_mapped is not None or ip in _NAT64:
                return
    if ip in policy.allowed_addresses:
        return
    if (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
        or any(ip in net for net in _EXTRA_BLOCKED if net.version == ip.version)
        or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local)
    ):
        raise UrlRefused("That image URL points at a private or reserved address.")


def check_url(text: str, policy: FetchPolicy) -> ImageUrl:
    """Parse and check a URL before any connection (see the module's doc)."""
    if len(text) > MAX_URL_LENGTH or any(c.isspace() or ord(c) < 32 for c in text):
        raise UrlRefused("That image URL is not valid.")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise UrlRefused("That image URL is not valid.") from None
    scheme = parts.scheme.lower()
    allowed = ("https",) if policy.https_only else ("https", "http")
    if scheme not in allowed:
        raise UrlRefused("Image URLs must start with https://.")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("Image URLs may not carry a user name or password.")
    host = (parts.hostname or "").lower()
    if not host:
        raise UrlRefused("That image URL has no host.")
    literal: IPAddress | None
    if parts.netloc.rsplit("@", 1)[-1].startswith("["):
        try:
            literal = ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            raise UrlRefused("That image URL is not valid.") from None
        if "%" in host:
            raise UrlRefused("That image URL is not valid.")
    else:
        literal = parse_numeric_ipv4(host)
        if literal is None and not _HOST_RE.fullmatch(host):
            raise UrlRefused("That image URL has an invalid host name.")
    if literal is not None:
        check_address(literal, policy)
        host = str(literal)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    default_port = 443 if scheme == "https" else 80
    return ImageUrl(text, scheme, host, port or default_port, target, literal)


def is_discord_attachment(url: str) -> bool:
    """A Discord CDN attachment link (stored as an attachment once fetched)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return (
        parts.scheme == "https"
        and (parts.hostname or "").lower() in _DISCORD_CDN
        and parts.path.startswith("/attachments/")
    )
