"""What ``serve`` prints once gunicorn listens, and how to call this command.

``announce`` is gunicorn's ``when_ready`` hook (the master, sockets bound, no
worker forked yet): it gathers the facts (``collect``: config, accounts, the
box's address) and prints ``render``'s text to stderr, beside gunicorn's log.
The API key itself appears only with ``serve --show-key``; otherwise the banner
says where it is kept. ``command_name`` is how a person on this box runs the CLI:
``antigravity-proxy`` when that name on ``$PATH`` is this installation, else the
path of the script (``.venv/bin/antigravity-proxy`` after ``make run``).
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from antigravity_proxy import __version__
from antigravity_proxy.accounts.marks import account_store
from antigravity_proxy.accounts.onboarding import is_pending
from antigravity_proxy.accounts.store import Account
from antigravity_proxy.auth import effective_mode, is_loopback
from antigravity_proxy.config import Config
from antigravity_proxy.redis_url import redacted
from antigravity_proxy.state import open_state

SCRIPT: Final = "antigravity-proxy"
KEY_VAR: Final = "AGP_KEY"
ANY_INTERFACE: Final = ("0.0.0.0", "::", "")


@dataclass(frozen=True, slots=True)
class AccountCounts:
    ready: int = 0
    cooling: int = 0
    disabled: int = 0
    unverified: int = 0


@dataclass(frozen=True, slots=True)
class BannerFacts:
    """Everything the banner says; ``key`` is ``None`` unless ``--show-key``."""

    config_path: str
    config_created: bool
    data_dir: str
    host: str
    url: str
    exposed: bool
    auth_mode: str
    auth_reason: str
    key_source: str
    key: str | None
    accounts: AccountCounts
    command: str
    version: str = __version__
    state: str = ""  # which shared state, its URL redacted; empty: not said


def command_name() -> str:
    """``antigravity-proxy`` if ``$PATH`` finds this install's script, else its path."""
    script = Path(sys.prefix) / "bin" / SCRIPT
    found = shutil.which(SCRIPT)
    if found and Path(found).resolve() == script.resolve():
        return SCRIPT
    try:
        inside = script.is_relative_to(Path.cwd())
        return os.path.relpath(script) if inside else str(script)
    except (OSError, ValueError):
        return str(script)


def announce(config: Config, *, show_key: bool = False) -> Callable[[Any], None]:
    """gunicorn's ``when_ready`` hook printing the banner for ``config``."""

    def when_ready(server: Any) -> None:
        text = render(collect(config, show_key=show_key))
        print(text, file=sys.stderr, flush=True)

    return when_ready


def collect(config: Config, *, show_key: bool) -> BannerFacts:
    """The banner's facts: reads the account files, the shared state, the address."""
    host = config.server.host
    exposed = not is_loopback(host)
    mode, reason = effective_mode(config)
    return BannerFacts(
        config_path=config.config_path,
        config_created=config.config_created,
        data_dir=str(config.home_dir),
        host=host,
        url=f"http://{_url_host(_client_host(host))}:{config.server.port}",
        exposed=exposed,
        auth_mode=mode,
        auth_reason=reason,
        key_source=_key_source(config),
        key=config.proxy.api_key if show_key else None,
        accounts=_account_counts(config),
        command=command_name(),
        state=state_line(config),
    )


def count_accounts(
    accounts: Iterable[Account], cooldowns: Mapping[str, object], now: float
) -> AccountCounts:
    """Usable and not cooling down / cooling down (any model) / not usable."""
    ready = cooling = disabled = unverified = 0
    for account in accounts:
        unverified += is_pending(account)
        if not account.usable(now):
            disabled += 1
        elif any(k == account.id or k.startswith(account.id + ":") for k in cooldowns):
            cooling += 1
        else:
            ready += 1
    return AccountCounts(ready, cooling, disabled, unverified)


def _account_counts(config: Config) -> AccountCounts:
    state = open_state(config)
    accounts = account_store(config, state).all()
    try:
        cooldowns = state.active_cooldowns()
    finally:
        state.close()  # no connection may cross gunicorn's fork
    return count_accounts(accounts, cooldowns, time.time())


