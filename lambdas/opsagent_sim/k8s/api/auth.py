"""Authentication (static bearer token, EKS presigned-STS token) and RBAC-like authorization."""

from __future__ import annotations

import binascii
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from opsagent_sim.k8s.api.errors import ApiError


def authenticate(
    headers: dict[str, str], *, token: str | None, eks_cluster: str | None, eks_secret_key: str | None
) -> None:
    """401 unless the bearer token is ``token`` or (given ``eks_cluster``) a valid EKS token."""
    if not token and not eks_cluster:
        return
    auth = headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() != "bearer" or not value:
        raise ApiError(401, "Unauthorized")
    if token and value == token:
        return
    if (
        eks_cluster
        and value.startswith("k8s-aws-v1.")
        and valid_eks_token(value, eks_cluster, eks_secret_key)
    ):
        return
    raise ApiError(401, "Unauthorized")


def authorize(
    verb: str,
    resource: str,
    group: str,
    namespace: str | None,
    name: str | None,
    *,
    deny: list[dict[str, Any]],
    allow: list[dict[str, Any]] | None,
    user: str,
) -> None:
    """403 Forbidden (the API server's message) when a ``deny`` rule matches, or ``allow`` is given
    and none of its rules matches."""

    def hit(rule: dict[str, Any]) -> bool:
        verbs = rule.get("verb", rule.get("verbs", "*"))
        verbs = [verbs] if isinstance(verbs, str) else list(verbs)
        resources = rule.get("resource", rule.get("resources", "*"))
        resources = [resources] if isinstance(resources, str) else list(resources)
        return (
            ("*" in verbs or verb in verbs)
            and ("*" in resources or resource in resources)
            and rule.get("namespace") in (None, "*", namespace)
            and rule.get("name") in (None, name)
        )

    denied = any(hit(r) for r in deny)
    if allow is not None and not any(hit(r) for r in allow):
        denied = True
    if not denied:
        return
    base = resource.split("/")[0]
    qualified = f"{base}.{group}" if group else base
    subject = f'{qualified} "{name}"' if name else qualified
    where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    raise ApiError(
        403,
        f'{subject} is forbidden: User "{user}" cannot {verb} resource "{resource}" '
        f'in API group "{group}"{where}',
        {"name": name, "group": group, "kind": base} if name else {"group": group, "kind": base},
    )


def verify_sigv4_presigned_url(url: str, headers: dict[str, str], secret_key: str) -> bool:
    """Check the SigV4 query signature of a presigned GET URL (what STS does for the
    authenticator), given the values of the signed headers other than ``host``."""
    import hashlib
    import hmac
    from urllib.parse import quote

    parts = urlsplit(url)
    pairs = parse_qs(parts.query, keep_blank_values=True)
    query = {k: v[0] for k, v in pairs.items()}
    signature = query.pop("X-Amz-Signature", "")
    signed = query.get("X-Amz-SignedHeaders", "").split(";")
    all_headers = {"host": parts.netloc, **{k.lower(): v for k, v in headers.items()}}
    if any(h not in all_headers for h in signed):
        return False
    canonical_query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(query.items())
    )
    canonical_headers = "".join(f"{h}:{all_headers[h].strip()}\n" for h in signed)
    canonical = "\n".join(
        [
            "GET",
            parts.path or "/",
            canonical_query,
            canonical_headers,
            ";".join(signed),
            hashlib.sha256(b"").hexdigest(),
        ]
    )
    try:
        _, date, region, service, _ = query["X-Amz-Credential"].split("/")
        amz_date = query["X-Amz-Date"]
    except (KeyError, ValueError):
        return False
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret_key).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def valid_eks_token(token: str, cluster: str, secret_key: str | None) -> bool:
    from opsagent.k8s.auth import inspect_token

    try:
        info = inspect_token(token)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        return False
    if secret_key is not None and not verify_sigv4_presigned_url(
        info.url, {"x-k8s-aws-id": cluster}, secret_key
    ):
        return False
    parts = urlsplit(info.url)
    query = {k.lower(): v[0] for k, v in parse_qs(parts.query).items()}
    if not (
        parts.scheme == "https"
        and re.fullmatch(r"sts\.[a-z0-9-]+\.amazonaws\.com(\.cn)?", parts.hostname or "")
    ):
        return False
    if query.get("action") != "GetCallerIdentity" or "x-k8s-aws-id" not in info.signed_headers:
        return False
    try:
        signed = datetime.strptime(info.amz_date or "", "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return False
    return abs(datetime.now(UTC) - signed) < timedelta(minutes=15)
