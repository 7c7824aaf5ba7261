"""The gateway's Cedar policies agree with the in-code scaling policy (evaluated with cedarpy, the
Rust Cedar engine, against the Cedar schema AgentCore would generate from the same tools).

Agreement where Cedar can see the rule (1-4: protected, allowed, floor, ceiling): same decision on
every request. Where it cannot (5-9: opt-out label, HPA, step, cooldown, budget): Cedar is no
stricter than the code (every request the full code policy allows, Cedar permits) and never permits
what the static rules refuse."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cedarpy
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsagent.gateway_policy.cedar import (
    EXPRESSED_RULES,
    MAX_POLICY_BYTES,
    NOT_EXPRESSIBLE,
    CedarPolicy,
    GatewayPolicyBundle,
    GatewayPolicyConfig,
    GatewayTool,
    cedar_string,
    generate,
)
from opsagent.gateway_policy.tools import default_tools
from opsagent.scaling.policy import (
    BUILTIN_PROTECTED_NAMESPACES,
    RULES,
    QuotaUsage,
    ScalingPolicy,
    WorkloadFacts,
    evaluate,
)

ARN = "arn:aws:bedrock-agentcore:us-east-1:123456789012:gateway/opsagent-dev-abcdefghij"
ENVIRONMENTS = Path(__file__).resolve().parents[2] / "infra" / "environments"
TOOLS = default_tools()
BY_NAME = {t.mcp_name: t for t in TOOLS}
BLANKET = "permit (principal, action, resource);"
SCALE = "scaling___scaleDeployment"
USER = "1b2c3d4e-0000-4000-8000-000000000001"


def cedar_allows(
    bundle: GatewayPolicyBundle, tool: str, arguments: dict[str, Any], principal: str = "OAuthUser"
) -> bool:
    """The decision AgentCore's engine would take for one tools/call (its documented request shape)."""
    entities: list[dict[str, Any]] = [
        {"uid": {"type": f"AgentCore::{principal}", "id": USER}, "attrs": {"id": USER}, "parents": []},
        {"uid": {"type": "AgentCore::Gateway", "id": ARN}, "attrs": {}, "parents": []},
    ]
    if principal == "OAuthUser":
        entities[0]["tags"] = {"username": "alice", "scope": "opsagent/tools"}
    request = {
        "principal": f"AgentCore::{principal}::{cedar_string(USER)}",
        "action": f"AgentCore::Action::{cedar_string(tool)}",
        "resource": f"AgentCore::Gateway::{cedar_string(ARN)}",
        "context": {"input": arguments},
    }
    # A known tool is checked against the schema too (a request that does not fit it is an error,
    # which must not read as Allow); an unknown tool has no action in the schema at all.
    # (A principal of the other authorizer cannot reach this gateway; it is checked without schema.)
    actions = bundle.cedar_schema["AgentCore"]["actions"]
    fits = tool in actions and principal in actions[tool]["appliesTo"]["principalTypes"]
    schema = bundle.cedar_schema if fits else None
    result = cedarpy.is_authorized(request, bundle.text(), entities, schema=schema)
    assert not result.diagnostics.errors, result.diagnostics.errors
    return result.allowed


def code_allows_static(policy: ScalingPolicy, tool: str, arguments: dict[str, Any]) -> bool:
    """The in-code answer for what the gateway can know: unknown tools do not exist (404), reads and
    ticket writes are not governed by the scaling policy, scaleDeployment passes rules 1-4."""
    spec = BY_NAME.get(tool)
    if spec is None:
        return False
    if spec.name != "scaleDeployment":
        return True
    return evaluate(policy, arguments["namespace"], arguments["deployment"], arguments["replicas"]).allowed


def scale(namespace: str, replicas: int, **extra: Any) -> dict[str, Any]:
    return {"namespace": namespace, "deployment": "web", "replicas": replicas, "reason": "load", **extra}


def env_policy(name: str) -> ScalingPolicy:
    raw = yaml.safe_load((ENVIRONMENTS / f"{name}.yaml").read_text())
    return ScalingPolicy.model_validate(raw.get("scaling_policy") or {})


@pytest.fixture(scope="module")
def dev() -> tuple[ScalingPolicy, GatewayPolicyBundle]:
    policy = env_policy("dev")
    return policy, generate(policy, TOOLS, gateway_arn=ARN)


# --- the table -----------------------------------------------------------------------------------

