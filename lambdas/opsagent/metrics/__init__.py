"""The ``metrics`` action group's domain: CloudWatch metric queries and active alarms.

    from opsagent.metrics import MetricQuery, query_metric, list_active_alarms

    q = MetricQuery.create(metric_namespace="ContainerInsights", metric_name="pod_cpu_utilization",
                           namespace="shop", workload="checkout", minutes=60)
    result = query_metric(q)              # MetricResult: summary (min/max/avg/last/trend) + <= 30 points
    alarms = list_active_alarms("shop-")  # ActiveAlarms: <= 20 alarms in ALARM + omitted count

Importing this package is cheap: boto3 is loaded on the first CloudWatch call (``opsagent.aws.client``).
"""

from opsagent.metrics.cloudwatch import MetricsSettings, list_active_alarms, query_metric
from opsagent.metrics.dimensions import format_dimensions, parse_dimensions
from opsagent.metrics.models import ActiveAlarm, ActiveAlarms, AlarmMetric, MetricQuery, MetricResult

__all__ = [
    "ActiveAlarm",
    "ActiveAlarms",
    "AlarmMetric",
    "MetricQuery",
    "MetricResult",
    "MetricsSettings",
    "format_dimensions",
    "list_active_alarms",
    "parse_dimensions",
    "query_metric",
]
