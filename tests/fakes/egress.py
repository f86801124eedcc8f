"""Loopback egress proxies that record what went through them: HTTP and SOCKS5.

``HttpProxy`` speaks both forms a client uses with an HTTP proxy: an
absolute-URI request (``POST http://host:port/path HTTP/1.1``, for ``http://``
targets) and ``CONNECT host:port`` (a tunnel, for ``https://`` targets).
``Socks5Proxy`` speaks RFC 1928 ``CONNECT`` with no authentication or with
RFC 1929 username/password. Both may require credentials, refuse any target but
``127.0.0.1`` (tests never reach out), and record each ``Passage``: the target,
the user, and the *local port* of the connection they opened to the target, so
a test matches the fake upstream's ``REMOTE_PORT`` against it and knows which
upstream requests came through the proxy. Bounded: every socket has a timeout,
handler threads are daemons, ``running(...)`` shuts the server down.
"""

from __future__ import annotations

import base64
import select
import socket
import socketserver
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

TIMEOUT: Final = 10.0
MAX_HEAD: Final = 64 * 1024
ALLOWED_HOSTS: Final = frozenset({"127.0.0.1", "localhost"})


@dataclass(frozen=True)
class Passage:
    """One connection the proxy made for a client."""

    kind: str  # "forward" (absolute URI), "connect" (HTTP tunnel) or "socks5"
    target: str  # host:port
    user: str | None
    local_port: int  # the proxy's own port on its connection to the target
    request_line: str = ""  # for "forward": the request line as received


class _Recorder:
    def __init__(self, credentials: tuple[str, str] | None) -> None:
        self.credentials = credentials
        self.passages: list[Passage] = []
        self.refused: list[str] = []
        self.lock = threading.Lock()

    def add(self, passage: Passage) -> None:
        with self.lock:
            self.passages.append(passage)

    def refuse(self, why: str) -> None:
        with self.lock:
            self.refused.append(why)

    @property
    def local_ports(self) -> set[int]:
        with self.lock:
            return {p.local_port for p in self.passages}


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, handler: type, recorder: _Recorder) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.recorder = recorder


def _open_target(host: str, port: int) -> socket.socket:
    if host not in ALLOWED_HOSTS:
        raise PermissionError(f"target {host} is not loopback")
    return socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)