READS = [
    ("pods___listPods", {"namespace": "kube-system"}),
    ("pods___describePod", {"namespace": "shop", "pod": "web-1"}),
    ("pods___getPodLogs", {"namespace": "payments", "pod": "api-0", "lines": 50, "previous": True}),
    ("metrics___queryMetric", {"metric_namespace": "AWS/EC2", "metric_name": "CPUUtilization"}),
    ("metrics___listActiveAlarms", {}),
    ("scaling___getDeployment", {"namespace": "kube-system", "deployment": "coredns"}),
    ("tickets___searchTickets", {"service": "checkout", "limit": 5}),
]
TABLE = [
    # (tool, arguments, expected decision, the rule the code refuses with, or None)
    *[(tool, args, True, None) for tool, args in READS],
    (
        "tickets___createTicket",
        {"title": "t", "description": "d", "severity": "high", "service": "s"},
        True,
        None,
    ),
    ("tickets___addTicketComment", {"ticket_id": "OPS-1", "comment": "c"}, True, None),
    (SCALE, scale("shop", 4), True, None),
    (SCALE, scale("shop", 1), True, None),  # at the floor
    (SCALE, scale("shop", 10), True, None),  # at the ceiling
    (SCALE, scale("shop", 4, dry_run=True), True, None),
    (SCALE, scale("shop", 0), False, "replica_floor"),
    (SCALE, scale("shop", 11), False, "replica_ceiling"),
    (SCALE, scale("shop", 1000), False, "replica_ceiling"),
    (SCALE, scale("shop", 11, dry_run=True), False, "replica_ceiling"),  # a dry run is refused alike
    (SCALE, scale("payments", 4), False, "protected_namespace"),  # configured protected
    (SCALE, scale("kube-system", 2), False, "protected_namespace"),  # built in
    (SCALE, scale("karpenter", 2), False, "protected_namespace"),
    (SCALE, scale("default", 2), False, "namespace_not_allowed"),
    (SCALE, scale("checkout", 2), False, "namespace_not_allowed"),
    (SCALE, scale("shopx", 2), False, "namespace_not_allowed"),  # no prefix matching
    # tools the gateway does not have (default deny), including a right tool under a wrong target
    ("scaling___deleteDeployment", {"namespace": "shop", "deployment": "web"}, False, None),
    ("pods___scaleDeployment", scale("shop", 4), False, None),
    ("scaleDeployment", scale("shop", 4), False, None),
    ("other___listPods", {"namespace": "shop"}, False, None),
]


@pytest.mark.parametrize(("tool", "arguments", "expected", "rule"), TABLE)
def test_table_cedar_and_code_agree(dev, tool, arguments, expected, rule) -> None:
    policy, bundle = dev
    assert cedar_allows(bundle, tool, arguments) is expected
    assert code_allows_static(policy, tool, arguments) is expected
    if tool in BY_NAME and BY_NAME[tool].name == "scaleDeployment":
        assert evaluate(policy, arguments["namespace"], "web", arguments["replicas"]).rule == rule


def test_the_table_covers_every_tool_and_every_expressed_rule(dev) -> None:
    called = {tool for tool, *_ in TABLE}
    assert set(BY_NAME) <= called
    assert {rule for *_, rule in TABLE if rule} == set(EXPRESSED_RULES)
    assert set(EXPRESSED_RULES) | set(NOT_EXPRESSIBLE) == set(RULES)  # every rule is accounted for


def test_generated_policies_validate_against_the_schema_of_the_tools(dev) -> None:
    _, bundle = dev
    result = cedarpy.validate_policies(bundle.text(), bundle.cedar_schema)
    assert result.validation_passed, [str(e) for e in result.errors]
    # ...and the validator is not a rubber stamp: a typo in an input field is caught
    broken = bundle.text().replace("context.input.replicas >=", "context.input.replica >=")
    assert not cedarpy.validate_policies(broken, bundle.cedar_schema).validation_passed


@pytest.mark.parametrize("env", sorted(p.stem for p in ENVIRONMENTS.glob("*.yaml")))
def test_every_environment_generates_valid_policies(env) -> None:
    policy = env_policy(env)
    bundle = generate(policy, TOOLS, gateway_arn=ARN, name_prefix=f"opsagent-{env}")
    assert cedarpy.validate_policies(bundle.text(), bundle.cedar_schema).validation_passed
    for ns in policy.allowed_namespaces:
        expected = ns not in policy.protected
        assert cedar_allows(bundle, SCALE, scale(ns, policy.max_replicas)) is expected
        assert cedar_allows(bundle, SCALE, scale(ns, policy.max_replicas + 1)) is False
    assert all(p.name.startswith(f"opsagent_{env}_") for p in bundle.policies)


