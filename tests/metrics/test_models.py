"""MetricQuery validation: statistics, periods, windows and the ContainerInsights shortcuts."""

from __future__ import annotations

import pytest

from opsagent.errors import InvalidInput
from opsagent.metrics.cloudwatch import MetricsSettings, effective_period, resolve_dimensions
from opsagent.metrics.models import MetricQuery, canonical_statistic, smallest_valid_period_at_least


def q(**kw) -> MetricQuery:
    base = {"metric_namespace": "AWS/ApplicationELB", "metric_name": "TargetResponseTime"}
    return MetricQuery.create(**{**base, **kw})


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("average", "Average"),
        ("SUM", "Sum"),
        ("SampleCount", "SampleCount"),
        ("P99", "p99"),
        ("p99.9", "p99.9"),
        ("p50", "p50"),
        ("p100", "p100"),
        ("p0", "p0"),
        ("TM99", "tm99"),
        ("wm90", "wm90"),
        ("tm(10%:90%)", "TM(10%:90%)"),
        ("PR(:300)", "PR(:300)"),
        ("iqm", "IQM"),
    ],
)
def test_statistics(given, canonical):
    assert canonical_statistic(given) == canonical


@pytest.mark.parametrize(
    "bad", ["avg", "p101", "p", "p99.999", "tm", "TM(:)", "TM(1;2)", "Average; DROP", "", "p-1", "PR(a:b)"]
)
def test_bad_statistic_names_allowed_values(bad):
    with pytest.raises(InvalidInput) as err:
        q(statistic=bad)
    problem = err.value.details["problems"][0]
    assert problem["field"] == "statistic"
    assert "Average, Sum, Minimum, Maximum, SampleCount" in problem["problem"]


@pytest.mark.parametrize("period", [1, 5, 10, 30, 60, 300, 3600, 86400])
def test_valid_periods(period):
    assert q(period=period, minutes=1440).period == period


@pytest.mark.parametrize("period", [0, -60, 2, 45, 90, 61, 86460, 10**9])
def test_invalid_periods(period):
    with pytest.raises(InvalidInput, match="invalid metric query") as err:
        q(period=period, minutes=1440)
    assert err.value.details["problems"][0]["field"] == "period"


@pytest.mark.parametrize("minutes", [0, -5, 1441, 100000])
def test_window_bounds(minutes):
    with pytest.raises(InvalidInput):
        q(minutes=minutes)


def test_period_longer_than_window_rejected():
    with pytest.raises(InvalidInput) as err:
        q(period=3600, minutes=30)
    assert "longer than the 30-minute window" in err.value.details["problems"][0]["problem"]


def test_period_raised_to_cap_datapoints():
    period, notes = effective_period(q(period=1, minutes=20))
    assert period == 1  # 1200 points: under the cap
    period, notes = effective_period(q(period=1, minutes=25))
    assert period == 5 and "1440 datapoints" in notes[0]
    period, notes = effective_period(q(period=10, minutes=1440))
    assert period == 60 and "3 h" not in notes[0] and "180 minutes" in notes[0]
    assert smallest_valid_period_at_least(61) == 120
    assert smallest_valid_period_at_least(0.5) == 1


def test_shortcuts_only_for_container_insights():
    with pytest.raises(InvalidInput) as err:
        q(namespace="shop", workload="checkout")
    assert "ContainerInsights" in err.value.details["problems"][0]["problem"]


@pytest.mark.parametrize("bad", ["Shop", "shop_1", "-shop", "a" * 254, "shop/../x", "check out", "shop\nx"])
def test_kubernetes_names_validated(bad):
    with pytest.raises(InvalidInput):
        MetricQuery.create(
            metric_namespace="ContainerInsights", metric_name="pod_cpu_utilization", namespace=bad
        )


def ci(**kw) -> MetricQuery:
    return MetricQuery.create(metric_namespace="ContainerInsights", metric_name="pod_cpu_utilization", **kw)


