"""config.yaml: defaults, the file, env overrides, first-run creation, every invalid case."""

from __future__ import annotations

import dataclasses
import re

import pytest
import yaml

from antigravity_proxy.auth import effective_mode
from antigravity_proxy.config import (
    Config,
    ConfigError,
    default_config_path,
    load_config,
)


def write(tmp_path, text: str):
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_config_creates_missing_file_with_defaults_and_a_key(tmp_path):
    path = tmp_path / "new" / "config.yaml"
    config = load_config(path, env={})
    assert path.exists()
    assert re.fullmatch(r"sk-[0-9a-f]{32}", config.proxy.api_key)
    assert config.server == Config().server
    assert config.upstream == Config().upstream
    assert config.proxy.auth_mode == "auto"
    assert config.home == "~/.antigravity_proxy"
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_load_config_key_is_stable_across_loads(tmp_path):
    path = tmp_path / "config.yaml"
    first = load_config(path, env={})
    second = load_config(path, env={})
    assert first.proxy.api_key == second.proxy.api_key


def test_load_config_generates_and_saves_key_when_file_has_none(tmp_path):
    path = write(tmp_path, "proxy: {auth_mode: strict}\n")
    config = load_config(path, env={})
    assert config.proxy.api_key.startswith("sk-")
    assert yaml.safe_load(path.read_text())["proxy"]["api_key"] == config.proxy.api_key
    assert config.proxy.auth_mode == "strict"


def test_load_config_reads_file_values(tmp_path):
    path = write(
        tmp_path,
        "home: /srv/agp\nserver: {port: 9000, threads: 8}\n"
        "proxy: {api_key: sk-x, auth_mode: off}\nmodel_mapping: {gpt-4o: gemini-3-flash}\n"
        "upstream: {base_urls: [http://127.0.0.1:1/v1internal], read_timeout: 30}\n",
    )
    config = load_config(path, env={})
    assert config.home == "/srv/agp"
    assert config.accounts_dir.as_posix() == "/srv/agp/accounts"
    assert (config.server.port, config.server.threads, config.server.workers) == (
        9000,
        8,
        1,
    )
    assert config.model_mapping == {"gpt-4o": "gemini-3-flash"}
    assert config.upstream.base_urls == ("http://127.0.0.1:1/v1internal",)
    assert config.upstream.read_timeout == 30.0
    assert effective_mode(config)[0] == "off"


def test_load_config_env_overrides_file(tmp_path):
    path = write(
        tmp_path, "proxy: {api_key: sk-file, auth_mode: off}\nserver: {port: 9000}\n"
    )
    env = {
        "ANTIGRAVITY_PROXY_API_KEY": "sk-env",
        "ANTIGRAVITY_PROXY_AUTH_MODE": "strict",
        "ANTIGRAVITY_PROXY_PORT": "9100",
        "ANTIGRAVITY_PROXY_HOST": "127.0.0.2",
    }
    config = load_config(path, env=env)
    assert config.proxy.api_key == "sk-env"
    assert config.proxy.auth_mode == "strict"
    assert config.server.port == 9100
    assert config.server.host == "127.0.0.2"


def test_default_config_path_follows_env():
    assert (
        str(default_config_path({"ANTIGRAVITY_PROXY_CONFIG": "/a/b.yaml"}))
        == "/a/b.yaml"
    )
    assert (
        str(default_config_path({"ANTIGRAVITY_PROXY_HOME": "/h"})) == "/h/config.yaml"
    )
    assert default_config_path({}).name == "config.yaml"


def test_load_config_home_from_env_when_file_has_none(tmp_path):
    path = write(tmp_path, "proxy: {api_key: sk-x}\n")
    config = load_config(path, env={"ANTIGRAVITY_PROXY_HOME": "/data/agp"})
    assert config.home == "/data/agp"


