"""The ``antigravity-proxy`` command as a person runs it: a subprocess, its exit
status, and what it prints (one line per start-up problem)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture
def run_cli(tmp_path):
    """Run the CLI in a clean environment whose ``$HOME`` is a temporary dir."""

    def run(*args: str, env: dict | None = None, stdin: str | None = None):
        child_env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("ANTIGRAVITY_PROXY_")
        }
        child_env["HOME"] = str(tmp_path / "user")
        child_env.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "antigravity_proxy.cli", *args],
            capture_output=True,
            text=True,
            timeout=60,
            env=child_env,
            input=stdin,
        )

    return run


def one_line_error(result) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr.strip()


@pytest.mark.parametrize("place", ["before", "after"])
def test_routes_with_missing_config_is_an_error_and_creates_nothing(
    run_cli, tmp_path, place
):
    missing = tmp_path / "nope.yaml"
    args = ["--config", str(missing)]
    result = run_cli(*(args + ["routes"] if place == "before" else ["routes", *args]))
    line = one_line_error(result)
    assert f"{missing}: no such config file" in line
    assert not missing.exists()
    assert not (tmp_path / "user").exists()


def test_yaml_syntax_error_names_file_line_and_column(run_cli, tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("server:\n  port: 8045\nproxy: {api_key: [\n")
    line = one_line_error(run_cli("--config", str(path), "routes"))
    assert line.startswith(f"antigravity-proxy: {path}:4:1: not valid YAML: ")


def test_out_of_range_value_names_file_line_and_key(run_cli, tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("proxy: {api_key: sk-x}\nupstream:\n  connect_timeout: -5\n")
    line = one_line_error(run_cli("--config", str(path), "routes"))
    assert line == (
        f"antigravity-proxy: {path}:3: upstream.connect_timeout: "
        "expected a number > 0, got -5"
    )


def test_env_error_names_the_variable(run_cli, tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("proxy: {api_key: sk-x}\n")
    result = run_cli(
        "--config", str(path), "routes", env={"ANTIGRAVITY_PROXY_AUTH_MODE": "maybe"}
    )
    line = one_line_error(result)
    assert line.startswith("antigravity-proxy: ANTIGRAVITY_PROXY_AUTH_MODE: expected")
    assert "(it sets proxy.auth_mode)" in line


def test_unknown_key_suggests_the_close_one(run_cli, tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("proxy:\n  api_key: sk-x\n  auth_mod: strict\n")
    line = one_line_error(run_cli("--config", str(path), "routes"))
    assert line.endswith(
        f"{path}:3: proxy.auth_mod: unknown key (did you mean 'auth_mode'?)"
    )


def test_missing_config_from_env_is_an_error_for_accounts(run_cli, tmp_path):
    missing = tmp_path / "nope.yaml"
    result = run_cli("accounts", "list", env={"ANTIGRAVITY_PROXY_CONFIG": str(missing)})
    assert "no such config file" in one_line_error(result)
    assert not missing.exists()


def test_commands_other_than_serve_never_write_the_default_config(run_cli, tmp_path):
    result = run_cli("routes")
    assert result.returncode == 0, result.stderr
    assert not Path(tmp_path / "user" / ".antigravity_proxy" / "config.yaml").exists()
