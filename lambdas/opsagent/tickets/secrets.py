"""Backend credentials from AWS Secrets Manager: fetched lazily, cached per container with a TTL,
and registered with a redactor so they can never leak through an error body or a log line.

The secret is a JSON object; which keys a backend needs is checked on fetch and reported by
*name* only (values never appear in any message)::

    Jira:        {"email": "bot@acme.com", "api_token": "..."}
    ServiceNow:  {"username": "opsagent", "password": "..."}   or   {"token": "<OAuth bearer>"}
    GitHub:      {"token": "github_pat_..."}
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable

from opsagent.errors import ConfigurationError, PermissionMissing, UpstreamUnavailable

_lock = threading.Lock()
_cache: dict[str, tuple[float, dict[str, str]]] = {}
_known_secrets: set[str] = set()
REDACTED = "***"


def register_secret(value: str) -> None:
    """Remember a credential (and its Basic-auth encodings) so :func:`redact` removes it."""
    if value and len(value) >= 4:
        with _lock:
            _known_secrets.add(value)


def redact(text: str) -> str:
    """``text`` with every credential this container has seen replaced by ``***``."""
    if not text:
        return text
    with _lock:
        secrets = sorted(_known_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def basic_auth(user: str, password: str) -> str:
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    register_secret(token)
    return f"Basic {token}"


def _client():
    from opsagent.aws import client

    return client("secretsmanager")


def _quiet_wire_logs() -> None:
    """botocore logs every response body at DEBUG ("Response body: ...SecretString..."), so a
    function run with DEBUG logging (e.g. Lambda's AWS_LAMBDA_LOG_LEVEL=DEBUG) would print the
    credential. Keep that one wire logger at INFO or above."""
    wire = logging.getLogger("botocore.parsers")
    if wire.level < logging.INFO:
        wire.setLevel(logging.INFO)


def reset_secret_cache() -> None:
    """Forget cached secrets (tests; a rotated secret is picked up after the TTL or on a 401)."""
    with _lock:
        _cache.clear()


def get_secret_json(
    secret_arn: str,
    *,
    ttl_seconds: float = 300,
    force_refresh: bool = False,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[dict[str, str], bool]:
    """The secret's JSON object and whether it came from the cache. Raises PermissionMissing when
    the function may not read (or decrypt) it, ConfigurationError when it is missing or not a JSON
    object of strings, UpstreamUnavailable when Secrets Manager fails."""
    now = clock()
    if not force_refresh:
        with _lock:
            hit = _cache.get(secret_arn)
        if hit and now - hit[0] < ttl_seconds:
            return hit[1], True

    _quiet_wire_logs()
    try:
        response = _client().get_secret_value(SecretId=secret_arn)
    except Exception as exc:  # botocore ClientError / connection errors (imported lazily)
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
        if code in ("AccessDeniedException", "AccessDenied"):
            raise PermissionMissing(
                f"the function may not read the ticket backend secret ({secret_arn}): "
                "grant secretsmanager:GetSecretValue on it",
                permission="secretsmanager:GetSecretValue",
                resource=secret_arn,
            ) from None
        if code in ("DecryptionFailure", "KMSAccessDeniedException"):
            raise PermissionMissing(
                f"the function may not decrypt the ticket backend secret ({secret_arn}): grant kms:Decrypt "
                "on its KMS key",
                permission="kms:Decrypt",
                resource=secret_arn,
            ) from None
        if code in ("ResourceNotFoundException", "InvalidRequestException", "InvalidParameterException"):
            raise ConfigurationError(
                f"the ticket backend secret {secret_arn} cannot be read ({code}): check secret_arn in "
                "OPSAGENT_TICKETS",
                variable="OPSAGENT_TICKETS",
            ) from None
        raise UpstreamUnavailable(
            f"Secrets Manager failed ({code}) reading the ticket backend secret", dependency="secretsmanager"
        ) from None

    raw = response.get("SecretString")
    try:
        value = json.loads(raw) if raw is not None else None
    except (TypeError, ValueError):
        value = None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        # Never echo the content: it is a credential even when malformed.
        raise ConfigurationError(
            f"the ticket backend secret {secret_arn} must be a JSON object of strings",
            variable="OPSAGENT_TICKETS",
        )
    for item in value.values():
        register_secret(item)
    with _lock:
        _cache[secret_arn] = (now, value)
    return value, False


def require_keys(secret: dict[str, str], *alternatives: tuple[str, ...], secret_arn: str) -> tuple[str, ...]:
    """The first key set in ``alternatives`` that the secret fully has (non-empty values)."""
    for keys in alternatives:
        if all(secret.get(k) for k in keys):
            return keys
    wanted = " or ".join("{" + ", ".join(f'"{k}"' for k in keys) + "}" for keys in alternatives)
    raise ConfigurationError(
        f"the ticket backend secret {secret_arn} must contain {wanted}", variable="OPSAGENT_TICKETS"
    )
