from __future__ import annotations

import copy
from typing import Any

import pytest

from antigravity_proxy.protocols.schema import clean_schema

CLAUDE_CODE_READ = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "file_path": {"type": "string", "description": "The absolute path"},
        "offset": {
            "type": "integer",
            "exclusiveMinimum": 0,
            "maximum": 9007199254740991,
            "description": "The line number to start reading from",
        },
        "limit": {"type": "number", "exclusiveMinimum": 0},
        "pages": {"type": "string", "pattern": "^[0-9,-]+$"},
    },
    "required": ["file_path"],
    "additionalProperties": False,
}

CASES = {
    "claude_code_2020_12": (
        CLAUDE_CODE_READ,
        {
            "type": "object",
            "properties": {
                "file_path": {"type": "string", "description": "The absolute path"},
                "offset": {
                    "type": "integer",
                    "description": "The line number to start reading from",
                    "minimum": 1,
                    "maximum": 9007199254740991,
                },
                "limit": {
                    "type": "number",
                    "description": "[Constraint: exclMin: 0]",
                },
                "pages": {
                    "type": "string",
                    "description": "[Constraint: pattern: ^[0-9,-]+$]",
                },
            },
            "required": ["file_path"],
        },
    ),
    "reference_example": (
        {
            "type": "object",
            "properties": {
                "unit": {"type": ["string", "null"], "default": "c"},
                "q": {"type": "string", "minLength": 1, "format": "city"},
            },
            "required": ["q", "unit"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {
                "unit": {"type": "string", "nullable": True},
                "q": {
                    "type": "string",
                    "description": "[Constraint: format: city]",
                    "minLength": 1,
                },
            },
            "required": ["q", "unit"],
        },
    ),
    "type_array_integer_null": (
        {"type": ["integer", "null"], "description": "Count"},
        {"type": "integer", "description": "Count", "nullable": True},
    ),
    "type_array_two_types": (
        {"type": ["string", "integer"]},
        {"type": "string", "description": "Accepts: string | integer"},
    ),
    "upper_case_types_lowered": (
        {"type": "OBJECT", "properties": {"n": {"type": "INTEGER"}}},
        {"type": "object", "properties": {"n": {"type": "integer"}}},
    ),
    "unknown_type_dropped": (
        {"type": "any", "description": "x"},
        {"description": "x"},
    ),
    "anyof_with_null": (
        {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
        {"type": "string", "nullable": True},
    ),
    "oneof_with_null_first": (
        {"oneOf": [{"type": "null"}, {"type": "number", "minimum": 0}]},
        {"type": "number", "nullable": True, "minimum": 0},
    ),
    "anyof_prefers_object_branch": (
        {
            "anyOf": [
                {"type": "string"},
                {"type": "object", "properties": {"foo": {"type": "string"}}},
                {"type": "null"},
            ]
        },
        {
            "type": "object",
            "description": "Accepts: string | object",
            "nullable": True,
            "properties": {"foo": {"type": "string"}},
        },
    ),
    "existing_type_wins_over_anyof": (
        {"type": "string", "anyOf": [{"type": "integer"}, {"type": "boolean"}]},
        {"type": "string"},
    ),
    "anyof_object_merges_required": (
        {
            "type": "object",
            "properties": {"a": {"type": "string"}},
            "anyOf": [
                {
                    "type": "object",
                    "properties": {"b": {"type": "integer"}},
                    "required": ["b"],
                }
            ],
        },
        {
            "type": "object",
            "properties": {"b": {"type": "integer"}, "a": {"type": "string"}},
            "required": ["b"],
        },
    ),
    "allof_merged": (
        {
            "allOf": [
                {"type": "object", "properties": {"a": {"type": "string"}}},
                {"properties": {"b": {"type": "string"}}, "required": ["b"]},
            ]
        },
        {
            "type": "object",
            "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
            "required": ["b"],
        },
    ),
    "const_becomes_enum_of_one": (
        {"const": "fixed"},
        {"type": "string", "enum": ["fixed"]},
    ),
    "integer_enum_becomes_hint": (
        {"type": "integer", "enum": [1, 2, 3]},
        {"type": "integer", "description": "Allowed: 1, 2, 3"},
    ),
    "enum_null_makes_nullable": (
        {"enum": ["a", None, 3]},
        {"type": "string", "nullable": True, "enum": ["a", "3"]},
    ),
    "supported_formats_kept": (
        {
            "type": "object",
            "properties": {
                "at": {"type": "string", "format": "date-time"},
                "n": {"type": "integer", "format": "int64"},
                "url": {"type": "string", "format": "uri"},
            },
        },
        {
            "type": "object",
            "properties": {
                "at": {"type": "string", "format": "date-time"},
                "n": {"type": "integer", "format": "int64"},
                "url": {"type": "string", "description": "[Constraint: format: uri]"},
            },
        },
    ),
    "unsupported_keywords_dropped": (
        {
            "$id": "x",
            "type": "object",
            "title": "T",
            "properties": {
                "tags": {
                    "type": "array",
                    "items": {"type": "string"},
                    "minItems": 1,
                    "maxItems": 5,
                    "uniqueItems": True,
                    "examples": [["a"]],
                },
            },
            "patternProperties": {"^x": {"type": "string"}},
            "propertyNames": {"pattern": "^[a-z]+$"},
            "unevaluatedProperties": False,
            "deprecated": True,
            "minProperties": 1,
        },
        {
            "type": "object",
            "title": "T",
            "minProperties": 1,
            "properties": {
                "tags": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 5,
                    "items": {"type": "string"},
                }
            },
        },
    ),
    "property_named_like_keywords_survives": (
        {
            "type": "object",
            "properties": {
                "pattern": {"type": "string", "pattern": "^[a-z]+$"},
                "type": {"type": "string"},
                "$defs": {"type": "string"},
            },
            "required": ["pattern", "type"],
        },
        {
            "type": "object",
            "properties": {
                "pattern": {
                    "type": "string",
                    "description": "[Constraint: pattern: ^[a-z]+$]",
                },
                "type": {"type": "string"},
                "$defs": {"type": "string"},
            },
            "required": ["pattern", "type"],
        },
    ),
    "required_pruned_to_properties": (
        {
            "type": "object",
            "properties": {"a": {"type": "string"}},
            "required": ["a", "b"],
        },
        {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
    ),
    "required_without_properties_dropped": (
        {"type": "object", "required": ["a"]},
        {"type": "object", "properties": {}},
    ),
    "boolean_subschemas_dropped": (
        {
            "type": "object",
            "properties": {
                "a": True,
                "b": {"type": "array", "items": False},
                "c": "object",
            },
            "required": ["a", "b", "c"],
        },
        {
            "type": "object",
            "properties": {"b": {"type": "array", "items": {"type": "string"}}},
            "required": ["b"],
        },
    ),
    "types_inferred": (
        {"properties": {"e": {"enum": ["x"]}, "l": {"items": {"type": "number"}}}},
        {
            "type": "object",
            "properties": {
                "e": {"type": "string", "enum": ["x"]},
                "l": {"type": "array", "items": {"type": "number"}},
            },
        },
    ),
    "shorthand_items_become_object": (
        {
            "type": "array",
            "items": {
                "cornerRadius": {"type": "number"},
                "fillColor": {"type": "string"},
            },
        },
        {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "cornerRadius": {"type": "number"},
                    "fillColor": {"type": "string"},
                },
            },
        },
    ),
    "tuple_items_take_first": (
        {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}]},
        {"type": "array", "items": {"type": "integer"}},
    ),
    "ref_into_defs": (
        {
            "$defs": {
                "Address": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                }
            },
            "type": "object",
            "properties": {"home": {"$ref": "#/$defs/Address", "description": "Home"}},
        },
        {
            "type": "object",
            "properties": {
                "home": {
                    "type": "object",
                    "description": "Home",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                }
            },
        },
    ),
    "ref_into_nested_definitions": (
        {
            "type": "object",
            "properties": {
                "inner": {
                    "definitions": {"Color": {"enum": ["red", "blue"]}},
                    "type": "object",
                    "properties": {"c": {"$ref": "#/definitions/Color"}},
                }
            },
        },
        {
            "type": "object",
            "properties": {
                "inner": {
                    "type": "object",
                    "properties": {"c": {"type": "string", "enum": ["red", "blue"]}},
                }
            },
        },
    ),
    "ref_unresolved": (
        {"type": "object", "properties": {"x": {"$ref": "https://example.com/s.json"}}},
        {
            "type": "object",
            "properties": {
                "x": {
                    "type": "string",
                    "description": "(Unresolved $ref: https://example.com/s.json)",
                }
            },
        },
    ),
    "ref_cycle_terminates": (
        {
            "$defs": {
                "A": {"type": "object", "properties": {"toB": {"$ref": "#/$defs/B"}}},
                "B": {"type": "object", "properties": {"toA": {"$ref": "#/$defs/A"}}},
            },
            "$ref": "#/$defs/A",
        },
        {
            "type": "object",
            "properties": {
                "toB": {
                    "type": "object",
                    "properties": {
                        "toA": {
                            "type": "object",
                            "description": "(Recursive $ref: #/$defs/A)",
                            "properties": {},
                        }
                    },
                }
            },
        },
    ),
    "integer_exclusive_maximum_becomes_maximum": (
        {"type": "integer", "exclusiveMaximum": 10.5},
        {"type": "integer", "maximum": 10},
    ),
    "type_null_alone": ({"type": "null"}, {"type": "string", "nullable": True}),
    "enum_only_null": ({"enum": [None]}, {"type": "string", "nullable": True}),
    "anyof_only_null_and_empty": (
        {"anyOf": [{"type": "null"}, {}], "description": "d"},
        {"type": "string", "description": "d", "nullable": True},
    ),
    "unknown_keywords_only": ({"x-vendor": "y", "x-rank": 1}, {}),
    "empty_schema_unchanged": ({}, {}),
    "non_object_returned_as_is": (True, True),
}


