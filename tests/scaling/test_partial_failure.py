"""scaleDeployment when the Kubernetes API fails *around* the PATCH: before applying it (429, 5xx),
or after applying it (the connection drops, a 500, an answer later than the client's timeout).

What must hold (issue 11 items 1-2): a change that landed is reported and audited as ``applied``
with its undo and keeps its cooldown slot; a failure that applied nothing gives the slot back, so
failures cannot fill the cooldown and block a legitimate scale."""

from __future__ import annotations

import pytest

from opsagent_sim import faults

from .test_scale_handler import call, scale_event, trail, usage

SCALE = r"/deployments/checkout/scale$"


@pytest.fixture
def short_timeout(monkeypatch):
    from opsagent.k8s import reset_kube

    monkeypatch.setenv("OPSAGENT_K8S_READ_TIMEOUT", "0.5")
    reset_kube()
    yield
    reset_kube()


# --- failures that applied nothing: the slot comes back ---------------------------------------------


def test_throttled_patch_releases_the_slot(stack, lambda_context):
    stack.inject("PATCH", SCALE, status=429, times=1)
    status, body = call(scale_event(replicas="5"), lambda_context)
    assert status == 503 and body["retryable"] is True
    assert stack.state.replicas("shop", "checkout") == 3
    assert usage() == (0, 0)
    assert trail()[-1].decision == "failed" and "nothing applied" in trail()[-1].detail


@pytest.mark.parametrize("code", [500, 502, 503, 504])
def test_5xx_that_applied_nothing_releases_the_slot(stack, lambda_context, code):
    stack.inject("PATCH", SCALE, status=code, times=1)
    status, body = call(scale_event(replicas="5"), lambda_context)
    assert status in (503, 504) and body["retryable"] is True
    assert stack.state.replicas("shop", "checkout") == 3
    assert usage() == (0, 0)
    assert "nothing applied" in trail()[-1].detail


def test_three_failures_do_not_block_a_legitimate_scale(stack, lambda_context):
    """Default cooldown: 3 operations per hour. Three 5xx that changed nothing used to fill it."""
    stack.inject("PATCH", SCALE, status=500, times=3)
    for _ in range(3):
        status, _body = call(scale_event(replicas="5"), lambda_context)
        assert status == 503
    status, body = call(scale_event(replicas="5"), lambda_context)
    assert status == 200 and body["outcome"] == "applied", body
    assert usage() == (1, 1)


def test_timeout_that_applied_nothing_releases_the_slot(stack, lambda_context, short_timeout):
    stack.inject("PATCH", SCALE, status=500, times=1, delay=1.5)  # answers late, applies nothing
    status, body = call(scale_event(replicas="5"), lambda_context)
    assert status in (503, 504) and body["retryable"] is True
    assert stack.state.replicas("shop", "checkout") == 3
    assert usage() == (0, 0)


# --- failures after the change landed: applied, audited with the undo ------------------------------


@pytest.mark.parametrize(
    "mode,kw",
    [("drop", {}), ("status", {"status": 500}), ("status", {"status": 503}), ("stall", {"stall": 1.5})],
)
def test_applied_then_failed_is_reported_applied_with_undo(stack, lambda_context, short_timeout, mode, kw):
    fault = faults.after_apply(stack, "PATCH", SCALE, mode=mode, **kw)
    status, body = call(scale_event(replicas="5"), lambda_context)
    assert fault.applied.is_set()
    assert stack.state.replicas("shop", "checkout") == 5
    assert status == 200 and body["outcome"] == "applied", body
    assert body["before_replicas"] == 3 and body["undo"]["replicas"] == 3
    assert usage() == (1, 1)  # the change happened: its slot stays used
    applied = [r for r in trail() if r.decision == "applied"]
    assert len(applied) == 1 and applied[0].undo and "replicas=3" in applied[0].undo
    # the retry the model may send replays, it does not claim "nothing changed" without an undo
    status, again = call(scale_event(replicas="5"), lambda_context)
    assert status == 200 and again["replayed"] is True and again["undo"]["replicas"] == 3
    assert len(stack.requests_matching("PATCH")) == 1


def test_unknown_outcome_when_the_reread_fails_keeps_the_slot_and_the_retry_reconciles(
    stack, lambda_context, monkeypatch
):
    from opsagent.scaling import workload

    fault = faults.after_apply(stack, "PATCH", SCALE, mode="status", status=500)
    real = workload.read_scale
    failed = []

    def read_scale(kube, namespace, name):
        if fault.applied.is_set() and not failed:
            failed.append(True)  # the first read after the PATCH: the API is failing too
            stack.inject("GET", SCALE, status=500, times=1)
        return real(kube, namespace, name)

    monkeypatch.setattr(workload, "read_scale", read_scale)
    status, body = call(scale_event(replicas="5"), lambda_context)
    assert status == 503 and body["retryable"] is True
    assert usage() == (1, 1)  # fail closed: it did land
    assert "outcome unknown" in trail()[-1].detail
    # the retry finds the intent record of the first attempt and records it as applied
    status, body = call(scale_event(replicas="5"), lambda_context)
    assert status == 200 and body["outcome"] == "applied", body
    assert body["before_replicas"] == 3 and body["undo"]["replicas"] == 3
    assert len(stack.requests_matching("PATCH")) == 1
    assert usage() == (1, 1)
    assert [r.decision for r in trail()].count("applied") == 1
