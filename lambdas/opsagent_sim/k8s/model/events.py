"""Events: what the kubelet/scheduler/controllers would have recorded."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from opsagent_sim.k8s.model.objects import ts
from opsagent_sim.k8s.model.store import ClusterState


def problem_events(pod: dict[str, Any], state: str, group: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """The events the kubelet/scheduler would have recorded for a pod in ``state``."""
    name = pod["metadata"]["name"]
    c = pod["spec"]["containers"][0]
    cname, image = c["name"], c["image"]
    restarts = int(group.get("restarts", 7) or 7)
    fp = f"spec.containers{{{cname}}}"
    if state in ("crashloop", "oomkilled"):
        yield {
            "type_": "Normal",
            "reason": "Pulled",
            "component": "kubelet",
            "field_path": fp,
            "message": f'Container image "{image}" already present on machine',
            "count": restarts + 1,
            "age": timedelta(minutes=3),
        }
        yield {
            "type_": "Warning",
            "reason": "BackOff",
            "component": "kubelet",
            "field_path": fp,
            "message": f"Back-off restarting failed container {cname} in pod "
            f"{name}_{pod['metadata']['namespace']}"
            f"({pod['metadata']['uid']})",
            "count": restarts * 4,
            "age": timedelta(seconds=40),
        }
    elif state in ("imagepullbackoff", "errimagepull"):
        yield {
            "type_": "Warning",
            "reason": "Failed",
            "component": "kubelet",
            "field_path": fp,
            "message": f'Failed to pull image "{image}": rpc error: code = NotFound desc = '
            "failed to pull and "
            f'unpack image "{image}": failed to resolve reference "{image}": {image}: not found',
            "count": 5,
            "age": timedelta(minutes=1),
        }
        yield {
            "type_": "Warning",
            "reason": "Failed",
            "component": "kubelet",
            "field_path": fp,
            "message": "Error: ErrImagePull",
            "count": 5,
            "age": timedelta(minutes=1),
        }
        yield {
            "type_": "Normal",
            "reason": "BackOff",
            "component": "kubelet",
            "field_path": fp,
            "message": f'Back-off pulling image "{image}"',
            "count": 31,
            "age": timedelta(seconds=20),
        }
        yield {
            "type_": "Warning",
            "reason": "Failed",
            "component": "kubelet",
            "field_path": fp,
            "message": "Error: ImagePullBackOff",
            "count": 31,
            "age": timedelta(seconds=20),
        }
    elif state == "pending":
        yield {
            "type_": "Warning",
            "reason": "FailedScheduling",
            "component": "default-scheduler",
            "message": pod["status"]["conditions"][0]["message"],
            "count": 12,
            "age": timedelta(seconds=50),
        }
    elif state == "notready":
        yield {
            "type_": "Warning",
            "reason": "Unhealthy",
            "component": "kubelet",
            "field_path": fp,
            "message": "Readiness probe failed: HTTP probe failed with statuscode: 503",
            "count": 58,
            "age": timedelta(seconds=10),
        }
    elif state == "evicted":
        yield {
            "type_": "Warning",
            "reason": "Evicted",
            "component": "kubelet",
            "message": pod["status"]["message"].strip(),
            "count": 1,
            "age": timedelta(minutes=12),
        }


def _event_suffix(*parts: Any) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:16]


def add_event(
    state: ClusterState,
    obj: dict[str, Any],
    type_: str,
    reason: str,
    message: str,
    *,
    count: int,
    last: datetime,
    first: datetime,
    component: str | None,
    field_path: str | None,
    seq: int,
) -> dict[str, Any]:
    meta = obj["metadata"]
    ns = meta.get("namespace") or "default"
    kind = obj.get("kind", "Pod")
    component = component or {
        "Pod": "kubelet",
        "Deployment": "deployment-controller",
        "ReplicaSet": "replicaset-controller",
        "HorizontalPodAutoscaler": "horizontal-pod-autoscaler",
    }.get(kind, "kubelet")
    involved = {
        "kind": kind,
        "namespace": ns,
        "name": meta["name"],
        "uid": meta["uid"],
        "apiVersion": obj.get("apiVersion", "v1"),
        "resourceVersion": meta.get("resourceVersion", ""),
    }
    if field_path:
        involved["fieldPath"] = field_path
    source: dict[str, Any] = {"component": component}
    host = obj.get("spec", {}).get("nodeName") if kind == "Pod" else None
    if host and component == "kubelet":
        source["host"] = host
    ev = {
        "metadata": {
            "name": f"{meta['name']}.{_event_suffix(seq, reason, meta['name'])}",
            "namespace": ns,
            "creationTimestamp": ts(first),
        },
        "involvedObject": involved,
        "reason": reason,
        "message": message,
        "source": source,
        "firstTimestamp": ts(first),
        "lastTimestamp": ts(last),
        "count": count,
        "type": type_,
        "eventTime": None,
        "reportingComponent": component,
        "reportingInstance": host or "",
    }
    return state.put("events", ev)
