"""``scaling`` action group: getDeployment (read) and scaleDeployment (mutation, confirmed).

Lambda handler: ``opsagent.handlers.scaling.lambda_handler``. The adapter maps parameters to
:class:`opsagent.scaling.Scaling` and nothing else: the safety policy, idempotency and audit
live in the domain code so the trigger, drill and CLI get exactly the same behaviour.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from opsagent.context import CallContext
from opsagent.handlers.app import build_lambda_handler, build_resolver
from opsagent.scaling.models import DeploymentInfo, ScaleRequest, ScaleResult

app = build_resolver()

_NAMESPACE = "Kubernetes namespace of the Deployment, e.g. shop"
_DEPLOYMENT = "Exact Deployment name, e.g. checkout (not a pod name)"


def _scaling():
    from opsagent.scaling.service import Scaling

    return Scaling.from_env()


def _ctx() -> CallContext:
    return CallContext.from_bedrock_event(app.current_event.raw_event)


@app.get(
    "/namespaces/<namespace>/deployments/<deployment>",
    operation_id="getDeployment",
    description=(
        "One Deployment: desired/ready/available/updated replicas, rollout status (complete, progressing, "
        "stalled or paused) and revision, conditions, its 10 newest events, the HPA managing it (if any), "
        "and whether scaleDeployment is allowed now: if not, the refusing policy rule; if so, the "
        "replica range one call may set and the remaining cooldown and incident budget. Call this before "
        "proposing a scale."
    ),
)
def get_deployment(
    namespace: Annotated[str, Path(description=_NAMESPACE)],
    deployment: Annotated[str, Path(description=_DEPLOYMENT)],
) -> DeploymentInfo:
    return _scaling().get_deployment(_ctx(), namespace, deployment)


@app.post(
    "/namespaces/<namespace>/deployments/<deployment>/scale",
    operation_id="scaleDeployment",
    description=(
        "Set a Deployment's replica count, within the safety policy: allowed namespaces only, never "
        "protected ones, floor/ceiling, a maximum step per call, a cooldown per Deployment, a budget per "
        "incident, no HPA-managed or opted-out Deployments. A refusal (403) names the rule and its limit "
        "and changes nothing; do not retry a refusal. Repeating an identical request does not scale "
        "twice. Use dry_run=true to check first. Returns before/after replicas, the audit id and the "
        "exact undo call."
    ),
    openapi_extensions={"x-requireConfirmation": "ENABLED"},
)
def scale_deployment(
    namespace: Annotated[str, Path(description=_NAMESPACE)],
    deployment: Annotated[str, Path(description=_DEPLOYMENT)],
    request: Annotated[ScaleRequest, Body(embed=False, description="replicas, reason and optional dry_run")],
) -> ScaleResult:
    return _scaling().scale(_ctx(), namespace, deployment, request)


lambda_handler = build_lambda_handler(app, service="scaling")
