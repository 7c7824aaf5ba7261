"""getDeployment end to end, and the rollout-status logic on its own."""

from __future__ import annotations

import pytest

from opsagent.scaling import workload as wl
from support import bedrock_event, response_body

from .conftest import SCENARIO

GET_PATH = "/namespaces/{namespace}/deployments/{deployment}"
SCALE_PATH = GET_PATH + "/scale"


def get(namespace, deployment, lambda_context, incident="inc-1"):
    from opsagent.handlers.scaling import lambda_handler

    event = bedrock_event(
        "scaling",
        GET_PATH,
        "GET",
        parameters={"namespace": namespace, "deployment": deployment},
        session_attributes={"incident_id": incident},
    )
    result = lambda_handler(event, lambda_context)
    assert len(result["response"]["responseBody"]["application/json"]["body"]) < 8 * 1024
    return response_body(result)


def scale(deployment, replicas, lambda_context, incident="inc-1"):
    from opsagent.handlers.scaling import lambda_handler

    event = bedrock_event(
        "scaling",
        SCALE_PATH,
        "POST",
        parameters={"namespace": "shop", "deployment": deployment},
        body={"replicas": str(replicas), "reason": "load test"},
        session_attributes={"incident_id": incident},
    )
    return response_body(lambda_handler(event, lambda_context))


def test_checkout_summary(stack, lambda_context):
    status, body = get("shop", "checkout", lambda_context)
    assert status == 200, body
    assert body["replicas"] == {
        "spec": 3,
        "current": 3,
        "ready": 3,
        "available": 3,
        "updated": 3,
        "unavailable": 0,
    }
    assert body["rollout"]["status"] == "complete" and body["rollout"]["revision"] == "7"
    assert {c["type"] for c in body["conditions"]} >= {"Available", "Progressing"}
    assert body["containers"] == [{"name": "checkout", "image": "registry.example/checkout:1.42.0"}]
    assert body["hpa"] is None
    reasons = [e["reason"] for e in body["events"]]
    assert "ScalingReplicaSet" in reasons and "FailedCreate" in reasons
    times = [e["last_seen"] for e in body["events"]]
    assert times == sorted(times, reverse=True)  # newest first
    verdict = body["scaling"]
    assert verdict["allowed"] is True and verdict["rule"] is None
    assert verdict["allowed_range"] == [1, 6]
    assert verdict["quota"]["cooldown_used"] == 0 and verdict["quota"]["incident_budget_used"] == 0
    # a read: no write to the cluster
    assert stack.requests_matching("PATCH") == []
    assert {r.method for r in stack.requests} == {"GET"}


def test_hpa_managed_is_reported_with_its_bounds(stack, lambda_context):
    status, body = get("shop", "frontend", lambda_context)
    assert status == 200
    assert body["hpa"]["name"] == "frontend"
    assert (body["hpa"]["min_replicas"], body["hpa"]["max_replicas"]) == (2, 8)
    assert body["scaling"]["allowed"] is False and body["scaling"]["rule"] == "hpa_managed"
    assert "HPA" in body["scaling"]["reason"] and body["scaling"]["allowed_range"] is None


@pytest.mark.parametrize(
    ("namespace", "deployment", "rule"),
    [
        ("shop", "legacy", "opt_out_label"),
        ("kube-system", "coredns", "protected_namespace"),
        ("payments", "ledger", "namespace_not_allowed"),
    ],
)
def test_reads_are_allowed_but_the_verdict_names_the_rule(stack, lambda_context, namespace, deployment, rule):
    status, body = get(namespace, deployment, lambda_context)
    assert status == 200 and body["name"] == deployment
    assert body["scaling"]["allowed"] is False and body["scaling"]["rule"] == rule


def test_verdict_tracks_cooldown_and_budget(stack, lambda_context):
    for r in (4, 5, 6):
        assert scale("checkout", r, lambda_context)[0] == 200
    status, body = get("shop", "checkout", lambda_context)
    assert body["scaling"]["allowed"] is False and body["scaling"]["rule"] == "cooldown"
    assert body["scaling"]["quota"]["cooldown_used"] == 3
    assert body["scaling"]["quota"]["cooldown_next_slot_at"].endswith("Z")
    _, other = get("shop", "cart", lambda_context)
    assert other["scaling"]["allowed"] is True
    assert other["scaling"]["quota"]["incident_budget_used"] == 3


def test_far_above_the_ceiling_has_no_allowed_range(kube_factory, ddb, policy_env, lambda_context):
    kube_factory({"namespace": "shop", "deployments": [{"name": "big", "replicas": 20}]})
    _, body = get("shop", "big", lambda_context)
    assert body["scaling"]["allowed"] is False and body["scaling"]["allowed_range"] is None
    assert body["scaling"]["rule"] == "replica_ceiling"


