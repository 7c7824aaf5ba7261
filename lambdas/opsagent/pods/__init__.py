"""Pod health for the ``pods`` action group: list (aggregates + worst pods), describe (containers,
conditions, events) and tail logs (redacted, bounded). Plain functions, pydantic models out;
see :mod:`opsagent.pods.operations`."""

from opsagent.pods.models import PodDescription, PodList, PodLogs, ProblemPod
from opsagent.pods.operations import check_namespace_allowed, describe_pod, get_pod_logs, list_pods

__all__ = [
    "PodDescription",
    "PodList",
    "PodLogs",
    "ProblemPod",
    "check_namespace_allowed",
    "describe_pod",
    "get_pod_logs",
    "list_pods",
]
