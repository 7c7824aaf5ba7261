"""Fixtures for the scaling tests: moto tables, an atomic DynamoDB client, a controllable clock."""

from __future__ import annotations

import threading

import pytest

AUDIT_TABLE = "opsagent-audit"
STATE_TABLE = "opsagent-state"


class AtomicClient:
    """moto's DynamoDB evaluates a condition and writes without a lock, so under threads two
    conditional writes can both pass, which real DynamoDB never allows. Serialising each API call
    restores DynamoDB's per-request atomicity; interleavings *between* calls (what the code under
    test must survive) are untouched."""

    def __init__(self, real):
        self._real = real
        self._lock = threading.Lock()
        self.calls: list[str] = []

    def __getattr__(self, name):
        attr = getattr(self._real, name)
        if not callable(attr) or name in ("get_waiter", "get_paginator"):
            return attr

        def call(*args, **kwargs):
            with self._lock:
                self.calls.append(name)
                return attr(*args, **kwargs)

        return call


class Clock:
    def __init__(self, start: float = 1_800_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ddb(aws, monkeypatch):
    """Both tables created in moto; every opsagent module that asks for a DynamoDB client gets the
    atomic wrapper; OPSAGENT_AUDIT_TABLE / OPSAGENT_STATE_TABLE point at them."""
    from opsagent import audit, state
    from opsagent.aws import client

    atomic = AtomicClient(client("dynamodb"))
    audit.create_table(AUDIT_TABLE, dynamodb=atomic)
    state.create_table(STATE_TABLE, dynamodb=atomic)
    monkeypatch.setattr(state, "client", lambda service, region=None: atomic)
    monkeypatch.setattr(audit, "client", lambda service, region=None: atomic)
    monkeypatch.setenv("OPSAGENT_AUDIT_TABLE", AUDIT_TABLE)
    monkeypatch.setenv("OPSAGENT_STATE_TABLE", STATE_TABLE)
    return atomic


# --- the cluster and the whole stack -------------------------------------------------------------

from opsagent_sim.pytest_fixtures import kube, kube_factory  # noqa: E402, F401

SHOP_POLICY = {"allowed_namespaces": ["shop"]}

# checkout 3 (free), frontend 4 (HPA), legacy 2 (opted out), cart 2, search 2, kube-system/coredns 2
SCENARIO = {
    "name": "scaling-tests",
    "now": "2026-11-20T14:06:00Z",
    "namespace": "shop",
    "namespaces": ["shop", "kube-system", "payments"],
    "deployments": [
        {"name": "checkout", "replicas": 3, "revision": 7, "image": "registry.example/checkout:1.42.0"},
        {"name": "frontend", "replicas": 4, "revision": 31},
        {"name": "legacy", "replicas": 2, "labels": {"opsagent.io/scaling": "disabled"}},
        {"name": "cart", "replicas": 2},
        {"name": "search", "replicas": 2},
        {"name": "ledger", "namespace": "payments", "replicas": 2},
        {"name": "coredns", "namespace": "kube-system", "replicas": 2, "selector": {"k8s-app": "kube-dns"}},
    ],
    "hpas": [
        {"name": "frontend", "target": "frontend", "min": 2, "max": 8, "cpu_target": 70, "current_cpu": 38}
    ],
    "events": [
        {
            "object": "deployment/checkout",
            "type": "Normal",
            "reason": "ScalingReplicaSet",
            "message": "Scaled up replica set checkout-7 to 3",
            "age": "3h",
        },
        {
            "object": "deployment/checkout",
            "type": "Warning",
            "reason": "FailedCreate",
            "message": "older warning",
            "age": "5h",
        },
    ],
}


@pytest.fixture
def kube_scenario():
    return SCENARIO


@pytest.fixture
def policy_env(monkeypatch):
    import json

    def set_policy(policy: dict | None = None) -> None:
        monkeypatch.setenv("OPSAGENT_POLICY", json.dumps(SHOP_POLICY if policy is None else policy))

    set_policy()
    monkeypatch.delenv("OPSAGENT_ALLOWED_NAMESPACES", raising=False)
    return set_policy


@pytest.fixture
def stack(ddb, kube, policy_env):  # noqa: F811 - the imported fixture
    """moto tables + the emulator (over HTTP) + a policy allowing namespace shop."""
    kube.clear_requests()
    return kube


def scale_direct(deployment="checkout", replicas=4, incident="inc-1"):
    """The domain call behind the handler, for threads: Powertools keeps the current event in a
    class attribute (BaseRouter.current_event), so concurrent handler calls in one process would
    read each other's events. Lambda runs one event per container at a time; threads here stand
    for containers."""
    from opsagent.context import CallContext
    from opsagent.errors import OpsAgentError
    from opsagent.scaling import ScaleRequest, Scaling

    ctx = CallContext(incident_id=incident, session_id="s-" + incident[:40], trigger="test")
    try:
        result = Scaling.from_env().scale(
            ctx, "shop", deployment, ScaleRequest(replicas=replicas, reason="race")
        )
    except OpsAgentError as exc:
        return exc.status_code, exc.to_body()
    return 200, result.model_dump(mode="json")
