"""`antigravity-proxy serve` under real gunicorn, over a real socket."""

from __future__ import annotations

import re
import signal
import socket

import pytest
import requests

from antigravity_proxy import __version__
from tests.conftest import API_KEY

pytestmark = pytest.mark.e2e


def test_serve_answers_health_and_enforces_auth(gateway_factory):
    with gateway_factory(
        {"proxy": {"auth_mode": "all_except_health"}}, workers=2
    ) as gw:
        with requests.get(gw.base_url + "/healthz", timeout=5) as health:
            assert health.status_code == 200
            assert health.json() == {
                "status": "ok",
                "version": __version__,
                "state": {"backend": "sqlite", "ok": True},
            }
        with requests.post(gw.base_url + "/v1/messages", json={}, timeout=5) as denied:
            assert denied.status_code == 401
            assert denied.json()["error"]["type"] == "authentication_error"
        with requests.post(
            gw.base_url + "/v1/api/event_logging",
            json={"a": 1},
            headers={"Authorization": f"Bearer {API_KEY}"},
            timeout=5,
        ) as allowed:
            assert allowed.status_code == 200
            assert allowed.json() == {}
        with requests.get(
            gw.base_url + "/v1beta/models/x", params={"key": "sk-wrong"}, timeout=5
        ) as gemini:
            assert gemini.status_code == 401
            assert gemini.json()["error"]["status"] == "UNAUTHENTICATED"


def raw_request(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
    return b"".join(chunks)


def test_serve_path_tricks_over_a_real_socket(gateway_factory):
    with gateway_factory({"proxy": {"auth_mode": "all_except_health"}}) as gw:
        port = int(gw.base_url.rsplit(":", 1)[1])
        for path in (
            b"//healthz",
            b"/healthz/",
            b"/HEALTHZ",
            b"/healthz/../v1/messages",
        ):
            answer = raw_request(
                port,
                b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            )
            assert answer.startswith(b"HTTP/1.1 401"), (path, answer[:80])


def test_serve_keeps_key_out_of_access_log(gateway_factory):
    with gateway_factory({"proxy": {"auth_mode": "strict"}}) as gw:
        with requests.get(
            gw.base_url + "/v1beta/models", params={"key": API_KEY}, timeout=5
        ):
            pass
        with requests.get(
            gw.base_url + "/healthz", headers={"x-api-key": API_KEY}, timeout=5
        ):
            pass
    text = gw.log_text()
    assert re.search(
        r"INFO \[req_[0-9a-f]{32}\] access: GET /healthz 200 internal ", text
    )
    assert API_KEY not in text


def test_serve_sigterm_stops_cleanly(gateway_factory):
    with gateway_factory() as gw:
        gw.process.send_signal(signal.SIGTERM)
        assert gw.process.wait(15) == 0
    assert "Shutting down" in gw.log_text() or "Handling signal: term" in gw.log_text()


def test_serve_refuses_bad_config_with_one_line(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "config.yaml"
    path.write_text("proxy: {auth_mode: sometimes}\n")
    result = subprocess.run(
        [sys.executable, "-m", "antigravity_proxy.cli", "--config", str(path), "serve"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "proxy.auth_mode" in result.stderr


def test_routes_command_rejects_broken_routes_file(tmp_path):
    import subprocess
    import sys

    routes = tmp_path / "routes.yaml"
    routes.write_text(
        "- {method: GET, path: /x, handler: no.such.handler, protocol: openai}\n"
    )
    path = tmp_path / "config.yaml"
    path.write_text(f"proxy: {{api_key: sk-x}}\nroutes_file: {routes}\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "antigravity_proxy.cli",
            "--config",
            str(path),
            "routes",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "no.such.handler" in result.stderr


def test_serve_on_all_interfaces_needs_the_key_under_auto(gateway_factory):
    # The config says nothing about LAN access; `serve --host 0.0.0.0` does.
    with gateway_factory(
        {"proxy": {"auth_mode": "auto", "allow_lan_access": False}}, host="0.0.0.0"
    ) as gw:
        with requests.post(gw.base_url + "/v1/messages", json={}, timeout=5) as denied:
            assert denied.status_code == 401
            assert denied.json()["error"]["type"] == "authentication_error"
        with requests.get(gw.base_url + "/v1/models", timeout=5) as models:
            assert models.status_code == 401
        with requests.get(
            gw.base_url + "/v1/models", headers={"x-api-key": API_KEY}, timeout=5
        ) as allowed:
            assert allowed.status_code == 200
        with requests.get(gw.base_url + "/healthz", timeout=5) as health:
            assert health.status_code == 200
    assert "auth       all_except_health (auto: bound to 0.0.0.0," in gw.log_text()


def test_serve_on_loopback_says_why_auto_is_open(gateway_factory):
    with gateway_factory({"proxy": {"auth_mode": "auto"}}) as gw:
        with requests.get(gw.base_url + "/v1/models", timeout=5) as models:
            assert models.status_code == 200
    assert "auth       off (auto: bound to 127.0.0.1 only)" in gw.log_text()
