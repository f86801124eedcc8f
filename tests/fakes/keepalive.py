"""A loopback HTTP/1.1 server that keeps connections open, for a WSGI fake.

Werkzeug's development server (``cloudcode.serve``) closes every connection, so
it cannot show whether the gateway reuses its upstream connections. This one
answers any number of requests per connection (bodies by ``Content-Length``,
answers chunked unless sized) and counts the connections it accepted.
"""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication


@dataclass
class Served:
    base_url: str
    connections: list[int] = field(default_factory=list)  # client ports, in order


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    served: Served
    app: WSGIApplication

    def setup(self) -> None:
        super().setup()
        self.served.connections.append(self.client_address[1])

    def log_message(self, format: str, *args: Any) -> None:
        """No access log."""

    def do_GET(self) -> None:
        self._call()

    def do_POST(self) -> None:
        self._call()

    def _call(self) -> None:
        path, _, query = self.path.partition("?")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        environ = {
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": str(self.server.server_address[1]),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_PORT": str(self.client_address[1]),
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": "http",
            "wsgi.version": (1, 0),
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in self.headers.items():
            key = "HTTP_" + name.upper().replace("-", "_")
            if key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                environ[key] = value
        started: list[Any] = []

        def start_response(status: str, headers: list, exc_info: Any = None):  # type: ignore[no-untyped-def]
            started[:] = [status, headers]

        result = self.app(environ, start_response)
        try:
            self._answer(started, result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()

    def _answer(self, started: list[Any], result: Any) -> None:
        status, headers = started
        code, _, reason = status.partition(" ")
        self.send_response_only(int(code), reason)
        sized = any(k.lower() == "content-length" for k, _ in headers)
        for name, value in headers:
            self.send_header(name, value)
        if not sized:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in result:
            if not chunk:
                continue
            if sized:
                self.wfile.write(chunk)
            else:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()
        if not sized:
            self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


@contextmanager
def serve_keepalive(app: WSGIApplication) -> Iterator[Served]:
    """Serve ``app`` on a loopback port, keeping connections open."""
    served = Served("")
    handler = type("Handler", (_Handler,), {"served": served, "app": app})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    served.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
