"""The stack ``make bench-peers`` measures: one fake, the gateway and LiteLLM.

The loopback fake Cloud Code runs in this process behind ``GeminiApi`` (the
public Gemini API's shape on the same fake, see ``tests/fakes/gemini_api.py``);
the gateway is the real ``antigravity-proxy serve`` with the bench's usual
shape (``harness.GATEWAY_THREADS``); LiteLLM's proxy (installed by ``make
bench-peers`` into its own virtual environment under ``.bench/``, never into
the project's) runs as its own process group with its ``gemini/`` provider
pointed at the fake.  Everything listens on 127.0.0.1 and is stopped when the
block ends.  ``tree_rss_mb`` sums the resident memory of a process and its
descendants (gunicorn's arbiter and worker; LiteLLM's server and any child).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import requests
import yaml

from benchmarks.harness import GATEWAY_THREADS, seeded
from tests.e2e.conftest import run_gateway
from tests.fakes.cloudcode import FakeCloudCode, serve
from tests.fakes.gemini_api import GeminiApi
from tests.upstream_env import upstream_section

API_KEY: Final = "bench-gemini-key"
# The models both gateways are asked for; LiteLLM maps each to ``gemini/<id>``.
MODELS: Final = ("gemini-3-flash", "claude-sonnet-4-6")
START_TIMEOUT: Final = 180.0
LITELLM_ENV: Final = {
    # No network but loopback: the bundled model price map, no telemetry.
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_TELEMETRY": "False",
    "LITELLM_LOG": "ERROR",
    "DISABLE_SCHEMA_UPDATE": "True",
    # Like the gateway here (auth_mode off): no key check on loopback.
    "LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY": "true",
}


@dataclass(frozen=True)
class PeerStack:
    """Where everything listens, and the pids whose memory is reported."""

    fake: FakeCloudCode
    api: GeminiApi
    fake_url: str
    refresh_tokens: Mapping[str, str]
    gateway_url: str
    gateway_pid: int
    litellm_url: str
    litellm_pid: int


@contextmanager
def peer_stack(litellm: Path) -> Iterator[PeerStack]:
    """Fake (both shapes), seeded accounts, the gateway and LiteLLM; all stopped."""
    fake = FakeCloudCode()
    api = GeminiApi(fake)
    with tempfile.TemporaryDirectory(prefix="agp-peers-") as tmp, serve(api) as url:
        home = Path(tmp) / "home"
        tokens = seeded(home, fake)
        data = {"proxy": {"auth_mode": "off"}, "upstream": upstream_section(url)}
        with (
            run_gateway(home, data, workers=1, threads=GATEWAY_THREADS) as gateway,
            running_litellm(litellm, url, Path(tmp)) as (litellm_url, litellm_pid),
        ):
            yield PeerStack(
                fake,
                api,
                url,
                tokens,
                gateway.base_url,
                gateway.process.pid,
                litellm_url,
                litellm_pid,
            )


def litellm_config(fake_url: str) -> dict[str, object]:
    """LiteLLM proxy config: each bench model on ``gemini/`` at the fake.

    LiteLLM 1.108 builds ``{api_base}/models/{model}:{method}`` for ``gemini/``
    with a custom ``api_base`` (``?alt=sse`` added for streams, the key sent as
    ``x-goog-api-key``), so the base carries the API version.
    """
    params = {"api_base": fake_url + "/v1beta", "api_key": API_KEY}
    models = [
        {"model_name": name, "litellm_params": {"model": f"gemini/{name}", **params}}
        for name in MODELS
    ]
    settings = {"drop_params": True, "telemetry": False}
    return {"model_list": models, "litellm_settings": settings}


@contextmanager
def running_litellm(
    binary: Path, fake_url: str, tmp: Path
) -> Iterator[tuple[str, int]]:
    """Start ``litellm --config``, wait for its liveness route, stop its group."""
    config = tmp / "litellm.yaml"
    config.write_text(yaml.safe_dump(litellm_config(fake_url)))
    port = free_port()
    log = tmp / "litellm.log"
    command = [str(binary), "--config", str(config), "--host", "127.0.0.1"]
    command += ["--port", str(port), "--num_workers", "1"]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **LITELLM_ENV},
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_live(process, url + "/health/liveliness", log)
        yield url, process.pid
    finally:
        stop_group(process)


def wait_live(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Poll ``url`` until it answers 200; fail with the log if the process died."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"LiteLLM exited with {process.returncode}:\n{tail}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"LiteLLM not live after {START_TIMEOUT:.0f} s; see {log}")


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group the child leads, then SIGKILL it if it lingers."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants, in MB (1e6 bytes)."""
    total = 0
    for member in descendants(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total / 1e6


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it, from ``/proc/<pid>/task/*/children``."""
    found = [pid]
    for member in found:
        for task in Path(f"/proc/{member}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            found += [int(child) for child in children if int(child) not in found]
    return found
