"""The object store of the emulated cluster (:class:`ClusterState`)."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from opsagent_sim.k8s.model.objects import RESOURCES, api_version, det_uid, owner_name, ts


class ClusterState:
    """All objects of the emulated cluster. Thread-safe through ``lock`` (an RLock)."""

    def __init__(self, now: datetime, cluster: str = "prod-eks") -> None:
        self.now = now
        self.cluster = cluster
        self.lock = threading.RLock()
        self.objects: dict[str, dict[tuple[str, str], dict[str, Any]]] = {r: {} for r in RESOURCES}
        self._sorted: dict[str, list[tuple[str, str]] | None] = {r: None for r in RESOURCES}
        self.logs: dict[tuple[str, str, str, bool], str] = {}
        self.pod_specs: dict[tuple[str, str], dict[str, Any]] = {}  # compact spec per pod (log synthesis)
        self.rv = 1000
        self.compacted_rv = 0  # continue tokens older than this get 410 Expired
        self.scale_history: list[dict[str, Any]] = []
        self.deployment_options: dict[tuple[str, str], dict[str, Any]] = {}

    # ---- storage --------------------------------------------------------------------------------

    def next_rv(self) -> str:
        self.rv += 1
        return str(self.rv)

    def put(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            meta = obj.setdefault("metadata", {})
            ns = meta.get("namespace", "") if RESOURCES[resource][3] else ""
            key = (ns, meta["name"])
            group, version, kind, _ = RESOURCES[resource]
            if next(iter(obj)) != "kind":  # kind and apiVersion first, as the API server writes them
                rest = [(k, v) for k, v in obj.items() if k not in ("kind", "apiVersion")]
                obj.clear()
                obj.update({"kind": kind, "apiVersion": api_version(resource)}, **dict(rest))
            meta.setdefault("uid", det_uid(resource, *key))
            meta.setdefault("creationTimestamp", ts(self.now))
            meta["resourceVersion"] = self.next_rv()
            if key not in self.objects[resource]:
                self._sorted[resource] = None
            self.objects[resource][key] = obj
            return obj

    def delete(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        with self.lock:
            obj = self.objects[resource].pop((namespace, name), None)
            if obj is not None:
                self._sorted[resource] = None
                self.rv += 1
            return obj

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.objects[resource].get((namespace if RESOURCES[resource][3] else "", name))

    def keys(self, resource: str) -> list[tuple[str, str]]:
        with self.lock:
            keys = self._sorted[resource]
            if keys is None:
                keys = self._sorted[resource] = sorted(self.objects[resource])
            return keys

    def list(self, resource: str, namespace: str | None = None) -> list[dict[str, Any]]:
        store = self.objects[resource]
        return [store[k] for k in self.keys(resource) if namespace is None or k[0] == namespace]

    # ---- convenience for tests ------------------------------------------------------------------

    def deployment(self, namespace: str, name: str) -> dict[str, Any]:
        obj = self.get("deployments", namespace, name)
        if obj is None:
            raise KeyError(f"no deployment {namespace}/{name}")
        return obj

    def replicas(self, namespace: str, name: str) -> int:
        return int(self.deployment(namespace, name)["spec"]["replicas"])

    def pods(self, namespace: str, deployment: str | None = None) -> list[dict[str, Any]]:
        pods = self.list("pods", namespace)
        if deployment is None:
            return pods
        rs_names = {rs["metadata"]["name"] for rs in self.replicasets_of(namespace, deployment)}
        return [p for p in pods if owner_name(p) in rs_names]

    def replicasets_of(self, namespace: str, deployment: str) -> list[dict[str, Any]]:
        out = [rs for rs in self.list("replicasets", namespace) if owner_name(rs) == deployment]
        return sorted(
            out, key=lambda rs: int(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"])
        )

    def events_for(self, namespace: str, name: str) -> list[dict[str, Any]]:
        return [e for e in self.list("events", namespace) if e["involvedObject"]["name"] == name]
