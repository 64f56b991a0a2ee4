"""Image URLs are fetched safely: refused addresses never see a connection (issue 15)."""

from __future__ import annotations

import ipaddress

import pytest

from pipeline.image_fetch import FetchFailed, fetch_url
from pipeline.image_intake import store_url
from pipeline.image_urls import FetchPolicy, UrlRefused, check_url, is_discord_attachment
from pipeline.storage import LocalStorage
from tests.pipeline.image_server import ServerState, image_server, png_bytes

LOOPBACK = ipaddress.ip_address("127.0.0.1")
TEST_POLICY = FetchPolicy(https_only=False, allowed_addresses=frozenset({LOOPBACK}))
STRICT_HTTP = FetchPolicy(https_only=False)  # http allowed, no address exemptions


def test_allowed_server_serves_an_image_and_redirects_are_followed() -> None:
    with image_server() as (base, _state):
        assert fetch_url(f"{base}/img.png", TEST_POLICY) == png_bytes()
        assert fetch_url(f"{base}/redirect/3", TEST_POLICY) == png_bytes()  # 3 redirects: fine
        with pytest.raises(FetchFailed, match="more than 3"):
            fetch_url(f"{base}/redirect/4", TEST_POLICY)


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "2130706433",  # decimal
        "0177.0.0.1",  # octal
        "0x7f.0.0.1",  # hex
        "0x7f000001",
        "127.1",  # short form
        "[::ffff:127.0.0.1]",  # IPv4-mapped IPv6
        "[::ffff:7f00:1]",
        "[::1]",
        "localhost",  # a name that resolves to loopback
    ],
)
def test_loopback_in_any_spelling_gets_zero_connections(host: str) -> None:
    with image_server() as (base, state):
        port = base.rsplit(":", 1)[1]
        with pytest.raises(UrlRefused):
            fetch_url(f"http://{host}:{port}/img.png", STRICT_HTTP)
        assert state.connections == 0
        assert state.paths == []


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.100.100.200",  # Alibaba metadata (shared address space)
        "0.0.0.0",
        "224.0.0.1",  # multicast
        "240.0.0.1",  # reserved
        "255.255.255.255",
        "fe80::1",
        "fc00::1",
        "fd00:ec2::254",  # AWS metadata over IPv6
        "ff02::1",
        "::",
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "::ffff:10.0.0.1",
    ],
)
def test_private_reserved_and_metadata_addresses_are_refused(address: str) -> None:
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(UrlRefused, match="private or reserved"):
        check_url(f"https://{host}/x.png", FetchPolicy())


def test_a_public_address_passes_the_check() -> None:
    assert check_url("https://93.184.216.34/a.png", FetchPolicy()).host == "93.184.216.34"
    assert check_url("https://[2606:4700::1111]/a.png", FetchPolicy()).port == 443


def test_plain_http_is_refused_by_default_before_any_connection() -> None:
    with image_server() as (base, state):
        with pytest.raises(UrlRefused, match="https"):
            fetch_url(f"{base}/img.png", FetchPolicy(allowed_addresses=frozenset({LOOPBACK})))
        assert state.connections == 0


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://x/y.png", "https://user:pw@example.com/a.png", "https://"]
)
def test_other_schemes_and_credentials_are_refused(url: str) -> None:
    with pytest.raises(UrlRefused):
        check_url(url, FetchPolicy())


def test_a_redirect_to_a_refused_address_is_rechecked_and_never_connected() -> None:
    with image_server() as (allowed, first), image_server("127.0.0.2") as (other, second):
        with pytest.raises(UrlRefused, match="private or reserved"):
            fetch_url(f"{allowed}/to?url={other}/img.png", TEST_POLICY)
        assert first.connections == 1
        assert second.connections == 0
        # …and a redirect from https-only policy to http is refused the same way
        https_only = FetchPolicy(allowed_addresses=frozenset({LOOPBACK}))
        with pytest.raises(UrlRefused):
            check_url(f"{allowed}/img.png", https_only)


def test_dns_is_resolved_once_and_every_answer_checked() -> None:
    with image_server() as (allowed, first):
        port = int(allowed.rsplit(":", 1)[1])
        with image_server("127.0.0.2", port=port) as (_same_port, second):
            _resolve_once(port, first, second)


def _resolve_once(port: int, first: ServerState, second: ServerState) -> None:
    """127.0.0.2 serves on the same port, so a connection there would be counted."""
    calls: list[str] = []

    def rebinding(host: str, _port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        calls.append(host)  # a second lookup would get the forbidden address
        return [LOOPBACK] if len(calls) == 1 else [ipaddress.ip_address("127.0.0.2")]

    assert fetch_url(f"http://pics.test:{port}/img.png", TEST_POLICY, rebinding) == png_bytes()
    assert calls == ["pics.test"]
    assert (first.connections, second.connections) == (1, 0)

    def mixed(host: str, _port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        return [LOOPBACK, ipaddress.ip_address("127.0.0.2")]

    with pytest.raises(UrlRefused):
        fetch_url(f"http://pics.test:{port}/img.png", TEST_POLICY, mixed)
    assert (first.connections, second.connections) == (1, 0)  # not even the allowed answer


def test_size_limits_timeouts_and_errors_fail_with_member_safe_messages() -> None:
    small = FetchPolicy(
        https_only=False, allowed_addresses=frozenset({LOOPBACK}), max_bytes=1 << 20, timeout_s=1
    )
    with image_server(body_limit=1 << 20) as (base, _state):
        with pytest.raises(FetchFailed, match="over 1 MiB"):
            fetch_url(f"{base}/big", small)
        with pytest.raises(FetchFailed, match="over 1 MiB"):
            fetch_url(f"{base}/stream", small)
        with pytest.raises(FetchFailed, match="too long"):
            fetch_url(f"{base}/slow", small)
        with pytest.raises(FetchFailed, match="HTTP 404") as caught:
            fetch_url(f"{base}/missing", small)
        assert "127.0.0.1" not in str(caught.value)


def test_https_to_a_server_without_tls_fails_cleanly() -> None:
    with image_server() as (base, state):
        url = base.replace("http://", "https://") + "/img.png"
        with pytest.raises(FetchFailed):
            fetch_url(url, FetchPolicy(allowed_addresses=frozenset({LOOPBACK})))
        assert state.paths == []  # no request was sent in the clear


def test_store_url_keeps_a_clean_content_addressed_copy(tmp_path) -> None:  # type: ignore[no-untyped-def]
    storage = LocalStorage(tmp_path)
    with image_server() as (base, _state):
        first = store_url(storage, f"{base}/img.png", TEST_POLICY)
        again = store_url(storage, f"{base}/redirect/2", TEST_POLICY)
    assert first == again
    assert storage.list("refs/") == [f"refs/{first.sha256}.png"]


def test_discord_cdn_attachment_links_are_recognised() -> None:
    assert is_discord_attachment("https://cdn.discordapp.com/attachments/1/2/cat.png?ex=1&hm=2")
    assert is_discord_attachment("https://media.discordapp.net/attachments/1/2/cat.png")
    assert not is_discord_attachment("https://cdn.discordapp.com.evil.test/attachments/1/2/a.png")
    assert not is_discord_attachment("http://cdn.discordapp.com/attachments/1/2/a.png")
