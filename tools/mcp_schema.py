"""The AgentCore Gateway's tool-schema subset for Lambda targets, and every way a definition breaks it.

A target's inline tool schema is a list of {name, description, inputSchema}; ``inputSchema`` may use
only ``type``, ``properties``, ``required``, ``items`` and ``description`` (no oneOf/anyOf/allOf, no
enum, no bounds — those go into the description and are enforced by the handler). Tool names are
letters, digits, ``_`` and ``-``; the client sees ``<target>___<tool>``, which MCP clients commonly cap
at 64 characters.
"""

from __future__ import annotations

import re
from typing import Any

ALLOWED_KEYWORDS = frozenset({"type", "properties", "required", "items", "description"})
TYPES = frozenset({"object", "string", "integer", "number", "boolean", "array"})
TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_QUALIFIED_NAME = 64


def violations(tools: list[dict[str, Any]], *, target: str) -> list[str]:
    problems: list[str] = []
    names = [t.get("name") for t in tools]
    if len(names) != len(set(names)):
        problems.append("duplicate tool names")
    for t in tools:
        name = t.get("name", "?")
        if set(t) != {"name", "description", "inputSchema"}:
            problems.append(f"{name}: keys {sorted(t)} (want name, description, inputSchema)")
        if not isinstance(name, str) or not TOOL_NAME.match(name):
            problems.append(f"{name}: bad tool name")
        elif len(f"{target}___{name}") > MAX_QUALIFIED_NAME:
            problems.append(f"{name}: {target}___{name} is over {MAX_QUALIFIED_NAME} characters")
        if not isinstance(t.get("description"), str) or not t["description"].strip():
            problems.append(f"{name}: no description")
        schema = t.get("inputSchema")
        if not isinstance(schema, dict) or schema.get("type") != "object":
            problems.append(f"{name}: inputSchema must be an object schema")
            continue
        problems += [f"{name}: {p}" for p in _schema_violations(schema, "inputSchema")]
    return problems


def _schema_violations(schema: Any, where: str) -> list[str]:
    if not isinstance(schema, dict):
        return [f"{where} is not a schema object"]
    out = [
        f"{where}: keyword {k!r} is outside the Gateway subset"
        for k in sorted(set(schema) - ALLOWED_KEYWORDS)
    ]
    if schema.get("type") not in TYPES:
        out.append(f"{where}: type {schema.get('type')!r}")
    props = schema.get("properties", {})
    if not isinstance(props, dict):
        out.append(f"{where}.properties is not an object")
        props = {}
    for name, sub in props.items():
        out += _schema_violations(sub, f"{where}.properties.{name}")
    required = schema.get("required", [])
    if not isinstance(required, list) or any(r not in props for r in required):
        out.append(f"{where}.required names a property that is not declared")
    if "items" in schema:
        out += _schema_violations(schema["items"], f"{where}.items")
    if schema.get("type") == "array" and "items" not in schema:
        out.append(f"{where}: array without items")
    return out