def test_stalled_rollout(kube_factory, ddb, policy_env, lambda_context):
    kube_factory("bad-image-rollout")
    status, body = get("shop", "catalog", lambda_context)
    assert status == 200
    assert body["rollout"]["status"] == "stalled" and body["rollout"]["revision"] == "12"
    assert "ProgressDeadlineExceeded" in [e["reason"] for e in body["events"]]


def test_events_are_bounded_and_counted(kube_factory, ddb, policy_env, lambda_context):
    events = [
        {
            "object": "deployment/checkout",
            "type": "Warning",
            "reason": f"Reason{i:02d}",
            "message": "m" * 2000,
            "age": f"{i + 1}m",
        }
        for i in range(30)
    ]
    kube_factory({**SCENARIO, "events": events})
    status, body = get("shop", "checkout", lambda_context)
    assert status == 200
    assert len(body["events"]) == 10 and body["events_omitted"] >= 20
    assert body["events"][0]["reason"] == "Reason00"  # the newest
    assert all(len(e["message"]) <= 300 for e in body["events"])


def test_hpa_list_denied_blocks_scaling_but_not_the_read(stack, lambda_context):
    stack.deny("list", "horizontalpodautoscalers", namespace="shop")
    status, body = get("shop", "checkout", lambda_context)
    assert status == 200 and body["hpa"] is None and "could not check HPAs" in body["hpa_note"]
    assert body["scaling"]["allowed"] is False and body["scaling"]["rule"] == "hpa_managed"
    # and scaling itself fails closed with the missing permission named
    status, body = scale("checkout", 4, lambda_context)
    assert (
        status == 403
        and body["error"] == "permission_missing"
        and "horizontalpodautoscalers" in body["message"]
    )
    assert stack.requests_matching("PATCH") == []


def test_without_state_table_the_read_still_works(kube, policy_env, aws, monkeypatch, lambda_context):
    monkeypatch.delenv("OPSAGENT_STATE_TABLE", raising=False)
    status, body = get("shop", "checkout", lambda_context)
    assert status == 200
    assert body["scaling"]["quota"]["cooldown_used"] is None
    assert "OPSAGENT_STATE_TABLE" in body["scaling"]["quota"]["note"]


def test_not_found_and_hostile_names(stack, lambda_context):
    status, body = get("shop", "nope", lambda_context)
    assert status == 404 and "nope" in body["message"]
    stack.clear_requests()
    for ns, dep in [("shop", "../secrets"), ("a b", "x"), ("shop", "x" * 300), ("SHOP", "checkout")]:
        status, body = get(ns, dep, lambda_context)
        assert status == 400 and body["error"] == "invalid_input", (ns, dep)
    assert stack.requests == []


def test_read_allowlist(stack, lambda_context, monkeypatch):
    monkeypatch.setenv("OPSAGENT_ALLOWED_NAMESPACES", "payments,billing")
    status, body = get("shop", "checkout", lambda_context)
    assert status == 403 and body["rule"] == "allowed_namespaces"
    assert stack.requests == []
    assert get("payments", "ledger", lambda_context)[0] == 200


# --- rollout status, pure ------------------------------------------------------------------------


def dep(spec=3, updated=3, current=3, available=3, generation=5, observed=5, conditions=(), paused=False):
    return {
        "metadata": {"generation": generation, "annotations": {"deployment.kubernetes.io/revision": "4"}},
        "spec": {"replicas": spec, "paused": paused},
        "status": {
            "observedGeneration": observed,
            "replicas": current,
            "updatedReplicas": updated,
            "availableReplicas": available,
            "readyReplicas": available,
            "conditions": list(conditions),
        },
    }


@pytest.mark.parametrize(
    ("obj", "status", "text"),
    [
        (dep(), "complete", "3 of 3"),
        (dep(generation=6), "progressing", "observe"),
        (dep(updated=1), "progressing", "1 of 3 replicas updated"),
        (dep(current=5), "progressing", "2 old replicas"),
        (dep(available=2), "progressing", "2 of 3 updated"),
        (
            dep(
                updated=1,
                conditions=[{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}],
            ),
            "stalled",
            "deadline",
        ),
        (dep(paused=True, updated=1), "paused", "paused"),
    ],
)
def test_rollout_status(obj, status, text):
    r = wl.rollout(obj)
    assert r.status == status and text in r.message and r.revision == "4"


def test_newest_replicaset_from_condition():
    d = dep(
        conditions=[
            {"type": "Progressing", "message": 'ReplicaSet "checkout-7d9f" has successfully progressed.'}
        ]
    )
    assert wl.newest_replicaset(d) == "checkout-7d9f"
    assert wl.newest_replicaset(dep()) is None
