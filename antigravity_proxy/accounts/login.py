"""``accounts login``: Google's OAuth loopback flow, or paste-back for a LAN box.

The loopback flow listens on ``127.0.0.1`` for Google's redirect to
``http://localhost:<port>/oauth-callback``. On a headless box the browser runs
elsewhere and cannot reach that port, so paste-back (``--no-browser``, or by
itself when ``headless_reason`` finds no display) asks the user to paste the URL
the browser was redirected to (it fails to load, but carries the code). Both
wait at most ``timeout`` seconds. The ``state`` parameter is checked either way.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final
from urllib.parse import parse_qs, urlsplit

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from antigravity_proxy.accounts.oauth import OAuthClient, OAuthError, TokenGrant

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

CALLBACK_PATH: Final = "/oauth-callback"
DONE_PAGE: Final = (
    "<!doctype html><title>antigravity-proxy</title>"
    "<p>Signed in. You can close this tab and return to the terminal.</p>"
)


@dataclass(frozen=True, slots=True)
class Callback:
    code: str
    state: str


@dataclass(frozen=True, slots=True)
class LoginOptions:
    """How ``login`` reaches the user's browser.

    :param no_browser: paste-back instead of a loopback listener (LAN boxes).
    :param port: the callback port; 0 picks a free one (8085 for paste-back).
    :param timeout: seconds to wait for the loopback redirect.
    """

    no_browser: bool = False
    port: int = 0
    timeout: float = 300


def headless_reason(env: Mapping[str, str], platform: str) -> str | None:
    """Why a browser on this machine cannot be used for the sign-in, or ``None``.

    On Linux and the BSDs a browser needs ``$DISPLAY`` or ``$WAYLAND_DISPLAY``;
    on macOS and Windows an SSH session means the screen is someone else's.
    """
    if platform in ("darwin", "win32"):
        return "this is an SSH session" if env.get("SSH_CONNECTION") else None
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return None
    return "no display ($DISPLAY and $WAYLAND_DISPLAY are unset)"


def parse_redirect(url: str) -> Callback:
    """The code and state from the URL Google redirected the browser to."""
    query = parse_qs(urlsplit(url.strip()).query)
    if "error" in query:
        raise OAuthError(f"Google refused the sign-in: {query['error'][0]}")
    code, state = query.get("code", [""])[0], query.get("state", [""])[0]
    if not code:
        raise OAuthError(
            "that URL has no 'code' parameter; paste the whole redirect URL"
        )
    return Callback(code, state)


class LoopbackReceiver:
    """A one-shot HTTP server that waits for the OAuth redirect."""

    def __init__(self, port: int = 0) -> None:
        self._result: Callback | None = None
        self._error: str | None = None
        self._done = threading.Event()
        self.server = make_server("127.0.0.1", port, self._app, threaded=True)
        self.redirect_uri = f"http://localhost:{self.server.server_port}{CALLBACK_PATH}"

    def _app(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        request = Request(environ)
        if request.path != CALLBACK_PATH:
            return Response("not found", status=404)(environ, start_response)
        try:
            self._result = parse_redirect(request.url)
        except OAuthError as exc:
            self._error = str(exc)
        self._done.set()
        return Response(DONE_PAGE, mimetype="text/html")(environ, start_response)

    def wait(self, timeout: float) -> Callback:
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            if not self._done.wait(timeout):
                raise OAuthError(
                    f"no sign-in within {timeout:g} s; run 'accounts login' again"
                    " (with --no-browser if the browser is on another machine)"
                )
        finally:
            self.server.shutdown()
            self.server.server_close()
        if self._result is None:
            raise OAuthError(self._error or "sign-in failed")
        return self._result


def login(
    oauth: OAuthClient,
    exchange: Callable[[str, str], TokenGrant],
    options: LoginOptions,
    *,
    say: Callable[[str], None],
    ask: Callable[[str], str],
    open_url: Callable[[str], object] = lambda url: None,
) -> TokenGrant:
    """Run one sign-in and return the tokens; ``exchange(code, redirect_uri)``.

    ``ask(prompt)`` returns the pasted line (raising ``OAuthError`` on EOF or
    timeout); ``open_url`` tries to show the page in a local browser.
    """
    state = secrets.token_urlsafe(16)
    if options.no_browser:
        redirect_uri, callback = _paste_back(oauth, options, state, say, ask)
    else:
        redirect_uri, callback = _loopback(oauth, options, state, say, open_url)
    if not secrets.compare_digest(callback.state, state):
        raise OAuthError(
            "the sign-in answer does not match this login (state mismatch)"
        )
    return exchange(callback.code, redirect_uri)


def _paste_back(
    oauth: OAuthClient,
    options: LoginOptions,
    state: str,
    say: Callable[[str], None],
    ask: Callable[[str], str],
) -> tuple[str, Callback]:
    redirect_uri = f"http://localhost:{options.port or 8085}{CALLBACK_PATH}"
    say(
        "Open this URL in a browser on any machine and sign in:\n\n  "
        + oauth.authorization_url(redirect_uri, state)
    )
    say(
        "\nThe browser ends on a localhost page that does not load; copy the "
        f"whole URL from its address bar (waiting up to {_minutes(options)})."
    )
    return redirect_uri, parse_redirect(ask("Paste the URL here: "))


def _loopback(
    oauth: OAuthClient,
    options: LoginOptions,
    state: str,
    say: Callable[[str], None],
    open_url: Callable[[str], object],
) -> tuple[str, Callback]:
    receiver = LoopbackReceiver(options.port)
    url = oauth.authorization_url(receiver.redirect_uri, state)
    say("Open this URL in a browser on this machine and sign in:\n\n  " + url)
    say(
        f"\nWaiting up to {_minutes(options)} for the browser to come back. If it "
        "runs on another machine, stop this and use 'accounts login --no-browser'."
    )
    open_url(url)
    return receiver.redirect_uri, receiver.wait(options.timeout)


def _minutes(options: LoginOptions) -> str:
    return f"{options.timeout / 60:g} min"
