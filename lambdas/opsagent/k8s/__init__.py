"""Kubernetes API access for the action-group Lambdas.

``get_kube()`` returns the container's cached :class:`KubeClient`, configured from the
environment (see :mod:`opsagent.k8s.settings`):

* EKS: ``OPSAGENT_CLUSTER_NAME`` (+ ``AWS_REGION``) -> endpoint and CA from ``eks:DescribeCluster``,
  IAM bearer token (presigned STS ``GetCallerIdentity``) refreshed every 10 minutes.
* Override: ``OPSAGENT_K8S_ENDPOINT`` (+ ``OPSAGENT_K8S_CA_FILE`` for https; http only for
  loopback) and optional ``OPSAGENT_K8S_TOKEN`` -- used with the local emulator
  (:mod:`opsagent_sim.k8s`).

Importing this package is cheap: urllib3 and pydantic only; boto3 is imported when an EKS token
or DescribeCluster is first needed. ``reset_kube()`` forgets the client (tests).
"""

from __future__ import annotations

import ipaddress
import os
import threading
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from opsagent.errors import ConfigurationError

if TYPE_CHECKING:
    from opsagent.k8s.client import KubeClient, KubeText

__all__ = ["KubeClient", "KubeText", "build_kube", "get_kube", "reset_kube"]

_lock = threading.Lock()
_client: KubeClient | None = None


def __getattr__(name: str):  # lazy re-exports keep `import opsagent.k8s` free of urllib3 until used
    if name in ("KubeClient", "KubeText"):
        from opsagent.k8s import client

        return getattr(client, name)
    raise AttributeError(name)


def get_kube() -> KubeClient:
    """The per-container client (built on first use, then reused across invocations)."""
    global _client
    client = _client
    if client is None:
        with _lock:
            if _client is None:
                _client = build_kube()
            client = _client
    return client


def reset_kube() -> None:
    """Forget the cached client, cached DescribeCluster results and tokens (tests)."""
    global _client
    with _lock:
        _client = None
    from opsagent.k8s.auth import clear_caches

    clear_caches()


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_endpoint(endpoint: str, ca_file: str | None) -> str:
    """Validate an override endpoint: https (any host) or http for loopback only."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"OPSAGENT_K8S_ENDPOINT must be an http(s) URL, got {endpoint[:80]!r}",
            variable="OPSAGENT_K8S_ENDPOINT",
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigurationError(
            "OPSAGENT_K8S_ENDPOINT must not carry credentials, a query or a fragment",
            variable="OPSAGENT_K8S_ENDPOINT",
        )
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigurationError(
            f"OPSAGENT_K8S_ENDPOINT uses plain http to {parts.hostname}: only loopback addresses "
            "(127.0.0.0/8, ::1, localhost) may be reached without TLS; use https with OPSAGENT_K8S_CA_FILE",
            variable="OPSAGENT_K8S_ENDPOINT",
        )
    if ca_file is not None:
        if parts.scheme != "https":
            raise ConfigurationError(
                "OPSAGENT_K8S_CA_FILE is set but OPSAGENT_K8S_ENDPOINT is not https",
                variable="OPSAGENT_K8S_CA_FILE",
            )
        if not os.path.isfile(ca_file):
            raise ConfigurationError(
                f"OPSAGENT_K8S_CA_FILE {ca_file!r} does not exist", variable="OPSAGENT_K8S_CA_FILE"
            )
    return endpoint.rstrip("/")


def _region() -> str:
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise ConfigurationError(
            "AWS_REGION is not set (needed for EKS authentication)", variable="AWS_REGION"
        )
    return region


def build_kube(environ: dict[str, str] | None = None) -> KubeClient:
    """Build a client from the environment (no caching)."""
    from opsagent.k8s.auth import EksToken, NoToken, StaticToken, describe_cluster
    from opsagent.k8s.client import KubeClient
    from opsagent.k8s.settings import KubeSettings
    from opsagent.settings import load_settings

    settings = load_settings(KubeSettings, environ)
    common = {
        "connect_timeout": settings.k8s_connect_timeout,
        "read_timeout": settings.k8s_read_timeout,
        "get_retries": settings.k8s_get_retries,
    }
    if settings.k8s_endpoint:
        endpoint = check_endpoint(settings.k8s_endpoint, settings.k8s_ca_file)
        if settings.k8s_token is not None:
            auth = StaticToken(settings.k8s_token.get_secret_value())
        elif settings.cluster_name:
            auth = EksToken(settings.cluster_name, _region())
        else:
            auth = NoToken()
        return KubeClient(endpoint, auth=auth, ca_file=settings.k8s_ca_file, **common)
    if settings.cluster_name:
        region = _region()
        cluster = describe_cluster(settings.cluster_name, region)
        if not cluster.endpoint.startswith("https://"):
            raise ConfigurationError(f"EKS returned a non-https endpoint for {settings.cluster_name}")
        return KubeClient(
            cluster.endpoint, auth=EksToken(settings.cluster_name, region), ca_file=cluster.ca_file, **common
        )
    raise ConfigurationError(
        "no Kubernetes cluster configured: set OPSAGENT_CLUSTER_NAME (EKS) or OPSAGENT_K8S_ENDPOINT",
        variable="OPSAGENT_CLUSTER_NAME",
    )
