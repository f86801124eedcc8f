"""Google OAuth: refresh an access token, exchange a login code, read userinfo.

The default client is the public Antigravity desktop client (the one the
Antigravity-Manager account files were issued for); ``oauth.client_id`` and
``oauth.client_secret`` replace it. Failures become ``OAuthError``;
``invalid_grant`` (revoked or expired refresh token) is its own subclass because
it disables the account instead of being retried. Tokens never enter messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

import requests

from antigravity_proxy.config import Config

DEFAULT_CLIENT_ID: Final = (
    "1071006060591-tmhssin2h21lcre235vtolojh4g403ep.apps.googleusercontent.com"
)
DEFAULT_CLIENT_SECRET: Final = "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"
AUTH_URL: Final = "https://accounts.google.com/o/oauth2/v2/auth"
SCOPES: Final = (
    "openid",
    "https://www.googleapis.com/auth/cloud-platform",
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/userinfo.profile",
    "https://www.googleapis.com/auth/cclog",
    "https://www.googleapis.com/auth/experimentsandconfigs",
)
OAUTH_USER_AGENT: Final = "vscode/1.X.X (Antigravity/4.3.0)"
TIMEOUT: Final = 60


class OAuthError(Exception):
    """Google refused or could not be reached; the message is safe to show."""


class InvalidGrant(OAuthError):
    """The refresh token is revoked or expired: only a new login helps."""


class OAuthUnreachable(OAuthError):
    """No answer from Google (network error, timeout, 5xx): nothing was decided."""


@dataclass(frozen=True, slots=True)
class TokenGrant:
    access_token: str
    expires_in: int
    refresh_token: str | None = None
    id_token: str | None = None


@dataclass(frozen=True, slots=True)
class OAuthClient:
    token_url: str
    userinfo_url: str
    client_id: str
    client_secret: str

    @classmethod
    def from_config(cls, config: Config) -> OAuthClient:
        return cls(
            token_url=config.upstream.oauth_token_url,
            userinfo_url=config.upstream.userinfo_url,
            client_id=config.oauth.client_id or DEFAULT_CLIENT_ID,
            client_secret=config.oauth.client_secret or DEFAULT_CLIENT_SECRET,
        )

    def refresh(self, session: requests.Session, refresh_token: str) -> TokenGrant:
        return self._token_request(
            session, {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )

    def exchange_code(
        self, session: requests.Session, code: str, redirect_uri: str
    ) -> TokenGrant:
        grant = self._token_request(
            session,
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
            },
        )
        if not grant.refresh_token:
            raise OAuthError(
                "Google returned no refresh token; sign in again with consent"
            )
        return grant

    def userinfo(self, session: requests.Session, access_token: str) -> dict[str, Any]:
        try:
            response = session.get(
                self.userinfo_url,
                headers={"Authorization": f"Bearer {access_token}"},
                timeout=TIMEOUT,
            )
        except requests.RequestException as exc:
            raise OAuthUnreachable(
                f"userinfo request failed: {type(exc).__name__}"
            ) from exc
        with response:
            if not response.ok:
                failure = (
                    OAuthUnreachable if response.status_code >= 500 else OAuthError
                )
                raise failure(f"userinfo answered HTTP {response.status_code}")
            info = _json(response)
        return info if isinstance(info, dict) else {}

    def authorization_url(self, redirect_uri: str, state: str) -> str:
        query = {
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": " ".join(SCOPES),
            "access_type": "offline",
            "prompt": "consent",
            "include_granted_scopes": "true",
            "state": state,
        }
        return f"{AUTH_URL}?{urlencode(query)}"

    def _token_request(
        self, session: requests.Session, form: dict[str, str]
    ) -> TokenGrant:
        form = {
            **form,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }
        try:
            response = session.post(
                self.token_url,
                data=form,
                headers={"User-Agent": OAUTH_USER_AGENT},
                timeout=TIMEOUT,
            )
        except requests.RequestException as exc:
            raise OAuthUnreachable(
                f"token endpoint unreachable: {type(exc).__name__}"
            ) from exc
        with response:
            body = _json(response)
            if not response.ok:
                raise _token_error(response.status_code, body)
        return _grant(body)


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {}


def _token_error(status: int, body: Any) -> OAuthError:
    error = body.get("error") if isinstance(body, dict) else None
    described = body.get("error_description", "") if isinstance(body, dict) else ""
    if error == "invalid_grant":
        return InvalidGrant(f"invalid_grant: {described}".strip())
    if status >= 500:
        return OAuthUnreachable(f"token endpoint answered HTTP {status}")
    return OAuthError(
        f"token endpoint answered HTTP {status}: {error or 'unknown error'}"
    )


def _grant(body: Any) -> TokenGrant:
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
        raise OAuthError("token endpoint answered without an access_token")
    expires = body.get("expires_in")
    return TokenGrant(
        access_token=body["access_token"],
        expires_in=int(expires) if isinstance(expires, int | float) else 3599,
        refresh_token=body.get("refresh_token") or None,
        id_token=body.get("id_token") or None,
    )
