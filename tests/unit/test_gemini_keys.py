"""snake_case field names from the google-genai SDK become camelCase; user data stays."""

from __future__ import annotations

import pytest

from antigravity_proxy.protocols.gemini.keys import camel_keys, to_camel


@pytest.mark.parametrize(
    ("name", "camel"),
    [
        ("function_declarations", "functionDeclarations"),
        ("parameters_json_schema", "parametersJsonSchema"),
        ("contents", "contents"),
        ("thinking_config", "thinkingConfig"),
        ("a_b_c", "aBC"),
    ],
)
def test_to_camel(name, camel):
    assert to_camel(name) == camel


def test_camel_keys_renames_fields_but_not_user_data():
    body = {
        "system_instruction": {"parts": [{"text": "x"}]},
        "contents": [
            {
                "role": "model",
                "parts": [
                    {
                        "function_call": {
                            "name": "read_file",
                            "args": {"file_path": "a", "max_lines": 3},
                        },
                        "thought_signature": "sig",
                    }
                ],
            }
        ],
        "tools": [
            {
                "function_declarations": [
                    {
                        "name": "read_file",
                        "parameters_json_schema": {
                            "type": "object",
                            "properties": {"file_path": {"type": "string"}},
                            "required": ["file_path"],
                        },
                    }
                ]
            }
        ],
        "generation_config": {
            "thinking_config": {"thinking_budget": 10},
            "response_json_schema": {"properties": {"snake_name": {"type": "string"}}},
        },
    }
    out = camel_keys(body)
    assert out["systemInstruction"] == {"parts": [{"text": "x"}]}
    part = out["contents"][0]["parts"][0]
    assert part["functionCall"]["args"] == {"file_path": "a", "max_lines": 3}
    assert part["thoughtSignature"] == "sig"
    declaration = out["tools"][0]["functionDeclarations"][0]
    assert declaration["parametersJsonSchema"]["properties"] == {
        "file_path": {"type": "string"}
    }
    assert out["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 10}
    assert out["generationConfig"]["responseJsonSchema"]["properties"] == {
        "snake_name": {"type": "string"}
    }
    assert "function_call" in str(body)  # input untouched
