"""Running the gateway under gunicorn (``worker.GatewayWorker``), embedded or by file.

``gunicorn_options`` is the single source of the server settings: ``serve`` embeds
gunicorn with them, and ``gunicorn.conf.py`` exports the same values for people
who run ``gunicorn`` themselves.
"""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from antigravity_proxy import forksignals
from antigravity_proxy.banner import announce
from antigravity_proxy.config import Config
from antigravity_proxy.heap import freeze_startup
from antigravity_proxy.logsetup import logging_dict
from antigravity_proxy.wsgi import create_app


def gunicorn_options(config: Config) -> dict[str, Any]:
    server = config.server
    return {
        "bind": [f"{_bracket(server.host)}:{server.port}"],
        "workers": server.workers,
        "threads": server.threads,
        # gthread whose main loop receives each request whole (slow clients
        # hold no thread) before a pool thread runs it.
        "worker_class": "antigravity_proxy.worker.GatewayWorker",
        # Open connections per worker: every thread busy with a stream plus as
        # many idle keep-alive or still-arriving ones.
        "worker_connections": max(1000, 2 * server.threads),
        "backlog": server.backlog,
        "max_requests": server.max_requests,
        "max_requests_jitter": server.max_requests_jitter,
        # The gateway writes one access line per request itself (``accesslog``);
        # gunicorn's own lines go through the same handler and format.
        "accesslog": None,
        "errorlog": "-",
        "loglevel": config.logging.level,
        "logconfig_dict": logging_dict(config.logging.level, config.logging.format),
        "logger_class": "antigravity_proxy.logsafe.GunicornLogger",
        # Streams may stay open for minutes; gthread workers heartbeat from their
        # main loop, so this bounds a stuck worker, not a long response.
        "timeout": 120,
        "graceful_timeout": 30,
        "keepalive": server.keepalive,
        "proc_name": "antigravity-proxy",
        # Workers inherit the master's modules frozen and its signals held.
        "pre_fork": before_fork,
        # No gunicornc control socket: its default path ($HOME/.gunicorn/
        # gunicorn.ctl) is shared by every gunicorn the user runs, and serving it
        # imports asyncio in the master and runs a thread there while the
        # workers start.
        "control_socket_disable": True,
    }


def before_fork(server: Any, worker: Any) -> None:
    """gunicorn's ``pre_fork`` hook, in the master before each worker's fork.

    The worker inherits the master's objects frozen (``heap``) and gunicorn's
    signals held until its own handlers are in place (``forksignals``).
    """
    freeze_startup()
    forksignals.hold()


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


class GatewayServer(BaseApplication):  # type: ignore[misc]
    """gunicorn embedded: the master validates config; each worker builds the app.

    Once the sockets listen, the master prints the start-up banner (``banner``);
    ``show_key`` puts the API key itself in it.
    """

    def __init__(self, config: Config, *, show_key: bool = False) -> None:
        self.config = config
        self.show_key = show_key
        super().__init__()

    def load_config(self) -> None:
        for key, value in gunicorn_options(self.config).items():
            self.cfg.set(key, value)
        self.cfg.set("when_ready", announce(self.config, show_key=self.show_key))

    def load(self) -> Any:
        return create_app(self.config)
