"""Handlers that fail on purpose, for the dispatcher's error-rendering tests."""

from antigravity_proxy.errors import NotImplementedYet
from antigravity_proxy.http import json_response, read_json_object


def crash(services, request):
    raise RuntimeError("secret internals must not leak")


def echo_json(services, request):
    return json_response(read_json_object(request))


def pending(services, request):
    raise NotImplementedYet("this endpoint is not implemented yet")
