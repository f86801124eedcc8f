"""antigravity-proxy: one gateway for OpenAI, Anthropic and Gemini clients.

Every protocol is translated to Google's Cloud Code ``v1internal`` API and served
from a pool of Google accounts.
"""

__version__ = "0.1.0"
