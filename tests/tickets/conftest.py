"""Fixtures for the tickets area: a tickets table and an audit table in moto, Secrets Manager
secrets, a local vendor HTTP server (pytest-httpserver) and no real sleeping between retries."""

from __future__ import annotations

import json

import pytest

from opsagent.context import CallContext
from opsagent.tickets import http as tickets_http
from opsagent.tickets.secrets import reset_secret_cache
from opsagent.tickets.service import reset_backend

TICKETS_TABLE = "opsagent-tickets-test"
AUDIT_TABLE = "opsagent-audit-test"
TOKEN = "ghp_SuperSecretToken_9f8e7d6c5b4a"
JIRA_TOKEN = "ATATT3xFfGF0-jira-secret-token-123456"
SNOW_PASSWORD = "Sn0w-P@ssw0rd-very-secret"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch):
    """No configuration leaks between tests; retries never really sleep (waits are recorded)."""
    for name in ("OPSAGENT_TICKETS", "OPSAGENT_TICKETS_TABLE", "OPSAGENT_AUDIT_TABLE"):
        monkeypatch.delenv(name, raising=False)
    reset_backend()
    reset_secret_cache()
    yield
    reset_backend()
    reset_secret_cache()


@pytest.fixture
def sleeps(monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(tickets_http, "_sleep", waits.append)
    return waits


@pytest.fixture(autouse=True)
def _no_sleep(sleeps):
    return sleeps


@pytest.fixture
def ctx():
    return CallContext(
        incident_id="checkout-high-cpu@2026-11-20T14:05:40.989+0000",
        session_id="111122223333444",
        agent_id="AGENT12345",
        agent_alias="LIVEALIAS1",
        trigger="alarm",
    )


@pytest.fixture
def tickets_table(aws, monkeypatch):
    """The tickets table (contract keys + both GSIs) and the audit table, wired through env."""
    from opsagent.audit import create_table as create_audit_table
    from opsagent.tickets.dynamodb import create_table

    create_table(TICKETS_TABLE)
    create_audit_table(AUDIT_TABLE)
    monkeypatch.setenv("OPSAGENT_TICKETS_TABLE", TICKETS_TABLE)
    monkeypatch.setenv("OPSAGENT_AUDIT_TABLE", AUDIT_TABLE)
    return TICKETS_TABLE


@pytest.fixture
def make_secret(aws):
    from opsagent.aws import client

    def make(name: str, value: dict | str) -> str:
        text = value if isinstance(value, str) else json.dumps(value)
        return client("secretsmanager").create_secret(Name=name, SecretString=text)["ARN"]

    return make


@pytest.fixture
def base_url(httpserver):
    return httpserver.url_for("").rstrip("/")
