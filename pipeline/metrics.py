"""The queue as Prometheus metrics and as a table (#18): what an autoscaler (KEDA, a cloud's
instance group) and an operator read. `GET /metrics` on the web process and on a worker
(`nanke worker --metrics-port`) serve `render_prometheus`; `nanke queue stats` prints
`render_table`. Torch-free."""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from db.queue_stats import QueueStats

log = logging.getLogger(__name__)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_prometheus(stats: QueueStats) -> str:
    lines: list[str] = []

    def family(name: str, kind: str, text: str) -> None:
        lines.append(f"# HELP {name} {text}")
        lines.append(f"# TYPE {name} {kind}")

    family("nanke_queue_jobs", "gauge", "Jobs waiting to start, by model and mode.")
    for m in stats.models:
        lines.append(f'nanke_queue_jobs{{model="{_label(m.model)}",mode="fast"}} {m.queued_fast}')
        lines.append(f'nanke_queue_jobs{{model="{_label(m.model)}",mode="relax"}} {m.queued_relax}')
    family("nanke_running_jobs", "gauge", "Jobs running now, by model.")
    for m in stats.models:
        lines.append(f'nanke_running_jobs{{model="{_label(m.model)}"}} {m.running}')
    family("nanke_queue_oldest_wait_seconds", "gauge", "Age of the oldest waiting job.")
    for m in stats.models:
        lines.append(
            f'nanke_queue_oldest_wait_seconds{{model="{_label(m.model)}"}} {m.oldest_wait_s:.1f}'
        )
    family("nanke_model_workers", "gauge", "Live workers that serve the model.")
    for m in stats.models:
        lines.append(f'nanke_model_workers{{model="{_label(m.model)}"}} {m.workers}')
    family("nanke_model_loaded_workers", "gauge", "Live workers that have the model loaded.")
    for m in stats.models:
        lines.append(f'nanke_model_loaded_workers{{model="{_label(m.model)}"}} {m.loaded_on}')
    family("nanke_workers_live", "gauge", "Workers whose heartbeat row is fresh.")
    lines.append(f"nanke_workers_live {len(stats.workers)}")
    family("nanke_model_loads_per_hour", "gauge", "Model loads per hour, all live workers.")
    lines.append(f"nanke_model_loads_per_hour {stats.loads_per_hour:.2f}")
    return "\n".join(lines) + "\n"


def render_table(stats: QueueStats) -> str:
    titles = ("fast", "relax", "running", "oldest", "workers", "loaded")
    widths = (5, 5, 7, 8, 7, 6)
    rows = [f"{'model':<24} " + " ".join(f"{t:>{w}}" for t, w in zip(titles, widths, strict=True))]
    for m in stats.models:
        rows.append(
            f"{m.model[:24]:<24} {m.queued_fast:>5} {m.queued_relax:>5} {m.running:>7} "
            f"{m.oldest_wait_s:>7.0f}s {m.workers:>7} {m.loaded_on:>6}"
        )
    if not stats.models:
        rows.append("(no jobs waiting or running, no live worker)")
    rows.append("")
    rows.append(
        f"live workers: {len(stats.workers)}; model loads per hour: {stats.loads_per_hour:.1f}"
    )
    for w in stats.workers:
        budget = "" if w.memory_budget_mb is None else f", budget {w.memory_budget_mb} MB"
        rows.append(
            f"  {w.name}: serves {', '.join(w.serves)}; loaded {', '.join(w.loaded) or '-'}{budget}"
        )
    return "\n".join(rows)


def authorized(header: str | None, token: str | None) -> bool:
    """`Authorization: Bearer <token>` when a token is configured (Prometheus sends it)."""
    if token is None:
        return True
    return header is not None and hmac.compare_digest(header.encode(), f"Bearer {token}".encode())


def serve_metrics(
    port: int, metrics: Callable[[], str], token: str | None, host: str = "0.0.0.0"
) -> ThreadingHTTPServer:
    """A small HTTP server on a daemon thread answering `GET /metrics` (a worker has no web
    framework of its own). Returns the server; `shutdown()` stops it."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404)
                return
            if not authorized(self.headers.get("Authorization"), token):
                self.send_error(401)
                return
            try:
                body = metrics().encode()
            except Exception:
                log.exception("metrics failed")
                self.send_error(503)
                return
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            log.debug(format, *args)

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="nanke-metrics", daemon=True).start()
    return server
