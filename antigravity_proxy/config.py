"""The gateway's configuration: ``config.yaml`` plus a few environment overrides.

This is the only module that reads ``os.environ``. ``load_config`` returns a frozen
``Config`` tree; everything else receives the part it needs. Validation is strict:
an unknown key (with a "did you mean"), a wrong type, a number out of its range
(``bounds`` metadata on the field; other numbers must be ``>= 0``) or an unknown
auth mode stops start-up with one line naming the key and where it came from:
``file:line`` or the environment variable (``ConfigError``). A missing file is
created with the defaults (``serve`` only), and an empty ``proxy.api_key`` is
replaced by a generated one that is saved, so a key exists whenever auth can be on.
"""

from __future__ import annotations

import dataclasses
import os
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Union, get_args, get_origin, get_type_hints

from antigravity_proxy.apikeys import ApiKey, check_api_keys
from antigravity_proxy.config_checks import (
    BOUNDS_KEY,
    NON_NEGATIVE,
    bounds,
    leading_key,
    line_of,
    range_problem,
    state_problem,
    unknown_key_problem,
)
from antigravity_proxy.config_checks import ConfigError as ConfigError
from antigravity_proxy.config_file import ensure_api_key, read_existing, read_or_create

AUTH_MODES: Final = ("off", "strict", "all_except_health", "auto")
LOG_LEVELS: Final = ("debug", "info", "warning", "error", "critical")
LOG_FORMATS: Final = ("text", "json")
ZAI_DISPATCH_MODES: Final = ("off", "exclusive", "pooled", "fallback")
DEFAULT_HOME: Final = "~/.antigravity_proxy"
DEFAULT_BASE_URLS: Final = (
    "https://daily-cloudcode-pa.sandbox.googleapis.com/v1internal",
    "https://daily-cloudcode-pa.googleapis.com/v1internal",
    "https://cloudcode-pa.googleapis.com/v1internal",
)
DEFAULT_USER_AGENT: Final = (
    "Antigravity/4.3.0 (X11; Linux x86_64) Chrome/132.0.6834.160 Electron/39.2.3"
)


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """gunicorn settings (see ``server.gunicorn_options``, README's sizing rule)."""

    host: str = "127.0.0.1"
    port: int = field(default=8045, metadata=bounds(1, 65535))
    # Two workers use both cores of a small box; 2 x 768 threads hold 1,000
    # streams at once, unevenly shared (README "Sizing", ``make bench``).
    workers: int = field(default=2, metadata=bounds(1))
    threads: int = field(default=768, metadata=bounds(1))
    # Seconds a client has to send a request's head, then its body; a
    # connection past either is answered 408 and closed (``worker.py``).
    header_timeout: float = field(default=10, metadata=bounds(0, exclusive=True))
    body_timeout: float = field(default=120, metadata=bounds(0, exclusive=True))
    backlog: int = field(default=2048, metadata=bounds(1))
    keepalive: int = field(default=75, metadata=bounds(0))
    # KiB of stack per pool thread (at least 64); 0 keeps the platform's.
    thread_stack_kib: int = field(default=512, metadata=bounds(0, 65536))
    # Each worker is replaced after this many requests (plus up to the
    # jitter), so memory a long-running worker fragmented is given back.
    max_requests: int = field(default=0, metadata=bounds(0))
    max_requests_jitter: int = field(default=0, metadata=bounds(0))


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    api_key: str = ""
    api_keys: tuple[ApiKey, ...] = ()
    auth_mode: str = "auto"
    allow_lan_access: bool = False
    max_body_bytes: int = field(default=104857600, metadata=bounds(1))


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    base_urls: tuple[str, ...] = DEFAULT_BASE_URLS
    oauth_token_url: str = "https://oauth2.googleapis.com/token"
    userinfo_url: str = "https://www.googleapis.com/oauth2/v2/userinfo"
    connect_timeout: float = field(default=20, metadata=bounds(0, exclusive=True))
    read_timeout: float = field(default=600, metadata=bounds(0, exclusive=True))
    user_agent: str = DEFAULT_USER_AGENT
    fallback_project: str = "bamboo-precept-lgxtn"


@dataclass(frozen=True, slots=True)
class OAuthConfig:
    client_id: str = ""
    client_secret: str = ""


