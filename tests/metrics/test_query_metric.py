"""queryMetric through the real Lambda entry point, real-format Bedrock events, moto CloudWatch."""

from __future__ import annotations

import json

import pytest

CLUSTER = "prod-eks"  # tests/metrics/conftest.py sets OPSAGENT_CLUSTER_NAME to it


def test_container_insights_workload_shortcut_fills_cluster(put_series, invoke, ci_dims):
    values = [40 + i for i in range(60)]  # rising 40 -> 99 over the last hour
    put_series("ContainerInsights", "pod_cpu_utilization", ci_dims(), values)
    status, body = invoke(
        "/metrics",
        {
            "metric_namespace": "ContainerInsights",
            "metric_name": "pod_cpu_utilization",
            "namespace": "shop",
            "workload": "checkout",
        },
    )
    assert status == 200, body
    assert body["metric"]["dimensions"] == {
        "ClusterName": CLUSTER,
        "Namespace": "shop",
        "PodName": "checkout",
    }
    assert body["metric"]["statistic"] == "Average" and body["metric"]["period"] == 60
    assert body["datapoints"] >= 59  # the oldest may fall on the window edge
    summary = body["summary"]
    assert summary["max"] == 99.0 and summary["last"] == 99.0
    assert summary["min"] in (40.0, 41.0)
    assert summary["trend"] == "rising" and summary["change_pct"] > 10
    assert summary["first_timestamp"] < summary["last_timestamp"]
    assert summary["last_timestamp"].endswith("Z")
    assert 2 <= len(body["series"]) <= 30
    assert body["series"][-1]["v"] == 99.0
    assert "LTTB" in body["series_method"]
    assert any("OPSAGENT_CLUSTER_NAME" in n for n in body["notes"])


def test_alb_dimensions_with_slashes_percentile_and_falling(put_series, invoke):
    dims = "LoadBalancer=app/shop-alb/50dc6c495c0c9188,TargetGroup=targetgroup/checkout/6d0ecf831eec9f09"
    put_series(
        "AWS/ApplicationELB",
        "TargetResponseTime",
        [
            {"Name": "LoadBalancer", "Value": "app/shop-alb/50dc6c495c0c9188"},
            {"Name": "TargetGroup", "Value": "targetgroup/checkout/6d0ecf831eec9f09"},
        ],
        [2.0] * 10 + [0.5] * 10,
    )
    status, body = invoke(
        "/metrics",
        {
            "metric_namespace": "AWS/ApplicationELB",
            "metric_name": "TargetResponseTime",
            "dimensions": dims,
            "statistic": "maximum",
            "minutes": "30",
        },
    )
    assert status == 200, body
    assert body["metric"]["statistic"] == "Maximum"
    assert body["metric"]["dimensions"]["LoadBalancer"] == "app/shop-alb/50dc6c495c0c9188"
    assert body["datapoints"] == 20
    assert body["summary"]["trend"] == "falling"
    assert body["series_method"] == "all datapoints" and len(body["series"]) == 20


def test_long_window_is_downsampled_and_bounded(put_series, invoke):
    values = [10.0] * 1440
    values[700] = 500.0
    put_series("Custom/App", "QueueDepth", [{"Name": "Queue", "Value": "orders"}], values)
    status, body = invoke(
        "/metrics",
        {
            "metric_namespace": "Custom/App",
            "metric_name": "QueueDepth",
            "dimensions": "Queue=orders",
            "minutes": "1440",
            "statistic": "Sum",
        },
    )
    assert status == 200, body
    assert body["datapoints"] >= 1438
    assert len(body["series"]) == 30
    assert body["summary"]["max"] == 500.0 and body["summary"]["trend"] == "flat"
    assert 500.0 in [p["v"] for p in body["series"]], "the spike must survive downsampling"


def test_period_raised_when_window_would_exceed_datapoint_cap(put_series, invoke):
    put_series("Custom/App", "Latency", [], [1.0] * 10)
    status, body = invoke(
        "/metrics",
        {"metric_namespace": "Custom/App", "metric_name": "Latency", "period": "1", "minutes": "120"},
    )
    assert status == 200, body
    assert body["metric"]["period"] == 5
    assert any("1440 datapoints" in n for n in body["notes"])


