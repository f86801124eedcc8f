"""``accounts add``, ``login`` and ``import``: getting accounts in from a terminal
that may be headless, piped or closed.

A refresh token never has to be on the command line: ``add`` reads it from
``--refresh-token-file PATH`` (``-`` is stdin), a hidden prompt on a terminal, or
stdin; one token per line, each reported on its own line. ``login`` switches to
paste-back by itself without a display; a closed stdin or an expired wait is a
one-line error, never a traceback. ``--proxy-url`` on ``add`` and ``login`` sends
every onboarding call through that proxy and saves it with the account.
"""

from __future__ import annotations

import argparse
import getpass
import select
import sys
import webbrowser
from pathlib import Path
from typing import IO, Final

from antigravity_proxy.accounts.login import LoginOptions, headless_reason, login
from antigravity_proxy.accounts.oauth import OAuthError, TokenGrant
from antigravity_proxy.accounts.onboarding import Onboarding, Outcome
from antigravity_proxy.config import login_environment
from antigravity_proxy.services import Services
from antigravity_proxy.upstream.egress import egress_session, normalize_proxy_url

LOGIN_TIMEOUT: Final = 300.0
TOKEN_ON_ARGV: Final = (
    "warning: --refresh-token puts the token in your shell history and in 'ps'; "
    "use --refresh-token-file PATH, or - for stdin"
)


