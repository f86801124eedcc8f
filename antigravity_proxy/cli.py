"""The ``antigravity-proxy`` command: ``serve``, ``routes``, ``models``, ``accounts``.

Start-up problems (a bad config key, a broken routes.yaml) print one line naming
the culprit and exit with status 2, before any socket is opened.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from collections.abc import Sequence

from antigravity_proxy import __version__
from antigravity_proxy.accounts import cli as accounts_cli
from antigravity_proxy.config import Config, ConfigError, load_config
from antigravity_proxy.handlers.internal import describe_model
from antigravity_proxy.handlers.models import available_models
from antigravity_proxy.routing import RouteError, resolve_handler
from antigravity_proxy.server import GatewayServer
from antigravity_proxy.services import Services
from antigravity_proxy.wsgi import routes_for


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        serving = args.command == "serve"
        config = load_config(args.config, create=serving)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="antigravity-proxy",
        description="OpenAI / Anthropic / Gemini gateway served by Google accounts.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument("--config", help="config file (default: <home>/config.yaml)")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the gateway under gunicorn")
    serve.add_argument("--config", default=argparse.SUPPRESS, help="config file")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
    serve.add_argument("--threads", type=int)
    serve.set_defaults(run=run_serve)
    routes = commands.add_parser("routes", help="print the route table as loaded")
    routes.add_argument("--config", default=argparse.SUPPRESS, help="config file")
    routes.set_defaults(run=run_routes)
    models = commands.add_parser(
        "models", help="print each known model id and the upstream model serving it"
    )
    models.add_argument("--config", default=argparse.SUPPRESS, help="config file")
    models.set_defaults(run=run_models)
    accounts_cli.add_parser(commands)
    return parser


def serve_config(config: Config, args: argparse.Namespace) -> Config:
    """The config ``serve`` runs with: its flags override ``server.*``.

    Why a function: the auth mode (``auth.effective_mode``) must be decided from
    this config, the one whose host gunicorn binds, not the file's.
    """
    overrides = {
        name: getattr(args, name)
        for name in ("host", "port", "workers", "threads")
        if getattr(args, name) is not None
    }
    return dataclasses.replace(
        config, server=dataclasses.replace(config.server, **overrides)
    )


def run_serve(config: Config, args: argparse.Namespace) -> int:
    config = serve_config(config, args)
    for route in routes_for(config):
        if route.enabled:
            resolve_handler(route.handler)
    GatewayServer(config).run()
    return 0


def run_routes(config: Config, args: argparse.Namespace) -> int:
    routes = routes_for(config)
    for route in routes:
        if route.enabled:
            resolve_handler(route.handler)
    width = max(len(r.path) for r in routes)
    for route in routes:
        state = "enabled" if route.enabled else "disabled"
        methods = ",".join(route.methods)
        columns = f"{methods:<28} {route.path:<{width}} {route.protocol:<9} {state:<8}"
        print(f"{columns} {route.handler}")
    return 0


def run_models(config: Config, args: argparse.Namespace) -> int:
    """The model table as the gateway resolves it now (``model_mapping`` included).

    Rows: every id ``GET /v1/models`` advertises for the current accounts, then
    the wildcard patterns of ``model_mapping`` with their targets.
    """
    mapping = config.model_mapping
    rows = [("MODEL", "MAPPED", "TYPE")]
    for model in available_models(Services.build(config)):
        described = describe_model(model, mapping)
        rows.append((model, described["mapped_model"], described["type"]))
    rows += [(k, mapping[k], "wildcard") for k in sorted(mapping) if "*" in k]
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    for model, mapped, kind in rows:
        print(f"{model:<{widths[0]}}  {mapped:<{widths[1]}}  {kind}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
