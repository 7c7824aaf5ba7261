"""Alarm state change events (the three real-format samples) -> AlarmFacts."""

from __future__ import annotations

import json
import re

import pytest

from opsagent.errors import InvalidInput
from opsagent.investigation.alarm import extract_facts, parse_event, parse_timestamp
from opsagent.investigation.workload import WorkloadMapping, WorkloadRule, resolve_workload


def test_single_metric_alarm_facts(alarm):
    facts = extract_facts(alarm("single-metric"))
    assert facts.kind == "metric"
    assert facts.alarm_name == "checkout-high-cpu"
    assert facts.alarm_arn == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:checkout-high-cpu"
    assert (facts.metric_namespace, facts.metric_name) == ("ContainerInsights", "pod_cpu_utilization")
    assert facts.dimensions == {"ClusterName": "prod-eks", "Namespace": "shop", "PodName": "checkout"}
    assert facts.recent_datapoints == [91.7, 96.4]
    assert facts.threshold == 80.0
    assert facts.period == 300 and facts.statistic == "Average"
    assert facts.state_timestamp == "2026-11-20T14:05:40.989+0000"
    assert facts.state_time.isoformat() == "2026-11-20T14:05:40.989000+00:00"
    assert facts.previous_state == "OK"
    wl = facts.workload
    assert (wl.cluster, wl.namespace, wl.name, wl.source) == (
        "prod-eks",
        "shop",
        "checkout",
        "container_insights",
    )
    assert facts.incident_id == "checkout-high-cpu@2026-11-20T14:05:40.989+0000"
    assert facts.fingerprint == facts.alarm_arn


def test_metric_math_alarm_uses_the_metrics_behind_the_expression(alarm):
    facts = extract_facts(alarm("metric-math"), WorkloadMapping(default_namespace="shop"))
    assert facts.kind == "metric_math"
    assert facts.expression == "100 * errors / requests"
    assert [m.id for m in facts.metrics] == ["errors", "requests"]
    assert facts.metric_name == "HTTPCode_Target_5XX_Count"
    assert facts.dimensions["TargetGroup"] == "targetgroup/checkout/73e2d6bc24d8a067"
    assert facts.recent_datapoints == [7.1, 9.8, 12.4] and facts.threshold == 5.0
    # targetgroup/checkout/... -> service checkout; the namespace comes from configuration
    assert (facts.workload.namespace, facts.workload.name, facts.workload.source) == (
        "shop",
        "checkout",
        "target_group",
    )


def test_composite_alarm_names_its_triggering_alarms(alarm):
    facts = extract_facts(alarm("composite"))
    assert facts.kind == "composite"
    assert facts.alarm_rule == "ALARM(checkout-high-cpu) AND ALARM(checkout-5xx-rate)"
    assert [(t.name, t.state) for t in facts.triggering_alarms] == [("checkout-5xx-rate", "ALARM")]
    assert facts.metrics == [] and facts.metric_name is None
    assert not facts.workload.known  # resolved from the child alarms during enrichment


def test_session_id_is_valid_for_invoke_agent_and_distinct_per_transition(alarm):
    event = alarm("single-metric")
    event["detail"]["alarmName"] = "a" * 230 + " weird/name ü"
    first = extract_facts(event).session_id()
    event["detail"]["state"]["timestamp"] = "2026-11-20T14:05:41.989+0000"
    second = extract_facts(event).session_id()
    for sid in (first, second):
        assert re.fullmatch(r"[0-9a-zA-Z._:-]{2,100}", sid), sid
    assert first != second


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: e.update({"detail-type": "EC2 Instance State-change Notification"}),
        lambda e: e.update({"source": "aws.ec2"}),
        lambda e: e["detail"].pop("state"),
        lambda e: e["detail"]["state"].update({"timestamp": "yesterday"}),
        lambda e: e["detail"].update({"alarmName": ""}),
    ],
)
def test_malformed_events_are_rejected_with_a_reason(alarm, mutate):
    event = alarm("single-metric")
    mutate(event)
    with pytest.raises(InvalidInput):
        parse_event(event)


