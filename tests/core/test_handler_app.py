"""The shared resolver: every failure is a readable body, never an escaping exception."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from typing import Annotated

import pytest
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel

from opsagent.errors import NotFound, PolicyRefused, UpstreamTimeout
from opsagent.handlers.app import build_lambda_handler, build_resolver
from support import bedrock_event, response_body


class Thing(BaseModel):
    name: str
    limit: int


@pytest.fixture(scope="module")
def handler():
    app = build_resolver()

    @app.get("/things/<name>", description="Get a thing.", operation_id="getThing")
    def get_thing(
        name: Annotated[str, Path(description="Name")],
        limit: Annotated[int, Query(description="How many", ge=1, le=5)] = 1,
    ) -> Thing:
        if name == "missing":
            raise NotFound("no thing called missing", name=name)
        if name == "refused":
            raise PolicyRefused("replica ceiling is 10", rule="replica_ceiling", limit=10)
        if name == "slow":
            raise UpstreamTimeout("the cluster did not answer in 10 s")
        if name == "huge":
            return Thing(name="x" * 20_000, limit=limit)
        if name == "boom":
            raise RuntimeError("secret internals /var/task/x.py")
        return Thing(name=name, limit=limit)

    return build_lambda_handler(app, service="things")


def call(handler, lambda_context, name, **params):
    event = bedrock_event("things", "/things/{name}", parameters={"name": name, **params})
    return response_body(handler(event, lambda_context))


def test_success_echoes_the_envelope(handler, lambda_context):
    event = bedrock_event("things", "/things/{name}", parameters={"name": "a", "limit": "3"})
    result = handler(event, lambda_context)
    assert result["response"]["actionGroup"] == "things"
    assert result["response"]["apiPath"] == "/things/{name}"
    assert response_body(result) == (200, {"name": "a", "limit": 3})


@pytest.mark.parametrize(
    ("name", "status", "error"),
    [("missing", 404, "not_found"), ("refused", 403, "policy_refused"), ("slow", 504, "upstream_timeout")],
)
def test_domain_errors_keep_their_status_and_say_why(handler, lambda_context, name, status, error):
    got_status, body = call(handler, lambda_context, name)
    assert (got_status, body["error"]) == (status, error)
    assert body["message"]


def test_policy_refusal_names_the_rule_and_limit(handler, lambda_context):
    _, body = call(handler, lambda_context, "refused")
    assert (body["rule"], body["limit"], body["retryable"]) == ("replica_ceiling", 10, False)


def test_retryable_errors_say_so(handler, lambda_context):
    assert call(handler, lambda_context, "slow")[1]["retryable"] is True


def test_validation_failure_is_a_400_naming_the_field(handler, lambda_context):
    status, body = call(handler, lambda_context, "a", limit="99")
    assert status == 400
    assert body["problems"][0]["field"] == "limit"


def test_unexpected_exception_is_a_500_without_internals(handler, lambda_context):
    status, body = call(handler, lambda_context, "boom")
    assert status == 500
    assert "/var/task" not in json.dumps(body) and body["error"] == "internal_error"


def test_unknown_route_is_a_404(handler, lambda_context):
    event = bedrock_event("things", "/nope/{x}", parameters={"x": "1"})
    status, body = response_body(handler(event, lambda_context))
    assert (status, body["error"]) == (404, "unknown_operation")


def test_xray_sdk_is_off_by_default_and_not_imported():
    code = (
        "import sys, opsagent.handlers.app as a; print(a.tracer is None, 'aws_xray_sdk.core' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False"]


def test_xray_sdk_can_be_switched_on(monkeypatch, lambda_context):
    import opsagent.handlers.app as app_module

    monkeypatch.setenv("OPSAGENT_XRAY_SDK", "true")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    try:
        reloaded = importlib.reload(app_module)
        assert reloaded.tracer is not None
    finally:
        monkeypatch.delenv("OPSAGENT_XRAY_SDK")
        importlib.reload(app_module)


def test_a_body_over_budget_never_reaches_the_model(handler, lambda_context):
    status, body = call(handler, lambda_context, "huge")
    assert (status, body["error"]) == (500, "response_too_large")
    assert "narrow the request" in body["message"]
