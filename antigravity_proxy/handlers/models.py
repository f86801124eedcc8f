"""Model listings, in OpenAI's, Gemini's or Anthropic's shape depending on who asks.

``GET /v1/models`` serves all three: the google-genai SDK calls it (api_version
v1) and must get ``{"models": [...]}``, the Anthropic SDK calls it and must get
Anthropic's page, OpenAI clients must get ``{"object": "list"}``. A Gemini caller
is recognised by its key header, ``?key=`` or its client header; an Anthropic
caller by its ``anthropic-version`` header.
"""

from __future__ import annotations

from typing import Any, Final

from werkzeug.wrappers import Request, Response

from antigravity_proxy.app import is_gemini_caller
from antigravity_proxy.errors import InvalidRequest, NotFoundError
from antigravity_proxy.handlers import anthropic_models
from antigravity_proxy.http import json_response
from antigravity_proxy.models import builtin_model_ids, check_model_id
from antigravity_proxy.protocols.gemini.catalogue import list_models as gemini_page
from antigravity_proxy.protocols.gemini.catalogue import model_object
from antigravity_proxy.services import Services

CREATED: Final = 1706745600


def list_models(services: Services, request: Request) -> Response:
    ids = available_models(services)
    if _wants_gemini(request):
        page = gemini_page(ids, _page_size(request), request.args.get("pageToken"))
        return json_response(page)
    if anthropic_models.is_anthropic_caller(request):
        return json_response(anthropic_models.model_page(ids, request.args))
    return json_response({"object": "list", "data": [openai_model(i) for i in ids]})


def get_model(services: Services, request: Request, model: str) -> Response:
    name = check_model_id(model.removeprefix("models/"))
    gemini = _wants_gemini(request)
    if name not in available_models(services):
        message = (
            f"models/{name} is not found for API version v1beta."
            if gemini
            else f"The model '{name}' does not exist"
        )
        raise NotFoundError(
            message, param=None if gemini else "model", code="model_not_found"
        )
    if gemini:
        return json_response(model_object(name))
    if anthropic_models.is_anthropic_caller(request):
        return json_response(anthropic_models.model_object(name))
    return json_response(openai_model(name))


def available_models(services: Services) -> list[str]:
    """Built-in ids, ``model_mapping`` keys and every model an account has quota for."""
    ids = set(builtin_model_ids())
    ids.update(k for k in services.config.model_mapping if "*" not in k)
    for account in services.store.all():
        ids.update(m.name.lower() for m in account.quota_models)
    return sorted(ids)


def openai_model(model_id: str) -> dict[str, Any]:
    return {
        "id": model_id,
        "object": "model",
        "created": CREATED,
        "owned_by": _owner(model_id),
    }


def _owner(model_id: str) -> str:
    if model_id.startswith("claude"):
        return "anthropic"
    if model_id.startswith("gemini"):
        return "google"
    return "antigravity"


def _wants_gemini(request: Request) -> bool:
    return request.path.startswith("/v1beta/") or is_gemini_caller(request.environ)


def _page_size(request: Request) -> int | None:
    raw = request.args.get("pageSize")
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise InvalidRequest(f"Invalid pageSize: {raw!r}", param="pageSize") from None
