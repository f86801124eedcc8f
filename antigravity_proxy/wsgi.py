"""``create_app``: the only wiring point between config, routes and services.

gunicorn loads ``antigravity_proxy.wsgi:create_app()`` once per worker process, so
every worker builds its own upstream sessions after the fork.
"""

from __future__ import annotations

from antigravity_proxy.accesslog import log_access
from antigravity_proxy.accounts.refresher import QuotaRefresher
from antigravity_proxy.apikeys import ApiKey, KeyRing
from antigravity_proxy.app import Gateway
from antigravity_proxy.auth import AuthMiddleware, effective_mode
from antigravity_proxy.config import Config, load_config
from antigravity_proxy.cors import CorsMiddleware
from antigravity_proxy.heap import freeze_startup
from antigravity_proxy.observer import ExchangeMiddleware
from antigravity_proxy.refusal import Refusals
from antigravity_proxy.routing import (
    DEFAULT_ROUTES_FILE,
    Route,
    load_routes_file,
    resolve_handlers,
)
from antigravity_proxy.services import Services
from antigravity_proxy.usage.observe import UsageMiddleware


def routes_for(config: Config) -> list[Route]:
    """The route table named by ``routes_file``, else the one beside the package."""
    return load_routes_file(config.routes_file or DEFAULT_ROUTES_FILE)


def create_app(
    config: Config | None = None, *, background: bool = True
) -> ExchangeMiddleware:
    """Build the WSGI application: the request's ``Exchange`` around the usage
    ledger's hook around CORS around auth around the dispatcher.

    ``background`` starts the periodic quota refresh and the usage ledger's
    writer thread (off in unit tests, where ``ledger.flush()`` writes), and
    freezes what start-up built out of the garbage collector's way (``heap``).
    """
    config = config if config is not None else load_config()
    routes = routes_for(config)
    handlers = resolve_handlers(routes)
    services = Services.build(config)
    if background:
        QuotaRefresher(services.pool, config.accounts.quota_refresh_minutes).start()
        services.ledger.start()
        freeze_startup()
    gateway = Gateway(routes, handlers, services)
    mode, _ = effective_mode(config)
    auth = AuthMiddleware(
        gateway,
        key_ring(config),
        mode,
        watch_listener=config.proxy.auth_mode == "auto",
    )
    observed = UsageMiddleware(CorsMiddleware(auth), services.ledger)
    app = ExchangeMiddleware(observed, on_finish=[log_access])
    app.refusals = Refusals(gateway.protocol_for_target, [log_access])
    return app


def key_ring(config: Config) -> KeyRing:
    """The accepted keys, re-read from the config file whenever it changes."""
    path = config.config_path

    def reload() -> tuple[str, tuple[ApiKey, ...]]:
        proxy = load_config(path, create=False).proxy
        return proxy.api_key, proxy.api_keys

    return KeyRing(
        config.proxy.api_key, config.proxy.api_keys, path=path, loader=reload
    )
