"""Generate the AgentCore Gateway's Cedar policies (and the Cedar schema they are checked against)
from the scaling policy — a pure function of configuration, no AWS calls.

How AgentCore Policy sees a gateway tool call (AgentCore developer guide, "Policy": authorization
flow, schema constraints, policy scope; checked Dec 2026):

* principal ``AgentCore::OAuthUser::"<JWT sub>"`` (``CUSTOM_JWT`` authorizer; JWT claims are *tags*)
  or ``AgentCore::IamEntity::"<caller ARN>"`` (``AWS_IAM``; no tags);
* action ``AgentCore::Action::"<target>___<tool>"`` — one action per MCP tool, every one a member of
  ``CallTool`` (itself in ``Mcp``); no wildcard actions, so every tool is named;
* resource ``AgentCore::Gateway::"<gateway ARN>"``;
* context ``{"input": {...tool arguments...}}`` — the only context there is, typed from the tool's
  MCP input schema (string → String, integer → Long, boolean → Bool, number → Decimal, object →
  Record, array → Set; ``required`` decides which attributes are required, so an optional argument
  must be tested with ``has`` before use);
* default deny once an engine is attached, ``forbid`` wins over ``permit``; ``LOG_ONLY`` evaluates
  and traces the decision without enforcing it, ``ENFORCE`` enforces it;
* limits: 10 KB per policy, 200 KB per resource, schema under 400 KB; ``tools/list`` shows a tool
  when *some* call to it could be permitted.

What the generated policies say (``generate``):

=================================  ================================================================
policy                             effect
=================================  ================================================================
``<prefix>_read_tools``            permit every read tool of the catalogue (explicit: default deny)
``<prefix>_ticket_writes``         permit the ticket mutations (not governed by the scaling policy;
                                   bounded and idempotent in code)
``<prefix>_scale_allowed_<n>``     permit ``scaleDeployment`` when the namespace is allowed and not
                                   protected, and floor <= replicas <= ceiling (rules 2-4)
``<prefix>_scale_protected_<n>``   forbid ``scaleDeployment`` in protected namespaces (rule 1)
``<prefix>_scale_range``           forbid ``scaleDeployment`` below the floor / above the ceiling
=================================  ================================================================

The forbids repeat what the permit already leaves out on purpose: ``forbid`` wins, so a permit added
to the same engine by hand cannot reopen a protected namespace or lift the ceiling.

Not expressible at the gateway (:data:`NOT_EXPRESSIBLE`): rules 5-9 need the Deployment, its HPAs or
the state table, which Cedar at the gateway never sees. Cedar is therefore *no stricter* than the code
(every request the code allows, the gateway permits) and *never permits what the static rules 1-4
refuse*; tests/gateway_policy proves both with cedarpy on a table of requests and on generated ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from opsagent.scaling.policy import ScalingPolicy

PolicyMode = Literal["LOG_ONLY", "ENFORCE"]
Authorizer = Literal["CUSTOM_JWT", "AWS_IAM"]

#: The gateway names a tool ``<target>___<tool>`` (three underscores).
TOOL_NAME_SEPARATOR = "___"
#: AgentCore Policy limits (developer guide, "Limitations").
MAX_POLICY_BYTES = 10 * 1024
MAX_TOTAL_POLICY_BYTES = 200 * 1024
#: ``aws_bedrockagentcore_policy.name`` (hashicorp/aws): 1-48 characters, ``^[A-Za-z][A-Za-z0-9_]*$``.
POLICY_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,47}$")

SCALE_TOOL = "scaleDeployment"
#: Mutations the scaling policy does not govern: permitted at the gateway, guarded in code.
UNSCOPED_MUTATIONS: frozenset[str] = frozenset({"createTicket", "addTicketComment"})

PRINCIPAL_TYPE: Mapping[str, str] = {"CUSTOM_JWT": "OAuthUser", "AWS_IAM": "IamEntity"}

#: Scaling rules the gateway cannot check, and why (the code still does, on every call).
NOT_EXPRESSIBLE: Mapping[str, str] = {
    "opt_out_label": "the Deployment's labels are in the cluster, not in the tool input",
    "hpa_managed": "whether an HPA targets the Deployment is in the cluster, not in the tool input",
    "max_step": "the step is measured from the Deployment's current spec.replicas, which the gateway "
    "never sees (only the target count is in the input)",
    "cooldown": "needs the count of recent operations from the state table",
    "incident_budget": "needs the incident's mutation count from the state table",
}
#: Rules 1-4: the gateway checks them with the same configuration as the code.
EXPRESSED_RULES: tuple[str, ...] = (
    "protected_namespace",
    "namespace_not_allowed",
    "replica_floor",
    "replica_ceiling",
)


class GatewayPolicyConfig(BaseModel):
    """The switch: ``LOG_ONLY`` (default: decisions are traced, nothing is refused) or ``ENFORCE``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    policy_mode: PolicyMode = Field(
        default="LOG_ONLY",
        description="LOG_ONLY traces what the gateway policy would decide; ENFORCE refuses at the gateway",
    )