@pytest.mark.parametrize(
    ("allow_lan", "server", "mode", "host", "effective"),
    [
        (False, "{}", "auto", "127.0.0.1", "off"),
        (True, "{}", "auto", "0.0.0.0", "all_except_health"),
        (True, "{host: 127.0.0.1}", "auto", "127.0.0.1", "all_except_health"),
        (True, "{}", "strict", "0.0.0.0", "strict"),
        (False, "{}", "all_except_health", "127.0.0.1", "all_except_health"),
    ],
)
def test_load_config_lan_access_binding_and_auto_mode(
    tmp_path, allow_lan, server, mode, host, effective
):
    path = write(
        tmp_path,
        f"server: {server}\nproxy: {{api_key: sk-x, auth_mode: {mode}, "
        f"allow_lan_access: {str(allow_lan).lower()}}}\n",
    )
    config = load_config(path, env={})
    assert config.server.host == host
    assert effective_mode(config)[0] == effective


INVALID = [
    ("unknown top key", "colour: blue\n", "colour: unknown key"),
    ("unknown nested key", "server: {prot: 1}\n", "server.prot: unknown key"),
    ("port type", "server: {port: eighty}\n", "server.port: expected an integer"),
    ("port range", "server: {port: 70000}\n", "server.port: expected 1-65535"),
    (
        "bool type",
        "proxy: {allow_lan_access: 'yes'}\n",
        "proxy.allow_lan_access: expected true or false",
    ),
    (
        "auth mode",
        "proxy: {auth_mode: sometimes}\n",
        "proxy.auth_mode: expected one of off, strict",
    ),
    ("section type", "server: 8045\n", "server: expected a mapping"),
    (
        "list type",
        "upstream: {base_urls: http://x}\n",
        "upstream.base_urls: expected a list of strings",
    ),
    (
        "empty list",
        "upstream: {base_urls: []}\n",
        "upstream.base_urls: expected at least one URL",
    ),
    (
        "mapping type",
        "model_mapping: [a, b]\n",
        "model_mapping: expected a mapping of strings",
    ),
    (
        "number type",
        "upstream: {read_timeout: soon}\n",
        "upstream.read_timeout: expected a number",
    ),
    (
        "zai dispatch",
        "zai: {dispatch_mode: always}\n",
        "zai.dispatch_mode: expected one of",
    ),
    ("zai nested", "zai: {mcp: {vision: true}}\n", "zai.mcp.vision: unknown key"),
    (
        "workers",
        "server: {workers: 0}\n",
        "server.workers: expected a positive integer",
    ),
    ("top level list", "- a\n- b\n", "expected a mapping at the top level"),
    ("bad yaml", "server: {port: [\n", "not valid YAML"),
]


@pytest.mark.parametrize(
    ("text", "message"), [(t, m) for _, t, m in INVALID], ids=[c[0] for c in INVALID]
)
def test_load_config_rejects_invalid_file_naming_the_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={"ANTIGRAVITY_PROXY_API_KEY": "sk-x"})
    assert message in str(info.value)
    assert "\n" not in str(info.value).strip() or "YAML" in str(info.value)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"ANTIGRAVITY_PROXY_PORT": "http"},
            "ANTIGRAVITY_PROXY_PORT: expected an integer",
        ),
        ({"ANTIGRAVITY_PROXY_AUTH_MODE": "maybe"}, "proxy.auth_mode: expected one of"),
    ],
)
def test_load_config_rejects_invalid_env(tmp_path, env, message):
    path = write(tmp_path, "proxy: {api_key: sk-x}\n")
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(path, env=env)


def test_first_run_template_is_commented_and_equals_the_defaults(tmp_path):
    path = tmp_path / "config.yaml"
    config = load_config(path, env={})
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# antigravity-proxy configuration")
    assert "auth_mode: auto            # off | strict" in text
    expected = dataclasses.replace(
        Config(),
        proxy=dataclasses.replace(Config().proxy, api_key=config.proxy.api_key),
        config_path=str(path),
    )
    assert config == expected
