"""Matching alarms to runbooks (explained scores) and rendering steps into Bedrock-style parameters."""

from __future__ import annotations

import copy
import re

import pytest

from opsagent.investigation.alarm import extract_facts
from opsagent.runbooks import (
    Runbook,
    StepSkipped,
    facts_dict,
    match_runbooks,
    render_runbook,
    render_step,
)
from opsagent.runbooks.models import Step
from support import load_event


def alarm_facts(name: str, metric_namespace: str, metric: str, dims: dict[str, str], description: str = ""):
    """AlarmFacts as the trigger extracts them, from the real single-metric sample with changes."""
    event = copy.deepcopy(load_event("alarm-single-metric"))
    detail = event["detail"]
    detail["alarmName"] = name
    event["resources"] = [f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"]
    detail["configuration"]["description"] = description
    stat = detail["configuration"]["metrics"][0]["metricStat"]["metric"]
    stat.update(namespace=metric_namespace, name=metric, dimensions=dims)
    return extract_facts(event)


CI = "ContainerInsights"
SHOP = {"ClusterName": "prod-eks", "Namespace": "shop"}


def shop_alarm(name: str, metric: str, workload: str, description: str = ""):
    return alarm_facts(name, CI, metric, {**SHOP, "PodName": workload}, description)


# (alarm facts, expected best runbook, operations that must be runnable and produce the evidence)
DRILLS = {
    "cpu-saturation/checkout": (
        lambda: extract_facts(load_event("alarm-single-metric")),
        "high-cpu",
        {"queryMetric", "getDeployment", "listPods"},
    ),
    "oom-crashloop/cart oom alarm": (
        lambda: shop_alarm("cart-oom-killed", "pod_container_status_terminated_reason_oom_killed", "cart"),
        "memory-pressure-oomkilled",
        {"listPods", "getDeployment", "queryMetric"},
    ),
    "oom-crashloop/cart memory alarm": (
        lambda: shop_alarm("cart-memory-high", "pod_memory_utilization_over_pod_limit", "cart"),
        "memory-pressure-oomkilled",
        {"listPods", "getDeployment"},
    ),
    "oom-crashloop/cart restarts alarm": (
        lambda: shop_alarm("cart-restarts", "pod_number_of_container_restarts", "cart"),
        "crashloopbackoff",
        {"listPods", "getDeployment"},
    ),
    "bad-image-rollout/catalog": (
        lambda: shop_alarm(
            "catalog-image-pull-errors",
            "pod_container_status_waiting_reason_image_pull_error",
            "catalog",
            "catalog pods cannot pull their image after the 2.3.1-rc1 deploy",
        ),
        "image-pull-backoff",
        {"getDeployment", "listPods"},
    ),
}


@pytest.mark.parametrize("drill", list(DRILLS))
def test_drill_alarms_match_a_runbook_whose_steps_can_run(drill, runbooks):
    make_facts, expected, needed = DRILLS[drill]
    facts = make_facts()
    ranked = match_runbooks(runbooks, facts)
    assert ranked[0].runbook.id == expected, [m.explain() for m in ranked]
    ready = {
        r.operation for r in render_runbook(ranked[0].runbook, facts.template_vars()) if r.status == "ready"
    }
    assert needed <= ready
    pods = next(s for s in ranked[0].runbook.steps if s.operation == "listPods")
    assert render_step(pods, facts.template_vars()) == {"namespace": "shop", "workload": facts.workload.name}


def test_sample_events_match_with_explained_scores(runbooks):
    single = match_runbooks(runbooks, extract_facts(load_event("alarm-single-metric")))
    assert single[0].runbook.id == "high-cpu"
    assert single[0].reasons[0] == "alarm name 'checkout-high-cpu' matches '*high-cpu*' (+48)"
    math = match_runbooks(runbooks, extract_facts(load_event("alarm-metric-math")))
    assert math[0].runbook.id == "http-5xx-after-rollout"
    composite = match_runbooks(runbooks, extract_facts(load_event("alarm-composite")))
    assert composite[0].runbook.id == "http-5xx-after-rollout"
    assert composite[0].reasons[0].startswith("triggering alarm 'checkout-5xx-rate' matches")
    for m in single + math + composite:  # the reasons add up to the score
        assert sum(int(p) for p in re.findall(r"\(\+(\d+)\)", " ".join(m.reasons))) == m.score


def test_score_table(runbooks):
    from opsagent.runbooks import score_runbook

    book = next(b for b in runbooks if b.id == "high-cpu")
    full = score_runbook(book, {"metric_namespace": "ContainerInsights", "metric_name": "node_x"})
    assert full.score == 0 and full.reasons == []
    hit = score_runbook(book, {"metric_namespace": "ContainerInsights", "metric_name": "pod_cpu_utilization"})
    assert hit.score == 40 + 8  # metric + keyword 'cpu' at a word start of the metric name
    other_ns = score_runbook(book, {"metric_namespace": "Custom/App", "metric_name": "pod_cpu_utilization"})
    assert other_ns.score == 8 and other_ns.reasons == ["keywords 'cpu' (+8)"]
    glob = score_runbook(
        book, {"metric_namespace": "ContainerInsights", "metric_name": "container_cpu_utilization_x"}
    )
    assert "matches ContainerInsights/container_cpu_utilization*" in glob.reasons[0]
    words = score_runbook(
        book, {"alarm_name": "x", "description": "CPU throttling and saturation on checkout"}
    )
    assert words.score == 24 and words.reasons == ["keywords 'cpu', 'throttling', 'saturation' (+24)"]
    alarm = score_runbook(book, {"alarm_name": "SHOP-HIGH-CPU"})
    assert alarm.reasons[0] == "alarm name 'SHOP-HIGH-CPU' matches '*high-cpu*' (+48)"


def test_fallback_only_when_nothing_matches(runbooks):
    ranked = match_runbooks(runbooks, {"alarm_name": "zzz-custom-thing", "metric_name": "queue_size"})
    assert [(m.runbook.id, m.score) for m in ranked] == [("generic-triage", 1)]
    assert match_runbooks([b for b in runbooks if not b.matches.fallback], {"alarm_name": "zzz"}) == []
    assert "generic-triage" not in [m.id for m in match_runbooks(runbooks, {"alarm_name": "shop-high-cpu"})]


def test_keywords_match_at_word_starts_only(runbooks):
    # "cpu" inside another word, "oom" inside "room", "5xx" inside "a5xxb" must not match
    ranked = match_runbooks(runbooks, {"alarm_name": "zzz", "description": "roomservice notacpu a5xxb"})
    assert [m.id for m in ranked] == ["generic-triage"]


def test_ties_prefer_the_more_severe_runbook():
    def rb(id_, sev):
        return Runbook.model_validate(
            {
                "id": id_,
                "title": "t" * 5,
                "severity": sev,
                "summary": "s" * 20,
                "matches": {"keywords": ["disk"]},
                "steps": [{"operation": "listPods", "why": "x"}],
            }
        )

    ranked = match_runbooks([rb("b", "sev3"), rb("a", "sev3"), rb("c", "sev1")], {"description": "disk"})
    assert [m.id for m in ranked] == ["c", "a", "b"]
    assert len(match_runbooks([rb("b", "sev3"), rb("a", "sev3")], {"description": "disk"}, limit=1)) == 1


@pytest.mark.parametrize(
    "facts",
    [
        {"alarm_name": "[*?]" * 100, "description": "\x00\u202e" * 500},
        {"alarm_name": "é" * 5000, "metric_name": "*", "metric_namespace": "*"},
        {"dimensions": {"A": "1"}, "triggering_alarms": ["*", None, ""]},
        {},
    ],
)
def test_hostile_facts_do_not_crash_or_glob_backwards(runbooks, facts):
    ranked = match_runbooks(runbooks, facts)
    # a metric name of "*" is data, not a pattern: it must not match every runbook's metric list
    assert all(not any(r.startswith("metric") for r in m.reasons) for m in ranked)


# --- rendering ----------------------------------------------------------------------------------

STEP = Step(
    operation="getPodLogs", params={"namespace": "{namespace}", "pod": "{pod}", "previous": "true"}, why="x"
)


def test_render_fills_templates_as_strings():
    assert render_step(STEP, {"namespace": "shop", "pod": "cart-1"}) == {
        "namespace": "shop",
        "pod": "cart-1",
        "previous": "true",
    }


@pytest.mark.parametrize(
    "facts", [{"namespace": "shop"}, {"namespace": "shop", "pod": ""}, {"namespace": "shop", "pod": "  "}]
)
def test_render_skips_with_a_reason_when_a_placeholder_is_unknown(facts):
    with pytest.raises(StepSkipped) as info:
        render_step(STEP, facts)
    assert info.value.missing == ["pod"]
    assert info.value.reason == "getPodLogs skipped: no value for {pod} in this alarm"
    assert info.value.to_body()["error"] == "step_skipped"


def test_render_is_single_pass_and_verbatim():
    # a value that looks like a placeholder is not expanded again; odd characters pass through
    step = Step(
        operation="queryMetric",
        params={"metric_name": "{metric_name}", "dimensions": "{dimensions}"},
        why="x",
    )
    out = render_step(step, {"metric_name": "{pod}", "pod": "secret", "dimensions": {"B": "2", "A": "x=y"}})
    assert out == {"metric_name": "{pod}", "dimensions": "A=x=y,B=2"}


def test_render_accepts_alarm_facts_objects():
    facts = extract_facts(load_event("alarm-single-metric"))
    step = Step(
        operation="queryMetric",
        params={
            "metric_namespace": "{metric_namespace}",
            "metric_name": "{metric_name}",
            "dimensions": "{dimensions}",
        },
        why="x",
    )
    assert (
        render_step(step, facts)
        == render_step(step, facts.template_vars())
        == {
            "metric_namespace": "ContainerInsights",
            "metric_name": "pod_cpu_utilization",
            "dimensions": "ClusterName=prod-eks,Namespace=shop,PodName=checkout",
        }
    )
    assert facts_dict(facts)["description"] == "checkout pods above 80% CPU for 10 minutes"


def test_render_runbook_marks_skips_and_keeps_proposal_decisions(runbooks):
    book = next(b for b in runbooks if b.id == "high-cpu")
    facts = extract_facts(load_event("alarm-single-metric")).template_vars()
    rendered = render_runbook(book, facts)
    assert [r.kind for r in rendered] == ["step"] * len(book.steps) + ["proposal"] * len(book.proposals)
    assert all(r.status == "ready" for r in rendered)
    proposal = rendered[-1]
    assert proposal.operation == "scaleDeployment" and proposal.params["dry_run"] == "true"
    assert proposal.params["deployment"] == "checkout" and "replicas" in proposal.decide
    assert "checkout-high-cpu" in proposal.params["reason"]
    without_workload = render_runbook(book, {k: v for k, v in facts.items() if k != "workload"})
    skipped = [r for r in without_workload if r.status == "skipped"]
    assert skipped and all("{workload}" in r.reason for r in skipped)


def test_every_drill_scenario_alarm_matches_its_expected_runbook(runbooks):
    """The offline drill's own alarms (lambdas/opsagent_sim/drill/scenarios) pick the runbook the drill
    expects, and that runbook's listPods/getDeployment steps render for the alarm's workload."""
    from datetime import UTC, datetime

    from opsagent.investigation.workload import WorkloadMapping
    from opsagent_sim.drill import build_alarm_event, list_scenarios, load_scenario

    checked = 0
    for name in list_scenarios():
        scenario = load_scenario(name)
        if not scenario.expect.runbook or scenario.alarm.triggering:
            continue  # composite drills resolve the child alarm in CloudWatch first (trigger's job)
        mapping = WorkloadMapping(
            default_namespace=scenario.trigger.get("default_namespace"),
            default_cluster=scenario.trigger.get("default_cluster"),
        )
        facts = extract_facts(build_alarm_event(scenario, datetime.now(UTC)), mapping)
        ranked = match_runbooks(runbooks, facts)
        assert ranked and ranked[0].runbook.id == scenario.expect.runbook, (
            name,
            [m.explain() for m in ranked],
        )
        ready = {r.operation for r in render_runbook(ranked[0].runbook, facts) if r.status == "ready"}
        assert {"listPods", "getDeployment"} <= ready, (name, ready)
        checked += 1
    assert checked >= 3
