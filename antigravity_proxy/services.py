"""What handlers get besides the request: the config and the long-lived services.

Built once per worker process by ``wsgi.create_app`` and passed to every handler
as its first argument, so handlers stay thin and testable with fakes.
"""

from __future__ import annotations

from dataclasses import dataclass

from antigravity_proxy.config import Config


@dataclass(frozen=True, slots=True)
class Services:
    config: Config
