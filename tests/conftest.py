"""Fixtures every test area shares: fake AWS credentials + moto, Lambda context, sample events."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

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


@pytest.fixture
def aws():
    """moto's in-process mock of every AWS API for the duration of one test."""
    from moto import mock_aws

    from opsagent.aws import reset_clients

    reset_clients()
    with mock_aws():
        yield
    reset_clients()
