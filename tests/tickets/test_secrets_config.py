"""Secrets Manager credentials (lazy, cached with a TTL, errors without values) and the
OPSAGENT_TICKETS configuration (https only, no inline credentials, typos rejected)."""

from __future__ import annotations

import json

import pytest

from opsagent.errors import ConfigurationError, PermissionMissing
from opsagent.tickets import secrets
from opsagent.tickets.config import load_tickets_settings
from opsagent.tickets.secrets import get_secret_json, redact

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:opsagent/jira-AbCdEf"


def count_calls(client) -> list[str]:
    calls: list[str] = []
    client.meta.events.register("before-call.secrets-manager.GetSecretValue", lambda **kw: calls.append("x"))
    return calls


def test_secret_is_cached_for_the_ttl_then_refetched(make_secret):
    from opsagent.aws import client

    arn = make_secret("opsagent/cache", {"token": "tok-cache-1234"})
    calls = count_calls(client("secretsmanager"))
    now = [1000.0]
    value, cached = get_secret_json(arn, ttl_seconds=60, clock=lambda: now[0])
    assert value == {"token": "tok-cache-1234"} and cached is False
    now[0] += 59
    assert get_secret_json(arn, ttl_seconds=60, clock=lambda: now[0]) == (value, True)
    now[0] += 2
    assert get_secret_json(arn, ttl_seconds=60, clock=lambda: now[0])[1] is False
    assert len(calls) == 2
    assert redact("x tok-cache-1234 y") == "x *** y"


def test_secret_errors_name_the_problem_not_the_value(make_secret):
    not_json = make_secret("opsagent/raw", "just-a-raw-token-value-999")
    with pytest.raises(ConfigurationError) as err:
        get_secret_json(not_json)
    assert "JSON object of strings" in err.value.message
    assert "just-a-raw-token-value-999" not in json.dumps(err.value.to_body())
    with pytest.raises(ConfigurationError, match="cannot be read"):
        get_secret_json("arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-XyZ123")


def test_access_denied_is_permission_missing(aws, monkeypatch):
    from botocore.exceptions import ClientError

    class Denied:
        def get_secret_value(self, **kw):
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetSecretValue")

    monkeypatch.setattr(secrets, "_client", Denied)
    with pytest.raises(PermissionMissing) as err:
        get_secret_json(ARN)
    assert err.value.details["permission"] == "secretsmanager:GetSecretValue"


def test_unconfigured_means_dynamodb():
    settings = load_tickets_settings({"OPSAGENT_TICKETS_TABLE": "t-1"})
    assert settings.tickets.backend == "dynamodb" and settings.tickets_table == "t-1"
    settings = load_tickets_settings({"OPSAGENT_TICKETS": '{"id_prefix": "INC"}'})
    assert settings.tickets.backend == "dynamodb" and settings.tickets.id_prefix == "INC"


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        (
            {
                "backend": "jira",
                "base_url": "http://acme.atlassian.net",
                "project_key": "OPS",
                "secret_arn": ARN,
            },
            "https",
        ),
        (
            {
                "backend": "jira",
                "base_url": "https://bot:pw@acme.atlassian.net",
                "project_key": "OPS",
                "secret_arn": ARN,
            },
            "credentials",
        ),
        (
            {
                "backend": "jira",
                "base_url": "https://acme.atlassian.net",
                "project_key": "OPS",
                "secret_arn": "x",
            },
            "ARN",
        ),
        ({"backend": "github", "repo": "not a repo", "secret_arn": ARN}, "OPSAGENT_TICKETS.github.repo"),
        ({"backend": "zendesk"}, "OPSAGENT_TICKETS"),
        ({"backend": "dynamodb", "url_template": "https://x.example/t"}, "{id}"),
    ],
)
def test_bad_configuration_is_reported(config, problem):
    with pytest.raises(ConfigurationError) as err:
        load_tickets_settings({"OPSAGENT_TICKETS": json.dumps(config)})
    assert problem in err.value.message


def test_inline_credentials_are_rejected_without_echoing_them():
    config = {
        "backend": "github",
        "repo": "acme/incidents",
        "secret_arn": ARN,
        "token": "ghp_inline_token_should_not_be_here",
    }
    with pytest.raises(ConfigurationError) as err:
        load_tickets_settings({"OPSAGENT_TICKETS": json.dumps(config)})
    assert "token" in err.value.message and "Extra inputs" in err.value.message
    assert "ghp_inline_token_should_not_be_here" not in json.dumps(err.value.to_body())


def test_loopback_http_is_allowed_for_local_servers():
    for host in ("127.0.0.1:8080", "localhost:1", "[::1]:9"):
        cfg = {"backend": "servicenow", "base_url": f"http://{host}/", "secret_arn": ARN}
        assert (
            load_tickets_settings({"OPSAGENT_TICKETS": json.dumps(cfg)}).tickets.base_url == f"http://{host}"
        )


def test_invalid_json_names_the_variable():
    with pytest.raises(ConfigurationError, match="OPSAGENT_TICKETS is not valid JSON"):
        load_tickets_settings({"OPSAGENT_TICKETS": "{backend: jira"})


def test_known_secrets_are_remembered_per_container():
    secrets.register_secret("abcd-secret-xyz")
    assert redact("header abcd-secret-xyz") == "header ***"
    secrets.register_secret("ab")  # too short to redact safely (would mangle ordinary text)
    assert redact("ab cab") == "ab cab"
