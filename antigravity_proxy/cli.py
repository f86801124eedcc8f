"""The ``antigravity-proxy`` command: ``serve``, ``routes``, ``models``, ``accounts``,
``stats``.

Start-up problems (a bad config key, a broken routes.yaml) print one line naming
the culprit and exit with status 2, before any socket is opened. ``--config``
is accepted before or after any (sub)command; the bare command prints its help.
Only ``serve`` may create the config file.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any, Final

from antigravity_proxy import __version__, keys_cli, logsafe, logsetup
from antigravity_proxy.accounts import cli as accounts_cli
from antigravity_proxy.config import LOG_LEVELS, Config, ConfigError, load_config
from antigravity_proxy.handlers import mcp
from antigravity_proxy.handlers.internal import describe_model
from antigravity_proxy.handlers.models import available_models
from antigravity_proxy.routing import Route, RouteError, resolve_handler
from antigravity_proxy.server import GatewayServer
from antigravity_proxy.services import Services
from antigravity_proxy.usage import cli as usage_cli
from antigravity_proxy.wsgi import routes_for

CONFIG_HELP: Final = (
    "config file (default: $ANTIGRAVITY_PROXY_CONFIG, else <home>/config.yaml; "
    "only serve creates a missing one)"
)
MCP_HANDLERS: Final = "antigravity_proxy.handlers.mcp."


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: X)`` unless the help already names its default."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default in (None, False, argparse.SUPPRESS):
            return text
        return str(super()._get_help_string(action))


class Parser(argparse.ArgumentParser):
    """Every (sub)command's parser: ``--config`` is accepted at every level."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)
        self.add_argument(
            "--config", metavar="PATH", default=argparse.SUPPRESS, help=CONFIG_HELP
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logsafe.install()
    try:
        serving = args.command == "serve"
        config = load_config(getattr(args, "config", None), create=serving)
        logsetup.configure(config.logging.level, config.logging.format)
        if config.config_created:
            print(
                f"antigravity-proxy: created {config.config_path} with the defaults "
                "and a new API key; edit it and restart to change them",
                file=sys.stderr,
            )
        return int(args.run(config, args))
    except (ConfigError, RouteError) as exc:
        print(f"antigravity-proxy: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nantigravity-proxy: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="antigravity-proxy",
        description="OpenAI / Anthropic / Gemini gateway served by Google accounts.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser("serve", help="run the gateway under gunicorn")
    serve.add_argument("--host", help="address to bind (default: server.host)")
    serve.add_argument("--port", type=int, help="port (default: server.port)")
    serve.add_argument(
        "--workers", type=int, help="worker processes (default: server.workers)"
    )
    serve.add_argument(
        "--threads", type=int, help="threads per worker (default: server.threads)"
    )
    serve.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        metavar="LEVEL",
        help=f"{' | '.join(LOG_LEVELS)} (default: logging.level, info)",
    )
    serve.add_argument(
        "--show-key",
        action="store_true",
        help="print the API key itself in the start-up banner "
        "(default: only where it is kept)",
    )
    serve.set_defaults(run=run_serve)
    routes = commands.add_parser("routes", help="print the route table as loaded")
    _json_flag(routes)
    routes.set_defaults(run=run_routes)
    models = commands.add_parser(
        "models", help="print each known model id and the upstream model serving it"
    )
    _json_flag(models)
    models.set_defaults(run=run_models)
    accounts_cli.add_parser(commands)
    usage_cli.add_parser(commands)
    keys_cli.add_parser(commands)
    return parser


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true", help="print JSON instead of a table"
    )


def serve_config(config: Config, args: argparse.Namespace) -> Config:
    """The config ``serve`` runs with: its flags override ``server.*``.

    ``--log-level`` overrides ``logging.level``. Why a function: the auth mode
    (``auth.effective_mode``) must be decided from this config, the one whose
    host gunicorn binds, not the file's.
    """
    overrides = {
        name: getattr(args, name)
        for name in ("host", "port", "workers", "threads")
        if getattr(args, name) is not None
    }
    config = dataclasses.replace(
        config, server=dataclasses.replace(config.server, **overrides)
    )
    if getattr(args, "log_level", None) is not None:
        logged = dataclasses.replace(config.logging, level=args.log_level)
        config = dataclasses.replace(config, logging=logged)
    return config


def run_serve(config: Config, args: argparse.Namespace) -> int:
    config = serve_config(config, args)
    for route in routes_for(config):
        if route.enabled:
            resolve_handler(route.handler)
    GatewayServer(config, show_key=args.show_key).run()
    return 0


def route_state(route: Route, config: Config) -> str | None:
    """``None`` when the route serves, else why it answers 404."""
    if not route.enabled:
        return "enabled: false in the routes file"
    name = route.handler.removeprefix(MCP_HANDLERS)
    if route.handler.startswith(MCP_HANDLERS) and name in mcp.ENDPOINTS:
        return mcp.disabled_reason(config, name)
    return None


def run_routes(config: Config, args: argparse.Namespace) -> int:
    routes = routes_for(config)
    for route in routes:
        if route.enabled:
            resolve_handler(route.handler)
    rows: list[dict[str, Any]] = [
        {
            "methods": list(route.methods),
            "path": route.path,
            "protocol": route.protocol,
            "handler": route.handler,
            "enabled": route_state(route, config) is None,
            "disabled_because": route_state(route, config),
        }
        for route in routes
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(r.path) for r in routes)
    for row in rows:
        state = "enabled" if row["enabled"] else "disabled"
        methods = ",".join(row["methods"])
        columns = f"{methods:<28} {row['path']:<{width}} {row['protocol']:<9}"
        why = f"  ({row['disabled_because']})" if row["disabled_because"] else ""
        print(f"{columns} {state:<8} {row['handler']}{why}")
    return 0


def run_models(config: Config, args: argparse.Namespace) -> int:
    """The model table as the gateway resolves it now (``model_mapping`` included).

    Rows: every id ``GET /v1/models`` advertises for the current accounts, then
    the wildcard patterns of ``model_mapping`` with their targets.
    """
    mapping = config.model_mapping
    rows: list[tuple[str, str, str]] = []
    for model in available_models(Services.build(config)):
        described = describe_model(model, mapping)
        rows.append((model, described["mapped_model"], described["type"]))
    rows += [(k, mapping[k], "wildcard") for k in sorted(mapping) if "*" in k]
    if args.json:
        keys = ("model", "mapped_model", "type")
        print(json.dumps([dict(zip(keys, r, strict=True)) for r in rows], indent=2))
        return 0
    rows.insert(0, ("MODEL", "MAPPED", "TYPE"))
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    for model, mapped, kind in rows:
        print(f"{model:<{widths[0]}}  {mapped:<{widths[1]}}  {kind}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
