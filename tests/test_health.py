"""Liveness beats and `nanke healthcheck` (the compose healthchecks)."""

from __future__ import annotations

import asyncio
import http.server
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from nanke import health
from nanke.cli import cli


@pytest.fixture(autouse=True)
def private_tmp(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


def healthcheck(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["healthcheck", *args])
    return result.exit_code, result.output


def test_no_beat_is_unhealthy() -> None:
    code, out = healthcheck("bot")
    assert code == 1 and "no liveness beat yet" in out


def test_a_fresh_beat_is_healthy_and_a_stale_one_is_not() -> None:
    health.touch("worker")
    assert healthcheck("worker") == (0, "worker: ok (beat 0 s ago)\n")
    old = time.time() - health.MAX_AGE_S - 5
    os.utime(health.alive_file("worker"), (old, old))
    code, out = healthcheck("worker")
    assert code == 1 and "last liveness beat 35 s ago" in out
    assert healthcheck("worker", "--max-age", "60")[0] == 0
    assert healthcheck("bot")[0] == 1  # each role has its own file


async def test_beat_while_beats_only_while_healthy() -> None:
    state = {"ready": False}
    task = asyncio.create_task(health.beat_while("bot", lambda: state["ready"], interval_s=0.01))
    await asyncio.sleep(0.05)
    assert health.age("bot") is None  # connecting: no beat yet
    state["ready"] = True
    await asyncio.sleep(0.05)
    age = health.age("bot")
    assert age is not None and age < 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert health.age("bot") is None  # stopped: the file goes with it


class FakeRedis:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.sets: list[tuple[str, dict[str, object], int]] = []

    def set(self, key: str, value: str, ex: int) -> None:
        if self.fail:
            raise ConnectionError("redis is down")
        self.sets.append((key, json.loads(value), ex))


def test_worker_beat_writes_redis_then_the_file() -> None:
    client = FakeRedis()
    beat = health.WorkerBeat("redis://unused", "gpu@box-1", interval_s=10, client=client)
    beat.beat_once()
    ((key, value, ex),) = client.sets
    assert key == "nanke:worker:gpu@box-1" and value["name"] == "gpu@box-1" and ex == 31
    assert healthcheck("worker")[0] == 0


def test_worker_beat_without_redis_leaves_the_check_red() -> None:
    beat = health.WorkerBeat("redis://unused", "w", interval_s=0.01, client=FakeRedis(fail=True))
    beat.start()
    time.sleep(0.05)
    beat.stop()
    assert health.age("worker") is None


@pytest.fixture
def gallery_url() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status = 200 if self.path == "/healthz" else 503
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b'{"status": "ok"}')

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_web_asks_the_gallery(gallery_url: str) -> None:
    assert healthcheck("web", "--url", f"{gallery_url}/healthz")[0] == 0
    code, out = healthcheck("web", "--url", f"{gallery_url}/broken")
    assert code == 1 and "503" in out


def test_web_down_is_unhealthy() -> None:
    code, out = healthcheck("web", "--url", "http://127.0.0.1:9/healthz")
    assert code == 1 and "not answering" in out