@dataclass(frozen=True, slots=True)
class AccountsConfig:
    quota_refresh_minutes: float = 15
    max_cooldown_seconds: int = 300
    max_attempts: int = field(default=3, metadata=bounds(1))


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    level: str = "info"
    format: str = "text"


@dataclass(frozen=True, slots=True)
class UsageConfig:
    retention_days: int = field(default=90, metadata=bounds(0))


@dataclass(frozen=True, slots=True)
class StateConfig:
    """Where the state shared by workers, and by boxes, lives (README "Shared state").

    ``sqlite`` is ``<home>/state.db``, shared by one box's workers; ``redis`` is
    the server at ``url`` (keys under ``prefix``), shared by every box pointed
    at it. ``timeout_ms`` bounds each Redis connect and reply.
    """

    backend: str = "sqlite"
    url: str = ""
    prefix: str = "agp:"
    timeout_ms: int = field(default=100, metadata=bounds(1, 60000))


@dataclass(frozen=True, slots=True)
class AnthropicConfig:
    background_model: str = "gemini-2.5-flash"


@dataclass(frozen=True, slots=True)
class OpenAIConfig:
    """Limits of the Responses API's stored conversations (``previous_response_id``).

    ``responses_store_max_response_bytes``: one stored response (its whole
    conversation, as JSON) larger than this is not stored; continuing from it is a
    400 that says so. ``responses_store_max_total_bytes``: every stored response
    together; the oldest are evicted to make room.
    """

    responses_store_max_response_bytes: int = 8 * 1024 * 1024
    responses_store_max_total_bytes: int = 128 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class AudioConfig:
    max_bytes: int = field(default=15 * 1024 * 1024, metadata=bounds(1))


@dataclass(frozen=True, slots=True)
class ZaiMcpConfig:
    enabled: bool = False
    web_search_enabled: bool = False
    web_reader_enabled: bool = False
    vision_enabled: bool = False
    allowed_dirs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ZaiModelsConfig:
    opus: str = "glm-4.7"
    sonnet: str = "glm-4.7"
    haiku: str = "glm-4.5-air"


@dataclass(frozen=True, slots=True)
class ZaiConfig:
    enabled: bool = False
    api_key: str = ""
    dispatch_mode: str = "off"
    base_url: str = "https://api.z.ai/api/anthropic"
    mcp_base_url: str = "https://api.z.ai/api/mcp"
    vision_base_url: str = "https://api.z.ai/api/paas/v4"
    model_mapping: Mapping[str, str] = field(default_factory=dict)
    models: ZaiModelsConfig = field(default_factory=ZaiModelsConfig)
    mcp: ZaiMcpConfig = field(default_factory=ZaiMcpConfig)


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration, as loaded once at start-up."""

    home: str = DEFAULT_HOME
    server: ServerConfig = field(default_factory=ServerConfig)
    proxy: ProxyConfig = field(default_factory=ProxyConfig)
    upstream: UpstreamConfig = field(default_factory=UpstreamConfig)
    oauth: OAuthConfig = field(default_factory=OAuthConfig)
    accounts: AccountsConfig = field(default_factory=AccountsConfig)
    model_mapping: Mapping[str, str] = field(default_factory=dict)
    anthropic: AnthropicConfig = field(default_factory=AnthropicConfig)
    openai: OpenAIConfig = field(default_factory=OpenAIConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)
    zai: ZaiConfig = field(default_factory=ZaiConfig)
    usage: UsageConfig = field(default_factory=UsageConfig)
    state: StateConfig = field(default_factory=StateConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    routes_file: str = ""
    config_path: str = field(default="", metadata={"internal": True})
    config_created: bool = field(default=False, metadata={"internal": True})
    # the ANTIGRAVITY_PROXY_* variables that set a value (for the start-up banner)
    env_sources: tuple[str, ...] = field(default=(), metadata={"internal": True})

    @property
    def home_dir(self) -> Path:
        return Path(self.home).expanduser()

    @property
    def accounts_dir(self) -> Path:
        return self.home_dir / "accounts"


def default_config_path(env: Mapping[str, str]) -> Path:
    """``ANTIGRAVITY_PROXY_CONFIG``, else ``<home>/config.yaml``."""
    if env.get("ANTIGRAVITY_PROXY_CONFIG"):
        return Path(env["ANTIGRAVITY_PROXY_CONFIG"]).expanduser()
    home = env.get("ANTIGRAVITY_PROXY_HOME") or DEFAULT_HOME
    return Path(home).expanduser() / "config.yaml"


def login_environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables that tell whether a local browser can sign in (``DISPLAY``…)."""
    env = os.environ if env is None else env
    names = ("DISPLAY", "WAYLAND_DISPLAY", "SSH_CONNECTION")
    return {name: env[name] for name in names if env.get(name)}


