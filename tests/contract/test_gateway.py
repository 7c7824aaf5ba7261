"""AgentCore Gateway Lambda-target invocations through the real handlers (moto + the Kubernetes
emulator): the event is the tool's arguments, the tool name arrives in
``context.client_context.custom["bedrockAgentCoreToolName"]`` as ``<target>___<tool>``, and every
outcome is plain JSON — the tool's body, or {"error", "status", "message", "retryable", "rule"?}."""

from __future__ import annotations

import copy
import importlib
import json
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from opsagent import catalogue
from opsagent_sim.pytest_fixtures import kube, kube_scenario  # noqa: F401
from support import load_event

SAMPLE = load_event("gateway-lambda-target")
MAX_BODY_BYTES = 16 * 1024


@dataclass
class GatewayContext:
    """A Lambda context as the Gateway invokes the target (client_context.custom carries its metadata)."""

    custom: dict
    function_name: str = "opsagent-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:opsagent-test"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    client_context: SimpleNamespace = field(init=False)

    def __post_init__(self) -> None:
        self.client_context = SimpleNamespace(custom=self.custom, client=None, env=None)

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


def call(tool: str, arguments, *, target: str | None = None):
    t = catalogue.tool(tool) if tool in {x.name for x in catalogue.TOOLS} else None
    group = target or (t.group if t else "pods")
    custom = {
        **copy.deepcopy(SAMPLE["client_context"]["custom"]),
        "bedrockAgentCoreToolName": f"{group}___{tool}",
    }
    handler = importlib.import_module(f"opsagent.handlers.{t.group if t else group}").lambda_handler
    result = handler(arguments, GatewayContext(custom))
    assert isinstance(result, dict), result
    assert "messageVersion" not in result and "response" not in result, "Gateway answers are plain JSON"
    assert len(json.dumps(result).encode()) <= MAX_BODY_BYTES
    return result


@pytest.fixture
def world(aws, kube, monkeypatch):  # noqa: F811 - kube is the emulator fixture
    from opsagent import audit, state
    from opsagent.tickets import dynamodb as tickets_table

    audit.create_table("gw-audit")
    state.create_table("gw-state")
    tickets_table.create_table("gw-tickets")
    monkeypatch.setenv("OPSAGENT_AUDIT_TABLE", "gw-audit")
    monkeypatch.setenv("OPSAGENT_STATE_TABLE", "gw-state")
    monkeypatch.setenv("OPSAGENT_TICKETS_TABLE", "gw-tickets")
    monkeypatch.setenv("OPSAGENT_POLICY", json.dumps({"allowed_namespaces": ["shop"]}))
    monkeypatch.setenv("OPSAGENT_CLUSTER_NAME", "prod-eks")
    monkeypatch.delenv("OPSAGENT_GATEWAY_CALLER_FROM_INTERCEPTOR", raising=False)
    return kube


def test_the_sample_invocation_lists_pods(world):
    custom = SAMPLE["client_context"]["custom"]
    from opsagent.handlers.pods import lambda_handler

    body = lambda_handler(dict(SAMPLE["event"]), GatewayContext(dict(custom)))
    assert body["namespace"] == "shop" and "pods" in json.dumps(body)
    assert "error" not in body


def test_success_in_every_group(world):
    assert call("describePod", {"namespace": "shop", "pod": "nope-0"})["status"] == 404
    dep = call("getDeployment", {"namespace": "shop", "deployment": "checkout"})
    assert dep["name"] == "checkout" and "error" not in dep
    found = call("searchTickets", {"service": "checkout", "include_closed": True, "limit": 5})
    assert "error" not in found
    ticket = call(
        "createTicket",
        {"title": "CPU high", "description": "evidence", "severity": "sev3", "service": "checkout"},
    )
    assert ticket.get("id") and ticket["status"] == "open", ticket


def test_json_types_become_the_same_validation(world):
    # lines out of range: the handler's own bound, as a Bedrock string would get
    bad = call("getPodLogs", {"namespace": "shop", "pod": "x", "lines": 9999})
    assert (bad["error"], bad["status"], bad["retryable"]) == ("invalid_input", 400, False)
    wrong_type = call("getPodLogs", {"namespace": "shop", "pod": "x", "lines": [1]})
    assert (wrong_type["error"], wrong_type["status"]) == ("invalid_input", 400)
    assert "lines" in wrong_type["message"]
    missing = call("getDeployment", {"namespace": "shop"})
    assert missing["status"] == 400, missing


