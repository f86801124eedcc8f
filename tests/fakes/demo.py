"""``make demo``: a first answer through the gateway without a Google account.

Starts the loopback fake of Google OAuth + Cloud Code, adds one of its accounts
with the real ``antigravity-proxy accounts add`` (token on stdin), runs the real
``antigravity-proxy serve`` against it in a throw-away data dir, sends one
Anthropic Messages request and prints the answer. Then it keeps serving (Ctrl-C
stops everything) so a client can be pointed at it; ``--once`` stops right away.
Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
import yaml

from tests.fakes.cloudcode import FakeCloudCode, serve
from tests.upstream_env import upstream_section

TOKEN = "1//demo-refresh-token"
KEY = "sk-demo"


def main() -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__)
    parser.add_argument("--once", action="store_true", help="stop after the answer")
    once = parser.parse_args().once
    fake = FakeCloudCode()
    fake.add_account(TOKEN, email="demo@example.test")
    with serve(fake) as upstream, tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        config = home / "config.yaml"
        data = {
            "home": str(home),
            "proxy": {"api_key": KEY},
            "upstream": upstream_section(upstream),
        }
        config.write_text(yaml.safe_dump(data))
        step(f"fake Google + Cloud Code on {upstream}; data dir {home}")
        cli("accounts", "add", "--config", str(config), stdin=TOKEN + "\n")
        return run_gateway(config, once=once)


def run_gateway(config: Path, *, once: bool) -> int:
    port = free_port()
    step(f"antigravity-proxy serve --config {config} --port {port}")
    gateway = subprocess.Popen(
        [*command(), "serve", "--config", str(config), "--port", str(port)],
        env=child_env(),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, gateway)
        step("one Anthropic Messages request through the gateway")
        print(f"  answer: {ask(url)!r}", flush=True)
        if not once:
            step(f"serving on {url} (key {KEY}); Ctrl-C stops")
            gateway.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if gateway.poll() is None:
            gateway.send_signal(signal.SIGTERM)
            gateway.wait(15)
    return 0


def ask(url: str) -> str:
    body = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "Say hello"}],
    }
    headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
    with requests.post(
        f"{url}/v1/messages", json=body, headers=headers, timeout=30
    ) as r:
        r.raise_for_status()
        return "".join(b.get("text", "") for b in r.json()["content"])


def wait_healthy(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the gateway exited; see its log above")
        try:
            with requests.get(url + "/healthz", timeout=1) as answer:
                if answer.ok:
                    return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise SystemExit("the gateway did not answer /healthz within 30 s")


def cli(*args: str, stdin: str) -> None:
    step("antigravity-proxy " + " ".join(args))
    subprocess.run(
        [*command(), *args], input=stdin, text=True, check=True, env=child_env()
    )


def command() -> list[str]:
    return [sys.executable, "-m", "antigravity_proxy.cli"]


def child_env() -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("ANTIGRAVITY_PROXY_")
    }
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def step(text: str) -> None:
    print(f"\n== {text}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
