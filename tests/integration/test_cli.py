"""The ``antigravity-proxy`` command as a person runs it: a subprocess, its exit
status, and what it prints (one line per start-up problem)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import yaml

from antigravity_proxy.cli import build_parser
from tests.conftest import write_config
from tests.upstream_env import read_account, seed_account, upstream_section


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


# --- 14.2: a CLI a person can live with ---------------------------------------


def leaf_commands(parser=None, path=()):
    """Every runnable command path, e.g. ("accounts", "list"), with its parser."""
    parser = parser or build_parser()
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    yield path, parser
    for sub in subs:
        for name, child in sub.choices.items():
            yield from leaf_commands(child, (*path, name))


LEAVES = list(leaf_commands())


def required_args(parser) -> list[str]:
    args = []
    for action in parser._actions:
        if not action.required:
            continue
        if action.option_strings:
            args += [action.option_strings[0], "x"]
        elif not isinstance(action, argparse._SubParsersAction):
            args.append("x")
    return args


@pytest.mark.parametrize(
    ("path", "parser"), LEAVES, ids=[" ".join(p) or "(bare)" for p, _ in LEAVES]
)
def test_config_is_accepted_before_and_after_every_command(path, parser):
    tail = [*path, *required_args(parser)]
    for argv in (["--config", "X", *tail], [*tail, "--config", "X"]):
        assert build_parser().parse_args(argv).config == "X", argv


@pytest.mark.parametrize(
    ("path", "parser"), LEAVES, ids=[" ".join(p) or "(bare)" for p, _ in LEAVES]
)
def test_every_option_has_a_description_and_its_default(path, parser):
    formatter = parser._get_formatter()
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._VersionAction):
            continue
        if isinstance(action, argparse._SubParsersAction):
            assert all(c.help for c in action._choices_actions), path
            continue
        shown = formatter._get_help_string(action)
        assert shown and len(shown) > 8, (path, action.dest)
        flag = action.nargs == 0 and action.default in (False, argparse.SUPPRESS)
        if not (action.required or flag or action.dest == "config"):
            assert "default" in shown, (path, action.dest, shown)


def test_bare_command_prints_help_and_exits_zero(run_cli):
    result = run_cli()
    assert result.returncode == 0, result.stderr
    assert "usage: antigravity-proxy" in result.stdout
    for command in ("serve", "routes", "models", "accounts"):
        assert command in result.stdout
    bare_accounts = run_cli("accounts")
    assert bare_accounts.returncode == 0, bare_accounts.stderr
    assert "refresh-quota" in bare_accounts.stdout


def test_serve_help_describes_every_flag(run_cli):
    result = run_cli("serve", "--help")
    assert result.returncode == 0
    assert "--port PORT        port (default: server.port)" in result.stdout


@pytest.fixture
def config_file(tmp_path, fake_upstream):
    home = tmp_path / "home"
    return write_config(
        home,
        {
            "proxy": {"api_key": "sk-x"},
            "upstream": upstream_section(fake_upstream.base_url),
        },
    )


def test_accounts_list_json_and_config_after_subcommand(
    run_cli, config_file, fake_upstream
):
    seed_account(config_file.parent, fake_upstream, "a", models={"gemini-3-flash": 0.5})
    result = run_cli("accounts", "list", "--json", "--config", str(config_file))
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert row["id"] == "a" and row["email"] == "a@example.test"
    assert row["usable"] is True and row["cooling_down"] == []
    assert "1//rt-a" not in result.stdout and "ya29" not in result.stdout
    empty = run_cli("accounts", "list", "--json", "--config", str(config_file))
    assert empty.returncode == 0


def test_accounts_are_named_by_id_or_email(run_cli, config_file, fake_upstream):
    home = config_file.parent
    seed_account(home, fake_upstream, "a")
    seed_account(home, fake_upstream, "b")
    config = ["--config", str(config_file)]
    disabled = run_cli("accounts", "disable", "A@Example.test", *config)
    assert disabled.returncode == 0, disabled.stderr
    assert disabled.stdout.strip() == "disabled a (a@example.test)"
    assert read_account(home, "a")["proxy_disabled"] is True
    assert run_cli("accounts", "enable", "a@example.test", *config).returncode == 0
    assert read_account(home, "a")["proxy_disabled"] is False
    removed = run_cli("accounts", "remove", "b@example.test", *config)
    assert removed.returncode == 0, removed.stderr
    assert not (home / "accounts" / "b.json").exists()
    missing = run_cli("accounts", "remove", "nobody@example.test", *config)
    assert missing.returncode == 2
    assert "no account with id or email nobody@example.test" in missing.stderr
    quota = run_cli("accounts", "refresh-quota", "a@example.test", *config)
    assert quota.returncode == 0, quota.stderr
    assert quota.stdout.startswith("a: ")


def routes_json(run_cli, config_file, zai: dict) -> dict:
    data = yaml.safe_load(config_file.read_text())
    data["zai"] = zai
    config_file.write_text(yaml.safe_dump(data))
    result = run_cli("routes", "--json", "--config", str(config_file))
    assert result.returncode == 0, result.stderr
    return {row["path"]: row for row in json.loads(result.stdout)}


def test_routes_show_mcp_disabled_while_zai_mcp_is_off(run_cli, config_file):
    rows = routes_json(run_cli, config_file, {"mcp": {"enabled": False}})
    mcp_rows = [row for path, row in rows.items() if path.startswith("/mcp/")]
    assert len(mcp_rows) == 3
    for row in mcp_rows:
        assert row["enabled"] is False
        assert row["disabled_because"] == "zai.mcp.enabled is false"
    assert rows["/v1/messages"]["enabled"] is True
    rows = routes_json(
        run_cli, config_file, {"mcp": {"enabled": True, "vision_enabled": True}}
    )
    assert rows["/mcp/zai-mcp-server/mcp"]["enabled"] is True
    assert rows["/mcp/web_reader/mcp"]["disabled_because"] == (
        "zai.mcp.web_reader_enabled is false"
    )
    text = run_cli("routes", "--config", str(config_file)).stdout
    assert "disabled antigravity_proxy.handlers.mcp.web_reader" in text
    assert "(zai.mcp.web_reader_enabled is false)" in text


def test_models_json(run_cli, config_file):
    result = run_cli("models", "--json", "--config", str(config_file))
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert {"model", "mapped_model", "type"} == set(rows[0])
    assert any(r["model"] == "gemini-3-flash" for r in rows)
