"""What the HTTP ticket backends (Jira, ServiceNow, GitHub) share: credentials from Secrets Manager
(lazy, cached with a TTL, re-read once on a 401) and one :class:`HttpClient` per backend instance."""

from __future__ import annotations

import contextlib
import hashlib
from abc import abstractmethod
from typing import Any

from opsagent.tickets.base import TicketBackend
from opsagent.tickets.config import _Remote
from opsagent.tickets.http import HttpClient
from opsagent.tickets.models import TicketRequest, fingerprint_key
from opsagent.tickets.secrets import get_secret_json

OPSAGENT_LABEL = "opsagent"


def label(prefix: str, value: str, *, max_len: int = 50) -> str:
    """``prefix+value``, or ``prefix`` + a short hash of ``value`` when that would exceed ``max_len``
    (GitHub label names are limited to 50 characters). Deterministic: searches find what creates wrote."""
    text = prefix + value
    if len(text) <= max_len:
        return text
    return prefix + "sha-" + hashlib.sha256(value.encode("utf-8")).hexdigest()[:16]


def fingerprint_label(fingerprint: str) -> str:
    return label("fp:", fingerprint_key(fingerprint))


def labels_for(request: TicketRequest) -> list[str]:
    """The labels Jira issues and GitHub issues carry: ``opsagent``, ``service:``, ``severity:``, ``fp:``."""
    labels = [OPSAGENT_LABEL, label("service:", request.service), f"severity:{request.severity}"]
    if request.fingerprint:
        labels.append(fingerprint_label(request.fingerprint))
    return labels


def label_value(labels: list[str], prefix: str) -> str:
    """The value of the first ``prefix`` label (``severity:`` -> ``sev2``), or ``""``."""
    return next((x[len(prefix) :] for x in labels if x.startswith(prefix)), "")


class RemoteBackend(TicketBackend):
    rate_limit_on_403 = False

    def __init__(self, config: _Remote, *, base_url: str) -> None:
        self.config = config
        self.http = HttpClient(
            base_url=base_url,
            vendor=self.name,
            auth=self._auth,
            connect_timeout=config.connect_timeout_seconds,
            read_timeout=config.timeout_seconds,
            max_attempts=config.max_attempts,
            max_retry_after=config.max_retry_after_seconds,
            default_headers=self.default_headers(),
            rate_limit_on_403=self.rate_limit_on_403,
            operation_seconds=config.operation_timeout_seconds,
        )

    def deadline(self) -> contextlib.AbstractContextManager[None]:
        """One deadline for every request of a domain operation (see :meth:`HttpClient.operation`)."""
        return self.http.operation()

    def default_headers(self) -> dict[str, str]:
        return {}

    def _auth(self, force_refresh: bool) -> tuple[dict[str, str], bool]:
        secret, cached = get_secret_json(
            self.config.secret_arn, ttl_seconds=self.config.secret_ttl_seconds, force_refresh=force_refresh
        )
        return self.auth_headers(secret), cached

    @abstractmethod
    def auth_headers(self, secret: dict[str, str]) -> dict[str, Any]:
        """HTTP headers that authenticate a request, from the secret's JSON."""
