"""Where the Kubernetes API is and how to authenticate, read from ``OPSAGENT_*`` variables.

Two modes:

* **EKS** (production): ``OPSAGENT_CLUSTER_NAME`` (+ ``AWS_REGION``). Endpoint and CA come from
  ``eks:DescribeCluster``; the bearer token is a presigned STS ``GetCallerIdentity`` URL.
* **Override** (offline / tests / non-EKS): ``OPSAGENT_K8S_ENDPOINT`` with ``OPSAGENT_K8S_CA_FILE``
  for https (plain http is accepted only for loopback addresses) and an optional
  ``OPSAGENT_K8S_TOKEN``. If the override has no token but a cluster name is set, an EKS token is
  still generated (lets infra pass endpoint + CA and skip DescribeCluster).
"""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr, field_validator


class KubeSettings(BaseModel):
    cluster_name: str | None = Field(default=None, description="EKS cluster name (OPSAGENT_CLUSTER_NAME)")
    k8s_endpoint: str | None = Field(default=None, description="API server URL override")
    k8s_ca_file: str | None = Field(default=None, description="PEM CA bundle for an https override")
    k8s_token: SecretStr | None = Field(default=None, description="static bearer token (offline only)")
    k8s_connect_timeout: float = Field(default=3.0, gt=0, le=30)
    k8s_read_timeout: float = Field(default=10.0, gt=0, le=120)
    k8s_get_retries: int = Field(default=2, ge=0, le=5, description="extra attempts for idempotent GETs")

    @field_validator("cluster_name", "k8s_endpoint", "k8s_ca_file", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("cluster_name")
    @classmethod
    def _cluster_name_shape(cls, value: str | None) -> str | None:
        # EKS: 1-100 characters, [0-9A-Za-z][A-Za-z0-9\-_]*
        import re

        if value is not None and not re.fullmatch(r"[0-9A-Za-z][A-Za-z0-9_-]{0,99}", value):
            raise ValueError("must be an EKS cluster name (1-100 of letters, digits, '-', '_')")
        return value

    @field_validator("k8s_token", mode="before")
    @classmethod
    def _blank_token_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value