def add_arguments(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The ``add``, ``login`` and ``import`` subcommands."""
    _add_add(
        sub.add_parser(
            "add",
            help="add accounts from refresh tokens (one per line)",
            description="Reads the refresh token(s) from --refresh-token-file, else "
            "from a hidden prompt on a terminal, else from stdin.",
        )
    )
    _add_login(sub.add_parser("login", help="sign in with Google (OAuth)"))
    imp = sub.add_parser("import", help="import accounts or refresh tokens")
    imp.add_argument(
        "path",
        type=Path,
        help="an Antigravity-Manager data dir or accounts folder, "
        "or a JSON list of refresh tokens",
    )


def _add_add(add: argparse.ArgumentParser) -> None:
    source = add.add_mutually_exclusive_group()
    source.add_argument(
        "--refresh-token-file",
        metavar="PATH",
        help="file with one refresh token per line; - reads stdin "
        "(default: prompt on a terminal, else stdin)",
    )
    source.add_argument(
        "--refresh-token",
        help="the token itself; avoid, it shows in shell history and ps "
        "(default: read as --refresh-token-file says)",
    )
    add_proxy_argument(add)


def _add_login(log_in: argparse.ArgumentParser) -> None:
    mode = log_in.add_mutually_exclusive_group()
    mode.add_argument(
        "--no-browser",
        action="store_true",
        help="paste the redirect URL back (default: when no display is found)",
    )
    mode.add_argument(
        "--browser",
        action="store_true",
        help="wait for the browser's redirect on this machine even without a "
        "display (e.g. with ssh -L PORT:localhost:PORT and --port)",
    )
    log_in.add_argument(
        "--port", type=int, default=0, help="local callback port (default: any free)"
    )
    log_in.add_argument(
        "--timeout",
        type=float,
        default=LOGIN_TIMEOUT,
        help="seconds to wait for the sign-in",
    )
    add_proxy_argument(log_in)


def add_proxy_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--proxy-url",
        metavar="URL",
        type=proxy_url_argument,
        default=None,
        help="send this account's calls through an HTTP or SOCKS5 proxy: "
        "http://[user:pass@]host:port, socks5://..., socks5h://... "
        "(default: direct)",
    )


def proxy_url_argument(text: str) -> str:
    """argparse type: a checked proxy URL (its error never repeats the URL)."""
    try:
        return normalize_proxy_url(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def onboarding_for(services: Services, args: argparse.Namespace) -> Onboarding:
    return Onboarding(
        services.store,
        services.pool.oauth,
        services.upstream,
        proxy_url=getattr(args, "proxy_url", None) or "",
    )


def cmd_add(services: Services, args: argparse.Namespace) -> int:
    onboarding = onboarding_for(services, args)
    tokens = read_tokens(args, sys.stdin)
    outcomes = [onboarding.try_refresh_token(label, t) for label, t in tokens]
    return report(outcomes, verb="added")


def cmd_import(services: Services, args: argparse.Namespace) -> int:
    onboarding = Onboarding(services.store, services.pool.oauth, services.upstream)
    return report(onboarding.import_path(args.path), verb="imported")


def read_tokens(args: argparse.Namespace, stdin: IO[str]) -> list[tuple[str, str]]:
    """``(label, token)`` pairs; the label names the line, never the token."""
    if args.refresh_token:
        print(TOKEN_ON_ARGV, file=sys.stderr)
        return [("--refresh-token", args.refresh_token.strip())]
    source = args.refresh_token_file
    if source is None and stdin.isatty():
        text, where = _prompt_hidden(), "the prompt"
    elif source in (None, "-"):
        text, where = stdin.read(), "stdin"
    else:
        where = Path(source).name
        try:
            text = Path(source).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"{source}: cannot read: {exc}") from None
    lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1)]
    tokens = [(f"line {n} of {where}", t) for n, t in lines if t]
    if not tokens:
        raise ValueError(f"no refresh token in {where}")
    return tokens


def _prompt_hidden() -> str:
    try:
        return getpass.getpass("Refresh token (input hidden): ")
    except EOFError:
        raise ValueError("no refresh token: the input ended") from None


def report(outcomes: list[Outcome], *, verb: str) -> int:
    """One line per outcome, a summary for several; 1 when any failed."""
    for outcome in outcomes:
        account = outcome.account
        if account is None:
            print(f"failed: {outcome.label}: {outcome.problem}", file=sys.stderr)
        elif outcome.pending:
            print(
                f"saved {account.id} unverified: {outcome.problem}; "
                "it will be verified on first use"
            )
        else:
            print(f"{verb} {account.id} ({account.email})")
    failed = sum(1 for o in outcomes if o.account is None)
    if len(outcomes) > 1:
        print(f"{len(outcomes) - failed} of {len(outcomes)} {verb}, {failed} failed")
    return 1 if failed else 0


def cmd_login(services: Services, args: argparse.Namespace) -> int:
    onboarding = onboarding_for(services, args)
    oauth = onboarding.oauth

    def exchange(code: str, redirect_uri: str) -> TokenGrant:
        with egress_session(onboarding.proxy_url) as session:
            return oauth.exchange_code(session, code, redirect_uri)

    paste = args.no_browser
    reason = headless_reason(login_environment(), sys.platform)
    if reason and not (args.no_browser or args.browser):
        print(f"{reason}: signing in by paste-back (--browser waits here instead)")
        paste = True
    options = LoginOptions(no_browser=paste, port=args.port, timeout=args.timeout)
    ask = TimedInput(sys.stdin, args.timeout)
    opener = (lambda url: None) if reason else _open_browser
    grant = login(oauth, exchange, options, say=_say, ask=ask, open_url=opener)
    account = onboarding.add_grant(grant)
    print(f"signed in: {account.id} ({account.email})")
    return 0


def _say(text: str) -> None:
    print(text, flush=True)


def _open_browser(url: str) -> None:
    try:
        webbrowser.open(url)
    except webbrowser.Error:
        pass  # the URL is printed; the user opens it


class TimedInput:
    """``input()`` with a deadline; EOF and timeout are ``OAuthError``s."""

    def __init__(self, stream: IO[str], timeout: float) -> None:
        self.stream = stream
        self.timeout = timeout

    def __call__(self, prompt: str) -> str:
        print(prompt, end="", flush=True)
        ready, _, _ = select.select([self.stream], [], [], self.timeout)
        if not ready:
            print()
            raise OAuthError(
                f"nothing pasted within {self.timeout:g} s; run 'accounts login' "
                "again (--timeout SECONDS waits longer)"
            )
        line = self.stream.readline()
        if not line:
            print()
            raise OAuthError(
                "the input ended before a URL was pasted: run 'accounts login' in a "
                "terminal, or add the account with 'accounts add "
                "--refresh-token-file PATH'"
            )
        return line
