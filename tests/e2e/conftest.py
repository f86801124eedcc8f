"""End-to-end fixtures: the real CLI under real gunicorn on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.conftest import API_KEY, write_config
from tests.fakes.cloudcode import FakeCloudCode, serve
from tests.upstream_env import seed_account, upstream_section


def mcp_initialize(client: str) -> dict:
    """An MCP ``initialize`` request (id 1) from a client named ``client``."""
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": client, "version": "1"},
        },
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gateway:
    def __init__(self, process: subprocess.Popen, base_url: str, home: Path, log: Path):
        self.process = process
        self.base_url = base_url
        self.home = home
        self.log = log

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def run_gateway(
    home: Path,
    data: dict,
    *,
    workers: int = 1,
    threads: int = 8,
    env=None,
    host: str = "127.0.0.1",
    args: tuple[str, ...] = (),
    python: str | None = None,
    cwd: Path | None = None,
):
    """Start `antigravity-proxy serve`, wait for /healthz, stop it with SIGTERM.

    ``python`` is the interpreter to run it with (default: this one); ``cwd`` the
    child's working directory (default: this one's). Both matter for running another
    checkout's gateway: ``python -m`` imports a package in ``cwd`` first.
    """
    data = dict(data)
    data.setdefault("proxy", {}).setdefault("api_key", API_KEY)
    config_path = write_config(home, data)
    port = free_port()
    log = home / "gateway.log"
    child_env = {
        k: v for k, v in os.environ.items() if not k.startswith("ANTIGRAVITY_PROXY_")
    }
    child_env.pop("PORT", None)
    child_env.update(env or {})
    command = [
        python or sys.executable,
        "-m",
        "antigravity_proxy.cli",
        "--config",
        str(config_path),
        "serve",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        *args,
    ]
    with open(log, "wb") as log_file:
        process = subprocess.Popen(
            command, stdout=log_file, stderr=subprocess.STDOUT, env=child_env, cwd=cwd
        )
    gateway = Gateway(process, f"http://127.0.0.1:{port}", home, log)
    try:
        wait_healthy(gateway)
        yield gateway
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def wait_healthy(gateway: Gateway, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if gateway.process.poll() is not None:
            raise RuntimeError(f"gateway exited early:\n{gateway.log_text()}")
        try:
            with requests.get(
                gateway.base_url + "/healthz", headers={"x-api-key": API_KEY}, timeout=1
            ) as response:
                if response.status_code == 200:
                    return
        except (requests.ConnectionError, requests.Timeout):
            pass  # not listening yet, or too busy starting to answer in 1 s
        time.sleep(0.1)
    raise RuntimeError(f"gateway never became healthy:\n{gateway.log_text()}")


@pytest.fixture
def gateway_factory(tmp_path):
    """Call with config data (and options) to get a running gateway context."""

    def start(data: dict | None = None, **options):
        return run_gateway(tmp_path / "home", data or {}, **options)

    return start


@contextmanager
def sdk_stack(
    home: Path,
    *,
    extra: dict | None = None,
    wrap=None,
    workers: int = 2,
    threads: int = 8,
    accounts: tuple[tuple[str, str], ...] = (
        ("ultra", "Google AI Ultra"),
        ("pro", "Google AI Pro"),
    ),
):
    """The fake upstream with ``accounts`` (id, tier) and a gateway in strict mode.

    ``wrap`` may wrap the fake's WSGI app (e.g. to log which worker calls it).
    Yields ``(fake, gateway)``.
    """
    fake = FakeCloudCode()
    with serve(wrap(fake) if wrap else fake) as base:
        for name, tier in accounts:
            seed_account(home, fake, name, tier=tier)
        data = {
            "proxy": {"api_key": API_KEY, "auth_mode": "strict"},
            "upstream": upstream_section(base),
            **(extra or {}),
        }
        with run_gateway(home, data, workers=workers, threads=threads) as gateway:
            yield fake, gateway
