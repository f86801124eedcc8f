"""config.yaml: defaults, the file, env overrides, first-run creation, every invalid case."""

from __future__ import annotations

import dataclasses
import re
import typing

import pytest
import yaml

from antigravity_proxy.auth import effective_mode
from antigravity_proxy.config import (
    Config,
    ConfigError,
    default_config_path,
    load_config,
)
from antigravity_proxy.config_checks import BOUNDS_KEY, NON_NEGATIVE


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
        2,  # the default
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
    ("workers", "server: {workers: 0}\n", "server.workers: expected an integer >= 1"),
    ("top level list", "- a\n- b\n", "expected a mapping at the top level"),
    ("bad yaml", "server: {port: [\n", "config.yaml:2:1: not valid YAML: expected"),
    ("tab", "proxy:\n\tapi_key: x\n", "config.yaml:2:1: not valid YAML: found"),
    ("timeout", "upstream:\n  connect_timeout: -5\n", "expected a number > 0, got -5"),
    (
        "zero timeout",
        "upstream: {read_timeout: 0}\n",
        "read_timeout: expected a number > 0",
    ),
    ("did you mean", "server: {prot: 1}\n", "unknown key (did you mean 'port'?)"),
    ("known keys", "audio: {colour: 1}\n", "unknown key (known here: max_bytes)"),
    (
        "size",
        "proxy: {max_body_bytes: 0}\n",
        "proxy.max_body_bytes: expected an integer >= 1",
    ),
    (
        "audio size",
        "audio: {max_bytes: -1}\n",
        "audio.max_bytes: expected an integer >= 1",
    ),
    (
        "state backend",
        "state: {backend: memcached}\n",
        "state.backend: expected one of sqlite, redis, got 'memcached'",
    ),
    (
        "state url scheme",
        "state: {backend: redis, url: 'http://h:1/0'}\n",
        "state.url: expected a URL starting with redis://, rediss://, unix://",
    ),
    (
        "state url missing",
        "state: {backend: redis}\n",
        "state.url: expected a Redis URL such as redis://host:6379/0, got nothing",
    ),
    (
        "state url for sqlite",
        "state: {backend: sqlite, url: 'redis://h'}\n",
        "state.url: only used with state.backend redis",
    ),
    (
        "state url options",
        "state: {url: 'redis://h:6380/0?socket_timeout=soon'}\n",
        "state.url: the URL's options: Invalid value for 'socket_timeout' "
        "in connection URL",
    ),
    (
        "state url db",
        "state: {url: 'redis://h:6379/zero'}\n",
        "state.url: the URL's path must be a database number, such as /0",
    ),
]


@pytest.mark.parametrize(
    ("text", "message"), [(t, m) for _, t, m in INVALID], ids=[c[0] for c in INVALID]
)
def test_load_config_rejects_invalid_file_naming_the_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={"ANTIGRAVITY_PROXY_API_KEY": "sk-x"})
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith(str(path))


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"ANTIGRAVITY_PROXY_PORT": "http"},
            "ANTIGRAVITY_PROXY_PORT: expected an integer",
        ),
        (
            {"ANTIGRAVITY_PROXY_AUTH_MODE": "maybe"},
            "ANTIGRAVITY_PROXY_AUTH_MODE: expected one of off, strict, "
            "all_except_health, auto, got 'maybe' (it sets proxy.auth_mode)",
        ),
        (
            {"ANTIGRAVITY_PROXY_PORT": "0"},
            "ANTIGRAVITY_PROXY_PORT: expected 1-65535, got 0 (it sets server.port)",
        ),
        (
            {"ANTIGRAVITY_PROXY_STATE_URL": "memcache://:pw@h:1"},
            "ANTIGRAVITY_PROXY_STATE_URL: expected a URL starting with redis://, "
            "rediss://, unix:// (it sets state.url)",
        ),
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
        config_created=True,
    )
    assert config == expected


def numeric_keys(cls=Config, prefix=""):
    """Every int/float key of the config tree, with its field (for its bounds)."""
    hints = typing.get_type_hints(cls)
    for spec in dataclasses.fields(cls):
        hint = hints[spec.name]
        if spec.metadata.get("internal"):
            continue
        if dataclasses.is_dataclass(hint):
            yield from numeric_keys(hint, prefix + spec.name + ".")
        elif hint in (int, float):
            yield prefix + spec.name, spec


def nested_yaml(dotted: str, value) -> str:
    data: dict = {}
    target = data
    *sections, last = dotted.split(".")
    for section in sections:
        target = target.setdefault(section, {})
    target[last] = value
    return yaml.safe_dump(data)


NUMERIC = list(numeric_keys())


def test_numeric_key_table_is_not_empty():
    names = [k for k, _ in NUMERIC]
    assert {"server.port", "upstream.connect_timeout", "audio.max_bytes"} <= set(names)


