"""The ``metrics`` action group: queryMetric (GET /metrics) and listActiveAlarms (GET /alarms).

Lambda handler: ``opsagent.handlers.metrics.lambda_handler``. The adapter only maps string
parameters to the domain call in ``opsagent.metrics``; boto3 loads on the first CloudWatch call.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from opsagent.handlers.app import build_lambda_handler, build_resolver, operation
from opsagent.metrics.dimensions import parse_dimensions
from opsagent.metrics.models import (
    DEFAULT_MINUTES,
    MAX_MINUTES,
    PERIOD_HELP,
    STATISTIC_HELP,
    ActiveAlarms,
    MetricQuery,
    MetricResult,
)

app = build_resolver()


@operation(app, "queryMetric")
def query_metric(
    metric_namespace: Annotated[
        str,
        Query(
            description="CloudWatch namespace, e.g. ContainerInsights, AWS/ApplicationELB, AWS/SQS, AWS/RDS",
            max_length=255,
        ),
    ],
    metric_name: Annotated[
        str,
        Query(
            description="Metric name, e.g. pod_cpu_utilization, TargetResponseTime, RequestCount",
            max_length=255,
        ),
    ],
    dimensions: Annotated[
        str,
        Query(
            description=(
                "The metric's dimensions as Name=Value pairs separated by commas, e.g. "
                "LoadBalancer=app/shop-alb/50dc6c495c0c9188,TargetGroup=targetgroup/checkout/6d0ecf83. "
                "Values may contain / and : but not commas. At most 30."
            ),
            max_length=4096,
        ),
    ] = "",
    statistic: Annotated[
        str,
        Query(description=f"One of {STATISTIC_HELP}. Default Average.", max_length=20),
    ] = "Average",
    period: Annotated[
        int,
        Query(
            description=f"Seconds per datapoint: {PERIOD_HELP}. Default 60; raised automatically when the "
            "window would exceed 1440 datapoints."
        ),
    ] = 60,
    minutes: Annotated[
        int,
        Query(description=f"Window in minutes, ending now: 1 to {MAX_MINUTES}. Default {DEFAULT_MINUTES}."),
    ] = DEFAULT_MINUTES,
    namespace: Annotated[
        str,
        Query(description="ContainerInsights only: Kubernetes namespace (sets the Namespace dimension)."),
    ] = "",
    workload: Annotated[
        str,
        Query(
            description="ContainerInsights only: workload (Deployment/StatefulSet/DaemonSet) name; sets the "
            "PodName dimension, which Container Insights fills with the workload name. Needs namespace."
        ),
    ] = "",
    pod: Annotated[
        str,
        Query(
            description="ContainerInsights only: one pod's full name (FullPodName dimension; needs Container "
            "Insights with enhanced observability). Needs namespace. Do not combine with workload."
        ),
    ] = "",
) -> MetricResult:
    from opsagent.metrics.cloudwatch import query_metric as run

    query = MetricQuery.create(
        metric_namespace=metric_namespace,
        metric_name=metric_name,
        dimensions=parse_dimensions(dimensions),
        statistic=statistic.strip() or "Average",
        period=period,
        minutes=minutes,
        namespace=namespace or None,
        workload=workload or None,
        pod=pod or None,
    )
    return run(query)


@operation(app, "listActiveAlarms")
def list_active_alarms(
    name_prefix: Annotated[
        str,
        Query(
            description="Only alarms whose name starts with this text (case-sensitive), e.g. shop-",
            max_length=255,
        ),
    ] = "",
    limit: Annotated[
        int,
        Query(description="How many alarms to return at most, 1 to 50. Default 20."),
    ] = 20,
) -> ActiveAlarms:
    from opsagent.metrics.cloudwatch import list_active_alarms as run

    return run(name_prefix or None, limit)


lambda_handler = build_lambda_handler(app, service="metrics")