def state_line(config: Config) -> str:
    """The shared state in a few words; a Redis URL only in its redacted form."""
    state = config.state
    if state.backend == "redis":
        return f"redis at {redacted(state.url)} (keys {state.prefix}*)"
    return f"sqlite {config.home_dir / 'state.db'} (this box only)"


def _key_source(config: Config) -> str:
    if "ANTIGRAVITY_PROXY_API_KEY" in config.env_sources:
        return "$ANTIGRAVITY_PROXY_API_KEY"
    return f"proxy.api_key in {config.config_path}"


def _client_host(host: str) -> str:
    """The address another machine (or this one) reaches the gateway at."""
    if host in ANY_INTERFACE:
        return _lan_address() or socket.gethostname()
    return host


def _lan_address() -> str | None:
    """This box's address on its default route (a UDP connect sends nothing)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))
            address = str(probe.getsockname()[0])
    except OSError:
        return None
    return None if address.startswith("0.") else address


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def render(facts: BannerFacts) -> str:
    """The banner text: where things are, who may connect, how to connect."""
    return "\n".join([*_status_lines(facts), "", *client_lines(facts)]) + "\n"


def _status_lines(facts: BannerFacts) -> list[str]:
    created = " (created now with the defaults)" if facts.config_created else ""
    if facts.exposed:
        reach = f"reachable from the LAN at {facts.url}"
    else:
        reach = "only this machine can connect (proxy.allow_lan_access: true opens it)"
    return [
        f"antigravity-proxy {facts.version} is listening on {facts.url} "
        f"(bound to {facts.host or '*'})",
        f"  config     {facts.config_path}{created}",
        f"  data dir   {facts.data_dir}",
        f"  auth       {facts.auth_mode} ({facts.auth_reason}); {reach}",
        f"  API key    {_key_line(facts)}",
        f"  accounts   {_accounts_line(facts)}",
        *([f"  state      {facts.state}"] if facts.state else []),
    ]


def _key_line(facts: BannerFacts) -> str:
    if facts.key is not None:
        return f"{facts.key} (from {facts.key_source})"
    if facts.key_source.startswith("$"):
        return f"from {facts.key_source} (serve --show-key prints it)"
    path = facts.key_source.rpartition(" in ")[2]
    return f"{facts.key_source}; print it: grep api_key {path} (or serve --show-key)"


def _accounts_line(facts: BannerFacts) -> str:
    counts = facts.accounts
    line = f"{counts.ready} ready, {counts.cooling} cooling down, "
    line += f"{counts.disabled} disabled"
    if counts.unverified:
        line += f" ({counts.unverified} unverified, checked on first use)"
    if not counts.ready + counts.cooling:
        line += f"; add one: {facts.command} accounts login"
    return line


def client_lines(facts: BannerFacts) -> list[str]:
    """Copy-paste settings for each client, with this box's URL."""
    url, var = facts.url, f"${KEY_VAR}"
    if facts.key is not None:
        export = f"export {KEY_VAR}={facts.key}"
    elif facts.auth_mode == "off":
        export = f"export {KEY_VAR}=anything   # auth is off; clients still want a key"
    else:
        export = f"export {KEY_VAR}=<the API key>"
    sdk_key = f'os.environ["{KEY_VAR}"]'
    return [
        "Client settings (in the client's shell):",
        f"  {export}",
        f"  Claude Code    ANTHROPIC_BASE_URL={url} ANTHROPIC_API_KEY={var} claude",
        "  Codex CLI      ~/.codex/config.toml, then run codex:",
        '                   model_provider = "antigravity"',
        "                   [model_providers.antigravity]",
        '                   name = "antigravity-proxy"',
        f'                   base_url = "{url}/v1"',
        f'                   env_key = "{KEY_VAR}"',
        '                   wire_api = "responses"',
        f"  Gemini CLI     GOOGLE_GEMINI_BASE_URL={url} GEMINI_API_KEY={var} gemini",
        f'  OpenAI SDK     OpenAI(base_url="{url}/v1", api_key={sdk_key})',
        f'  Anthropic SDK  Anthropic(base_url="{url}", api_key={sdk_key})',
        f"  google-genai   genai.Client(api_key={sdk_key}, "
        f'http_options={{"base_url": "{url}"}})',
    ]
