"""Authentication to the Kubernetes API: static tokens (offline) and EKS IAM tokens.

An EKS token is ``k8s-aws-v1.`` + base64url (no padding) of a presigned STS
``GetCallerIdentity`` URL on the *regional* endpoint, with the header ``x-k8s-aws-id: <cluster>``
included in the signature and ``X-Amz-Expires=60``. The API server (aws-iam-authenticator)
accepts it for 15 minutes after ``X-Amz-Date``; we cache it per container and mint a new one
after :data:`REFRESH_AFTER` seconds, well before that. This is exactly what
``aws eks get-token`` does (awscli/customizations/eks/get_token.py).

boto3/botocore are imported only when an EKS token or DescribeCluster is actually needed.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from opsagent.errors import ConfigurationError, PermissionMissing, UpstreamUnavailable

TOKEN_PREFIX = "k8s-aws-v1."
K8S_AWS_ID_HEADER = "x-k8s-aws-id"
URL_EXPIRES = 60
TOKEN_LIFETIME = 15 * 60
REFRESH_AFTER = 10 * 60


class TokenSource(Protocol):
    def token(self) -> str | None: ...

    def invalidate(self) -> None: ...


class NoToken:
    """No Authorization header (emulator without auth)."""

    def token(self) -> str | None:
        return None

    def invalidate(self) -> None:
        pass

    def __repr__(self) -> str:
        return "NoToken()"


class StaticToken:
    """A fixed bearer token (``OPSAGENT_K8S_TOKEN``). Its value never appears in repr/logs."""

    def __init__(self, value: str) -> None:
        self._value = value

    def token(self) -> str | None:
        return self._value

    def invalidate(self) -> None:
        pass

    def __repr__(self) -> str:
        return "StaticToken(***)"


def sts_regional_endpoint(region: str) -> str:
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://sts.{region}.{suffix}"


def presign_get_caller_identity(cluster_name: str, region: str, session: Any = None) -> str:
    """The presigned STS URL (what ``aws eks get-token`` encodes). ``session`` is a boto3 Session."""
    if session is None:
        import boto3

        session = boto3.session.Session()
    from botocore.config import Config

    sts = session.client(
        "sts",
        region_name=region,
        endpoint_url=sts_regional_endpoint(region),
        config=Config(signature_version="v4"),
    )

    def _take_cluster(params: dict, context: dict, **_: Any) -> None:
        if K8S_AWS_ID_HEADER in params:
            context[K8S_AWS_ID_HEADER] = params.pop(K8S_AWS_ID_HEADER)

    def _add_header(request: Any, **_: Any) -> None:
        if K8S_AWS_ID_HEADER in request.context:
            request.headers[K8S_AWS_ID_HEADER] = request.context[K8S_AWS_ID_HEADER]

    sts.meta.events.register("provide-client-params.sts.GetCallerIdentity", _take_cluster)
    sts.meta.events.register("before-sign.sts.GetCallerIdentity", _add_header)
    return sts.generate_presigned_url(
        "get_caller_identity",
        Params={K8S_AWS_ID_HEADER: cluster_name},
        ExpiresIn=URL_EXPIRES,
        HttpMethod="GET",
    )


def encode_token(presigned_url: str) -> str:
    return TOKEN_PREFIX + base64.urlsafe_b64encode(presigned_url.encode()).decode().rstrip("=")


def decode_token(token: str) -> str:
    """The presigned URL inside an EKS token (used by tests and the emulator)."""
    if not token.startswith(TOKEN_PREFIX):
        raise ValueError("not an EKS token")
    body = token[len(TOKEN_PREFIX) :]
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()


@dataclass(frozen=True)
class TokenInfo:
    url: str
    amz_date: str | None
    expires: int | None
    signed_headers: tuple[str, ...]


def inspect_token(token: str) -> TokenInfo:
    url = decode_token(token)
    query = {k.lower(): v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    return TokenInfo(
        url=url,
        amz_date=query.get("x-amz-date"),
        expires=int(query["x-amz-expires"]) if "x-amz-expires" in query else None,
        signed_headers=tuple(query.get("x-amz-signedheaders", "").split(";")),
    )


class EksToken:
    """Mints and caches EKS bearer tokens. ``clock`` (seconds, monotonic or wall) is injectable
    so tests can move time; a token is reused until ``refresh_after`` seconds have passed."""

    refreshable = True

    def __init__(
        self,
        cluster_name: str,
        region: str,
        *,
        session: Any = None,
        clock: Callable[[], float] = time.monotonic,
        refresh_after: float = REFRESH_AFTER,
        presign: Callable[[str, str, Any], str] = presign_get_caller_identity,
    ) -> None:
        if refresh_after >= TOKEN_LIFETIME:
            raise ValueError("refresh_after must be shorter than the 15-minute token lifetime")
        self.cluster_name = cluster_name
        self.region = region
        self._session = session
        self._clock = clock
        self._refresh_after = refresh_after
        self._presign = presign
        self._lock = threading.Lock()
        self._token: str | None = None
        self._minted_at = 0.0
        self.minted = 0  # how many tokens this source has generated (observability, tests)

    def token(self) -> str | None:
        with self._lock:
            now = self._clock()
            if self._token is None or now - self._minted_at >= self._refresh_after:
                try:
                    url = self._presign(self.cluster_name, self.region, self._session)
                except Exception as exc:  # botocore.exceptions.NoCredentialsError and friends
                    raise ConfigurationError(
                        f"cannot sign an EKS token for cluster {self.cluster_name}: {type(exc).__name__}",
                        cluster=self.cluster_name,
                    ) from None
                self._token = encode_token(url)
                self._minted_at = now
                self.minted += 1
            return self._token

    def invalidate(self) -> None:
        with self._lock:
            self._token = None

    def __repr__(self) -> str:
        return f"EksToken(cluster={self.cluster_name!r}, region={self.region!r})"


@dataclass(frozen=True)
class ClusterEndpoint:
    endpoint: str
    ca_file: str | None


_describe_cache: dict[tuple[str, str], ClusterEndpoint] = {}
_describe_lock = threading.Lock()


def describe_cluster(cluster_name: str, region: str | None = None) -> ClusterEndpoint:
    """Endpoint and CA bundle of an EKS cluster (``eks:DescribeCluster``), cached per container.
    The CA is written once to a private file under the temp dir (``/tmp`` on Lambda)."""
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or ""
    key = (cluster_name, region)
    with _describe_lock:
        if key in _describe_cache:
            return _describe_cache[key]
        from opsagent.aws import client

        eks = client("eks", region or None)
        try:
            cluster = eks.describe_cluster(name=cluster_name)["cluster"]
        except eks.exceptions.ResourceNotFoundException:
            raise ConfigurationError(
                f"EKS cluster {cluster_name!r} does not exist in region {region or '(default)'}",
                cluster=cluster_name,
            ) from None
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
            if code in ("AccessDeniedException", "AccessDenied", "UnauthorizedOperation"):
                raise PermissionMissing(
                    f"the function's role lacks eks:DescribeCluster on cluster {cluster_name}",
                    action="eks:DescribeCluster",
                    cluster=cluster_name,
                ) from None
            raise UpstreamUnavailable(
                f"eks:DescribeCluster failed for {cluster_name}: {code or type(exc).__name__}",
                cluster=cluster_name,
            ) from None
        endpoint = cluster.get("endpoint")
        if not endpoint:
            raise ConfigurationError(
                f"EKS cluster {cluster_name} has no API endpoint yet (status {cluster.get('status')})",
                cluster=cluster_name,
            )
        ca_data = (cluster.get("certificateAuthority") or {}).get("data")
        ca_file = _write_ca(cluster_name, ca_data) if ca_data else None
        result = ClusterEndpoint(endpoint=endpoint, ca_file=ca_file)
        _describe_cache[key] = result
        return result


def _write_ca(cluster_name: str, b64_pem: str) -> str:
    try:
        pem = base64.b64decode(b64_pem, validate=False)
    except ValueError:
        raise ConfigurationError(f"EKS cluster {cluster_name} returned an undecodable CA") from None
    digest = hashlib.sha256(pem).hexdigest()[:16]
    path = os.path.join(tempfile.gettempdir(), f"opsagent-k8s-ca-{digest}.pem")
    if not os.path.exists(path):
        fd, tmp = tempfile.mkstemp(prefix="opsagent-k8s-ca-", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        os.replace(tmp, path)
    return path


def clear_caches() -> None:
    """Forget the DescribeCluster results and delete the CA files written for them (nothing of
    this process is left in the temp directory once the client is reset)."""
    with _describe_lock:
        for result in _describe_cache.values():
            if result.ca_file:
                with contextlib.suppress(OSError):
                    os.remove(result.ca_file)
        _describe_cache.clear()
