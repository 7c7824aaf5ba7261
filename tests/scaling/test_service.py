"""The domain API called directly (as the trigger, the drill and the CLI do): no Bedrock envelope."""

from __future__ import annotations

import json

import pytest

from opsagent.audit import AuditTrail
from opsagent.context import CallContext
from opsagent.errors import PolicyRefused, UpstreamUnavailable
from opsagent.scaling import OperationInProgress, ScaleRequest, Scaling, load_policy
from opsagent.state import StateStore, digest

from .conftest import AUDIT_TABLE, SHOP_POLICY, STATE_TABLE

CTX = CallContext(incident_id="drill-1", session_id="drill-session", trigger="drill")


def req(replicas, **kw):
    return ScaleRequest(replicas=replicas, reason=kw.pop("reason", "drill says so"), **kw)


@pytest.fixture
def svc(stack, clock):
    """The service with an injected clock on the state table (the rest from the environment)."""
    return Scaling(
        policy=load_policy({"OPSAGENT_POLICY": json.dumps(SHOP_POLICY)}),
        state=StateStore(STATE_TABLE, clock=clock),
        audit=AuditTrail(AUDIT_TABLE),
        sleep=lambda s: None,
    )


def test_from_env_and_direct_call(stack):
    result = Scaling.from_env().scale(CTX, "shop", "checkout", req(4))
    assert result.outcome == "applied" and result.after_replicas == 4
    [rec] = AuditTrail(AUDIT_TABLE).for_incident("drill-1")
    assert (rec.trigger, rec.session_id, rec.decision) == ("drill", "drill-session", "applied")
    info = Scaling.from_env().get_deployment(CTX, "shop", "checkout")
    assert info.replicas.spec == 4 and info.scaling.quota.incident_budget_used == 1


def test_cooldown_is_a_rolling_window(svc, stack, clock):
    for replicas in (4, 5, 6):
        assert svc.scale(CTX, "shop", "checkout", req(replicas)).outcome == "applied"
        clock.advance(60)
    with pytest.raises(PolicyRefused) as err:
        svc.scale(CTX, "shop", "checkout", req(5))
    assert err.value.rule == "cooldown"
    clock.advance(3600 - 180 + 1)  # the first operation has left the hour
    assert svc.scale(CTX, "shop", "checkout", req(5)).outcome == "applied"
    with pytest.raises(PolicyRefused):  # but only one slot came free
        svc.scale(CTX, "shop", "checkout", req(4))
    assert len(stack.requests_matching("PATCH")) == 4


def test_audit_failure_after_the_change_is_reported_not_hidden(svc, stack, monkeypatch):
    real = svc.audit.record

    def flaky(ctx, operation, parameters, decision, **kw):
        if decision == "applied":
            raise UpstreamUnavailable("dynamodb down", dependency="dynamodb:audit")
        return real(ctx, operation, parameters, decision, **kw)

    monkeypatch.setattr(svc.audit, "record", flaky)
    result = svc.scale(CTX, "shop", "checkout", req(4))
    assert result.outcome == "applied" and result.audit_id is None
    assert any("audit record could not be written" in w for w in result.warnings)
    assert stack.state.replicas("shop", "checkout") == 4


def test_stuck_identical_request_is_409_in_progress(svc, stack, clock):
    key = digest("drill-1", "shop", "checkout", 4, False)
    held = svc.state.idem_begin("scaleDeployment", key, lease_seconds=60, ttl_seconds=3600)
    assert held.state == "acquired"
    with pytest.raises(OperationInProgress) as err:
        svc.scale(CTX, "shop", "checkout", req(4))
    assert err.value.retryable and err.value.status_code == 409
    assert stack.requests_matching("PATCH") == []
    # once the holder's lease expires (it crashed), the request goes through
    clock.advance(61)
    assert svc.scale(CTX, "shop", "checkout", req(4)).outcome == "applied"
    decisions = [r.decision for r in AuditTrail(AUDIT_TABLE).for_incident("drill-1")]
    assert decisions == ["deduplicated", "applied"]


def test_dry_run_is_never_replayed(svc, stack):
    first = svc.scale(CTX, "shop", "checkout", req(4, dry_run=True))
    svc.scale(CTX, "shop", "checkout", req(5))
    second = svc.scale(CTX, "shop", "checkout", req(4, dry_run=True))
    assert first.before_replicas == 3 and second.before_replicas == 5  # fresh every time
    assert not first.replayed and not second.replayed
