"""Fixtures every test area shares: fake AWS credentials + moto, Lambda context, sample events."""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_EVENTS = ROOT.parent / "shared" / "fixtures" / "events"
LOCAL_EVENTS = Path(__file__).parent / "fixtures" / "events"

# No test may reach a real AWS endpoint or publish real telemetry.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_SESSION_TOKEN", "testing")
os.environ["AWS_DEFAULT_REGION"] = os.environ["AWS_REGION"] = "us-east-1"
os.environ["POWERTOOLS_TRACE_DISABLED"] = "1"
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "OpsAgentTest")
os.environ.setdefault("POWERTOOLS_DEV", "false")


@dataclass
class FakeLambdaContext:
    function_name: str = "opsagent-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:opsagent-test"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


def load_event(name: str) -> dict:
    """A sample event by file name (without .json): the project's own fixtures first, then the
    shared real-format samples."""
    for folder in (LOCAL_EVENTS, SHARED_EVENTS):
        path = folder / f"{name}.json"
        if path.exists():
            return json.loads(path.read_text())
    raise FileNotFoundError(f"no sample event {name!r} in {LOCAL_EVENTS} or {SHARED_EVENTS}")


def bedrock_event(
    action_group: str,
    api_path: str,
    method: str = "GET",
    parameters: dict[str, str] | None = None,
    body: dict[str, str] | None = None,
    session_attributes: dict[str, str] | None = None,
) -> dict:
    """A Bedrock action-group event in the real shape (sample ``bedrock-agent-get``), with string values."""
    event = copy.deepcopy(load_event("bedrock-agent-get"))
    event.update(actionGroup=action_group, apiPath=api_path, httpMethod=method)
    event["parameters"] = [{"name": k, "type": "string", "value": v} for k, v in (parameters or {}).items()]
    if body is not None:
        event["requestBody"] = {
            "content": {
                "application/json": {
                    "properties": [{"name": k, "type": "string", "value": v} for k, v in body.items()]
                }
            }
        }
    if session_attributes is not None:
        event["sessionAttributes"] = session_attributes
    return event


def response_body(result: dict) -> tuple[int, dict]:
    """Assert the Bedrock response envelope and return (status, decoded body)."""
    assert result["messageVersion"] == "1.0"
    resp = result["response"]
    assert set(resp) >= {"actionGroup", "apiPath", "httpMethod", "httpStatusCode", "responseBody"}
    body = resp["responseBody"]["application/json"]["body"]
    assert isinstance(body, str), "Bedrock wants the body as a JSON string"
    return resp["httpStatusCode"], json.loads(body)


@pytest.fixture
def aws():
    """moto's in-process mock of every AWS API for the duration of one test."""
    from moto import mock_aws

    from opsagent.aws import reset_clients

    reset_clients()
    with mock_aws():
        yield
    reset_clients()