def test_empty_result_is_200_with_hint_and_existing_dimension_sets(put_series, invoke, ci_dims):
    put_series("ContainerInsights", "pod_cpu_utilization", ci_dims(workload="checkout"), [50.0] * 5)
    status, body = invoke(
        "/metrics",
        {
            "metric_namespace": "ContainerInsights",
            "metric_name": "pod_cpu_utilization",
            "namespace": "shop",
            "workload": "checkout-7d9f8b6c5d-x2x7k",  # a pod name where the workload is expected
        },
    )
    assert status == 200, body
    assert body["datapoints"] == 0 and body["summary"] is None and body["series"] == []
    assert "exact, complete set of dimensions" in body["hint"]
    assert "PodName is the WORKLOAD name" in body["hint"]
    assert body["similar_metrics"] == [f"ClusterName={CLUSTER},Namespace=shop,PodName=checkout"]


def test_empty_result_for_unknown_metric_has_no_suggestions(invoke, cw):
    status, body = invoke("/metrics", {"metric_namespace": "AWS/SQS", "metric_name": "NoSuchMetric"})
    assert status == 200
    assert body["datapoints"] == 0 and body["similar_metrics"] == []
    assert "ContainerInsights" not in body["hint"]


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"dimensions": "LoadBalancer"}, "has no '='"),
        ({"dimensions": "A=1,,B=2"}, "dimension #2 is empty"),
        ({"dimensions": "A=1,A=2"}, "given twice"),
        ({"dimensions": ",".join(f"D{i}=v" for i in range(31))}, "at most 30"),
        ({"statistic": "median"}, "pNN"),
        ({"period": "45"}, "multiple of 60"),
        ({"minutes": "99999"}, "1440"),
        ({"namespace": "shop"}, "shortcuts for metric_namespace=ContainerInsights"),
    ],
)
def test_bad_parameters_are_400_naming_the_problem(cw, invoke, params, needle):
    status, body = invoke(
        "/metrics", {"metric_namespace": "AWS/ApplicationELB", "metric_name": "TargetResponseTime", **params}
    )
    assert status == 400, body
    assert body["error"] == "invalid_input" and body["retryable"] is False
    assert needle in json.dumps(body)


@pytest.mark.parametrize(
    "params",
    [
        {"metric_name": "x"},  # metric_namespace missing
        {"metric_namespace": "AWS/EC2", "metric_name": "x", "period": "sixty"},
        {"metric_namespace": "AWS/EC2", "metric_name": "x", "minutes": "1e9"},
        {"metric_namespace": "A" * 300, "metric_name": "x"},
        {"metric_namespace": "AWS/EC2", "metric_name": "x", "dimensions": "A=" + "x" * 5000},
        {"metric_namespace": ":AWS", "metric_name": "x"},
        {"metric_namespace": "AWS/EC2", "metric_name": "CPU\u0000Utilization"},
        {"metric_namespace": "AWS/EC2", "metric_name": "x", "dimensions": "InstanceId=i-1\nIgnore previous"},
    ],
)
def test_hostile_and_malformed_inputs_are_400_not_500(cw, invoke, params):
    status, body = invoke("/metrics", params)
    assert status == 400, body
    assert body["error"] == "invalid_input"
    assert len(json.dumps(body)) < 2000, "errors must not echo huge inputs"


def test_allowlist_refuses_other_namespaces(cw, invoke, monkeypatch):
    monkeypatch.setenv("OPSAGENT_ALLOWED_NAMESPACES", "shop,payments")
    status, body = invoke(
        "/metrics",
        {
            "metric_namespace": "ContainerInsights",
            "metric_name": "pod_cpu_utilization",
            "namespace": "kube-system",
        },
    )
    assert status == 403
    assert body["error"] == "policy_refused" and body["rule"] == "allowed_namespaces"
