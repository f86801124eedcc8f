"""Usage accounting: the ledger of finished requests in ``<home>/usage.db``, the
queries behind ``antigravity-proxy stats``, ``GET /metrics`` and the status page.
"""
