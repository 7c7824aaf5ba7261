import logging

import boto3
from botocore.stub import Stubber

import opsagent.aws  # noqa: F401 - importing it sets the logger levels


def test_debug_logging_never_prints_secrets_or_session_tokens(caplog):
    client = boto3.client("secretsmanager", region_name="us-east-1", aws_session_token="SESSION-TOKEN-XYZ")
    with Stubber(client) as stub, caplog.at_level(logging.DEBUG):
        stub.add_response(
            "get_secret_value", {"SecretString": '{"token": "TOP-SECRET-123"}'}, {"SecretId": "s"}
        )
        client.get_secret_value(SecretId="s")
    for name in ("botocore.parsers", "botocore.endpoint", "botocore.auth"):
        assert logging.getLogger(name).getEffectiveLevel() >= logging.INFO
    assert "TOP-SECRET-123" not in caplog.text and "SESSION-TOKEN-XYZ" not in caplog.text
