"""gunicorn settings for running the gateway without the CLI:

    gunicorn -c gunicorn.conf.py "antigravity_proxy.wsgi:create_app()"

The values come from the same config file and code as ``antigravity-proxy serve``.
"""

from antigravity_proxy.banner import announce
from antigravity_proxy.config import load_config
from antigravity_proxy.server import gunicorn_options

_config = load_config()
globals().update(gunicorn_options(_config))
when_ready = announce(_config)  # the start-up banner, as `serve` prints it
