"""MCP sessions in the state shared by every gunicorn worker.

A session created by ``initialize`` on worker 1 must answer on worker 2, so a
session is a row of ``SharedState``'s key-value table (namespace
``mcp-session``), holding the negotiated protocol version. Sessions expire after
``SESSION_TTL`` without a request; ``DELETE`` ends one at once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Final

from antigravity_proxy.state import SharedState

NAMESPACE: Final = "mcp-session"
SESSION_TTL: Final = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    protocol_version: str


class SessionStore:
    def __init__(self, state: SharedState) -> None:
        self.state = state

    def create(self, protocol_version: str) -> Session:
        """A new session with a random id (128 bits, visible ASCII as MCP wants)."""
        session = Session(secrets.token_hex(16), protocol_version)
        self.state.put(NAMESPACE, session.id, protocol_version, SESSION_TTL)
        return session

    def get(self, session_id: str) -> Session | None:
        """The live session, its expiry pushed back (a request is activity)."""
        version = self.state.get(NAMESPACE, session_id)
        if not version:
            return None
        self.state.put(NAMESPACE, session_id, version, SESSION_TTL)
        return Session(session_id, version)

    def alive(self, session_id: str) -> bool:
        return bool(self.state.get(NAMESPACE, session_id))

    def end(self, session_id: str) -> None:
        self.state.delete(NAMESPACE, session_id)
