"""Which Kubernetes workload an alarm is about, from its metric dimensions.

Resolution order (first hit wins):

1. configured rules (``OPSAGENT_TRIGGER.workloads``): glob patterns on dimensions and/or the alarm
   name, giving namespace / workload / cluster explicitly;
2. Container Insights dimensions: ``ClusterName``, ``Namespace``, ``Service`` or ``PodName`` (in
   Container Insights ``PodName`` is the pod's owner name without the hash suffix, i.e. the
   workload) and ``FullPodName`` (one pod);
3. an ALB ``TargetGroup`` dimension ``targetgroup/<name>/<id>``: ``<name>`` is the service; the
   AWS Load Balancer Controller's generated names ``k8s-<namespace>-<service>-<hash>`` give both
   (the controller truncates long names, so that guess is marked ``source="target_group"``);
4. the configured default namespace / cluster fill what is still missing.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping

from pydantic import BaseModel, Field

_RFC1123 = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_TARGET_GROUP = re.compile(r"^targetgroup/(?P<name>[A-Za-z0-9-]{1,32})/[0-9a-f]+$")
# AWS Load Balancer Controller: k8s-<ns:8>-<svc:8>-<hash:10>
_LBC_NAME = re.compile(r"^k8s-(?P<ns>[a-z0-9-]+?)-(?P<svc>[a-z0-9-]+)-[0-9a-f]{10}$")


class WorkloadRef(BaseModel):
    """The workload an alarm points at. Any field may be unknown (None)."""

    cluster: str | None = None
    namespace: str | None = None
    name: str | None = Field(
        default=None, description="Deployment/service name (Kubernetes label app=<name>)"
    )
    pod: str | None = Field(default=None, description="One pod's full name when the metric names it")
    source: str = Field(
        default="none", description="rule | container_insights | target_group | default | none"
    )

    @property
    def known(self) -> bool:
        return bool(self.namespace and self.name)

    def label(self) -> str:
        if not self.name:
            return "unknown workload"
        return f"{self.namespace or '?'}/{self.name}"


class WorkloadRule(BaseModel):
    """``match``: dimension name (or ``alarm_name``) -> glob. All must match."""

    match: dict[str, str] = Field(min_length=1)
    namespace: str | None = None
    workload: str | None = None
    cluster: str | None = None


class WorkloadMapping(BaseModel):
    rules: list[WorkloadRule] = Field(default_factory=list, max_length=200)
    default_namespace: str | None = None
    default_cluster: str | None = None


def _valid(name: str | None) -> str | None:
    """Only RFC 1123 labels make it into Kubernetes paths; anything else is treated as unknown."""
    return name if name and _RFC1123.match(name) else None


def resolve_workload(
    dimensions: Mapping[str, str], mapping: WorkloadMapping | None = None, *, alarm_name: str = ""
) -> WorkloadRef:
    mapping = mapping or WorkloadMapping()
    subject = {**dimensions, "alarm_name": alarm_name}
    for rule in mapping.rules:
        if all(k in subject and fnmatch.fnmatchcase(subject[k], pat) for k, pat in rule.match.items()):
            ref = WorkloadRef(
                cluster=rule.cluster or dimensions.get("ClusterName") or mapping.default_cluster,
                namespace=_valid(rule.namespace) or _valid(dimensions.get("Namespace")),
                name=_valid(rule.workload),
                source="rule",
            )
            return _defaults(ref, mapping)

    if any(k in dimensions for k in ("Namespace", "PodName", "Service", "FullPodName")):
        name = _valid(dimensions.get("Service")) or _valid(dimensions.get("PodName"))
        pod = _valid(dimensions.get("FullPodName"))
        ref = WorkloadRef(
            cluster=dimensions.get("ClusterName"),
            namespace=_valid(dimensions.get("Namespace")),
            name=name,
            pod=pod,
            source="container_insights",
        )
        return _defaults(ref, mapping)

    tg = _TARGET_GROUP.match(dimensions.get("TargetGroup", ""))
    if tg:
        tg_name = tg.group("name").lower()
        lbc = _LBC_NAME.match(tg_name)
        if lbc:
            ref = WorkloadRef(namespace=_valid(lbc.group("ns")), name=_valid(lbc.group("svc")))
        else:
            ref = WorkloadRef(name=_valid(tg_name))
        ref.source = "target_group"
        return _defaults(ref, mapping)

    return _defaults(WorkloadRef(cluster=dimensions.get("ClusterName")), mapping)


def _defaults(ref: WorkloadRef, mapping: WorkloadMapping) -> WorkloadRef:
    if not ref.namespace and ref.name and mapping.default_namespace:
        ref.namespace = mapping.default_namespace
    if not ref.cluster:
        ref.cluster = mapping.default_cluster
    if ref.source == "none" and ref.name:
        ref.source = "default"
    return ref
