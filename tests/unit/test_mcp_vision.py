"""The vision MCP server's pure parts: JSON-RPC classification, sources, tools."""

from __future__ import annotations

import base64
import os

import pytest

from antigravity_proxy.config import Config, ZaiConfig, ZaiMcpConfig
from antigravity_proxy.errors import UpstreamUnavailable
from antigravity_proxy.mcp import jsonrpc, vision
from antigravity_proxy.mcp.jsonrpc import Incoming, incoming
from antigravity_proxy.mcp.sources import SourceError, allowed_file, media_part
from antigravity_proxy.protocols.mcp.errors import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    RpcError,
)
from antigravity_proxy.upstream.zai import ZaiClient

PNG = b"\x89PNG\r\n\x1a\nfake"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ({"jsonrpc": "2.0", "id": 1, "method": "ping"}, Incoming("request", "ping", 1)),
        (
            {"jsonrpc": "2.0", "id": "a", "method": "x", "params": {"k": 1}},
            Incoming("request", "x", "a", {"k": 1}),
        ),
        (
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            Incoming("notification", "notifications/initialized"),
        ),
        ({"jsonrpc": "2.0", "id": 7, "result": {}}, Incoming("response", id=7)),
        (
            {"jsonrpc": "2.0", "id": 7, "error": {"code": 1, "message": "m"}},
            Incoming("response", id=7),
        ),
    ],
)
def test_incoming_classifies(message, expected):
    assert incoming(message) == expected


@pytest.mark.parametrize(
    "message",
    [
        [{"jsonrpc": "2.0", "id": 1, "method": "ping"}],
        "ping",
        {"id": 1, "method": "ping"},
        {"jsonrpc": "2.0", "id": None, "method": "ping"},
        {"jsonrpc": "2.0", "id": True, "method": "ping"},
        {"jsonrpc": "2.0", "id": 1.5, "method": "ping"},
        {"jsonrpc": "2.0", "id": 1},
        {"jsonrpc": "2.0", "result": {}},
        {"jsonrpc": "2.0", "id": 1, "method": 5},
        {"jsonrpc": "2.0", "id": 1, "method": "x", "params": [1]},
    ],
)
def test_incoming_rejects_invalid_requests(message):
    with pytest.raises(RpcError) as caught:
        incoming(message)
    assert (caught.value.rpc_code, caught.value.status) == (INVALID_REQUEST, 400)


def test_result_and_error_messages():
    assert jsonrpc.result(3, {"a": 1}) == {
        "jsonrpc": "2.0",
        "id": 3,
        "result": {"a": 1},
    }
    assert jsonrpc.error(None, -32601, "m") == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32601, "message": "m"},
    }


@pytest.fixture
def allowed(tmp_path):
    root = tmp_path / "allowed"
    root.mkdir()
    (root / "shot.png").write_bytes(PNG)
    return root


def test_media_part_accepts_data_and_https_urls():
    data = "data:image/png;base64,AAAA"
    assert media_part(data, "image", ()) == {
        "type": "image_url",
        "image_url": {"url": data},
    }
    assert media_part(" https://x.test/a.png ", "image", ()) == {
        "type": "image_url",
        "image_url": {"url": "https://x.test/a.png"},
    }
    assert media_part("https://x.test/v.mp4", "video", ())["video_url"] == {
        "url": "https://x.test/v.mp4"
    }


@pytest.mark.parametrize(
    ("source", "kind", "why"),
    [
        ("http://x.test/a.png", "image", "only https"),
        ("data:text/plain;base64,AAAA", "image", "data:image/"),
        ("data:image/png,raw", "image", ";base64,"),
        ("data:image/png;base64,AAAA", "video", "data:video/"),
        ("/etc/passwd", "image", "not enabled"),
    ],
)
def test_media_part_refuses(source, kind, why):
    with pytest.raises(SourceError, match=why):
        media_part(source, kind, ())


