"""A worker's /metrics server (`nanke worker --metrics-port`, #18): Prometheus text for a
scraper bearing the token, 401 for anyone else, 404 for any other path."""

from __future__ import annotations

import urllib.error
import urllib.request

from pipeline.metrics import CONTENT_TYPE, serve_metrics
from tests.fixtures.redis_server import free_port


def _get(url: str, token: str | None = None) -> tuple[int, str, str]:
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, "", ""


def test_the_worker_serves_metrics_to_the_token_bearer_only() -> None:
    port = free_port()
    server = serve_metrics(port, lambda: "nanke_workers_live 2\n", "t0ken", host="127.0.0.1")
    try:
        base = f"http://127.0.0.1:{port}"
        assert _get(f"{base}/metrics", "t0ken") == (200, CONTENT_TYPE, "nanke_workers_live 2\n")
        assert _get(f"{base}/metrics")[0] == 401
        assert _get(f"{base}/metrics", "wrong")[0] == 401
        assert _get(f"{base}/other", "t0ken")[0] == 404
    finally:
        server.shutdown()
        server.server_close()


def test_without_a_token_the_port_answers_anyone() -> None:
    port = free_port()
    server = serve_metrics(port, lambda: "x 1\n", None, host="127.0.0.1")
    try:
        assert _get(f"http://127.0.0.1:{port}/metrics")[0] == 200
    finally:
        server.shutdown()
        server.server_close()
