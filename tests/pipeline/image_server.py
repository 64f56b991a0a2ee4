"""A local HTTP server for the image-fetch tests: it counts every TCP connection it accepts.

Routes: `/img.png` (a small PNG), `/redirect/<n>` (n redirects, then the PNG),
`/to?url=<url>` (one redirect to url), `/big` (more than the body limit, with a length),
`/stream` (an endless body, no length), `/slow` (never answers), `/missing` (404).
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from PIL import Image


def png_bytes(
    size: tuple[int, int] = (8, 6), colour: tuple[int, int, int] = (200, 30, 30)
) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


@dataclass
class ServerState:
    connections: int = 0
    paths: list[str] = field(default_factory=list)
    body_limit: int = 1 << 20
    stop: threading.Event = field(default_factory=threading.Event)


class _Counting(ThreadingHTTPServer):
    daemon_threads = True
    state: ServerState

    def get_request(self):  # type: ignore[no-untyped-def]
        request = super().get_request()
        self.state.connections += 1
        return request


class _Handler(BaseHTTPRequestHandler):
    server: _Counting

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        state = self.server.state
        state.paths.append(self.path)
        parts = urlsplit(self.path)
        if parts.path == "/img.png":
            self._send(200, png_bytes(), {"Content-Type": "image/png"})
        elif parts.path.startswith("/redirect/"):
            left = int(parts.path.rsplit("/", 1)[1])
            target = "/img.png" if left <= 1 else f"/redirect/{left - 1}"
            self._send(302, headers={"Location": target})
        elif parts.path == "/to":
            self._send(302, headers={"Location": parse_qs(parts.query)["url"][0]})
        elif parts.path == "/big":
            self.send_response(200)
            self.send_header("Content-Length", str(state.body_limit + 1))
            self.end_headers()
            self.wfile.write(b"\0" * (state.body_limit + 1))
        elif parts.path == "/stream":
            self.send_response(200)
            self.end_headers()
            try:
                while not state.stop.is_set():
                    self.wfile.write(b"\0" * 65536)
            except OSError:
                pass
            self.close_connection = True
        elif parts.path == "/slow":
            state.stop.wait(30)
        else:
            self._send(404)


@contextmanager
def image_server(
    host: str = "127.0.0.1", body_limit: int = 1 << 20, port: int = 0
) -> Iterator[tuple[str, ServerState]]:
    """(base URL, state) of a running server; stopped on exit."""
    server = _Counting((host, port), _Handler)
    server.state = ServerState(body_limit=body_limit)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}", server.state
    finally:
        server.state.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
        time.sleep(0)
