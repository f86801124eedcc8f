"""What handlers get besides the request: the config and the long-lived services.

Built once per worker process by ``wsgi.create_app`` (after gunicorn's fork, so
sockets and SQLite connections are never shared between processes) and passed to
every handler as its first argument.
"""

from __future__ import annotations

from dataclasses import dataclass

from antigravity_proxy.accounts.marks import account_store
from antigravity_proxy.accounts.service import AccountPool
from antigravity_proxy.accounts.store import AccountStore
from antigravity_proxy.config import Config
from antigravity_proxy.dispatch import Dispatcher
from antigravity_proxy.state import SharedState, open_state
from antigravity_proxy.upstream.cloudcode import CloudCodeClient
from antigravity_proxy.upstream.zai import ZaiClient
from antigravity_proxy.usage.ledger import Ledger, LedgerOptions


@dataclass(frozen=True, slots=True)
class Services:
    config: Config
    store: AccountStore
    state: SharedState
    upstream: CloudCodeClient
    pool: AccountPool
    dispatcher: Dispatcher
    ledger: Ledger
    zai: ZaiClient

    @classmethod
    def build(cls, config: Config) -> Services:
        state = open_state(config)
        store = account_store(config, state)
        upstream = CloudCodeClient(config.upstream)
        pool = AccountPool(config, store, state, upstream)
        dispatcher = Dispatcher(pool, upstream, config.accounts.max_attempts)
        ledger = Ledger(
            config.home_dir / "usage.db",
            LedgerOptions(retention_days=config.usage.retention_days),
            claim=state.claim,
        )
        zai = ZaiClient(config)
        return cls(config, store, state, upstream, pool, dispatcher, ledger, zai)
