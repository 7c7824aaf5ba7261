"""Ticket backend configuration: ``OPSAGENT_TICKETS`` (JSON) and ``OPSAGENT_TICKETS_TABLE``.

Nothing configured -> the DynamoDB backend on ``OPSAGENT_TICKETS_TABLE`` (which infra sets).
Credentials are never part of the configuration: remote backends name a Secrets Manager secret
(``secret_arn``) and unknown keys are rejected, so an ``api_token`` pasted into the JSON fails
loudly instead of sitting in a Lambda environment variable. Examples::

    {"backend": "dynamodb", "id_prefix": "OPS", "url_template": "https://ops.example.com/t/{id}"}
    {"backend": "jira", "base_url": "https://acme.atlassian.net", "project_key": "OPS",
     "issue_type": "Task", "secret_arn": "arn:aws:secretsmanager:...:secret:opsagent/jira-AbCdEf"}
    {"backend": "servicenow", "base_url": "https://acme.service-now.com",
     "secret_arn": "arn:aws:secretsmanager:...", "comment_field": "work_notes"}
    {"backend": "github", "repo": "acme/incidents", "secret_arn": "arn:aws:secretsmanager:..."}
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SECRET_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}$"
)
LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(value: str) -> str:
    """https only (plain http is accepted for loopback hosts, i.e. local test servers); no
    credentials, query or fragment in the URL. Returned without a trailing slash."""
    url = str(value).strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("base_url must be an absolute https:// URL")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError("base_url must use https (plain http is only allowed for loopback test servers)")
    if parts.username or parts.password:
        raise ValueError("base_url must not contain credentials: put them in the Secrets Manager secret")
    if parts.query or parts.fragment:
        raise ValueError("base_url must not contain a query or fragment")
    return url


class _Remote(BaseModel):
    model_config = ConfigDict(extra="forbid")

    secret_arn: str = Field(description="Secrets Manager secret holding the credentials (JSON)")
    timeout_seconds: float = Field(default=8.0, gt=0, le=30, description="Read timeout per request")
    connect_timeout_seconds: float = Field(default=3.0, gt=0, le=10)
    max_attempts: int = Field(default=3, ge=1, le=5, description="Attempts per request (retries = n-1)")
    max_retry_after_seconds: float = Field(
        default=10.0, ge=0, le=60, description="Longest Retry-After we wait for; longer -> fail, retryable"
    )
    secret_ttl_seconds: int = Field(default=300, ge=0, le=86400, description="Per-container secret cache TTL")
    operation_timeout_seconds: float = Field(
        default=20.0,
        ge=5,
        le=600,
        description="Whole createTicket/searchTickets/addTicketComment call, retries included: keep it "
        "under the tickets Lambda's timeout (30 s by default) minus a few seconds",
    )

    @field_validator("secret_arn")
    @classmethod
    def _arn(cls, value: str) -> str:
        if not SECRET_ARN_RE.fullmatch(value):
            raise ValueError("secret_arn must be a Secrets Manager secret ARN (arn:aws:secretsmanager:...)")
        return value

    @field_validator("base_url", check_fields=False)
    @classmethod
    def _base_url(cls, value: str) -> str:
        return check_base_url(value)


class DynamoDBConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backend: Literal["dynamodb"] = "dynamodb"
    table: str | None = Field(default=None, description="Overrides OPSAGENT_TICKETS_TABLE")
    id_prefix: str = Field(default="OPS", pattern=r"^[A-Z]{2,8}$")
    url_template: str | None = Field(default=None, description="e.g. https://ops.example.com/tickets/{id}")

    @field_validator("url_template")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if "{id}" not in value:
            raise ValueError("url_template must contain {id}")
        check_base_url(value.replace("{id}", "x"))
        return value


class JiraConfig(_Remote):
    """Jira Cloud, REST API v3. Secret: {"email": ..., "api_token": ...}."""

    backend: Literal["jira"]
    base_url: str
    project_key: str = Field(pattern=r"^[A-Z][A-Z0-9_]{1,9}$")
    issue_type: str = Field(default="Task", min_length=1, max_length=60)
    # Jira priority names differ per site; map only when configured (an unknown name is a 400).
    priorities: dict[str, str] | None = Field(default=None, description='e.g. {"sev1": "Highest"}')


class ServiceNowConfig(_Remote):
    """ServiceNow Table API. Secret: {"username", "password"} (basic) or {"token"} (OAuth bearer)."""

    backend: Literal["servicenow"]
    base_url: str
    table: str = Field(default="incident", pattern=r"^[a-z][a-z0-9_]{1,79}$")
    comment_field: Literal["work_notes", "comments"] = "work_notes"
    assignment_group: str | None = Field(default=None, max_length=100, description="sys_id or name")
    caller_id: str | None = Field(default=None, max_length=100)
    category: str | None = Field(default=None, max_length=40)
    # incident.description is 4000 characters on a stock instance; longer text is clipped there
    # and the full text is appended as the first journal entry (comment_field).
    description_max_chars: int = Field(default=4000, ge=500, le=1_000_000)


class GitHubConfig(_Remote):
    """GitHub Issues (REST). Secret: {"token": ...} (fine-grained PAT or app token, Issues: write)."""

    backend: Literal["github"]
    repo: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$")
    base_url: str = "https://api.github.com"
    api_version: str = Field(default="2022-11-28", pattern=r"^\d{4}-\d{2}-\d{2}$")


BackendConfig = Annotated[
    DynamoDBConfig | JiraConfig | ServiceNowConfig | GitHubConfig, Field(discriminator="backend")
]


class TicketsSettings(BaseModel):
    """Read with ``load_settings(TicketsSettings)``: OPSAGENT_TICKETS + OPSAGENT_TICKETS_TABLE."""

    tickets: BackendConfig = Field(default_factory=DynamoDBConfig)
    tickets_table: str | None = Field(
        default=None, min_length=3, max_length=255, pattern=r"^[A-Za-z0-9_.-]+$"
    )

    @model_validator(mode="before")
    @classmethod
    def _default_backend(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("tickets"), dict):
            data = {**data, "tickets": {"backend": "dynamodb", **data["tickets"]}}
        return data


def load_tickets_settings(environ: dict[str, str] | None = None) -> TicketsSettings:
    from opsagent.settings import load_settings

    return load_settings(TicketsSettings, environ)