class GatewayTool(BaseModel):
    """One MCP tool as the gateway exposes it (what the policy engine's schema is made of)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: str = Field(description="Gateway target name (one per action group)")
    name: str = Field(description="Tool name within the target (the catalogue's operation id)")
    input_schema: dict[str, Any] = Field(description="MCP inputSchema (JSON-Schema subset, type object)")
    mutating: bool = False

    @computed_field  # type: ignore[prop-decorator]
    @property
    def mcp_name(self) -> str:
        return f"{self.target}{TOOL_NAME_SEPARATOR}{self.name}"


class CedarPolicy(BaseModel):
    """One ``aws_bedrockagentcore_policy``: its name, description and Cedar statement."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    statement: str


class GatewayPolicyBundle(BaseModel):
    """Everything the policy engine needs, plus what it cannot check."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    mode: PolicyMode
    policies: tuple[CedarPolicy, ...]
    cedar_schema: dict[str, Any] = Field(
        description="Cedar JSON schema equivalent to the one AgentCore generates from the tool manifest "
        "(the service builds its own; this copy lets tests validate the policies offline)"
    )
    not_expressible: dict[str, str] = Field(default_factory=lambda: dict(NOT_EXPRESSIBLE))

    def text(self) -> str:
        """All statements as one Cedar policy set (for cedarpy and for review)."""
        return "\n\n".join(f"// {p.name}: {p.description}\n{p.statement}" for p in self.policies) + "\n"


# --- Cedar text ------------------------------------------------------------------------------------


def cedar_string(value: str) -> str:
    """A Cedar string literal. Control characters are refused rather than escaped: no name, ARN or
    namespace we put into a policy legitimately has one."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ValueError(f"control character in a Cedar string: {value!r}")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _action(tool: GatewayTool) -> str:
    return f"AgentCore::Action::{cedar_string(tool.mcp_name)}"


def _scope(effect: str, principal_type: str, tools: Sequence[GatewayTool], gateway_arn: str) -> str:
    actions = [_action(t) for t in tools]
    action = (
        f"action == {actions[0]}"
        if len(actions) == 1
        else "action in [\n    " + (",\n    ".join(actions) + "\n  ]")
    )
    return (
        f"{effect} (\n  principal is AgentCore::{principal_type},\n  {action},\n"
        f"  resource == AgentCore::Gateway::{cedar_string(gateway_arn)}\n)"
    )


def _set(values: Iterable[str]) -> str:
    return "[" + ", ".join(cedar_string(v) for v in values) + "]"


def _chunked(items: Sequence[str], render: Callable[[Sequence[str]], str]) -> list[tuple[list[str], str]]:
    """Split ``items`` into as few statements as fit ``MAX_POLICY_BYTES`` each (greedy, order kept)."""
    out: list[tuple[list[str], str]] = []
    current: list[str] = []
    for item in items:
        candidate = [*current, item]
        if current and len(render(candidate).encode()) > MAX_POLICY_BYTES:
            out.append((current, render(current)))
            current = [item]
        else:
            current = candidate
    if current:
        out.append((current, render(current)))
    for _, statement in out:
        if len(statement.encode()) > MAX_POLICY_BYTES:
            raise ValueError(f"a single Cedar statement exceeds {MAX_POLICY_BYTES} bytes")
    return out


# --- schema ----------------------------------------------------------------------------------------