@pytest.mark.parametrize(("schema", "expected"), CASES.values(), ids=list(CASES))
def test_clean_schema_cases(schema, expected):
    assert clean_schema(schema) == expected


@pytest.mark.parametrize("schema", [s for s, _ in CASES.values()], ids=list(CASES))
def test_clean_schema_does_not_mutate_input(schema):
    before = copy.deepcopy(schema)
    clean_schema(schema)
    assert schema == before


@pytest.mark.parametrize("schema", [s for s, _ in CASES.values()], ids=list(CASES))
def test_clean_schema_is_idempotent(schema):
    once = clean_schema(schema)
    assert clean_schema(once) == once


def test_clean_schema_output_shares_nothing_with_input():
    schema: dict[str, Any] = {"type": "object", "properties": {"a": {"type": "string"}}}
    cleaned = clean_schema(schema)
    assert cleaned["properties"] is not schema["properties"]
    assert cleaned["properties"]["a"] is not schema["properties"]["a"]


def test_clean_schema_reuses_the_result_for_a_schema_sent_again():
    """Agents resend their tools every turn; an equal schema is cleaned once."""
    first = {"type": "object", "properties": {"q": {"type": "string"}}}
    again = copy.deepcopy(first)
    other = {"type": "object", "properties": {"q": {"type": "integer"}}}
    assert clean_schema(first) is clean_schema(again)
    assert clean_schema(other) is not clean_schema(first)
    assert clean_schema(other)["properties"]["q"]["type"] == "integer"


def test_clean_schema_large_or_non_json_schemas_are_cleaned_uncached():
    large = {
        "type": "object",
        "properties": {
            f"p{i}": {"type": "string", "description": "x" * 100} for i in range(700)
        },
    }
    assert clean_schema(large) is not clean_schema(large)
    assert clean_schema(large) == clean_schema(copy.deepcopy(large))
    wide = {"type": "integer", "maximum": 2**70}
    assert clean_schema(wide) is not clean_schema(wide)
    assert clean_schema(wide)["maximum"] == 2**70


def test_clean_schema_deep_self_reference_stops():
    schema: dict[str, Any] = {
        "$defs": {"N": {"type": "array", "items": {"$ref": "#/$defs/N"}}}
    }
    schema["$ref"] = "#/$defs/N"
    cleaned = clean_schema(schema)
    assert cleaned["type"] == "array"
    assert cleaned["items"]["description"] == "(Recursive $ref: #/$defs/N)"
