"""The JSON kinds the Gemini translator relies on, checked before it runs.

``protocols.shape`` explains the rule syntax; keys are the camelCase ones
(``keys.camel_keys`` runs first). Listed are the fields the translator branches
on or iterates: roles, the arrays of contents, parts and tools, function names
(matched against tables) and the enums of the configs.
"""

from __future__ import annotations

from typing import Final

from antigravity_proxy.protocols.shape import Shape

GENERATE_SHAPE: Final = Shape.of(
    {
        "contents": "array",
        "contents[]": "object",
        "contents[].role": "string",
        "contents[].parts": "array",
        "contents[].parts[]": "object",
        "contents[].parts[].text": "string",
        "contents[].parts[].thoughtSignature": "string",
        "contents[].parts[].functionCall": "object",
        "contents[].parts[].functionCall.name": "string",
        "contents[].parts[].functionCall.id": "string",
        "contents[].parts[].functionResponse": "object",
        "contents[].parts[].functionResponse.name": "string",
        "systemInstruction": "object|string",
        "systemInstruction.parts": "array",
        "tools": "array",
        "tools[]": "object",
        "tools[].functionDeclarations": "array",
        "tools[].functionDeclarations[]": "object",
        "tools[].functionDeclarations[].name": "string",
        "toolConfig": "object",
        "toolConfig.functionCallingConfig": "object",
        "toolConfig.functionCallingConfig.mode": "string",
        "generationConfig": "object",
        "generationConfig.thinkingConfig": "object",
        "generationConfig.thinkingConfig.thinkingLevel": "string",
        "generationConfig.responseMimeType": "string",
        "generationConfig.stopSequences": "array",
        "safetySettings": "array",
    }
)
