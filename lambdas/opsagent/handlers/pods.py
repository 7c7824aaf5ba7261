"""``pods`` action group: listPods, describePod, getPodLogs (read-only).

Lambda handler: ``opsagent.handlers.pods.lambda_handler``. The route and parameter descriptions
below are what the model reads to choose a tool: keep them short and specific.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from opsagent.handlers.app import build_lambda_handler, build_resolver, doc, operation
from opsagent.pods import operations
from opsagent.pods.models import PodDescription, PodList, PodLogs

app = build_resolver()

_NAMESPACE = doc("listPods", "namespace")
_POD = doc("describePod", "pod")


@operation(app, "listPods")
def list_pods(
    namespace: Annotated[str, Path(description=_NAMESPACE)],
    selector: Annotated[str | None, Query(description=doc("listPods", "selector"))] = None,
    workload: Annotated[
        str | None,
        Query(description=doc("listPods", "workload")),
    ] = None,
) -> PodList:
    return operations.list_pods(namespace, selector=selector or None, workload=workload or None)


@operation(app, "describePod")
def describe_pod(
    namespace: Annotated[str, Path(description=_NAMESPACE)],
    pod: Annotated[str, Path(description=_POD)],
) -> PodDescription:
    return operations.describe_pod(namespace, pod)


@operation(app, "getPodLogs")
def get_pod_logs(
    namespace: Annotated[str, Path(description=_NAMESPACE)],
    pod: Annotated[str, Path(description=_POD)],
    container: Annotated[
        str | None,
        Query(description=doc("getPodLogs", "container")),
    ] = None,
    lines: Annotated[int, Query(description=doc("getPodLogs", "lines"))] = operations.DEFAULT_LOG_LINES,
    previous: Annotated[
        bool,
        Query(description=doc("getPodLogs", "previous")),
    ] = False,
) -> PodLogs:
    return operations.get_pod_logs(
        namespace, pod, container=container or None, lines=lines, previous=previous
    )


lambda_handler = build_lambda_handler(app, service="pods")
