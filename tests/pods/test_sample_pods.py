"""listPods names a few pods per workload, healthy ones included, so "show me checkout's logs" can
reach describePod/getPodLogs (issue 10 item 12); the names are bounded whatever the namespace size."""

from __future__ import annotations

import json

import pytest

from opsagent.pods.operations import BODY_BUDGET, list_pods
from opsagent.pods.summarize import MAX_SAMPLE_OWNERS, SAMPLES_PER_OWNER
from pods import podjson as pj
from pods.test_operations import FakeKube


@pytest.fixture(autouse=True)
def _no_allowlist(monkeypatch):
    monkeypatch.delenv("OPSAGENT_ALLOWED_NAMESPACES", raising=False)


def test_a_healthy_workload_still_names_pods_to_read():
    pods = [pj.healthy(f"checkout-7d9f8b6c5d-h{i:04d}") for i in range(5)]
    result = list_pods("shop", kube=FakeKube(pods))
    assert result.problem_pods == []
    [(owner, names)] = result.sample_pods.items()
    assert owner.endswith("/checkout") or "checkout" in owner
    assert len(names) == SAMPLES_PER_OWNER and all(n.startswith("checkout-7d9f8b6c5d-h") for n in names)


def test_ready_pods_come_first():
    pods = [pj.not_ready("checkout-7d9f8b6c5d-nrdy1"), pj.healthy("checkout-7d9f8b6c5d-aaaaa")]
    [names] = list_pods("shop", kube=FakeKube(pods)).sample_pods.values()
    assert names == ["checkout-7d9f8b6c5d-aaaaa", "checkout-7d9f8b6c5d-nrdy1"]


def test_samples_are_bounded_and_the_body_stays_within_budget():
    pods = []
    for w in range(40):
        for i in range(6):
            p = pj.healthy(f"w{w:02d}-{'x' * 200}-{i}")
            p["metadata"]["ownerReferences"] = [
                {"kind": "StatefulSet", "name": f"w{w:02d}-{'y' * 240}", "controller": True}
            ]
            pods.append(p)
    result = list_pods("shop", kube=FakeKube(pods))
    assert len(result.sample_pods) <= MAX_SAMPLE_OWNERS
    assert all(len(v) <= SAMPLES_PER_OWNER for v in result.sample_pods.values())
    assert len(result.sample_pods) + result.sample_pods_omitted == 40
    size = len(json.dumps(result.model_dump(mode="json"), separators=(",", ":")))
    assert size <= BODY_BUDGET
