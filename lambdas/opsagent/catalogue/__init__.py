"""OpsAgent's tool catalogue: the one declaration of every operation's contract.

    from opsagent import catalogue
    catalogue.tool("listPods")                 # -> Tool (name, group, method, path, params, ...)
    catalogue.tools_in("scaling")              # -> (getDeployment, scaleDeployment)
    catalogue.by_route("GET", "/alarms")       # -> Tool | None (any-case verb)
    catalogue.classic_subset(None)             # -> the Classic agent's operations (default: all ten)
    catalogue.mcp_tools("pods")                # -> Gateway target tool definitions
    catalogue.converse_tool_specs()            # -> Converse toolConfig.tools entries

Pure data + pydantic: no Lambda, Powertools or boto3 import.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from opsagent.catalogue.model import Location, Param, ParamType, Tool
from opsagent.catalogue.tools import GROUPS, TOOLS

__all__ = [
    "ERROR_CONTRACT",
    "GROUPS",
    "MAX_CLASSIC_APIS",
    "TOOLS",
    "Location",
    "Param",
    "ParamType",
    "Tool",
    "by_route",
    "classic_document",
    "classic_subset",
    "converse_tool_specs",
    "gateway_tool_name",
    "mcp_tools",
    "split_gateway_tool_name",
    "tool",
    "tools_in",
]

#: Bedrock Agents allows at most 11 APIs per agent across its action groups (bedrock-contracts.md §2).
MAX_CLASSIC_APIS = 11
#: AgentCore Gateway joins target and tool names with three underscores.
GATEWAY_SEPARATOR = "___"

#: How every non-Bedrock front door (Gateway, Converse) reports a failure; appended to each tool's
#: description there so the model and MCP clients know it.
ERROR_CONTRACT = (
    'On failure the result is {"error": code, "status": HTTP-like status, "message": text, '
    '"retryable": bool} plus "rule" when the safety policy refused (do not retry a refusal).'
)

_BY_NAME: dict[str, Tool] = {t.name: t for t in TOOLS}
_BY_ROUTE: dict[tuple[str, str], Tool] = {(t.method, t.path): t for t in TOOLS}
if len(_BY_NAME) != len(TOOLS) or len(_BY_ROUTE) != len(TOOLS):  # pragma: no cover - caught by tests
    raise RuntimeError("catalogue: duplicate tool name or route")
if {t.group for t in TOOLS} != set(GROUPS):  # pragma: no cover
    raise RuntimeError("catalogue: every group needs a description and a tool")


def tool(name: str) -> Tool:
    """The entry named ``name``; KeyError for an unknown tool."""
    return _BY_NAME[name]


def tools_in(group: str) -> tuple[Tool, ...]:
    return tuple(t for t in TOOLS if t.group == group)


def by_route(method: str | None, path: str | None) -> Tool | None:
    """The entry behind (httpMethod, apiPath template); the verb in any case."""
    return _BY_ROUTE.get(((method or "").upper(), path or ""))


def gateway_tool_name(t: Tool, target: str | None = None) -> str:
    """The name an MCP client sees through the Gateway: ``<target>___<tool>`` (target = group)."""
    return f"{target or t.group}{GATEWAY_SEPARATOR}{t.name}"


def split_gateway_tool_name(qualified: str) -> tuple[str, str]:
    """``pods___listPods`` -> ("pods", "listPods"); a bare ``listPods`` -> ("", "listPods")."""
    target, sep, name = qualified.rpartition(GATEWAY_SEPARATOR)
    return (target if sep else ""), name


def classic_subset(names: Iterable[str] | None = None) -> tuple[Tool, ...]:
    """The Classic agent's operations: ``names`` from configuration, or every tool (today's ten).

    Validated for synth: known names, no duplicates, at most ``MAX_CLASSIC_APIS``, and not empty.
    Catalogue order is kept so the generated documents do not churn with the config's order."""
    if names is None:
        chosen = list(TOOLS)
    else:
        wanted = list(names)
        unknown = sorted(set(wanted) - set(_BY_NAME))
        if unknown:
            raise ValueError(f"unknown tools in the Classic subset: {', '.join(unknown)}")
        dupes = sorted({n for n in wanted if wanted.count(n) > 1})
        if dupes:
            raise ValueError(f"tools listed twice in the Classic subset: {', '.join(dupes)}")
        chosen = [t for t in TOOLS if t.name in set(wanted)]
    if not chosen:
        raise ValueError("the Classic subset is empty: list at least one tool or omit the setting")
    if len(chosen) > MAX_CLASSIC_APIS:
        raise ValueError(
            f"the Classic agent allows at most {MAX_CLASSIC_APIS} APIs; the subset has {len(chosen)}"
        )
    return tuple(chosen)


def classic_document(document: dict[str, Any], subset: Iterable[Tool]) -> dict[str, Any] | None:
    """A committed Bedrock OpenAPI document (``schemas/<group>.json``) reduced to the operations in
    ``subset`` (from :func:`classic_subset`); None when none of the group's operations is chosen
    (then the agent gets no action group for it). For infra at synth: JSON in, JSON out."""
    names = {t.name for t in subset}
    paths: dict[str, Any] = {}
    for path, operations in (document.get("paths") or {}).items():
        kept = {
            m: op for m, op in operations.items() if isinstance(op, dict) and op.get("operationId") in names
        }
        if kept:
            paths[path] = kept
    return {**document, "paths": paths} if paths else None


def _front_door_description(t: Tool) -> str:
    note = " Mutation: a person must confirm it." if t.confirmation else ""
    return f"{t.description}{note} {ERROR_CONTRACT}"


def mcp_tools(group: str) -> list[dict[str, Any]]:
    """A Gateway target's ``toolSchema.inlinePayload``: MCP tool definitions in the Gateway's
    JSON-Schema subset (type/properties/required/items/description only)."""
    return [
        {"name": t.name, "description": _front_door_description(t), "inputSchema": t.input_schema()}
        for t in tools_in(group)
    ]


def converse_tool_specs(names: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """``toolConfig.tools`` for the Bedrock Converse API: ``[{"toolSpec": {name, description,
    inputSchema: {"json": ...}}}]`` for ``names`` (default: every tool)."""
    chosen = list(TOOLS) if names is None else [tool(n) for n in names]
    return [
        {
            "toolSpec": {
                "name": t.name,
                "description": _front_door_description(t),
                "inputSchema": {"json": t.input_schema()},
            }
        }
        for t in chosen
    ]
