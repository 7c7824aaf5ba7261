"""The drill scenarios end to end for the runbooks: the alarm matches a runbook, and that runbook's
read-only Kubernetes steps, run through the real action-group apps against the Kubernetes emulator,
return the evidence an engineer needs (the CloudWatch/ticket steps are covered by their own areas)."""

from __future__ import annotations

import copy
import json

import pytest

from opsagent.investigation.alarm import extract_facts
from opsagent.runbooks import StepSkipped, match_runbooks, render_step
from support import bedrock_event, load_event, response_body

K8S_OPERATIONS = {"listPods", "describePod", "getPodLogs", "getDeployment"}


def alarm(name: str, metric: str, workload: str):
    event = copy.deepcopy(load_event("alarm-single-metric"))
    event["detail"]["alarmName"] = name
    event["resources"] = [f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"]
    stat = event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]
    stat.update(name=metric, dimensions={"ClusterName": "prod-eks", "Namespace": "shop", "PodName": workload})
    return extract_facts(event)


SCENARIOS = {
    # scenario: (alarm facts, expected runbook, evidence that must appear per operation)
    "cpu-saturation": (
        lambda: extract_facts(load_event("alarm-single-metric")),
        "high-cpu",
        {"getDeployment": ["checkout"], "listPods": ["checkout"]},
    ),
    "oom-crashloop": (
        lambda: alarm("cart-oom-killed", "pod_container_status_terminated_reason_oom_killed", "cart"),
        "memory-pressure-oomkilled",
        {"listPods": ["OOMKilled", "512Mi"], "getDeployment": ["cart"]},
    ),
    "bad-image-rollout": (
        lambda: alarm(
            "catalog-image-pull-errors", "pod_container_status_waiting_reason_image_pull_error", "catalog"
        ),
        "image-pull-backoff",
        {"listPods": ["ImagePullBackOff", "2.3.1-rc1"], "getDeployment": ["2.3.1-rc1"]},
    ),
}


def call(catalog, operation: str, params: dict[str, str], lambda_context) -> tuple[int, dict]:
    import importlib

    info = catalog[operation]
    app = importlib.import_module(f"opsagent.handlers.{info.group}").app
    event = bedrock_event(info.group, info.path, info.method.upper(), parameters=params)
    return response_body(app.resolve(event, lambda_context))


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_runbook_steps_produce_the_evidence(
    scenario, kube_factory, runbooks, operation_catalog, lambda_context, monkeypatch
):
    make_facts, expected, evidence = SCENARIOS[scenario]
    monkeypatch.setenv("OPSAGENT_ALLOWED_NAMESPACES", "shop")
    kube_factory(scenario)
    facts = make_facts()
    book = match_runbooks(runbooks, facts)[0].runbook
    assert book.id == expected

    seen: dict[str, str] = {}
    for step in book.steps:
        if step.operation not in K8S_OPERATIONS:
            continue
        try:
            params = render_step(step, facts.template_vars())
        except StepSkipped as exc:
            assert exc.missing == ["pod"], exc.reason  # only the pod is unknown from an alarm
            continue
        status, body = call(operation_catalog, step.operation, params, lambda_context)
        assert status == 200, (step.operation, body)
        seen[step.operation] = json.dumps(body)
    for operation, needles in evidence.items():
        assert operation in seen, f"{operation} did not run"
        for needle in needles:
            assert needle in seen[operation], f"{operation} lacks {needle!r}: {seen[operation][:800]}"