@pytest.mark.parametrize("arguments", [[1, 2], "namespace=shop", 7, True])
def test_arguments_that_are_not_an_object_are_a_clean_400(world, arguments):
    out = call("listPods", arguments)
    assert (out["error"], out["status"]) == ("invalid_input", 400)


def test_unknown_argument_unknown_tool_and_wrong_target(world):
    extra = call("listPods", {"namespace": "shop", "labelSelector": "app=x"})
    assert extra["status"] == 400 and "labelSelector" in extra["message"]
    assert call("deleteNamespace", {}, target="pods")["status"] == 404
    # a scaling tool name sent to the pods Lambda is refused, not routed
    from opsagent.handlers.pods import lambda_handler

    custom = {**SAMPLE["client_context"]["custom"], "bedrockAgentCoreToolName": "pods___scaleDeployment"}
    out = lambda_handler({"namespace": "shop", "deployment": "checkout"}, GatewayContext(custom))
    assert (out["error"], out["status"]) == ("unknown_operation", 404)


def _trail(world):
    from opsagent.audit import AuditTrail

    table = AuditTrail.from_env()
    items = []
    import boto3

    for item in boto3.client("dynamodb").scan(TableName="gw-audit")["Items"]:
        items.extend(table.for_incident(item["incident_id"]["S"]))
    return items


def test_policy_refusal_names_the_rule_changes_nothing_and_is_audited_with_gateway_ids(world):
    before = world.state.replicas("kube-system", "coredns")
    out = call(
        "scaleDeployment",
        {"namespace": "kube-system", "deployment": "coredns", "replicas": 5, "reason": "load is high"},
    )
    assert (out["error"], out["status"], out["retryable"]) == ("policy_refused", 403, False)
    assert out["rule"]
    assert world.state.replicas("kube-system", "coredns") == before
    records = _trail(world)
    assert records and all(r.agent_id == "gateway:opsagent-gw-abc123def4" for r in records)
    assert all(r.agent_alias == "target:TGT12345AB" and r.trigger == "gateway" for r in records)


def test_a_scale_through_the_gateway_applies_once_and_is_audited(world):
    args = {"namespace": "shop", "deployment": "checkout", "replicas": 5, "reason": "cpu at 95% for 10 min"}
    first = call("scaleDeployment", args)
    assert "error" not in first, first
    assert world.state.replicas("shop", "checkout") == 5
    again = call("scaleDeployment", args)
    assert "error" not in again
    patches = world.requests_matching("PATCH", ".*/deployments/checkout/scale")
    assert len(patches) == 1
    assert any(r.decision == "applied" for r in _trail(world))


def test_upstream_5xx_is_retryable_json(world):
    world.inject("GET", ".*/pods.*", 503, times=None)
    out = call("listPods", {"namespace": "shop"})
    assert out["status"] >= 500 and out["retryable"] is True, out
    assert "http://" not in json.dumps(out) and "https://" not in json.dumps(out)


def test_oversized_arguments_are_refused_not_crashed(world):
    out = call("queryMetric", {"metric_namespace": "AWS/EC2", "metric_name": "x" * 200_000})
    assert (out["error"], out["status"]) == ("invalid_input", 400)
    out = call("addTicketComment", {"ticket_id": "OPS-1", "comment": "y" * 300_000})
    assert out["status"] in (400, 404), out


def test_caller_argument_is_refused_unless_an_interceptor_sets_it(world, monkeypatch):
    args = {"namespace": "kube-system", "deployment": "coredns", "replicas": 5, "reason": "load is high"}
    spoofed = call("scaleDeployment", {**args, "_opsagent_caller": "alice"})
    assert (spoofed["error"], spoofed["status"]) == ("invalid_input", 400)
    assert _trail(world) == []
    monkeypatch.setenv("OPSAGENT_GATEWAY_CALLER_FROM_INTERCEPTOR", "true")
    out = call("scaleDeployment", {**args, "_opsagent_caller": "alice@example.com"})
    assert out["status"] == 403
    records = _trail(world)
    assert records and all("alice@example.com" in r.session_id for r in records)
    assert all(":alice@example.com:" in r.incident_id for r in records)
