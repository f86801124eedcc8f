"""The floor under "added latency": the least any gateway on this stack can add.

A pass-through proxy in a dozen lines: stock gunicorn (``gthread``, the same
worker and thread count as the gateway in the bench) and a pooled
``requests.Session`` per thread, forwarding each POST body unchanged to one
fixed upstream URL and answering with the upstream's bytes. No parsing, no
translation, no accounts. Its added latency over the direct call is what the
extra HTTP hop alone costs on this machine (client to gunicorn, gunicorn to the
upstream with ``requests``); the gateway's added latency minus this floor is what
the gateway's own work costs.

Run by the bench as ``python -m gunicorn benchmarks.passthrough:app`` with the
target in the environment (``PASSTHROUGH_URL`` and ``PASSTHROUGH_AUTHORIZATION``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import requests

from benchmarks.loadtools import free_port

REPO: Final = Path(__file__).resolve().parent.parent
START_TIMEOUT: Final = 20.0

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
_local = threading.local()


def app(environ: Mapping[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """POST: forward the body to ``PASSTHROUGH_URL``; anything else: 200 (ready)."""
    if environ["REQUEST_METHOD"] != "POST":
        start_response("200 OK", [("Content-Length", "0")])
        return [b""]
    size = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(size)
    headers = {
        "Content-Type": "application/json",
        "Authorization": os.environ["PASSTHROUGH_AUTHORIZATION"],
    }
    url = os.environ["PASSTHROUGH_URL"]
    with _session().post(url, data=body, headers=headers, timeout=30) as reply:
        data = reply.content
        kind = reply.headers.get("Content-Type", "application/octet-stream")
        status = f"{reply.status_code} {reply.reason}"
    start_response(status, [("Content-Type", kind), ("Content-Length", str(len(data)))])
    return [data]


def _session() -> requests.Session:
    """One pooled session per gunicorn thread, as a real gateway keeps."""
    session: requests.Session | None = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    return session


@contextmanager
def running_passthrough(url: str, authorization: str, threads: int) -> Iterator[str]:
    """Serve ``app`` under gunicorn on a free loopback port; yields its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "PASSTHROUGH_URL": url,
        "PASSTHROUGH_AUTHORIZATION": authorization,
    }
    command = [
        sys.executable, "-m", "gunicorn",
        "--worker-class", "gthread", "--workers", "1", "--threads", str(threads),
        "--bind", f"127.0.0.1:{port}", "--chdir", str(REPO),
        "--log-level", "warning", "benchmarks.passthrough:app",
    ]  # fmt: skip
    # Started in benchmarks/: gunicorn reads ./gunicorn.conf.py from where it
    # starts, and the repo's own starts the gateway; --chdir then imports us.
    process = subprocess.Popen(command, env=env, cwd=REPO / "benchmarks")
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, process)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the pass-through gunicorn exited at start")
        try:
            with requests.get(base + "/", timeout=1) as reply:
                if reply.status_code == 200:
                    return
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    raise RuntimeError("the pass-through gunicorn did not answer within 20 s")