def load_config(
    path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    *,
    create: bool = True,
) -> Config:
    """Read, create or complete the config file, apply env overrides, validate.

    Why the file may be written: a first run must leave a config a user can edit,
    and a generated API key must be stable across restarts and worker processes,
    so it is saved under a file lock before any worker serves a request.
    ``create=False`` (every command but ``serve``) never writes: a missing file
    named by ``path`` or ``ANTIGRAVITY_PROXY_CONFIG`` is an error, a missing
    default file means the defaults.
    """
    env = os.environ if env is None else env
    cfg_path = Path(path).expanduser() if path else default_config_path(env)
    existed = cfg_path.exists()
    if create:
        raw = ensure_api_key(cfg_path, read_or_create(cfg_path), env)
    else:
        raw = read_existing(cfg_path, named=bool(path) or _env_names_file(env))
    try:
        config = _build(raw, env)
    except ConfigError as exc:
        raise ConfigError(_explain(str(exc), cfg_path, env)) from None
    return dataclasses.replace(
        config,
        config_path=str(cfg_path),
        config_created=create and not existed,
        env_sources=tuple(var for var, _, _ in ENV_OVERRIDES if env.get(var)),
    )


def _env_names_file(env: Mapping[str, str]) -> bool:
    return bool(env.get("ANTIGRAVITY_PROXY_CONFIG"))


def _build(raw: Mapping[str, Any], env: Mapping[str, str]) -> Config:
    merged = _apply_env(raw, env)
    config = _from_mapping(Config, merged, "")
    _check_enums(config)
    return _apply_lan_binding(config, merged)


# (variable, dotted config key, integer?): the environment overrides.
ENV_OVERRIDES: Final = (
    ("ANTIGRAVITY_PROXY_API_KEY", "proxy.api_key", False),
    ("ANTIGRAVITY_PROXY_AUTH_MODE", "proxy.auth_mode", False),
    ("ANTIGRAVITY_PROXY_HOST", "server.host", False),
    ("ANTIGRAVITY_PROXY_PORT", "server.port", True),
    ("ANTIGRAVITY_PROXY_STATE_URL", "state.url", False),
)