def test_non_object_event_is_rejected():
    with pytest.raises(InvalidInput):
        parse_event(["not", "an", "event"])


def test_reason_data_that_is_not_json_is_tolerated(alarm):
    event = alarm("single-metric")
    event["detail"]["state"]["reasonData"] = "{not json"
    facts = extract_facts(event)
    assert facts.recent_datapoints == [] and facts.threshold is None
    assert facts.period == 300  # from the metricStat


def test_hostile_reason_data_values_are_ignored(alarm):
    event = alarm("single-metric")
    event["detail"]["state"]["reasonData"] = json.dumps(
        {"recentDatapoints": ["1; rm -rf /", True, 3.5], "threshold": "80", "triggeringAlarms": "x"}
    )
    facts = extract_facts(event)
    assert facts.recent_datapoints == [3.5]
    assert facts.threshold is None


def test_timestamps_in_cloudwatch_format():
    assert parse_timestamp("2019-10-02T17:04:40.989+0000").isoformat() == "2019-10-02T17:04:40.989000+00:00"
    assert parse_timestamp("2026-11-20T14:05:40Z").tzinfo is not None


class TestWorkloadMapping:
    def test_rule_wins_over_dimensions(self):
        mapping = WorkloadMapping(
            rules=[
                WorkloadRule(
                    match={"TargetGroup": "targetgroup/web-*"}, namespace="store", workload="frontend"
                )
            ]
        )
        ref = resolve_workload({"TargetGroup": "targetgroup/web-blue/0123abcd"}, mapping)
        assert (ref.namespace, ref.name, ref.source) == ("store", "frontend", "rule")

    def test_rule_on_alarm_name(self):
        mapping = WorkloadMapping(
            rules=[WorkloadRule(match={"alarm_name": "payments-*"}, namespace="pay", workload="api")]
        )
        assert resolve_workload({}, mapping, alarm_name="payments-latency").label() == "pay/api"

    def test_load_balancer_controller_target_group_names(self):
        ref = resolve_workload({"TargetGroup": "targetgroup/k8s-shop-checkout-1a2b3c4d5e/73e2d6bc24d8a067"})
        assert (ref.namespace, ref.name) == ("shop", "checkout")

    def test_full_pod_name_and_service(self):
        ref = resolve_workload({"Namespace": "shop", "Service": "cart", "FullPodName": "cart-7d9f-abcde"})
        assert (ref.name, ref.pod) == ("cart", "cart-7d9f-abcde")

    def test_names_that_are_not_kubernetes_names_are_dropped(self):
        ref = resolve_workload({"Namespace": "../etc", "PodName": "Check Out"})
        assert ref.namespace is None and ref.name is None and not ref.known

    def test_no_workload_dimensions(self):
        ref = resolve_workload({"InstanceId": "i-123"}, WorkloadMapping(default_cluster="prod"))
        assert not ref.known and ref.cluster == "prod"


def test_session_ids_of_long_alarm_names_do_not_collide(alarm):
    """Truncated to 100 characters, two alarms sharing a long prefix (and the second) stay distinct:
    a shared InvokeAgent session would mix two incidents in the agent's memory."""
    ids = set()
    for suffix in ("cart", "checkout"):
        event = alarm("single-metric")
        name = "prod-eu-west-1-shop-platform-team-latency-p99-over-slo-for-service-" + suffix
        event["detail"]["alarmName"] = name
        event["resources"] = [f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"]
        ids.add(extract_facts(event).session_id())
    event["detail"]["state"]["timestamp"] = "2026-11-20T14:05:40.990+0000"  # 1 ms later
    ids.add(extract_facts(event).session_id())
    assert len(ids) == 3