def _relay(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways until either side closes or goes quiet."""
    sockets = [a, b]
    while True:
        readable, _, _ = select.select(sockets, [], [], TIMEOUT)
        if not readable:
            return
        for source in readable:
            try:
                data = source.recv(65536)
                if not data:
                    return
                (b if source is a else a).sendall(data)
            except OSError:  # either side reset: the passage is over
                return


class _HttpHandler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        self.request.settimeout(TIMEOUT)
        head, rest = _read_head(self.request)
        if head is None:
            return
        request_line, headers = head
        user = _basic_user(headers.get("proxy-authorization", ""))
        if not self._authorized(headers):
            self.server.recorder.refuse(request_line)
            self.request.sendall(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                b'Proxy-Authenticate: Basic realm="fake"\r\n'
                b"Content-Length: 0\r\nConnection: close\r\n\r\n"
            )
            return
        method, target, _ = request_line.split(" ", 2)
        if method == "CONNECT":
            self._tunnel(target, user, rest)
        else:
            self._forward(request_line, headers, target, user, rest)

    def _authorized(self, headers: dict[str, str]) -> bool:
        wanted = self.server.recorder.credentials
        if wanted is None:
            return True
        token = base64.b64encode(f"{wanted[0]}:{wanted[1]}".encode()).decode()
        return headers.get("proxy-authorization", "") == f"Basic {token}"

    def _tunnel(self, target: str, user: str | None, rest: bytes) -> None:
        host, _, port = target.rpartition(":")
        with _open_target(host, int(port)) as upstream:
            self.server.recorder.add(
                Passage("connect", target, user, upstream.getsockname()[1])
            )
            self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if rest:
                upstream.sendall(rest)
            _relay(self.request, upstream)

    def _forward(
        self,
        request_line: str,
        headers: dict[str, str],
        url: str,
        user: str | None,
        rest: bytes,
    ) -> None:
        method, _, version = request_line.split(" ", 2)
        scheme, _, remainder = url.partition("://")
        hostport, slash, path = remainder.partition("/")
        host, _, port = hostport.rpartition(":")
        if scheme != "http":
            raise ValueError("only http:// targets are forwarded")
        kept = {k: v for k, v in headers.items() if not k.startswith("proxy-")}
        kept["connection"] = "close"
        lines = [f"{method} {slash}{path} {version}"]
        lines += [f"{k}: {v}" for k, v in kept.items()]
        with _open_target(host, int(port or 80)) as upstream:
            self.server.recorder.add(
                Passage(
                    "forward", hostport, user, upstream.getsockname()[1], request_line
                )
            )
            upstream.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + rest)
            _relay(self.request, upstream)


def _read_head(sock: socket.socket) -> tuple[tuple[str, dict[str, str]] | None, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk or len(data) > MAX_HEAD:
            return None, b""
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return (lines[0], headers), rest


def _basic_user(value: str) -> str | None:
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "basic":
        return None
    return base64.b64decode(token).decode().partition(":")[0]


class _SocksHandler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        sock = self.request
        sock.settimeout(TIMEOUT)
        version, count = _exact(sock, 2)
        methods = _exact(sock, count)
        user = self._authenticate(sock, version, methods)
        if user is False:
            return
        _, command, _, address_type = _exact(sock, 4)
        host = self._address(sock, address_type)
        (port,) = struct.unpack("!H", _exact(sock, 2))
        if command != 1:
            sock.sendall(b"\x05\x07\x00\x01" + bytes(6))  # command not supported
            return
        try:
            upstream = _open_target(host, port)
        except OSError:
            self.server.recorder.refuse(f"{host}:{port}")
            sock.sendall(b"\x05\x02\x00\x01" + bytes(6))  # not allowed by ruleset
            return
        with upstream:
            local = upstream.getsockname()
            name = user if isinstance(user, str) else None
            self.server.recorder.add(
                Passage("socks5", f"{host}:{port}", name, local[1])
            )
            bound = socket.inet_aton(local[0]) + struct.pack("!H", local[1])
            sock.sendall(b"\x05\x00\x00\x01" + bound)
            _relay(sock, upstream)

    def _authenticate(self, sock: socket.socket, version: int, methods: bytes):
        """The user name (or None without auth); False when the client is refused."""
        wanted = self.server.recorder.credentials
        needed = 0x00 if wanted is None else 0x02
        if version != 5 or needed not in methods:
            sock.sendall(b"\x05\xff")
            self.server.recorder.refuse("no acceptable method")
            return False
        sock.sendall(bytes([5, needed]))
        if wanted is None:
            return None
        _, length = _exact(sock, 2)
        user = _exact(sock, length).decode()
        (length,) = _exact(sock, 1)
        password = _exact(sock, length).decode()
        if (user, password) != wanted:
            sock.sendall(b"\x01\x01")
            self.server.recorder.refuse(f"bad credentials for {user}")
            return False
        sock.sendall(b"\x01\x00")
        return user

    @staticmethod
    def _address(sock: socket.socket, address_type: int) -> str:
        if address_type == 1:
            return socket.inet_ntoa(_exact(sock, 4))
        if address_type == 3:
            (length,) = _exact(sock, 1)
            return _exact(sock, length).decode()
        return socket.inet_ntop(socket.AF_INET6, _exact(sock, 16))


def _exact(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("client closed mid-handshake")
        data += chunk
    return data


class FakeProxy:
    """A running fake proxy: its URL, and what went through it."""

    def __init__(self, server: _Server, scheme: str, auth: tuple[str, str] | None):
        self._server = server
        self.port = server.server_address[1]
        userinfo = f"{auth[0]}:{auth[1]}@" if auth else ""
        self.url = f"{scheme}://{userinfo}127.0.0.1:{self.port}"

    @property
    def passages(self) -> list[Passage]:
        with self._server.recorder.lock:
            return list(self._server.recorder.passages)

    @property
    def refused(self) -> list[str]:
        with self._server.recorder.lock:
            return list(self._server.recorder.refused)

    @property
    def local_ports(self) -> set[int]:
        return self._server.recorder.local_ports


@contextmanager
def running(
    kind: str, *, auth: tuple[str, str] | None = None, scheme: str | None = None
) -> Iterator[FakeProxy]:
    """Run an ``"http"`` or ``"socks5"`` fake proxy on a loopback port."""
    handler = _HttpHandler if kind == "http" else _SocksHandler
    server = _Server(handler, _Recorder(auth))
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield FakeProxy(server, scheme or kind, auth)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