@pytest.mark.parametrize(("key", "spec"), NUMERIC, ids=[k for k, _ in NUMERIC])
def test_every_numeric_key_rejects_values_below_its_range(tmp_path, key, spec):
    limits = spec.metadata.get(BOUNDS_KEY, NON_NEGATIVE)
    below = limits.low if limits.exclusive else limits.low - 1
    path = write(tmp_path, "# a comment\n" + nested_yaml(key, below))
    with pytest.raises(ConfigError) as info:
        load_config(path, env={"ANTIGRAVITY_PROXY_API_KEY": "sk-x"})
    line = 2 + key.count(".")
    assert str(info.value).startswith(f"{path}:{line}: {key}: expected ")


@pytest.mark.parametrize(("key", "spec"), NUMERIC, ids=[k for k, _ in NUMERIC])
def test_every_numeric_key_accepts_its_lowest_value(tmp_path, key, spec):
    limits = spec.metadata.get(BOUNDS_KEY, NON_NEGATIVE)
    lowest = limits.low + 0.5 if limits.exclusive else int(limits.low)
    path = write(tmp_path, nested_yaml(key, lowest))
    config = load_config(path, env={"ANTIGRAVITY_PROXY_API_KEY": "sk-x"})
    value = config
    for part in key.split("."):
        value = getattr(value, part)
    assert value == lowest


def test_port_above_range_is_rejected(tmp_path):
    path = write(tmp_path, "server: {port: 65536}\n")
    with pytest.raises(ConfigError, match="server.port: expected 1-65535, got 65536"):
        load_config(path, env={"ANTIGRAVITY_PROXY_API_KEY": "sk-x"})


def test_missing_named_file_is_an_error_without_create(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(path, env={}, create=False)
    assert not path.exists() and not list(tmp_path.iterdir())


def test_missing_file_named_by_env_is_an_error_without_create(tmp_path):
    env = {"ANTIGRAVITY_PROXY_CONFIG": str(tmp_path / "nope.yaml")}
    with pytest.raises(ConfigError, match="nope.yaml: no such config file"):
        load_config(None, env=env, create=False)
    assert not list(tmp_path.iterdir())


def test_missing_default_file_without_create_means_defaults(tmp_path):
    config = load_config(
        None, env={"ANTIGRAVITY_PROXY_HOME": str(tmp_path)}, create=False
    )
    assert config.proxy.api_key == "" and config.home == str(tmp_path)
    assert not config.config_created
    assert not list(tmp_path.iterdir())


def test_existing_file_without_key_is_not_written_without_create(tmp_path):
    path = write(tmp_path, "proxy: {auth_mode: strict}\n")
    before = path.read_text()
    config = load_config(path, env={}, create=False)
    assert config.proxy.auth_mode == "strict"
    assert path.read_text() == before


def test_config_created_says_whether_this_load_wrote_the_file(tmp_path):
    path = tmp_path / "config.yaml"
    assert load_config(path, env={}).config_created
    assert not load_config(path, env={}).config_created


def test_state_defaults_to_sqlite_in_the_home(tmp_path):
    config = load_config(write(tmp_path, "proxy: {api_key: sk-x}\n"), env={})
    assert (config.state.backend, config.state.url) == ("sqlite", "")
    assert (config.state.prefix, config.state.timeout_ms) == ("agp:", 100)


def test_state_url_from_env_selects_redis_over_the_file(tmp_path):
    path = write(
        tmp_path,
        "state: {backend: sqlite, prefix: 'team:', timeout_ms: 50}\n",
    )
    url = "rediss://:s3cret@cache.internal:6380/2"
    config = load_config(path, env={"ANTIGRAVITY_PROXY_STATE_URL": url})
    assert config.state.backend == "redis"
    assert config.state.url == url
    assert (config.state.prefix, config.state.timeout_ms) == ("team:", 50)
    assert "ANTIGRAVITY_PROXY_STATE_URL" in config.env_sources


def test_state_url_alone_in_the_file_selects_redis(tmp_path):
    path = write(tmp_path, "state: {url: 'redis://10.0.0.5:6379/0'}\n")
    assert load_config(path, env={}).state.backend == "redis"


@pytest.mark.parametrize(
    "url",
    [
        "redis://:s3cret@host:99999/0",
        "redis://user:s3cret@[::1/0",
        "http://:s3cret@host/0",
        "redis://:s3cret@host/db",
    ],
)
def test_state_url_errors_never_quote_the_password(tmp_path, url):
    path = write(tmp_path, "proxy: {api_key: sk-x}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={"ANTIGRAVITY_PROXY_STATE_URL": url})
    message = str(info.value)
    assert message.startswith("ANTIGRAVITY_PROXY_STATE_URL: ")
    assert "s3cret" not in message and "\n" not in message
