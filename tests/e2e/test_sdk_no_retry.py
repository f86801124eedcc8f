"""The official SDKs, default retry settings, against a gateway with no account.

"No account" needs the operator, so each SDK must give up after one request (the
gateway's access log counts them) and show the hint; a status the SDKs retry
(408, 409, 429, 5xx) would cost the user their retries and backoff first.
"""

from __future__ import annotations

import time

import anthropic
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from tests.conftest import API_KEY

pytestmark = pytest.mark.e2e

HINT = 'run "antigravity-proxy accounts login"'
HI = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    from tests.e2e.conftest import run_gateway

    home = tmp_path_factory.mktemp("no-account") / "home"
    with run_gateway(home, {"proxy": {"auth_mode": "strict"}}) as running:
        yield running


def requests_logged(gateway, path: str, at_least: int = 0) -> int:
    """Requests in the access log, once it holds ``at_least`` and has settled.

    The SDK call has returned (every retry already made) before this is asked;
    the wait is only for the log to reach the file.
    """
    deadline = time.monotonic() + 10
    count = -1
    while time.monotonic() < deadline:
        seen = gateway.log_text().count(f" access: POST {path} ")
        if seen >= at_least and seen == count:
            return seen
        count = seen
        time.sleep(0.5)
    return count


def test_openai_sdk_does_not_retry_no_account(gateway):
    before = requests_logged(gateway, "/v1/chat/completions")
    with openai.OpenAI(base_url=gateway.base_url + "/v1", api_key=API_KEY) as sdk:
        with pytest.raises(openai.BadRequestError) as info:
            sdk.chat.completions.create(model="gemini-3-flash", messages=HI)
    assert info.value.status_code == 400
    assert info.value.code == "no_usable_account"
    assert HINT in info.value.message
    assert requests_logged(gateway, "/v1/chat/completions", before + 1) == before + 1


def test_anthropic_sdk_does_not_retry_no_account(gateway):
    before = requests_logged(gateway, "/v1/messages")
    with anthropic.Anthropic(base_url=gateway.base_url, api_key=API_KEY) as sdk:
        with pytest.raises(anthropic.BadRequestError) as info:
            sdk.messages.create(model="claude-sonnet-4-6", max_tokens=16, messages=HI)
    assert info.value.status_code == 400
    assert HINT in info.value.body["error"]["message"]
    assert requests_logged(gateway, "/v1/messages", before + 1) == before + 1


def test_gemini_sdk_does_not_retry_no_account(gateway):
    # Retries on: the SDK's own default set of retryable codes applies.
    retry = types.HttpRetryOptions(attempts=3)
    options = types.HttpOptions(base_url=gateway.base_url, retry_options=retry)
    client = genai.Client(api_key=API_KEY, http_options=options)
    path = "/v1/models/gemini-3-flash:generateContent"  # the SDK's default version
    before = requests_logged(gateway, path)
    with pytest.raises(genai_errors.ClientError) as info:
        client.models.generate_content(model="gemini-3-flash", contents="hi")
    assert info.value.code == 400
    assert info.value.status == "FAILED_PRECONDITION"
    assert HINT in info.value.message
    assert requests_logged(gateway, path, before + 1) == before + 1
