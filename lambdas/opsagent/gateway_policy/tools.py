"""Where the policy generator gets the gateway's tools from.

The source is the tool catalogue (``opsagent.catalogue``): each operation is one MCP tool whose input
is its path, query and body parameters, flat (the Gateway's Lambda event *is* the arguments); its
target is its action group (one gateway target per action group). :func:`tools_from_openapi` reads
the same from the generated Bedrock documents in ``schemas/``; a test checks the two agree.
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


def default_tools() -> list[GatewayTool]:
    """The tools of the catalogue, in the order :func:`tools_from_openapi` yields them."""
    from opsagent import catalogue

    tools = [
        GatewayTool(target=t.group, name=t.name, input_schema=t.input_schema(), mutating=t.mutation)
        for t in catalogue.TOOLS
    ]
    return sorted(tools, key=lambda t: t.target)


def openapi_tools(schemas_dir: Path = SCHEMAS_DIR) -> list[GatewayTool]:
    """The tools as the committed ``schemas/*.json`` describe them (for the agreement test)."""
    documents = {path.stem: json.loads(path.read_text()) for path in sorted(schemas_dir.glob("*.json"))}
    if not documents:
        raise FileNotFoundError(f"no OpenAPI documents in {schemas_dir}")
    return tools_from_openapi(documents)
