"""Test support: a real ``redis-server`` on a free loopback port, and its fixtures.

Registered for every test by ``tests/conftest.py`` (``pytest_plugins``):

- ``redis_server`` (session): one server for the run; tests keep apart by key
  prefix (``redis_prefix``), so nothing needs flushing between them.
- ``own_redis_server`` (function): a server of the test's own, to kill, restart
  or slow down (``DEBUG SLEEP`` is enabled for loopback clients).
- ``redis_state(server, prefix)``: the config's ``state`` section for a server.
- ``RedisServer(dir, password=..., tls=True)``: a server behind a password, or
  speaking only TLS (``rediss://``) with a certificate made for the test.

Each server runs in its own temporary directory with persistence off
(``--save '' --appendonly no``), bound to 127.0.0.1, so a system Redis (the
Debian package's service, running or not) plays no part. A missing
``redis-server`` fails the test with what to install (``make test`` provisions
it), never skips it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.tls_env import TlsFiles, make_tls_files

START_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """A ``redis-server`` process the test owns: ``start``, ``stop``, ``restart``."""

    def __init__(self, workdir: Path, *, password: str = "", tls: bool = False) -> None:
        self.workdir = workdir
        self.password = password
        self.tls: TlsFiles | None = make_tls_files(workdir) if tls else None
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        if self.tls is None:
            return f"redis://{auth}127.0.0.1:{self.port}/0"
        return f"rediss://{auth}127.0.0.1:{self.port}/0?ssl_ca_certs={self.tls.ca}"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail(
                "redis-server is not installed: run `make test` as root once, or "
                "`sudo apt-get install redis-server`",
                pytrace=False,
            )
        command = [binary, "--bind", "127.0.0.1", *self._listen()]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.workdir)]
        command += ["--enable-debug-command", "local", "--loglevel", "warning"]
        if self.password:
            command += ["--requirepass", self.password]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self._wait_ready()
        return self

    def _listen(self) -> list[str]:
        if self.tls is None:
            return ["--port", str(self.port)]
        return [
            "--port", "0", "--tls-port", str(self.port),
            "--tls-cert-file", str(self.tls.cert),
            "--tls-key-file", str(self.tls.key),
            "--tls-ca-cert-file", str(self.tls.ca),
            "--tls-auth-clients", "no",
        ]  # fmt: skip

    def stop(self) -> None:
        """Kill the server at once (as a crash would), and reap it."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, decode_responses=True)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        probe = self.client()
        try:
            while True:
                try:
                    probe.ping()
                    return
                except redis.ConnectionError:
                    if self.process is not None and self.process.poll() is not None:
                        message = f"redis-server exited on port {self.port}"
                        raise RuntimeError(message) from None
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)
        finally:
            probe.close()


def redis_state(server: RedisServer, prefix: str, timeout_ms: int = 100) -> dict:
    """The config's ``state`` section pointing at ``server``, keys under ``prefix``."""
    return {
        "backend": "redis",
        "url": server.url,
        "prefix": prefix,
        "timeout_ms": timeout_ms,
    }


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with tempfile.TemporaryDirectory(prefix="redis-") as workdir:
        server = RedisServer(Path(workdir)).start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def redis_prefix() -> str:
    return f"t{uuid.uuid4().hex[:12]}:"


@pytest.fixture
def own_redis_server(tmp_path) -> Iterator[RedisServer]:
    workdir = tmp_path / "redis"
    workdir.mkdir()
    server = RedisServer(workdir).start()
    try:
        yield server
    finally:
        server.stop()
