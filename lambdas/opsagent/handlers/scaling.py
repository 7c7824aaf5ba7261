"""``scaling`` action group: getDeployment (read) and scaleDeployment (mutation, confirmed).

Lambda handler: ``opsagent.handlers.scaling.lambda_handler``. The adapter maps parameters to
:class:`opsagent.scaling.Scaling` and nothing else: the safety policy, idempotency and audit
live in the domain code so the trigger, drill and CLI get exactly the same behaviour.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from opsagent.context import CallContext
from opsagent.handlers.app import build_lambda_handler, build_resolver, doc, operation
from opsagent.scaling.models import DeploymentInfo, ScaleRequest, ScaleResult

app = build_resolver()

_NAMESPACE = doc("getDeployment", "namespace")
_DEPLOYMENT = doc("getDeployment", "deployment")


def _scaling():
    from opsagent.scaling.service import Scaling

    return Scaling.from_env()


def _ctx() -> CallContext:
    return CallContext.from_bedrock_event(app.current_event.raw_event)


@operation(app, "getDeployment")
def get_deployment(
    namespace: Annotated[str, Path(description=_NAMESPACE)],
    deployment: Annotated[str, Path(description=_DEPLOYMENT)],
) -> DeploymentInfo:
    return _scaling().get_deployment(_ctx(), namespace, deployment)


@operation(app, "scaleDeployment")
def scale_deployment(
    namespace: Annotated[str, Path(description=_NAMESPACE)],
    deployment: Annotated[str, Path(description=_DEPLOYMENT)],
    request: Annotated[ScaleRequest, Body(embed=False, description="replicas, reason and optional dry_run")],
) -> ScaleResult:
    return _scaling().scale(_ctx(), namespace, deployment, request)


lambda_handler = build_lambda_handler(app, service="scaling")
