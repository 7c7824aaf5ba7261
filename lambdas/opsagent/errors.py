"""Domain errors. Each carries the HTTP status the action-group adapters return and a body the
model (and a human reading the audit trail) can act on: what failed, why, and whether retrying helps."""

from __future__ import annotations

from typing import Any, ClassVar


class OpsAgentError(Exception):
    """Base of every error an operation raises on purpose."""

    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    retryable: ClassVar[bool] = False

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_body(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, "retryable": self.retryable, **self.details}


class InvalidInput(OpsAgentError):
    """A parameter failed validation before anything was called."""

    status_code = 400
    code = "invalid_input"


class PermissionMissing(OpsAgentError):
    """The function's identity lacks a permission (Kubernetes RBAC or IAM)."""

    status_code = 403
    code = "permission_missing"


class PolicyRefused(OpsAgentError):
    """The safety policy refused a mutation. ``rule`` names the rule, ``limit`` its configured value."""

    status_code = 403
    code = "policy_refused"

    def __init__(self, message: str, *, rule: str, limit: Any = None, **details: Any) -> None:
        super().__init__(message, rule=rule, limit=limit, **details)
        self.rule = rule
        self.limit = limit


class NotFound(OpsAgentError):
    status_code = 404
    code = "not_found"


class Conflict(OpsAgentError):
    status_code = 409
    code = "conflict"


class UpstreamUnavailable(OpsAgentError):
    """A dependency (Kubernetes API, AWS, ticket backend) failed with a 5xx or refused the connection."""

    status_code = 503
    code = "upstream_unavailable"
    retryable = True


class UpstreamTimeout(OpsAgentError):
    status_code = 504
    code = "upstream_timeout"
    retryable = True


class ConfigurationError(OpsAgentError):
    """The deployment is misconfigured (missing table name, bad policy document, ...)."""

    status_code = 500
    code = "configuration_error"
