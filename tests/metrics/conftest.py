"""Fixtures for the metrics action group: moto CloudWatch with seeded data, and an invoker that
sends a real-format Bedrock event through ``opsagent.handlers.metrics.lambda_handler``.

moto 5.2.5 notes: GetMetricData matches dimensions in the order they were put (real CloudWatch
ignores order), so seeds use the order queryMetric sends (ContainerInsights: ClusterName, Namespace,
Service, PodName, FullPodName); PutCompositeAlarm is not implemented (composite alarms are tested
with a fake client); DescribeAlarms ignores StateValue when AlarmNamePrefix is given."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from support import bedrock_event, response_body

CLUSTER = "prod-eks"


@pytest.fixture
def ci_dims() -> Callable[..., list[dict[str, str]]]:
    """ci_dims(namespace, workload): a Container Insights pod metric's dimensions (cluster CLUSTER)."""

    def dims(namespace: str = "shop", workload: str = "checkout") -> list[dict[str, str]]:
        return [
            {"Name": "ClusterName", "Value": CLUSTER},
            {"Name": "Namespace", "Value": namespace},
            {"Name": "PodName", "Value": workload},
        ]

    return dims


@pytest.fixture
def metrics_env(monkeypatch):
    monkeypatch.setenv("OPSAGENT_CLUSTER_NAME", CLUSTER)
    monkeypatch.delenv("OPSAGENT_ALLOWED_NAMESPACES", raising=False)


@pytest.fixture
def cw(aws, metrics_env):
    import boto3

    return boto3.client("cloudwatch", region_name="us-east-1")


@pytest.fixture
def put_series(cw) -> Callable[..., None]:
    """put_series(namespace, name, dims, values, step_minutes=1): values[-1] is the newest (1 min ago)."""

    def put(
        namespace: str, name: str, dims: list[dict[str, str]], values: list[float], step_minutes: int = 1
    ):
        now = datetime.now(UTC)
        n = len(values)
        data = [
            {
                "MetricName": name,
                "Dimensions": dims,
                "Timestamp": now - timedelta(minutes=step_minutes * (n - i)),
                "Value": float(v),
            }
            for i, v in enumerate(values)
        ]
        for i in range(0, len(data), 500):
            cw.put_metric_data(Namespace=namespace, MetricData=data[i : i + 500])

    return put


@pytest.fixture
def invoke(lambda_context) -> Callable[..., tuple[int, dict]]:
    """invoke(api_path, params) -> (status, body) through the real Lambda entry point."""

    def call(api_path: str, params: dict[str, str] | None = None, **kw) -> tuple[int, dict]:
        from opsagent.handlers.metrics import lambda_handler

        event = bedrock_event("metrics", api_path, "GET", params or {}, **kw)
        result = lambda_handler(event, lambda_context)
        assert result["response"]["actionGroup"] == "metrics"
        assert result["response"]["apiPath"] == api_path
        status, body = response_body(result)
        raw = result["response"]["responseBody"]["application/json"]["body"]
        assert len(raw.encode()) <= 8 * 1024, f"body is {len(raw)} bytes"
        return status, body

    return call
