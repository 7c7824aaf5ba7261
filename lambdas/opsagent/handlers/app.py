"""What every action-group Lambda shares: the resolver with readable error bodies, and the entry
point that wires Logger (Bedrock session id as correlation id), Tracer and Metrics.

Usage in an action-group module::

    app = build_resolver()

    @app.get("/namespaces/<namespace>/pods", description="...", operation_id="listPods")
    def list_pods(namespace: Annotated[str, Path(description="...")]) -> PodList: ...

    lambda_handler = build_lambda_handler(app, service="pods")
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import BedrockAgentResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from opsagent import catalogue
from opsagent.errors import OpsAgentError
from opsagent.handlers import envelope
from opsagent.tracing import build_tracer, traced

# Bedrock puts the tool result into the model's context; anything bigger than this is a bug.
MAX_BODY_BYTES = 16 * 1024

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "opsagent"))
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "OpsAgent"))


tracer = build_tracer()  # None unless OPSAGENT_XRAY_SDK=true: see opsagent.tracing


def _json_response(status: int, body: dict[str, Any]) -> Response:
    return Response(status_code=status, content_type="application/json", body=json.dumps(body, default=str))


def _describe_validation_errors(errors: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Turn pydantic's error list into short, model-readable items (no echo of huge inputs)."""
    out = []
    for err in errors[:10]:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        out.append({"field": ".".join(loc) or "request", "problem": str(err.get("msg", "invalid"))[:200]})
    return out


def build_resolver() -> BedrockAgentResolver:
    """A resolver whose every failure is a readable JSON body with a 4xx/5xx status."""
    app = BedrockAgentResolver()

    @app.exception_handler(OpsAgentError)
    def _domain_error(exc: OpsAgentError) -> Response:
        level = logger.warning if exc.status_code < 500 else logger.error
        level("operation failed", extra={"error": exc.code, "status": exc.status_code, "detail": exc.message})
        metrics.add_metric(name=f"Error_{exc.code}", unit="Count", value=1)
        return _json_response(exc.status_code, exc.to_body())

    @app.exception_handler(RequestValidationError)
    def _validation_error(exc: RequestValidationError) -> Response:
        problems = _describe_validation_errors(list(exc.errors()))
        logger.warning("invalid parameters", extra={"problems": problems})
        return _json_response(
            400, {"error": "invalid_input", "message": "parameters failed validation", "problems": problems}
        )

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        logger.exception("unhandled error")
        metrics.add_metric(name="Error_internal", unit="Count", value=1)
        return _json_response(
            500,
            {"error": "internal_error", "message": f"{type(exc).__name__} in the tool", "retryable": False},
        )

    @app.not_found
    def _unknown_route(exc: Exception) -> Response:
        return _json_response(
            404, {"error": "unknown_operation", "message": "no such operation in this action group"}
        )

    return app


def operation(app: BedrockAgentResolver, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a route from its catalogue entry: rule, verb, operationId, description, confirmation."""
    t = catalogue.tool(name)
    register = app.get if t.method == "GET" else app.post
    extensions = {"x-requireConfirmation": "ENABLED"} if t.confirmation else None
    return register(t.rule, description=t.description, operation_id=t.name, openapi_extensions=extensions)


def doc(name: str, param: str) -> str:
    """A parameter's description from the catalogue (what the model reads)."""
    return catalogue.tool(name).param(param).description


def build_lambda_handler(app: BedrockAgentResolver, *, service: str) -> Callable[[dict, Any], dict]:
    """The Lambda entry point for one action group."""
    # Nothing global is set here: the trigger imports every action-group module into one process.
    # Metrics carry Powertools' ``service`` dimension (POWERTOOLS_SERVICE_NAME, one per function).

    @logger.inject_lambda_context(correlation_id_path="sessionId", clear_state=True)
    @metrics.log_metrics
    def handler(event: Any, context: Any) -> dict:
        custom = envelope.gateway_custom(context)
        if custom is not None:
            return _gateway(app, service, event, context, custom)
        problem = envelope.bedrock_problem(event)
        if problem is not None:
            logger.warning("malformed envelope", extra={"problem": problem})
            metrics.add_metric(name="Error_invalid_envelope", unit="Count", value=1)
            return envelope.bedrock_response(event, action_group=service, status=400, body=_invalid(problem))
        event = envelope.normalized(event, action_group=service)
        logger.append_keys(
            action_group=service,
            api_path=event.get("apiPath"),
            agent_alias=(event.get("agent") or {}).get("alias"),
            incident_id=(event.get("sessionAttributes") or {}).get("incident_id"),
        )
        return _bounded(app.resolve(event, context))

    return traced(handler, tracer)


def _bounded(result: dict) -> dict:
    """Last line of defence for the model's context: every operation bounds its own body (and says
    what it left out); a body over ``MAX_BODY_BYTES`` anyway is a bug, answered as a readable 500."""
    response = result.get("response") or {}
    for media in (response.get("responseBody") or {}).values():
        body = media.get("body")
        if isinstance(body, str) and len(body.encode()) > MAX_BODY_BYTES:
            logger.error("response body over budget", extra={"bytes": len(body.encode())})
            response["httpStatusCode"] = 500
            media["body"] = json.dumps(
                {
                    "error": "response_too_large",
                    "message": f"the tool produced {len(body.encode())} bytes, over the "
                    f"{MAX_BODY_BYTES}-byte limit; narrow the request (selector, workload, fewer lines)",
                    "retryable": False,
                }
            )
    return result


def _invalid(problem: str) -> dict[str, Any]:
    return {"error": "invalid_input", "message": f"malformed request: {problem}", "retryable": False}


def _gateway(app: BedrockAgentResolver, service: str, arguments: Any, context: Any, custom: dict) -> dict:
    """One AgentCore Gateway Lambda-target call: the arguments become the Bedrock event the same
    resolver answers; the answer is plain JSON (the tool's body, or the error shape)."""
    try:
        tool, event = envelope.gateway_to_bedrock(arguments, custom, group=service)
    except envelope.EnvelopeError as exc:
        unknown = str(exc).startswith(("unknown tool", "tool "))
        status = 404 if unknown else 400
        logger.warning(
            "gateway call refused",
            extra={"problem": str(exc), "tool": custom.get("bedrockAgentCoreToolName")},
        )
        body = (
            {"error": "unknown_operation", "message": str(exc), "retryable": False}
            if unknown
            else _invalid(str(exc))
        )
        return envelope.gateway_result(status, body)
    logger.append_keys(
        action_group=service,
        front_door="gateway",
        tool=tool.name,
        gateway_id=custom.get("bedrockAgentCoreGatewayId"),
        target_id=custom.get("bedrockAgentCoreTargetId"),
        incident_id=event["sessionAttributes"]["incident_id"],
    )
    result = _bounded(app.resolve(event, context))
    response = result["response"]
    raw = response["responseBody"]["application/json"]["body"]
    try:
        body = json.loads(raw)
    except (TypeError, ValueError):
        body = {"error": "internal_error", "message": "the tool answered with a non-JSON body"}
    return envelope.gateway_result(int(response["httpStatusCode"]), body)