def test_media_part_inlines_an_allowed_file(allowed):
    part = media_part(str(allowed / "shot.png"), "image", (str(allowed),))
    url = part["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == PNG


def test_allowed_file_refuses_paths_outside_or_relative(allowed, tmp_path):
    (tmp_path / "secret.png").write_bytes(PNG)
    dirs = (str(allowed),)
    for source in (
        str(tmp_path / "secret.png"),
        str(allowed / ".." / "secret.png"),
        "/etc/passwd",
    ):
        with pytest.raises(SourceError, match="outside the allowed"):
            allowed_file(source, dirs)
    with pytest.raises(SourceError, match="absolute"):
        allowed_file("shot.png", dirs)


def test_allowed_file_resolves_symlinks_before_checking(allowed, tmp_path):
    (tmp_path / "secret.png").write_bytes(PNG)
    os.symlink(tmp_path / "secret.png", allowed / "link.png")
    os.symlink(tmp_path, allowed / "dirlink")
    for name in ("link.png", "dirlink/secret.png"):
        with pytest.raises(SourceError, match="outside the allowed"):
            media_part(str(allowed / name), "image", (str(allowed),))


def test_allowed_file_follows_symlinks_that_stay_inside(allowed):
    os.symlink(allowed / "shot.png", allowed / "alias.png")
    assert (
        media_part(str(allowed / "alias.png"), "image", (str(allowed),))["type"]
        == "image_url"
    )


def test_allowed_dir_given_through_a_symlink_still_works(allowed, tmp_path):
    os.symlink(allowed, tmp_path / "via")
    assert (
        allowed_file(str(allowed / "shot.png"), (str(tmp_path / "via"),))
        == allowed / "shot.png"
    )


@pytest.mark.parametrize(
    ("name", "content", "why"),
    [
        ("note.txt", b"x", "unsupported image format"),
        ("missing.png", None, "does not exist"),
        ("big.png", b"x" * (5 * 1024 * 1024 + 1), "larger than 5 MB"),
    ],
)
def test_media_part_file_checks(allowed, name, content, why):
    if content is not None:
        (allowed / name).write_bytes(content)
    with pytest.raises(SourceError, match=why):
        media_part(str(allowed / name), "image", (str(allowed),))


def test_media_part_refuses_non_regular_files(allowed):
    os.mkfifo(allowed / "pipe.png")
    (allowed / "dir.png").mkdir()
    for name in ("pipe.png", "dir.png"):
        with pytest.raises(SourceError):
            media_part(str(allowed / name), "image", (str(allowed),))


def test_tool_specs_list_the_eight_reference_tools_with_schemas():
    specs = {spec["name"]: spec for spec in vision.tool_specs()}
    assert list(specs) == [
        "ui_to_artifact",
        "extract_text_from_screenshot",
        "diagnose_error_screenshot",
        "understand_technical_diagram",
        "analyze_data_visualization",
        "ui_diff_check",
        "analyze_image",
        "analyze_video",
    ]
    for spec in specs.values():
        assert spec["inputSchema"]["type"] == "object"
        assert set(spec["inputSchema"]["required"]) <= set(
            spec["inputSchema"]["properties"]
        )
    assert specs["ui_to_artifact"]["inputSchema"]["required"] == [
        "image_source",
        "output_type",
        "prompt",
    ]
    assert specs["ui_diff_check"]["inputSchema"]["required"] == [
        "expected_image_source",
        "actual_image_source",
        "prompt",
    ]
    assert specs["analyze_video"]["inputSchema"]["required"] == [
        "video_source",
        "prompt",
    ]
    assert (
        "language_hint"
        in specs["extract_text_from_screenshot"]["inputSchema"]["properties"]
    )


def test_request_body_for_a_diff_with_hint_free_tool():
    tool = vision.TOOLS_BY_NAME["ui_diff_check"]
    args = {
        "expected_image_source": "https://x.test/a.png",
        "actual_image_source": "data:image/png;base64,AA",
        "prompt": "diff",
    }
    body = vision.request_body(tool, args, ())
    assert body["model"] == "glm-4.6v"
    assert body["thinking"] == {"type": "enabled"} and body["stream"] is False
    assert (body["temperature"], body["top_p"], body["max_tokens"]) == (0.8, 0.6, 32768)
    system, user = body["messages"]
    assert system["role"] == "system" and "Compare the two UI" in system["content"]
    assert [p["type"] for p in user["content"]] == ["image_url", "image_url", "text"]
    assert user["content"][2]["text"] == "diff"


def test_request_body_appends_the_hint_and_picks_the_artifact_prompt():
    hinted = vision.request_body(
        vision.TOOLS_BY_NAME["extract_text_from_screenshot"],
        {
            "image_source": "https://x.test/a.png",
            "prompt": "read",
            "language_hint": " python ",
        },
        (),
    )
    assert (
        hinted["messages"][1]["content"][-1]["text"] == "read\n\nLanguage hint: python"
    )
    artifact = vision.request_body(
        vision.TOOLS_BY_NAME["ui_to_artifact"],
        {"image_source": "https://x.test/a.png", "prompt": "p", "output_type": "spec"},
        (),
    )
    assert "design systems architect" in artifact["messages"][0]["content"]


def test_answer_text():
    assert vision.answer_text({"choices": [{"message": {"content": "hi"}}]}) == "hi"
    for answer in (
        {},
        {"choices": []},
        {"choices": [{"message": {}}]},
        {"choices": ["x"]},
    ):
        with pytest.raises(vision.ToolFailure):
            vision.answer_text(answer)


def zai_config(**zai) -> Config:
    return Config(zai=ZaiConfig(**zai))


class FakeVision:
    """The z.ai client the vision tools get injected: records, answers as told."""

    def __init__(self, answer=None, error=None):
        self.answer, self.error, self.bodies = answer, error, []

    def vision_chat(self, body):
        self.bodies.append(body)
        if self.error is not None:
            raise self.error
        return self.answer


def test_call_tool_protocol_errors():
    fake = FakeVision()
    for params in ({}, {"name": 3}, {"name": "analyze_image", "arguments": []}):
        with pytest.raises(RpcError) as caught:
            vision.call_tool(fake, zai_config(), params)
        assert caught.value.rpc_code == INVALID_PARAMS
    with pytest.raises(RpcError, match="Unknown tool: nope"):
        vision.call_tool(fake, zai_config(), {"name": "nope"})
    assert fake.bodies == []


def test_call_tool_asks_the_injected_client():
    answer = {"choices": [{"message": {"content": "a cat"}}]}
    fake = FakeVision(answer)
    params = {
        "name": "analyze_image",
        "arguments": {"image_source": "https://x.test/a.png", "prompt": "what"},
    }
    result = vision.call_tool(fake, zai_config(), params)
    assert result == {"content": [{"type": "text", "text": "a cat"}], "isError": False}
    (body,) = fake.bodies
    assert body["model"] == vision.VISION_MODEL


def test_call_tool_reports_a_client_failure_as_a_tool_error():
    fake = FakeVision(error=UpstreamUnavailable("z.ai request failed: ConnectTimeout"))
    params = {
        "name": "analyze_image",
        "arguments": {"image_source": "https://x.test/a.png", "prompt": "what"},
    }
    result = vision.call_tool(fake, zai_config(), params)
    assert result["isError"] is True
    assert result["content"][0]["text"] == (
        "Error: z.ai request failed: ConnectTimeout"
    )


@pytest.mark.parametrize(
    ("arguments", "why"),
    [
        ({"prompt": "p"}, "missing image_source"),
        ({"image_source": "https://x.test/a.png"}, "missing prompt"),
        ({"image_source": "/etc/passwd", "prompt": "p"}, "not enabled"),
    ],
)
def test_call_tool_input_failures_are_tool_errors(arguments, why):
    fake = FakeVision()
    result = vision.call_tool(
        fake, zai_config(), {"name": "analyze_image", "arguments": arguments}
    )
    assert result["isError"] is True
    assert why in result["content"][0]["text"]
    assert fake.bodies == []


def test_call_tool_refuses_outside_allowed_dirs_as_a_tool_error(allowed):
    cfg = Config(zai=ZaiConfig(mcp=ZaiMcpConfig(allowed_dirs=(str(allowed),))))
    result = vision.call_tool(
        FakeVision(),
        cfg,
        {
            "name": "analyze_image",
            "arguments": {"image_source": "/etc/hostname", "prompt": "p"},
        },
    )
    assert (
        result["isError"] is True
        and "outside the allowed" in result["content"][0]["text"]
    )


def test_call_tool_gateway_errors_become_tool_errors():
    disabled = zai_config(enabled=False)
    result = vision.call_tool(
        ZaiClient(disabled),
        disabled,
        {
            "name": "analyze_image",
            "arguments": {"image_source": "https://x.test/a.png", "prompt": "p"},
        },
    )
    assert result == {
        "content": [
            {"type": "text", "text": "Error: z.ai is disabled (zai.enabled is false)"}
        ],
        "isError": True,
    }