def test_log_only_by_default_enforce_by_configuration(dev) -> None:
    policy, bundle = dev
    assert bundle.mode == "LOG_ONLY"
    enforce = GatewayPolicyConfig.model_validate({"policy_mode": "ENFORCE"})
    assert generate(policy, TOOLS, gateway_arn=ARN, config=enforce).mode == "ENFORCE"
    with pytest.raises(ValueError):
        GatewayPolicyConfig.model_validate({"policy_mode": "enforce"})
    with pytest.raises(ValueError):
        GatewayPolicyConfig.model_validate({"mode": "ENFORCE"})  # a typo never silently means LOG_ONLY


# --- generated requests ---------------------------------------------------------------------------

POOL = ["shop", "checkout", "payments", "web", "kube-system", "cert-manager", "batch"]


@st.composite
def policies(draw) -> ScalingPolicy:
    lo = draw(st.integers(0, 5))
    return ScalingPolicy(
        allowed_namespaces=draw(st.lists(st.sampled_from(POOL), unique=True)),
        protected_namespaces=draw(st.lists(st.sampled_from(POOL), unique=True, max_size=2)),
        min_replicas=lo,
        allow_scale_to_zero=lo == 0,
        max_replicas=draw(st.integers(max(lo, 1), 30)),
        max_step=draw(st.integers(1, 10)),
    )


workloads = st.builds(
    WorkloadFacts,
    current_replicas=st.integers(0, 40),
    labels=st.sampled_from([{}, {"opsagent.io/scaling": "disabled"}, {"app": "web"}]),
    hpa_name=st.sampled_from([None, None, "web-hpa"]),
)
usages = st.builds(QuotaUsage, cooldown_used=st.integers(0, 4), budget_used=st.integers(0, 12))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    policy=policies(),
    namespace=st.sampled_from(POOL),
    replicas=st.integers(0, 40),
    workload=workloads,
    usage=usages,
)
def test_generated_requests(policy, namespace, replicas, workload, usage) -> None:
    bundle = generate(policy, TOOLS, gateway_arn=ARN)
    gateway = cedar_allows(bundle, SCALE, scale(namespace, replicas))
    static = evaluate(policy, namespace, "web", replicas)
    full = evaluate(policy, namespace, "web", replicas, workload, usage)
    assert gateway is static.allowed, (static.rule, bundle.text())  # rules 1-4: the same decision
    if full.allowed:
        assert gateway  # no stricter than the code
    if not static.allowed:
        assert not gateway  # never permits what the static rules refuse
    if full.rule in NOT_EXPRESSIBLE:
        assert gateway  # refused only in code, by a rule the gateway cannot see


# --- generator edges -----------------------------------------------------------------------------


def test_iam_gateways_name_the_iam_principal() -> None:
    policy = ScalingPolicy(allowed_namespaces=["shop"])
    bundle = generate(policy, TOOLS, gateway_arn=ARN, authorizer="AWS_IAM")
    assert "principal is AgentCore::IamEntity" in bundle.text()
    assert cedar_allows(bundle, SCALE, scale("shop", 3), principal="IamEntity")
    assert not cedar_allows(bundle, SCALE, scale("shop", 3), principal="OAuthUser")
    assert not cedar_allows(bundle, "pods___listPods", {"namespace": "shop"}, principal="OAuthUser")
    assert cedarpy.validate_policies(bundle.text(), bundle.cedar_schema).validation_passed


def test_no_allowed_namespace_means_no_scale_permit() -> None:
    bundle = generate(ScalingPolicy(), TOOLS, gateway_arn=ARN)  # the default: read-only
    assert not any("scale_allowed" in p.name for p in bundle.policies)
    assert not cedar_allows(bundle, SCALE, scale("shop", 2))
    assert cedar_allows(bundle, "pods___listPods", {"namespace": "shop"})


