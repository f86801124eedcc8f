"""The commented ``config.yaml`` written on a first run.

Every key is shown with its default (``config.py`` holds the same defaults as
dataclass fields; ``tests/unit/test_config.py`` checks the two agree), so a user
edits a value in place instead of looking names up. ``{api_key}`` is filled with
the generated key; literal braces are doubled for ``str.format``.
"""

from __future__ import annotations

from typing import Final

DEFAULT_TEMPLATE: Final = """\
# antigravity-proxy configuration. Every key is optional; shown are the defaults.
# home: ~/.antigravity_proxy   # data dir; env ANTIGRAVITY_PROXY_HOME
server:
  # host: 127.0.0.1        # 0.0.0.0 when proxy.allow_lan_access is true
  port: 8045
  workers: 2
  threads: 768               # per worker; each open stream holds one
  header_timeout: 10         # seconds to send a request's head, else 408 and closed
  body_timeout: 120          # seconds to send its body after the head, likewise
  backlog: 2048
  keepalive: 75              # seconds an idle client connection stays open
  thread_stack_kib: 512      # per thread; 0 = the platform default (8 MiB)
  max_requests: 0            # a worker is replaced after this many requests (0: never)
  max_requests_jitter: 0     # ... plus up to this many, so workers stagger
proxy:
  api_key: {api_key}
  # One named key per teammate ({{name: alice, key: sk-...}}); the name is logged.
  # Manage them with "antigravity-proxy keys add NAME | list | revoke NAME".
  api_keys: []
  auth_mode: auto            # off | strict | all_except_health | auto
  allow_lan_access: false
  max_body_bytes: 104857600
upstream:
  base_urls:
    - https://daily-cloudcode-pa.sandbox.googleapis.com/v1internal
    - https://daily-cloudcode-pa.googleapis.com/v1internal
    - https://cloudcode-pa.googleapis.com/v1internal
  oauth_token_url: https://oauth2.googleapis.com/token
  connect_timeout: 20
  read_timeout: 600
accounts:
  quota_refresh_minutes: 15
  max_cooldown_seconds: 300
  max_attempts: 3
model_mapping: {{}}
anthropic:
  background_model: gemini-2.5-flash   # Claude Code's title/summary requests; "" = off
openai:
  responses_store_max_response_bytes: 8388608  # larger: not stored
  responses_store_max_total_bytes: 134217728   # all together; oldest evicted
audio:
  max_bytes: 15728640
zai:
  enabled: false
  api_key: ""
  dispatch_mode: "off"
  base_url: https://api.z.ai/api/anthropic
  mcp_base_url: https://api.z.ai/api/mcp
  vision_base_url: https://api.z.ai/api/paas/v4
  mcp:
    enabled: false
    web_search_enabled: false
    web_reader_enabled: false
    vision_enabled: false
state:                     # state shared by workers (and boxes): cooldowns, sessions...
  backend: sqlite          # sqlite (<home>/state.db, one box) | redis (several boxes)
  url: ""                  # redis://[:password@]host:6379/0, rediss:// for TLS;
                           # env ANTIGRAVITY_PROXY_STATE_URL (it selects redis)
  prefix: "agp:"           # every Redis key starts with this
  timeout_ms: 100          # per Redis connect and reply; past it, local state serves
usage:
  retention_days: 90       # usage.db keeps each request this long (0 = forever)
logging:
  level: info              # debug | info | warning | error | critical
  format: text             # text | json (one JSON object per line)
"""
