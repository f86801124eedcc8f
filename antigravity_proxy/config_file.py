"""The config file itself: read it, create it on a first run, save a new key.

Writes are atomic (``write_atomic``) and serialised across processes by an
exclusive ``flock`` on ``<config>.lock``, so gunicorn workers starting together
agree on one generated key.
"""

from __future__ import annotations

import fcntl
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import yaml

from antigravity_proxy.config_checks import ConfigError, yaml_problem
from antigravity_proxy.config_template import DEFAULT_TEMPLATE
from antigravity_proxy.fsutil import write_atomic

# libyaml's safe loader where PyYAML has it (as ``routing`` reads routes.yaml):
# the pure Python one took 15-20 ms of every start for the default config file.
SAFE_LOADER: Final[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_existing(path: Path, *, named: bool) -> dict[str, Any]:
    if path.exists():
        return read_yaml(path)
    if named:
        raise ConfigError(
            f"{path}: no such config file (check the path; "
            f"'antigravity-proxy serve --config {path}' creates it)"
        )
    return {}


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = parse_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(yaml_problem(path, exc)) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text: {exc.reason}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def parse_yaml(text: str) -> Any:
    """libyaml's parse; on an error, the pure Python parser's (its messages are
    the ones ``yaml_problem`` shows, e.g. "expected ',' or '}', but got ...")."""
    try:
        return yaml.load(text, Loader=SAFE_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError:
        return yaml.safe_load(text)


def read_or_create(path: Path) -> dict[str, Any]:
    if path.exists():
        return read_yaml(path)
    with _locked(path):
        if not path.exists():
            text = DEFAULT_TEMPLATE.format(api_key="sk-" + secrets.token_hex(16))
            write_atomic(path, text.encode("utf-8"), mode=0o600)
        return read_yaml(path)


def ensure_api_key(
    path: Path, raw: dict[str, Any], env: Mapping[str, str]
) -> dict[str, Any]:
    proxy = raw.get("proxy")
    if env.get("ANTIGRAVITY_PROXY_API_KEY"):
        return raw
    if isinstance(proxy, dict) and proxy.get("api_key"):
        return raw
    if proxy is not None and not isinstance(proxy, dict):
        return raw  # _build reports the type error
    with _locked(path):
        fresh = read_yaml(path) if path.exists() else raw
        fresh_proxy = fresh.setdefault("proxy", {})
        if not isinstance(fresh_proxy, dict):
            return fresh
        if not fresh_proxy.get("api_key"):
            fresh_proxy["api_key"] = "sk-" + secrets.token_hex(16)
            _save(path, fresh)
    return fresh


def config_lock(path: Path) -> _locked:
    """The lock every writer of the config file holds (see ``config_edit``)."""
    return _locked(path)


class _locked:
    """An exclusive ``flock`` on ``<config>.lock`` across processes."""

    def __init__(self, path: Path) -> None:
        self.path = path.with_name(path.name + ".lock")

    def __enter__(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def _save(path: Path, raw: Mapping[str, Any]) -> None:
    text = yaml.safe_dump(dict(raw), sort_keys=False, default_flow_style=False)
    write_atomic(path, text.encode("utf-8"), mode=0o600)