def _cedar_type(schema: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The AgentCore mapping of a JSON-Schema type to a Cedar (JSON-schema format) type."""
    kind = schema.get("type")
    if kind == "string":
        return {"type": "String"}
    if kind == "integer":
        return {"type": "Long"}
    if kind == "boolean":
        return {"type": "Boolean"}
    if kind == "number":
        return {"type": "Extension", "name": "decimal"}
    if kind == "array":
        return {"type": "Set", "element": _cedar_type(schema.get("items") or {}, f"{where}[]")}
    if kind == "object":
        required = set(schema.get("required") or ())
        return {
            "type": "Record",
            "attributes": {
                key: {**_cedar_type(sub, f"{where}.{key}"), "required": key in required}
                for key, sub in (schema.get("properties") or {}).items()
            },
        }
    raise ValueError(f"{where}: JSON-Schema type {kind!r} has no Cedar mapping in the gateway subset")


def cedar_schema(tools: Sequence[GatewayTool], authorizer: Authorizer = "CUSTOM_JWT") -> dict[str, Any]:
    """The ``AgentCore`` namespace as the service generates it from the tool manifest (see module doc)."""
    principal = PRINCIPAL_TYPE[authorizer]
    id_shape = {"type": "Record", "attributes": {"id": {"type": "String", "required": True}}}
    entity_types: dict[str, Any] = {
        "OAuthUser": {"shape": id_shape, "tags": {"type": "String"}},
        "IamEntity": {"shape": id_shape},
        "Gateway": {},
    }
    actions: dict[str, Any] = {"Mcp": {}, "CallTool": {"memberOf": [{"id": "Mcp"}]}}
    for tool in tools:
        if tool.mcp_name in actions:
            raise ValueError(f"two tools are both named {tool.mcp_name}")
        input_type = _cedar_type(tool.input_schema, tool.mcp_name)
        if input_type["type"] != "Record":
            raise ValueError(f"{tool.mcp_name}: inputSchema must be an object")
        actions[tool.mcp_name] = {
            "memberOf": [{"id": "CallTool"}],
            "appliesTo": {
                "principalTypes": [principal],
                "resourceTypes": ["Gateway"],
                "context": {
                    "type": "Record",
                    "attributes": {"input": {**input_type, "required": True}},
                },
            },
        }
    return {"AgentCore": {"entityTypes": entity_types, "actions": actions}}


# --- generation ------------------------------------------------------------------------------------


def _policy_prefix(name_prefix: str) -> str:
    prefix = re.sub(r"[^A-Za-z0-9_]", "_", name_prefix)[:24] or "opsagent"
    return prefix if prefix[0].isalpha() else f"p{prefix}"[:24]


def _input_ref(tool: GatewayTool, field: str, kind: str) -> tuple[str, bool]:
    """``context.input.<field>`` and whether it is required; refuses a schema the rules cannot use."""
    props = tool.input_schema.get("properties") or {}
    if props.get(field, {}).get("type") != kind:
        raise ValueError(
            f"{tool.mcp_name}: the gateway rules need input property {field!r} of type {kind!r}; "
            f"the tool schema has {props.get(field)!r}"
        )
    return f"context.input.{field}", field in set(tool.input_schema.get("required") or ())


def generate(
    policy: ScalingPolicy,
    tools: Sequence[GatewayTool],
    *,
    gateway_arn: str,
    authorizer: Authorizer = "CUSTOM_JWT",
    config: GatewayPolicyConfig | None = None,
    name_prefix: str = "opsagent",
) -> GatewayPolicyBundle:
    """The policy engine's statements for ``tools`` behind the gateway ``gateway_arn``.

    ``gateway_arn`` may be a Terraform reference (``${aws_bedrockagentcore_gateway.x.gateway_arn}``):
    the text is interpolated at apply time. Raises ValueError for a mutating tool this module has no
    rule for (a new mutation must be given one here, never permitted or denied by accident), and for
    a statement over the AgentCore size limits."""
    config = config or GatewayPolicyConfig()
    principal = PRINCIPAL_TYPE[authorizer]
    prefix = _policy_prefix(name_prefix)
    reads = [t for t in tools if not t.mutating]
    ticket_writes = [t for t in tools if t.mutating and t.name in UNSCOPED_MUTATIONS]
    scales = [t for t in tools if t.mutating and t.name == SCALE_TOOL]
    unknown = sorted(t.mcp_name for t in tools if t.mutating and t not in ticket_writes and t not in scales)
    if unknown:
        raise ValueError(
            f"no gateway policy rule for mutating tool(s) {unknown}: add one in opsagent.gateway_policy.cedar"
        )

    policies: list[CedarPolicy] = []
    if reads:
        policies.append(
            CedarPolicy(
                name=f"{prefix}_read_tools",
                description="Read tools: always permitted (an attached engine denies all it does not permit)",
                statement=_scope("permit", principal, reads, gateway_arn) + ";",
            )
        )
    if ticket_writes:
        policies.append(
            CedarPolicy(
                name=f"{prefix}_ticket_writes",
                description="Ticket writes: not governed by the scaling policy (bounded, idempotent in code)",
                statement=_scope("permit", principal, ticket_writes, gateway_arn) + ";",
            )
        )
    for tool in scales:
        policies += _scale_policies(policy, tool, principal, gateway_arn, prefix)

    for p in policies:
        if not POLICY_NAME.fullmatch(p.name):
            raise ValueError(f"policy name {p.name!r} does not match {POLICY_NAME.pattern}")
    total = sum(len(p.statement.encode()) for p in policies)
    if total > MAX_TOTAL_POLICY_BYTES:
        raise ValueError(f"the policies add up to {total} bytes, over {MAX_TOTAL_POLICY_BYTES}")
    return GatewayPolicyBundle(
        mode=config.policy_mode, policies=tuple(policies), cedar_schema=cedar_schema(tools, authorizer)
    )


def _scale_policies(
    policy: ScalingPolicy, tool: GatewayTool, principal: str, gateway_arn: str, prefix: str
) -> list[CedarPolicy]:
    namespace, ns_required = _input_ref(tool, "namespace", "string")
    replicas, rep_required = _input_ref(tool, "replicas", "integer")
    guards = [f"context.input has {f}" for f, req in (("namespace", ns_required), ("replicas", rep_required))]
    ns_guard = "" if ns_required else f"{guards[0]} && "
    rep_guard = "" if rep_required else f"{guards[1]} && "
    scope = {effect: _scope(effect, principal, [tool], gateway_arn) for effect in ("permit", "forbid")}
    lo, hi = policy.min_replicas, policy.max_replicas
    out: list[CedarPolicy] = []

    allowed = [ns for ns in policy.allowed_namespaces if ns not in policy.protected]

    def permit(chunk: Sequence[str]) -> str:
        return (
            f"{scope['permit']}\nwhen {{\n  {ns_guard}{_set(chunk)}.contains({namespace}) &&\n"
            f"  {rep_guard}{replicas} >= {lo} && {replicas} <= {hi}\n}};"
        )

    chunks = _chunked(allowed, permit)
    for number, (names, statement) in enumerate(chunks, 1):
        suffix = f"_{number}" if len(chunks) > 1 else ""
        out.append(
            CedarPolicy(
                name=f"{prefix}_scale_allowed{suffix}",
                description=f"scaleDeployment in allowed namespaces ({len(names)}), {lo}..{hi} replicas",
                statement=statement,
            )
        )

    def forbid(chunk: Sequence[str]) -> str:
        return f"{scope['forbid']}\nwhen {{\n  {ns_guard}{_set(chunk)}.contains({namespace})\n}};"

    chunks = _chunked(sorted(policy.protected), forbid)
    for number, (names, statement) in enumerate(chunks, 1):
        suffix = f"_{number}" if len(chunks) > 1 else ""
        out.append(
            CedarPolicy(
                name=f"{prefix}_scale_protected{suffix}",
                description=f"never scaleDeployment in protected namespaces ({len(names)})",
                statement=statement,
            )
        )
    out.append(
        CedarPolicy(
            name=f"{prefix}_scale_range",
            description=f"never scaleDeployment below {lo} or above {hi} replicas",
            statement=(
                f"{scope['forbid']}\nwhen {{\n  {rep_guard}({replicas} < {lo} || {replicas} > {hi})\n}};"
            ),
        )
    )
    return out
