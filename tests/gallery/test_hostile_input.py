"""Issue 21 item 17: hostile input is a 400 (or the usual 404 for an id that is not one) with
the normal security headers and one log line, never a 500 with a traceback."""

from __future__ import annotations

import base64
import json
import logging
from contextlib import asynccontextmanager

import httpx
import pytest

from gallery.app import create_app
from tests.gallery.conftest import MemoryStore
from tests.gallery.seed import PUBLIC


def cursor(parts: object) -> str:
    raw = parts if isinstance(parts, bytes) else json.dumps(parts).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


_UUID = {"u": "00000000-0000-0000-0000-000000000001"}
_TIME = {"t": "2026-11-23T12:00:00+00:00"}
HOSTILE_CURSORS = {
    "year 9999 with an offset": ["new", {"t": "9999-12-31T23:59:59-14:00"}, _UUID],
    "year 1": ["new", {"t": "0001-01-01T00:00:00+00:00"}, _UUID],
    "likes beyond int64": ["top", 2**70, _TIME, _UUID],
    "likes below int64": ["top", -(2**70), _TIME, _UUID],
    "huge float": ["trending", _TIME, 1e308 * 10, _TIME, _UUID],  # json: Infinity
    "wrong types": ["new", {"t": 5}, {"u": []}],
    "a dict for a time": ["new", {"t": {"t": "x"}}, _UUID],
    "not a list": {"new": 1},
    "deeply nested": b"[" * 3000 + b"]" * 3000,
}


@pytest.mark.parametrize("name", HOSTILE_CURSORS)
@pytest.mark.parametrize("prefix", ["/api", ""])
async def test_tampered_cursors_are_400s_with_headers(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, name: str, prefix: str
) -> None:
    parts = HOSTILE_CURSORS[name]
    sort = parts[0] if isinstance(parts, list) else "new"
    with caplog.at_level(logging.INFO):
        r = await client.get(f"{prefix}/g/{PUBLIC}", params={"sort": sort, "cursor": cursor(parts)})
    assert r.status_code == 400, name
    _assert_safe(r, caplog)


@pytest.mark.parametrize(
    "params",
    [{"q": "light\x00house"}, {"q": "\x00"}, {"q": "a\x1bb"}, {"limit": "abc"}, {"limit": "1e9"}],
)
async def test_control_characters_and_wrong_types_in_parameters_are_400s(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, params: dict[str, str]
) -> None:
    with caplog.at_level(logging.INFO):
        r = await client.get(f"/api/g/{PUBLIC}", params=params)
    assert r.status_code == 400, params
    _assert_safe(r, caplog)


async def test_a_search_with_tabs_and_newlines_still_works(client: httpx.AsyncClient) -> None:
    r = await client.get(f"/api/g/{PUBLIC}", params={"q": "lighthouse\n\tdusk"})
    assert r.status_code == 200


@pytest.mark.parametrize("path", ["/g/²", "/api/g/²", "/g/1²", "/api/g/٣", "/g/²/u/1"])
async def test_unicode_digits_in_ids_are_the_usual_404(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    with caplog.at_level(logging.INFO):
        r = await client.get(path)
    assert r.status_code == 404
    assert r.headers["x-content-type-options"] == "nosniff"
    assert not [rec for rec in caplog.records if rec.exc_info]


async def test_an_unexpected_error_is_a_500_with_the_security_headers(
    store: MemoryStore, caplog: pytest.LogCaptureFixture
) -> None:
    @asynccontextmanager
    async def broken_reader():  # type: ignore[no-untyped-def]
        raise RuntimeError("database exploded")
        yield

    app = create_app(broken_reader, store)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://g.test") as client:
        with caplog.at_level(logging.ERROR):
            r = await client.get(f"/api/g/{PUBLIC}")
    assert r.status_code == 500
    assert "ref " in r.json()["error"] and "exploded" not in r.text
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert next(rec.getMessage() for rec in caplog.records if rec.exc_info).startswith(
        "unhandled error on GET"
    )


def _assert_safe(r: httpx.Response, caplog: pytest.LogCaptureFixture) -> None:
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert not [rec for rec in caplog.records if rec.exc_info]  # no traceback
    lines = [rec for rec in caplog.records if rec.name == "gallery.app"]
    assert len(lines) == 1 and lines[0].getMessage().startswith("400 GET")
