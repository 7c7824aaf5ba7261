"""The Lambda entry point with the production wiring: real action groups on the Kubernetes emulator,
moto for DynamoDB/CloudWatch, the DynamoDB ticket backend, no agent configured."""

from __future__ import annotations

import json

import pytest

from opsagent_sim.pytest_fixtures import kube, kube_scenario  # noqa: F401

TICKETS_TABLE = "opsagent-tickets-test"


@pytest.fixture
def wired(tables, kube, monkeypatch):  # noqa: F811 - pytest fixture injection
    from opsagent.tickets.dynamodb import create_table
    from opsagent.tickets.service import reset_backend

    create_table(TICKETS_TABLE)
    monkeypatch.setenv("OPSAGENT_TICKETS_TABLE", TICKETS_TABLE)
    monkeypatch.setenv("OPSAGENT_CLUSTER_NAME", "prod-eks")
    monkeypatch.setenv("OPSAGENT_ALLOWED_NAMESPACES", "shop")
    monkeypatch.delenv("OPSAGENT_AGENT_ID", raising=False)
    monkeypatch.setenv("OPSAGENT_TRIGGER", json.dumps({"flap_window_minutes": 30}))
    reset_backend()
    yield kube
    reset_backend()


def test_alarm_in_ticket_and_audit_out(wired, alarm, lambda_context):
    from opsagent.audit import AuditTrail
    from opsagent.context import CallContext
    from opsagent.handlers.trigger import lambda_handler
    from opsagent.tickets.service import search

    out = lambda_handler(alarm("single-metric"), lambda_context)
    assert out["status"] == "investigated" and out["produced_by"] == "runbook"
    assert out["fallback_reason"] == "not_configured"
    assert out["incident_id"] == "checkout-high-cpu@2026-11-20T14:05:40.989+0000"
    assert "report" not in out  # the Lambda result stays small
    # the real pods action group ran against the emulator, with the workload from the dimensions
    paths = [r.path for r in wired.requests]
    assert any(p.endswith("/namespaces/shop/pods") for p in paths)
    assert any(p.endswith("/namespaces/shop/deployments/checkout") for p in paths)
    assert not wired.requests_matching("PATCH", r".*")  # nothing was changed in the cluster

    ctx = CallContext(incident_id="t", session_id="t", trigger="test")
    found = search(ctx, fingerprint="arn:aws:cloudwatch:us-east-1:123456789012:alarm:checkout-high-cpu")
    assert [t.id for t in found.tickets] == [out["ticket_id"]]
    trail = AuditTrail.from_env().for_incident(out["incident_id"])
    assert ("createTicket", "applied") in [(r.operation, r.decision) for r in trail]
    assert trail[-1].operation == "investigateAlarm" and trail[-1].after["ticket_id"] == out["ticket_id"]

    again = lambda_handler(alarm("single-metric"), lambda_context)
    assert again["status"] == "duplicate" and again["ticket_id"] == out["ticket_id"]


def test_other_states_are_ignored(wired, alarm, lambda_context):
    from opsagent.handlers.trigger import lambda_handler

    event = alarm("single-metric")
    event["detail"]["state"]["value"] = "INSUFFICIENT_DATA"
    assert lambda_handler(event, lambda_context)["status"] == "ignored"
    assert wired.requests == []
