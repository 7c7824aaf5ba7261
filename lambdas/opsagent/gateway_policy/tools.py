"""Where the policy generator gets the gateway's tools from.

Interim source until the tool catalogue (issue 12 item 1) lands: the generated, drift-tested Bedrock
OpenAPI documents in ``schemas/`` — each operation becomes one MCP tool whose input is its path and
query parameters plus its request-body properties, flat (the Gateway's Lambda event *is* the
arguments). The target of a tool is its action group (one gateway target per action group).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from opsagent.gateway_policy.cedar import GatewayTool

REPO_ROOT = Path(__file__).resolve().parents[3]
SCHEMAS_DIR = REPO_ROOT / "schemas"
_KEEP = ("type", "description", "items", "properties", "required")


def _subset(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The Gateway's JSON-Schema subset (type/properties/required/items/description)."""
    out: dict[str, Any] = {k: schema[k] for k in _KEEP if k in schema and k not in ("items", "properties")}
    if "items" in schema:
        out["items"] = _subset(schema["items"])
    if "properties" in schema:
        out["properties"] = {k: _subset(v) for k, v in schema["properties"].items()}
    return out


def tools_from_openapi(documents: Mapping[str, Mapping[str, Any]]) -> list[GatewayTool]:
    """``{action_group: openapi_document}`` -> one GatewayTool per operation (POST = mutation)."""
    tools = []
    for group, document in sorted(documents.items()):
        for _path, operations in document.get("paths", {}).items():
            for method, op in operations.items():
                properties: dict[str, Any] = {}
                required: list[str] = []
                for param in op.get("parameters", []):
                    properties[param["name"]] = _subset(
                        {**param.get("schema", {}), "description": param.get("description", "")}
                    )
                    if param.get("required"):
                        required.append(param["name"])
                body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
                if body:
                    for name, sub in body.get("properties", {}).items():
                        properties[name] = _subset(sub)
                    required += list(body.get("required", []))
                tools.append(
                    GatewayTool(
                        target=group,
                        name=op["operationId"],
                        input_schema={"type": "object", "properties": properties, "required": required},
                        mutating=method.lower() != "get",
                    )
                )
    return tools


def default_tools(schemas_dir: Path = SCHEMAS_DIR) -> list[GatewayTool]:
    """The tools of this checkout (``schemas/*.json``)."""
    documents = {path.stem: json.loads(path.read_text()) for path in sorted(schemas_dir.glob("*.json"))}
    if not documents:
        raise FileNotFoundError(f"no OpenAPI documents in {schemas_dir}")
    return tools_from_openapi(documents)
