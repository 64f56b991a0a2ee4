"""Fetch an image URL safely, on the worker side of the pipeline (blocking; never in the bot).

API (issue 15):

- `fetch_url(url, policy, resolve=…) -> bytes`: one GET per hop. For each hop the URL is checked
  (`pipeline.image_urls.check_url`), its host resolved ONCE, EVERY resolved address checked
  (`check_address`), and the connection made to that checked address (the TLS handshake still
  verifies the certificate for the host name, with SNI): a DNS answer that changes between the
  check and the connection (DNS rebinding) cannot move it. Redirects (301/302/303/307/308) are
  followed at most `policy.max_redirects` times, each target checked again. The whole fetch,
  redirects included, has `policy.timeout_s`; the body at most `policy.max_bytes` (announced
  length refused up front, the read stopped at the limit). Any refusal or failure raises
  `FetchFailed` (a `UrlRefused`), whose message is member-safe and never names an address.

Decode the bytes with `pipeline.image_decode.decode_image`; `pipeline.image_intake` does both.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable
from urllib.parse import urljoin

from pipeline.image_urls import FetchPolicy, ImageUrl, IPAddress, UrlRefused, check_address
from pipeline.image_urls import check_url as check_url

Resolver = Callable[[str, int], list[IPAddress]]
_REDIRECTS = {301, 302, 303, 307, 308}
_CHUNK = 64 * 1024


class FetchFailed(UrlRefused):
    """The image URL could not be fetched; `str()` is member-safe."""


def resolve_host(host: str, port: int) -> list[IPAddress]:
    """Every address the system resolver gives for `host` (one lookup)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise FetchFailed("The image URL's host name does not resolve.") from None
    found: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    if not found:
        raise FetchFailed("The image URL's host name does not resolve.")
    return found


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, url: ImageUrl, address: IPAddress, timeout: float) -> None:
        super().__init__(url.host, url.port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((str(self._address), self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, url: ImageUrl, address: IPAddress, timeout: float) -> None:
        super().__init__(url.host, url.port, timeout=timeout, context=ssl.create_default_context())
        self._address = address
        self._server_name = url.host

    def connect(self) -> None:
        raw = socket.create_connection((str(self._address), self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self._server_name)  # type: ignore[attr-defined]


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise FetchFailed("The image URL took too long to answer.")
    return left


def _read_body(
    response: http.client.HTTPResponse,
    sock: socket.socket | None,
    policy: FetchPolicy,
    deadline: float,
) -> bytes:
    too_big = FetchFailed(f"The image at that URL is over {policy.max_bytes // 2**20} MiB.")
    length = response.getheader("Content-Length")
    if length is not None and length.strip().isdigit() and int(length) > policy.max_bytes:
        raise too_big
    chunks: list[bytes] = []
    size = 0
    while True:
        if sock is not None:  # each read may wait only for what is left of the whole fetch
            sock.settimeout(_remaining(deadline))
        chunk = response.read1(_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > policy.max_bytes:
            raise too_big
        chunks.append(chunk)


def _one_hop(
    url: ImageUrl, address: IPAddress, policy: FetchPolicy, deadline: float
) -> tuple[int, str | None, bytes]:
    kind = _PinnedHTTPS if url.scheme == "https" else _PinnedHTTP
    conn = kind(url, address, timeout=min(_remaining(deadline), policy.timeout_s))
    try:
        conn.request(
            "GET",
            url.target,
            headers={"User-Agent": "Nanke image fetch", "Accept": "image/*"},
        )
        response = conn.getresponse()
        if response.status in _REDIRECTS:
            return response.status, response.getheader("Location"), b""
        if response.status != 200:
            raise FetchFailed(f"The image URL answered HTTP {response.status}.")
        return 200, None, _read_body(response, conn.sock, policy, deadline)
    finally:
        conn.close()


def fetch_url(text: str, policy: FetchPolicy, resolve: Resolver = resolve_host) -> bytes:
    """The body behind an image URL (see the module's doc)."""
    deadline = time.monotonic() + policy.timeout_s
    current = text
    for _hop in range(policy.max_redirects + 1):
        url = check_url(current, policy)
        addresses = [url.literal] if url.literal is not None else resolve(url.host, url.port)
        for address in addresses:  # every answer must be allowed, not just the first
            check_address(address, policy)
        try:
            status, location, body = _one_hop(url, addresses[0], policy, deadline)
        except UrlRefused:
            raise
        except ssl.SSLError:
            raise FetchFailed("The image URL's HTTPS certificate is not valid.") from None
        except (OSError, http.client.HTTPException):
            if time.monotonic() >= deadline:
                raise FetchFailed("The image URL took too long to answer.") from None
            raise FetchFailed("The image URL could not be reached.") from None
        if status == 200:
            return body
        if not location:
            raise FetchFailed("The image URL redirects nowhere.")
        current = urljoin(current, location)
    raise FetchFailed(f"The image URL redirects more than {policy.max_redirects} times.")