def _apply_env(raw: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    merged = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    for var, dotted, integer in ENV_OVERRIDES:
        if env.get(var):
            section, _, key = dotted.partition(".")
            target = merged.setdefault(section, {})
            if isinstance(target, dict):
                target[key] = _env_int(var, env[var]) if integer else env[var]
    if "home" not in merged and env.get("ANTIGRAVITY_PROXY_HOME"):
        merged["home"] = env["ANTIGRAVITY_PROXY_HOME"]
    state = merged.get("state")
    if isinstance(state, dict) and state.get("url"):
        # A Redis URL from the environment, or alone in the file, says which
        # backend: setting it on each box is how boxes join one group.
        if env.get("ANTIGRAVITY_PROXY_STATE_URL") or "backend" not in state:
            state["backend"] = "redis"
    return merged


def _env_int(var: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{var}: expected an integer, got {value!r}") from None


def _explain(message: str, path: Path, env: Mapping[str, str]) -> str:
    """Name where a bad value came from: the env variable, or file:line."""
    if message.startswith("ANTIGRAVITY_PROXY_"):
        return message
    key = leading_key(message)
    for var, dotted, _ in ENV_OVERRIDES:
        if key == dotted and env.get(var):
            return f"{var}: {message[len(key) + 2 :]} (it sets {key})"
    text = path.read_text(encoding="utf-8") if key and path.exists() else ""
    line = line_of(text, key) if key and text else None
    return f"{path}:{line}: {message}" if line else f"{path}: {message}"


def _apply_lan_binding(config: Config, merged: Mapping[str, Any]) -> Config:
    server = merged.get("server")
    host_set = isinstance(server, Mapping) and "host" in server
    if config.proxy.allow_lan_access and not host_set:
        server_cfg = dataclasses.replace(config.server, host="0.0.0.0")
        return dataclasses.replace(config, server=server_cfg)
    return config


def _check_enums(config: Config) -> None:
    if config.proxy.auth_mode not in AUTH_MODES:
        raise ConfigError(
            f"proxy.auth_mode: expected one of {', '.join(AUTH_MODES)}, "
            f"got {config.proxy.auth_mode!r}"
        )
    if config.zai.dispatch_mode not in ZAI_DISPATCH_MODES:
        raise ConfigError(
            f"zai.dispatch_mode: expected one of {', '.join(ZAI_DISPATCH_MODES)}, "
            f"got {config.zai.dispatch_mode!r}"
        )
    if not config.upstream.base_urls:
        raise ConfigError("upstream.base_urls: expected at least one URL")
    for name, allowed in (("level", LOG_LEVELS), ("format", LOG_FORMATS)):
        value = getattr(config.logging, name)
        if value not in allowed:
            raise ConfigError(
                f"logging.{name}: expected one of {', '.join(allowed)}, got {value!r}"
            )
    problem = check_api_keys(config.proxy.api_keys, config.proxy.api_key)
    if problem:
        raise ConfigError(problem)
    problem = state_problem(config.state.backend, config.state.url)
    if problem:
        raise ConfigError(problem)


def _from_mapping(cls: type[Any], raw: Any, prefix: str) -> Any:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a mapping")
    hints = get_type_hints(cls)
    fields = {
        f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")
    }
    unknown = sorted(set(raw) - set(fields), key=str)
    if unknown:
        problem = unknown_key_problem(str(unknown[0]), fields)
        raise ConfigError(f"{prefix}{unknown[0]}: {problem}")
    missing = [n for n, f in fields.items() if n not in raw and _required(f)]
    if missing:
        raise ConfigError(f"{prefix}{missing[0]}: required key is missing")
    values = {
        name: _convert(hints[name], raw[name], prefix + name)
        for name in fields
        if name in raw
    }
    for name, value in values.items():
        _check_range(fields[name], value, prefix + name)
    return cls(**values)


def _check_range(spec: dataclasses.Field[Any], value: Any, key: str) -> None:
    """Numbers keep to their ``bounds`` metadata; without it, ``>= 0``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return
    limits = spec.metadata.get(BOUNDS_KEY, NON_NEGATIVE)
    problem = range_problem(value, limits, integer=isinstance(value, int))
    if problem:
        raise ConfigError(f"{key}: {problem}")


def _required(spec: dataclasses.Field[Any]) -> bool:
    no_factory = spec.default_factory is dataclasses.MISSING
    return spec.default is dataclasses.MISSING and no_factory


def _convert(hint: Any, value: Any, key: str) -> Any:
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _from_mapping(hint, value if value is not None else {}, key + ".")
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        return _convert(get_args(hint)[0], value, key)
    if origin is tuple:
        item = get_args(hint)[0]
        if isinstance(item, type) and dataclasses.is_dataclass(item):
            return _convert_records(item, value, key)
        return tuple(_convert_list(value, key))
    if origin in (Mapping, dict) or hint is Mapping:
        return _convert_str_map(value, key)
    return _convert_scalar(hint, value, key)


def _convert_list(value: Any, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{key}: expected a list of strings")
    return value


def _convert_records(cls: type[Any], value: Any, key: str) -> tuple[Any, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(f"{key}: expected a list of mappings")
    records = (_from_mapping(cls, v, f"{key}[{i}].") for i, v in enumerate(value))
    return tuple(records)


def parse_api_keys(value: Any) -> tuple[ApiKey, ...]:
    """``proxy.api_keys`` as read from YAML, converted as at start-up."""
    converted: tuple[ApiKey, ...] = _convert_records(ApiKey, value, "proxy.api_keys")
    return converted


def _convert_str_map(value: Any, key: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ConfigError(f"{key}: expected a mapping of strings to strings")
    return dict(value)


def _convert_scalar(hint: Any, value: Any, key: str) -> Any:
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if value is None:
            return ""
        if isinstance(value, bool):
            # YAML 1.1 reads a bare `off`/`on` as a boolean; `auth_mode: off` and
            # `dispatch_mode: off` are meant as the words.
            return "on" if value else "off"
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported type {hint!r}")  # pragma: no cover