def test_container_insights_fills_cluster_and_orders_dimensions():
    dims, notes = resolve_dimensions(
        ci(namespace="shop", workload="checkout"), MetricsSettings(cluster_name="prod")
    )
    assert list(dims.items()) == [("ClusterName", "prod"), ("Namespace", "shop"), ("PodName", "checkout")]
    assert any("OPSAGENT_CLUSTER_NAME" in n for n in notes)


def test_explicit_cluster_wins_and_conflicts_are_errors():
    dims, _ = resolve_dimensions(
        ci(dimensions={"ClusterName": "other", "Namespace": "shop"}), MetricsSettings(cluster_name="prod")
    )
    assert dims["ClusterName"] == "other"
    with pytest.raises(InvalidInput, match="contradicts"):
        resolve_dimensions(ci(dimensions={"Namespace": "shop"}, namespace="payments"), MetricsSettings())


def test_pod_shortcut_uses_full_pod_name_and_derives_workload():
    dims, notes = resolve_dimensions(ci(namespace="shop", pod="checkout-7d9f8b6c5d-x2x7k"), MetricsSettings())
    assert dims["FullPodName"] == "checkout-7d9f8b6c5d-x2x7k" and dims["PodName"] == "checkout"
    assert any("OPSAGENT_CLUSTER_NAME is unset" in n for n in notes)
    # not a Deployment pod: no guessing
    for pod in ("fluent-bit-x2x7k", "db-0"):
        dims, _ = resolve_dimensions(ci(namespace="shop", pod=pod), MetricsSettings())
        assert "PodName" not in dims and dims["FullPodName"] == pod


def test_workload_needs_namespace_and_excludes_pod():
    with pytest.raises(InvalidInput, match="namespace"):
        resolve_dimensions(ci(workload="checkout"), MetricsSettings())
    with pytest.raises(InvalidInput):
        ci(namespace="shop", workload="checkout", pod="checkout-1")


def test_namespace_allowlist_applies_to_reads():
    from opsagent.errors import PolicyRefused

    settings = MetricsSettings(allowed_namespaces="shop, payments")
    resolve_dimensions(ci(namespace="shop"), settings)
    with pytest.raises(PolicyRefused) as err:
        resolve_dimensions(ci(dimensions={"Namespace": "kube-system"}), settings)
    assert err.value.rule == "allowed_namespaces"
    assert MetricsSettings(allowed_namespaces=["a", "b"]).namespace_allowlist() == {"a", "b"}


def test_allowlist_applies_to_container_insights_prometheus_too():
    from opsagent.errors import PolicyRefused

    q = MetricQuery.create(
        metric_namespace="ContainerInsights/Prometheus",
        metric_name="nginx_ingress_controller_requests",
        dimensions={"ClusterName": "prod", "Namespace": "kube-system"},
    )
    with pytest.raises(PolicyRefused):
        resolve_dimensions(q, MetricsSettings(allowed_namespaces="shop"))


def test_similar_metrics_do_not_reveal_namespaces_outside_the_allowlist():
    from datetime import UTC, datetime

    from opsagent.metrics.cloudwatch import query_metric

    class Fake:
        def get_metric_data(self, **kw):
            return {
                "MetricDataResults": [{"Id": "m1", "Timestamps": [], "Values": [], "StatusCode": "Complete"}]
            }

        def list_metrics(self, **kw):
            return {
                "Metrics": [
                    {
                        "Dimensions": [
                            {"Name": "ClusterName", "Value": "prod"},
                            {"Name": "Namespace", "Value": ns},
                        ]
                    }
                    for ns in ("shop", "kube-system", "secret-project")
                ]
            }

    result = query_metric(
        ci(namespace="shop"),
        settings=MetricsSettings(cluster_name="prod", allowed_namespaces="shop"),
        client=Fake(),
        now=datetime(2024, 5, 1, tzinfo=UTC),
    )
    assert result.similar_metrics == ["ClusterName=prod,Namespace=shop"]