def test_allowed_and_protected_at_once_is_protected() -> None:
    policy = ScalingPolicy(allowed_namespaces=["shop", "payments"], protected_namespaces=["payments"])
    bundle = generate(policy, TOOLS, gateway_arn=ARN)
    assert not cedar_allows(bundle, SCALE, scale("payments", 2))
    (permit,) = [p for p in bundle.policies if "scale_allowed" in p.name]
    assert '["shop"].contains' in permit.statement  # the permit itself never names a protected one
    # the forbids hold even if someone adds a blanket permit to the same engine by hand
    blanket = bundle.model_copy(
        update={"policies": (*bundle.policies, CedarPolicy(name="x", description="", statement=BLANKET))}
    )
    assert cedar_allows(blanket, SCALE, scale("default", 2))  # the blanket permit does permit...
    assert not cedar_allows(blanket, SCALE, scale("payments", 2))  # ...but not a protected namespace
    assert not cedar_allows(blanket, SCALE, scale("kube-system", 2))  # (built in ones included)
    assert not cedar_allows(blanket, SCALE, scale("shop", 500))  # ...nor above the ceiling
    assert not cedar_allows(blanket, SCALE, scale("shop", 0))  # ...nor below the floor


def test_scale_to_zero_when_configured() -> None:
    policy = ScalingPolicy(allowed_namespaces=["shop"], min_replicas=0, allow_scale_to_zero=True)
    bundle = generate(policy, TOOLS, gateway_arn=ARN)
    assert cedar_allows(bundle, SCALE, scale("shop", 0)) is evaluate(policy, "shop", "web", 0).allowed is True


def test_many_namespaces_split_into_policies_under_the_size_limit() -> None:
    names = [f"team-{i:03d}-" + "x" * 50 for i in range(500)]
    policy = ScalingPolicy(allowed_namespaces=names, protected_namespaces=names[-5:])
    bundle = generate(policy, TOOLS, gateway_arn=ARN)
    permits = [p for p in bundle.policies if "scale_allowed" in p.name]
    assert len(permits) > 1
    assert all(len(p.statement.encode()) <= MAX_POLICY_BYTES for p in bundle.policies)
    assert len({p.name for p in bundle.policies}) == len(bundle.policies)
    for ns in (names[0], names[250], names[494]):
        assert cedar_allows(bundle, SCALE, scale(ns, 3))
    assert not cedar_allows(bundle, SCALE, scale(names[-1], 3))


def test_optional_inputs_are_guarded_with_has() -> None:
    tools = [t for t in TOOLS if t.name != "scaleDeployment"]
    optional = GatewayTool(
        target="scaling",
        name="scaleDeployment",
        mutating=True,
        input_schema={
            "type": "object",
            "properties": {"namespace": {"type": "string"}, "replicas": {"type": "integer"}},
            "required": [],
        },
    )
    bundle = generate(ScalingPolicy(allowed_namespaces=["shop"]), [*tools, optional], gateway_arn=ARN)
    assert "context.input has replicas" in bundle.text()
    assert cedarpy.validate_policies(bundle.text(), bundle.cedar_schema).validation_passed


def test_a_mutation_without_a_rule_is_refused_by_the_generator() -> None:
    new = GatewayTool(
        target="scaling", name="restartDeployment", mutating=True, input_schema={"type": "object"}
    )
    with pytest.raises(ValueError, match="restartDeployment"):
        generate(ScalingPolicy(), [*TOOLS, new], gateway_arn=ARN)


def test_replicas_must_be_an_integer_input() -> None:
    stringly = [
        t.model_copy(
            update={
                "input_schema": {
                    **t.input_schema,
                    "properties": {**t.input_schema["properties"], "replicas": {"type": "string"}},
                }
            }
        )
        if t.name == "scaleDeployment"
        else t
        for t in TOOLS
    ]
    with pytest.raises(ValueError, match="replicas"):
        generate(ScalingPolicy(allowed_namespaces=["shop"]), stringly, gateway_arn=ARN)


def test_cedar_strings_escape_quotes_and_refuse_controls() -> None:
    assert cedar_string('a"b\\c') == '"a\\"b\\\\c"'
    with pytest.raises(ValueError):
        cedar_string("arn\n")


def test_builtin_protected_namespaces_are_all_forbidden(dev) -> None:
    _, bundle = dev
    for ns in BUILTIN_PROTECTED_NAMESPACES:
        assert not cedar_allows(bundle, SCALE, scale(ns, 2))
    assert json.dumps(bundle.cedar_schema)  # serialisable for the infra wave
