"""The emulator's cluster state and the expansion of compact scenarios into real Kubernetes objects.

See :mod:`opsagent_sim.k8s_emulator` for the scenario format. Everything here is deterministic:
names, uids, IPs and generated problems derive from hashes of the scenario content and ``seed``s,
so the same scenario always yields the same objects (timestamps are relative to ``now``).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import random
import re
import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

SCENARIO_DIR = Path(__file__).with_name("scenarios")
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' SafeEncodeString alphabet

# resource -> (group, version, kind, namespaced)
RESOURCES: dict[str, tuple[str, str, str, bool]] = {
    "namespaces": ("", "v1", "Namespace", False),
    "nodes": ("", "v1", "Node", False),
    "pods": ("", "v1", "Pod", True),
    "events": ("", "v1", "Event", True),
    "deployments": ("apps", "v1", "Deployment", True),
    "replicasets": ("apps", "v1", "ReplicaSet", True),
    "horizontalpodautoscalers": ("autoscaling", "v2", "HorizontalPodAutoscaler", True),
    "podmetrics": ("metrics.k8s.io", "v1beta1", "PodMetrics", True),
}

POD_STATES = (
    "running",
    "notready",
    "crashloop",
    "oomkilled",
    "imagepullbackoff",
    "errimagepull",
    "containercreating",
    "pending",
    "evicted",
    "completed",
    "terminating",
)
PROBLEM_STATES = ("crashloop", "oomkilled", "imagepullbackoff", "pending", "notready", "evicted")


class ScenarioError(ValueError):
    """The scenario document is malformed (message names the offending entry)."""


def api_version(resource: str) -> str:
    group, version, _, _ = RESOURCES[resource]
    return f"{group}/{version}" if group else version


@functools.lru_cache(maxsize=8192)
def ts(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_duration(value: Any) -> timedelta:
    """``90s``, ``5m``, ``2h``, ``3d``, ``1h30m`` or a number of seconds."""
    if value is None:
        return timedelta(0)
    if isinstance(value, int | float):
        return timedelta(seconds=float(value))
    text = str(value).strip()
    parts = re.findall(r"(\d+(?:\.\d+)?)([smhd])", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ScenarioError(f"bad duration {value!r} (use e.g. 90s, 5m, 2h, 3d)")
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return timedelta(seconds=sum(float(n) * unit[u] for n, u in parts))


def _digest(*parts: Any) -> bytes:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()


def safe_hash(*parts: Any, length: int = 10) -> str:
    data = _digest(*parts)
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in data[:length])


def det_uid(*parts: Any) -> str:
    h = _digest("uid", *parts).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def cpu_nanocores(value: str) -> str:
    text = str(value)
    millis = float(text[:-1]) if text.endswith("m") else float(text) * 1000
    return f"{int(millis * 1_000_000)}n"


def mem_kibibytes(value: str) -> str:
    text = str(value)
    units = {"Ki": 1, "Mi": 1024, "Gi": 1024 * 1024}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return f"{int(float(text[: -len(suffix)]) * factor)}Ki"
    return f"{int(float(text) / 1024)}Ki"


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
        return [p for p in pods if _owner_name(p) in rs_names]

    def replicasets_of(self, namespace: str, deployment: str) -> list[dict[str, Any]]:
        out = [rs for rs in self.list("replicasets", namespace) if _owner_name(rs) == deployment]
        return sorted(
            out, key=lambda rs: int(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"])
        )

    def events_for(self, namespace: str, name: str) -> list[dict[str, Any]]:
        return [e for e in self.list("events", namespace) if e["involvedObject"]["name"] == name]


def _owner_name(obj: dict[str, Any]) -> str | None:
    refs = obj.get("metadata", {}).get("ownerReferences") or []
    return refs[0]["name"] if refs else None


# ---- scenario loading ---------------------------------------------------------------------------


def load_scenario(scenario: str | Path | dict[str, Any] | None) -> dict[str, Any]:
    """A scenario as a dict: ``None`` (empty cluster), a dict, a path to YAML, or the name of a
    bundled scenario (``cpu-saturation`` -> ``opsagent_sim/scenarios/cpu-saturation.yaml``)."""
    if scenario is None:
        return {}
    if isinstance(scenario, dict):
        return copy.deepcopy(scenario)
    path = Path(scenario)
    if not path.suffix and not path.exists():
        path = SCENARIO_DIR / f"{scenario}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))
        raise ScenarioError(f"no scenario {scenario!r}; bundled ones: {', '.join(known)}")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: a scenario is a mapping")
    data.setdefault("name", path.stem)
    return data


def bundled_scenarios() -> list[str]:
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))


class Builder:
    """Expands a compact scenario dict into a :class:`ClusterState`."""

    def __init__(self, data: dict[str, Any], now: datetime | None = None) -> None:
        self.data = data
        if now is None:
            raw_now = data.get("now")
            if raw_now:
                now = datetime.fromisoformat(str(raw_now).replace("Z", "+00:00"))
            else:
                now = datetime.now(UTC).replace(microsecond=0)
        self.now = now
        self.state = ClusterState(now, cluster=str(data.get("cluster", "prod-eks")))
        self.default_ns = str(data.get("namespace", "default"))
        n_nodes = int(data.get("nodes", 6))
        self.nodes = [f"ip-10-0-{16 + i // 200}-{10 + i % 200}.ec2.internal" for i in range(max(1, n_nodes))]
        self.auto_events = bool(data.get("auto_events", True))
        self.pod_index = 0
        self.event_seq = 0

    # ---- top level --------------------------------------------------------------------------------

    def build(self) -> ClusterState:
        known = {
            "name",
            "description",
            "cluster",
            "now",
            "namespace",
            "namespaces",
            "nodes",
            "auto_events",
            "deployments",
            "pods",
            "events",
            "hpas",
            "generate",
            "rbac",
            "auth",
            "faults",
            "metrics",
        }
        unknown = set(self.data) - known
        if unknown:
            raise ScenarioError(f"unknown scenario keys: {', '.join(sorted(unknown))}")
        for node in self.nodes:
            self._node(node)
        for ns in self.data.get("namespaces") or [self.default_ns]:
            self.namespace(str(ns))
        for spec in self.data.get("deployments") or []:
            self.deployment(spec)
        for spec in self._generators():
            self.generate(spec)
        for spec in self.data.get("pods") or []:
            self.standalone_pod(spec)
        for spec in self.data.get("hpas") or []:
            self.hpa(spec)
        for spec in self.data.get("events") or []:
            self.event_from_spec(spec)
        grouped: dict[str, dict[str | None, list[dict[str, Any]]]] = {}
        for ns, name in self.state.keys("deployments"):
            if ns not in grouped:
                grouped[ns] = pods_by_owner(self.state, ns)
            refresh_deployment(self.state, ns, name, grouped[ns])
        return self.state

    def _generators(self) -> list[dict[str, Any]]:
        gen = self.data.get("generate") or []
        return [gen] if isinstance(gen, dict) else list(gen)

    def namespace(self, name: str) -> None:
        if self.state.get("namespaces", "", name):
            return
        self.state.put(
            "namespaces",
            {
                "metadata": {
                    "name": name,
                    "labels": {"kubernetes.io/metadata.name": name},
                    "creationTimestamp": ts(self.now - timedelta(days=120)),
                },
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            },
        )

    def _node(self, name: str) -> None:
        self.state.put(
            "nodes",
            {
                "metadata": {
                    "name": name,
                    "labels": {
                        "kubernetes.io/hostname": name,
                        "node.kubernetes.io/instance-type": "m6i.xlarge",
                        "topology.kubernetes.io/zone": "us-east-1"
                        + "abc"[len(self.state.objects["nodes"]) % 3],
                        "eks.amazonaws.com/nodegroup": "default",
                    },
                    "creationTimestamp": ts(self.now - timedelta(days=20)),
                },
                "spec": {"providerID": f"aws:///us-east-1a/i-{safe_hash(name, length=8)}"},
                "status": {
                    "capacity": {"cpu": "4", "memory": "16078832Ki", "pods": "58"},
                    "allocatable": {"cpu": "3920m", "memory": "15062000Ki", "pods": "58"},
                    "conditions": [
                        {
                            "type": "Ready",
                            "status": "True",
                            "reason": "KubeletReady",
                            "message": "kubelet is posting ready status",
                            "lastHeartbeatTime": ts(self.now),
                            "lastTransitionTime": ts(self.now - timedelta(days=20)),
                        }
                    ],
                    "nodeInfo": {
                        "kubeletVersion": "v1.31.4-eks-aeac579",
                        "containerRuntimeVersion": "containerd://1.7.25",
                    },
                },
            },
        )

    # ---- deployments / replicasets / pods ---------------------------------------------------------

    def deployment(self, spec: dict[str, Any]) -> None:
        try:
            name = str(spec["name"])
        except (KeyError, TypeError):
            raise ScenarioError(f"deployment without a name: {spec!r}") from None
        ns = str(spec.get("namespace", self.default_ns))
        self.namespace(ns)
        replicas = int(spec.get("replicas", 1))
        revision = int(spec.get("revision", 1))
        image = str(spec.get("image", f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{name}:1.0.0"))
        selector = dict(spec.get("selector") or {"app": name})
        template_labels = {**selector, **(spec.get("pod_labels") or {})}
        containers = self._containers(spec, name, image)
        age = parse_duration(spec.get("age", "30d"))
        created = self.now - age
        annotations = {"deployment.kubernetes.io/revision": str(revision), **(spec.get("annotations") or {})}
        labels = {**selector, **(spec.get("labels") or {})}
        dep = {
            "metadata": {
                "name": name,
                "namespace": ns,
                "labels": labels,
                "annotations": annotations,
                "generation": int(spec.get("generation", revision + 2)),
                "creationTimestamp": ts(created),
            },
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": selector},
                "template": {
                    "metadata": {"labels": template_labels},
                    "spec": {
                        "containers": containers,
                        "restartPolicy": "Always",
                        "terminationGracePeriodSeconds": 30,
                    },
                },
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
                },
                "revisionHistoryLimit": 10,
                "progressDeadlineSeconds": 600,
            },
            "status": {},
        }
        self.state.put("deployments", dep)
        self.state.deployment_options[(ns, name)] = {
            "scale_state": spec.get("scale_state", "running"),
            "progress": spec.get("progress"),
            "cpu": spec.get("cpu"),
            "memory": spec.get("memory"),
        }
        previous = spec.get("previous")
        old_count = 0
        if previous:
            prev_rev = int(previous.get("revision", revision - 1))
            prev_image = str(previous.get("image", image))
            prev_containers = self._containers({**spec, **previous}, name, prev_image)
            prev_groups = self._groups(previous.get("pods"), int(previous.get("replicas", replicas)))
            old_count = sum(g["count"] for g in prev_groups)
            self._replicaset(
                dep, prev_rev, prev_containers, prev_groups, created + parse_duration("1d"), old_count
            )
        groups = self._groups(spec.get("pods"), max(replicas - old_count, 0) if previous else replicas)
        rs_created = self.now - parse_duration(spec.get("rollout_age", "2h" if previous else "6d"))
        self._replicaset(dep, revision, containers, groups, rs_created, sum(g["count"] for g in groups))

    def _containers(self, spec: dict[str, Any], name: str, image: str) -> list[dict[str, Any]]:
        raw = spec.get("containers")
        if not raw:
            raw = [{"name": name, "image": image}]
        out = []
        for c in raw:
            resources = {}
            requests = c.get("requests", spec.get("requests", {"cpu": "250m", "memory": "256Mi"}))
            limits = c.get("limits", spec.get("limits", {"memory": "512Mi"}))
            if requests:
                resources["requests"] = {k: str(v) for k, v in requests.items()}
            if limits:
                resources["limits"] = {k: str(v) for k, v in limits.items()}
            out.append(
                {
                    "name": str(c["name"]),
                    "image": str(c.get("image", image)),
                    "ports": [{"containerPort": int(c.get("port", 8080)), "protocol": "TCP"}],
                    "resources": resources,
                    "readinessProbe": {"httpGet": {"path": "/healthz", "port": int(c.get("port", 8080))}},
                    "imagePullPolicy": "IfNotPresent",
                }
            )
        return out

    @staticmethod
    def _groups(raw: Any, default_count: int) -> list[dict[str, Any]]:
        if raw is None:
            return [{"count": default_count, "state": "running"}] if default_count else []
        if isinstance(raw, dict):
            raw = [raw]
        groups = []
        for g in raw:
            g = dict(g)
            g["count"] = int(g.get("count", 1))
            state = str(g.get("state", "running")).lower()
            if state not in POD_STATES:
                raise ScenarioError(f"unknown pod state {state!r}; one of {', '.join(POD_STATES)}")
            g["state"] = state
            groups.append(g)
        return groups

    def _replicaset(
        self,
        dep: dict[str, Any],
        revision: int,
        containers: list[dict[str, Any]],
        groups: list[dict[str, Any]],
        created: datetime,
        count: int,
    ) -> dict[str, Any]:
        ns, name = dep["metadata"]["namespace"], dep["metadata"]["name"]
        pth = safe_hash(ns, name, revision, length=10)
        labels = {**dep["spec"]["template"]["metadata"]["labels"], "pod-template-hash": pth}
        rs = {
            "metadata": {
                "name": f"{name}-{pth}",
                "namespace": ns,
                "labels": labels,
                "annotations": {
                    "deployment.kubernetes.io/revision": str(revision),
                    "deployment.kubernetes.io/desired-replicas": str(dep["spec"]["replicas"]),
                    "deployment.kubernetes.io/max-replicas": str(dep["spec"]["replicas"] + 1),
                },
                "ownerReferences": [_owner(dep, "apps/v1", "Deployment")],
                "generation": 1,
                "creationTimestamp": ts(created),
            },
            "spec": {
                "replicas": count,
                "selector": {
                    "matchLabels": {**dep["spec"]["selector"]["matchLabels"], "pod-template-hash": pth}
                },
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": copy.deepcopy(containers)},
                },
            },
            "status": {},
        }
        self.state.put("replicasets", rs)
        if self.auto_events:
            self.event(
                dep,
                "Normal",
                "ScalingReplicaSet",
                f"Scaled up replica set {rs['metadata']['name']} to {count}",
                component="deployment-controller",
                age=self.now - created,
            )
        i = 0
        for group in groups:
            for _ in range(group["count"]):
                self.pod(rs, group, i, created)
                i += 1
        return rs

    def pod(
        self, rs: dict[str, Any], group: dict[str, Any], index: int, rs_created: datetime
    ) -> dict[str, Any]:
        ns = rs["metadata"]["namespace"]
        base = rs["metadata"]["name"]
        salt = 0
        while True:
            name = group.get("name") or f"{base}-{safe_hash(base, index, salt, length=5)}"
            if not self.state.get("pods", ns, name):
                break
            if group.get("name"):
                raise ScenarioError(f"duplicate pod {ns}/{name}")
            salt += 1
        age = parse_duration(group["age"]) if "age" in group else self.now - rs_created
        obj = make_pod(
            name=name,
            namespace=ns,
            labels=dict(rs["spec"]["template"]["metadata"]["labels"], **(group.get("labels") or {})),
            containers=rs["spec"]["template"]["spec"]["containers"],
            owner=_owner(rs, "apps/v1", "ReplicaSet"),
            state=group["state"],
            group=group,
            node=group.get("node") or self.nodes[self.pod_index % len(self.nodes)],
            index=self.pod_index,
            started=self.now - age,
            now=self.now,
        )
        self.pod_index += 1
        self.state.put("pods", obj)
        self._pod_extras(obj, group)
        return obj

    def _pod_extras(self, pod: dict[str, Any], group: dict[str, Any]) -> None:
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        containers = [c["name"] for c in pod["spec"]["containers"]]
        self.state.pod_specs[(ns, name)] = {
            "state": group["state"],
            "image": pod["spec"]["containers"][0]["image"],
        }
        for previous, key in ((False, "logs"), (True, "previous_logs")):
            value = group.get(key)
            if value is None:
                continue
            per_container = value if isinstance(value, dict) else {containers[0]: value}
            for cname, text in per_container.items():
                self.state.logs[(ns, name, str(cname), previous)] = str(text)
        cpu = group.get("cpu") or self.state.deployment_options.get((ns, _deploy_of(pod)), {}).get("cpu")
        mem = group.get("memory") or self.state.deployment_options.get((ns, _deploy_of(pod)), {}).get(
            "memory"
        )
        if pod["status"]["phase"] == "Running":
            self.state.put("podmetrics", make_pod_metrics(pod, cpu or "35m", mem or "180Mi", self.now))
        if self.auto_events:
            for ev in problem_events(pod, group["state"], group):
                self.event(pod, **ev)

    def standalone_pod(self, spec: dict[str, Any]) -> None:
        spec = dict(spec)
        ns = str(spec.get("namespace", self.default_ns))
        self.namespace(ns)
        spec.setdefault("state", "running")
        spec["count"] = 1
        (group,) = self._groups([spec], 1)
        owner_dep = spec.get("deployment")
        if owner_dep:
            rss = self.state.replicasets_of(ns, str(owner_dep))
            if not rss:
                raise ScenarioError(f"pod {spec.get('name')}: no deployment {ns}/{owner_dep}")
            rs = rss[-1]
            rs["spec"]["replicas"] += 1
            self.pod(rs, group, len(self.state.pods(ns, str(owner_dep))), self.now - parse_duration("1d"))
            return
        if "name" not in spec:
            raise ScenarioError("a standalone pod needs a name (or a deployment)")
        image = str(spec.get("image", f"public.ecr.aws/docker/library/{spec['name']}:latest"))
        containers = self._containers(spec, str(spec["name"]), image)
        obj = make_pod(
            name=str(spec["name"]),
            namespace=ns,
            labels=dict(spec.get("labels") or {"app": str(spec["name"])}),
            containers=containers,
            owner=None,
            state=group["state"],
            group=group,
            node=spec.get("node") or self.nodes[self.pod_index % len(self.nodes)],
            index=self.pod_index,
            started=self.now - parse_duration(spec.get("age", "1d")),
            now=self.now,
        )
        self.pod_index += 1
        self.state.put("pods", obj)
        self._pod_extras(obj, group)

    def generate(self, spec: dict[str, Any]) -> None:
        """``{namespace, count, deployment (name prefix), deployments (how many, default count/100),
        problem_ratio, problems: [states], seed}`` -> ``count`` pods spread over deployments."""
        ns = str(spec.get("namespace", self.default_ns))
        count = int(spec.get("count", 100))
        prefix = str(spec.get("deployment", "svc"))
        n_deps = max(1, int(spec.get("deployments", max(1, count // 100))))
        ratio = float(spec.get("problem_ratio", 0.0))
        problems = [str(p) for p in spec.get("problems") or PROBLEM_STATES]
        rng = random.Random(int(spec.get("seed", 1)))
        per_dep = [count // n_deps + (1 if i < count % n_deps else 0) for i in range(n_deps)]
        for i, n in enumerate(per_dep):
            dep_name = prefix if n_deps == 1 else f"{prefix}-{i:03d}"
            states = ["running"] * n
            for j in range(n):
                if rng.random() < ratio:
                    states[j] = problems[rng.randrange(len(problems))]
            groups = []
            for state in states:  # run-length encode so logs/events stay per group
                if groups and groups[-1]["state"] == state:
                    groups[-1]["count"] += 1
                else:
                    groups.append({"state": state, "count": 1, "restarts": rng.randrange(3, 40)})
            self.deployment(
                {
                    "name": dep_name,
                    "namespace": ns,
                    "replicas": n,
                    "revision": 1 + rng.randrange(20),
                    "labels": {"generated": "true", **(spec.get("labels") or {})},
                    "pods": groups,
                }
            )

    # ---- HPAs and events ------------------------------------------------------------------------

    def hpa(self, spec: dict[str, Any]) -> None:
        ns = str(spec.get("namespace", self.default_ns))
        target = str(spec.get("target", spec.get("name")))
        name = str(spec.get("name", target))
        dep = self.state.get("deployments", ns, target)
        current = int(spec.get("current_replicas", dep["spec"]["replicas"] if dep else 1))
        desired = int(spec.get("desired_replicas", current))
        max_r = int(spec.get("max", 10))
        cpu_target = int(spec.get("cpu_target", 70))
        cpu_now = spec.get("current_cpu")
        limited = desired >= max_r
        metrics_now = []
        if cpu_now is not None:
            metrics_now = [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "current": {"averageUtilization": int(cpu_now)}},
                }
            ]
        self.state.put(
            "horizontalpodautoscalers",
            {
                "metadata": {
                    "name": name,
                    "namespace": ns,
                    "creationTimestamp": ts(self.now - timedelta(days=30)),
                },
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
                    "minReplicas": int(spec.get("min", 1)),
                    "maxReplicas": max_r,
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {
                                "name": "cpu",
                                "target": {"type": "Utilization", "averageUtilization": cpu_target},
                            },
                        }
                    ],
                },
                "status": {
                    "currentReplicas": current,
                    "desiredReplicas": desired,
                    "lastScaleTime": ts(self.now - parse_duration(spec.get("last_scale_age", "20m"))),
                    "currentMetrics": metrics_now,
                    "conditions": [
                        _cond(
                            "AbleToScale",
                            "True",
                            "ReadyForNewScale",
                            "recommended size matches current size",
                            self.now,
                        ),
                        _cond(
                            "ScalingActive",
                            "True",
                            "ValidMetricFound",
                            "the HPA was able to successfully calculate a replica count from cpu resource "
                            "utilization (percentage of request)",
                            self.now,
                        ),
                        _cond(
                            "ScalingLimited",
                            "True" if limited else "False",
                            "TooManyReplicas" if limited else "DesiredWithinRange",
                            "the desired replica count is more than the maximum replica count"
                            if limited
                            else "the desired count is within the acceptable range",
                            self.now,
                        ),
                    ],
                },
            },
        )

    def event_from_spec(self, spec: dict[str, Any]) -> None:
        ref = str(spec.get("object", ""))
        kind_word, _, target = ref.partition("/")
        ns = str(spec.get("namespace", self.default_ns))
        resource = {
            "pod": "pods",
            "deployment": "deployments",
            "replicaset": "replicasets",
            "hpa": "horizontalpodautoscalers",
            "node": "nodes",
        }.get(kind_word)
        if resource is None or not target:
            raise ScenarioError(f"event object must look like pod/<name>, deployment/<name>, ...: {ref!r}")
        if m := re.fullmatch(r"(.+)\[(-?\d+)\]", target):  # pod/checkout[0]: the n-th pod of a deployment
            pods = self.state.pods(ns, m.group(1))
            if not pods:
                raise ScenarioError(f"event {ref!r}: deployment {ns}/{m.group(1)} has no pods")
            obj = pods[int(m.group(2))]
        else:
            obj = self.state.get(resource, ns, target)
            if obj is None:
                raise ScenarioError(f"event {ref!r}: no such object in namespace {ns}")
        self.event(
            obj,
            str(spec.get("type", "Normal")),
            str(spec["reason"]),
            str(spec.get("message", "")),
            count=int(spec.get("count", 1)),
            age=parse_duration(spec.get("age", "1m")),
            first_age=parse_duration(spec["first_age"]) if "first_age" in spec else None,
            component=spec.get("component"),
        )

    def event(
        self,
        obj: dict[str, Any],
        type_: str,
        reason: str,
        message: str,
        *,
        count: int = 1,
        age: timedelta = timedelta(minutes=1),
        first_age: timedelta | None = None,
        component: str | None = None,
        field_path: str | None = None,
    ) -> dict[str, Any]:
        self.event_seq += 1
        return add_event(
            self.state,
            obj,
            type_,
            reason,
            message,
            count=count,
            last=self.now - age,
            first=self.now
            - (first_age if first_age is not None else age + timedelta(seconds=30 * (count - 1))),
            component=component,
            field_path=field_path,
            seq=self.event_seq,
        )


def _deploy_of(pod: dict[str, Any]) -> str:
    owner = _owner_name(pod) or ""
    return owner.rsplit("-", 1)[0] if owner else ""


def _owner(obj: dict[str, Any], api: str, kind: str) -> dict[str, Any]:
    return {
        "apiVersion": api,
        "kind": kind,
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _cond(type_: str, status: str, reason: str | None, message: str | None, when: datetime) -> dict[str, Any]:
    out: dict[str, Any] = {"type": type_, "status": status, "lastTransitionTime": ts(when)}
    if reason:
        out["reason"] = reason
    if message:
        out["message"] = message
    return out


def _container_id(*parts: Any) -> str:
    return "containerd://" + hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()


@functools.lru_cache(maxsize=1024)
def _image_id(image: str) -> str:
    repo = image.rsplit(":", 1)[0]
    return f"{repo}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def make_pod(
    *,
    name: str,
    namespace: str,
    labels: dict[str, str],
    containers: list[dict[str, Any]],
    owner: dict[str, Any] | None,
    state: str,
    group: dict[str, Any],
    node: str,
    index: int,
    started: datetime,
    now: datetime,
) -> dict[str, Any]:
    """A Pod object in the given compact ``state`` (see POD_STATES)."""
    restarts = int(group.get("restarts", 0))
    if state in ("crashloop", "oomkilled") and not restarts:
        restarts = 7
    scheduled = state != "pending"
    ip = f"10.0.{32 + (index // 250) % 200}.{1 + index % 250}"
    spec: dict[str, Any] = {
        "containers": json.loads(json.dumps(containers)),
        "restartPolicy": "Always",
        "serviceAccountName": "default",
        "schedulerName": "default-scheduler",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "enableServiceLinks": True,
        "priority": 0,
    }
    if scheduled:
        spec["nodeName"] = node
    meta: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "labels": labels,
        "creationTimestamp": ts(started),
    }
    if owner:
        meta["ownerReferences"] = [owner]
        meta["generateName"] = owner["name"] + "-"
    if state == "terminating":
        meta["deletionTimestamp"] = ts(now + timedelta(seconds=30))
        meta["deletionGracePeriodSeconds"] = 30
    status: dict[str, Any] = {"qosClass": "Burstable"}
    container_statuses = []
    ready_all = state in ("running", "terminating")
    phase = "Running"
    for c in containers:
        cname, image = c["name"], c["image"]
        cs: dict[str, Any] = {
            "name": cname,
            "image": image,
            "imageID": _image_id(image),
            "containerID": _container_id(namespace, name, cname, restarts),
            "ready": ready_all,
            "started": True,
            "restartCount": restarts,
            "lastState": {},
        }
        last_finished = now - parse_duration(group.get("last_crash_age", "2m"))
        running_since = started if not restarts else now - parse_duration(group.get("up_for", "3h"))
        if state in ("running", "terminating"):
            cs["state"] = {"running": {"startedAt": ts(running_since)}}
            if restarts and group.get("last_exit_code") is not None:
                cs["lastState"] = {
                    "terminated": _terminated(
                        group,
                        int(group["last_exit_code"]),
                        "Error",
                        last_finished - timedelta(hours=3),
                        running_since,
                    )
                }
        elif state == "notready":
            cs["state"] = {"running": {"startedAt": ts(running_since)}}
            cs["ready"] = False
        elif state in ("crashloop", "oomkilled"):
            oom = state == "oomkilled" or group.get("last_reason") == "OOMKilled"
            code = int(group.get("last_exit_code", 137 if oom else 1))
            reason = "OOMKilled" if oom else str(group.get("last_reason", "Error"))
            cs["state"] = {
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": f"back-off 5m0s restarting failed container={cname} pod={name}_{namespace}"
                    f"({det_uid('pods', namespace, name)})",
                }
            }
            cs["started"] = False
            cs["lastState"] = {
                "terminated": _terminated(
                    group, code, reason, last_finished - timedelta(seconds=40), last_finished
                )
            }
        elif state in ("imagepullbackoff", "errimagepull"):
            cs["state"] = {
                "waiting": {
                    "reason": "ImagePullBackOff" if state == "imagepullbackoff" else "ErrImagePull",
                    "message": f'Back-off pulling image "{image}"'
                    if state == "imagepullbackoff"
                    else f'failed to pull and unpack image "{image}": not found',
                }
            }
            cs["imageID"] = ""
            cs["started"] = False
            cs.pop("containerID")
            phase = "Pending"
        elif state == "containercreating":
            cs["state"] = {"waiting": {"reason": "ContainerCreating"}}
            cs["imageID"] = ""
            cs["started"] = False
            cs.pop("containerID")
            phase = "Pending"
        elif state == "evicted":
            cs["state"] = {
                "terminated": {
                    "exitCode": 137,
                    "reason": "ContainerStatusUnknown",
                    "message": "The container could not be located when the pod was terminated",
                    "startedAt": ts(started),
                    "finishedAt": ts(now - timedelta(minutes=12)),
                }
            }
            cs["ready"] = False
            cs["started"] = False
            phase = "Failed"
        elif state == "completed":
            cs["state"] = {
                "terminated": {
                    "exitCode": 0,
                    "reason": "Completed",
                    "startedAt": ts(started),
                    "finishedAt": ts(started + timedelta(minutes=1)),
                }
            }
            cs["ready"] = False
            cs["started"] = False
            phase = "Succeeded"
        container_statuses.append(cs)
    status["phase"] = "Pending" if state == "pending" else phase
    pod_ready = all(cs["ready"] for cs in container_statuses) and status["phase"] == "Running"
    if state == "pending":
        message = str(
            group.get(
                "reason",
                "0/6 nodes are available: 6 Insufficient cpu. preemption: 0/6 nodes are available: "
                "6 No preemption victims found for incoming pod.",
            )
        )
        status["conditions"] = [
            _cond("PodScheduled", "False", "Unschedulable", message, now - timedelta(minutes=9))
        ]
    else:
        not_ready_reason = (
            None if pod_ready else ("PodCompleted" if phase == "Succeeded" else "ContainersNotReady")
        )
        not_ready_msg = None
        if not pod_ready and phase != "Succeeded":
            names = " ".join(cs["name"] for cs in container_statuses if not cs["ready"])
            not_ready_msg = f"containers with unready status: [{names}]"
        status["conditions"] = [
            _cond("PodReadyToStartContainers", "True" if phase != "Failed" else "False", None, None, started),
            _cond("Initialized", "True", None, None, started),
            _cond("Ready", "True" if pod_ready else "False", not_ready_reason, not_ready_msg, started),
            _cond(
                "ContainersReady", "True" if pod_ready else "False", not_ready_reason, not_ready_msg, started
            ),
            _cond("PodScheduled", "True", None, None, started),
        ]
        status["hostIP"] = f"10.0.{16 + index % 3}.{10 + index % 200}"
        status["hostIPs"] = [{"ip": status["hostIP"]}]
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
        status["startTime"] = ts(started)
        status["containerStatuses"] = container_statuses
    if state == "evicted":
        status["reason"] = "Evicted"
        status["message"] = str(
            group.get(
                "message",
                "The node was low on resource: memory. Threshold quantity: 100Mi, available: 86Mi. "
                f"Container {containers[0]['name']} was using 1843Mi, request is 256Mi, "
                "has larger consumption "
                "of its request. ",
            )
        )
        for cond in status["conditions"]:
            if cond["type"] in ("Ready", "ContainersReady"):
                cond["reason"] = "PodFailed"
                cond.pop("message", None)
        status["conditions"].insert(
            0,
            _cond(
                "DisruptionTarget",
                "True",
                "TerminationByKubelet",
                status["message"],
                now - timedelta(minutes=12),
            ),
        )
    return {"metadata": meta, "spec": spec, "status": status}


def _terminated(
    group: dict[str, Any], code: int, reason: str, started: datetime, finished: datetime
) -> dict[str, Any]:
    return {"exitCode": code, "reason": reason, "startedAt": ts(started), "finishedAt": ts(finished)}


def make_pod_metrics(pod: dict[str, Any], cpu: str, memory: str, now: datetime) -> dict[str, Any]:
    return {
        "metadata": {
            "name": pod["metadata"]["name"],
            "namespace": pod["metadata"]["namespace"],
            "labels": pod["metadata"].get("labels", {}),
            "creationTimestamp": ts(now),
        },
        "timestamp": ts(now - timedelta(seconds=12)),
        "window": "15.01s",
        "containers": [
            {"name": c["name"], "usage": {"cpu": cpu_nanocores(cpu), "memory": mem_kibibytes(memory)}}
            for c in pod["spec"]["containers"]
        ],
    }


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


# ---- reconciliation after writes ------------------------------------------------------------------


def pods_by_owner(state: ClusterState, ns: str) -> dict[str | None, list[dict[str, Any]]]:
    out: dict[str | None, list[dict[str, Any]]] = {}
    for pod in state.list("pods", ns):
        out.setdefault(_owner_name(pod), []).append(pod)
    return out


def refresh_deployment(
    state: ClusterState, ns: str, name: str, by_owner: dict[str | None, list[dict[str, Any]]] | None = None
) -> dict[str, Any]:
    """Recompute the status of a deployment and its ReplicaSets from their pods."""
    with state.lock:
        dep = state.deployment(ns, name)
        rss = state.replicasets_of(ns, name)
        total = ready = updated = 0
        current_rs = rss[-1] if rss else None
        if by_owner is None:
            by_owner = pods_by_owner(state, ns)
        for rs in rss:
            pods = by_owner.get(rs["metadata"]["name"], [])
            live = [p for p in pods if p["status"].get("phase") not in ("Failed", "Succeeded")]
            rs_ready = sum(1 for p in live if _pod_ready(p))
            rs["status"] = {
                "replicas": len(live),
                "fullyLabeledReplicas": len(live),
                "readyReplicas": rs_ready,
                "availableReplicas": rs_ready,
                "observedGeneration": rs["metadata"].get("generation", 1),
            }
            total += len(live)
            ready += rs_ready
            if rs is current_rs:
                updated = len(live)
        desired = int(dep["spec"]["replicas"])
        max_unavailable = desired * 25 // 100
        available_ok = ready >= desired - max_unavailable
        opts = state.deployment_options.get((ns, name), {})
        now = state.now
        rs_name = current_rs["metadata"]["name"] if current_rs else name
        current_ready = current_rs["status"]["readyReplicas"] if current_rs else 0
        if updated >= desired and current_ready >= desired and total == desired:
            progressing = _cond(
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{rs_name}" has successfully progressed.',
                now,
            )
        elif opts.get("progress") == "deadline_exceeded":
            progressing = _cond(
                "Progressing",
                "False",
                "ProgressDeadlineExceeded",
                f'ReplicaSet "{rs_name}" has timed out progressing.',
                now,
            )
        else:
            progressing = _cond(
                "Progressing", "True", "ReplicaSetUpdated", f'ReplicaSet "{rs_name}" is progressing.', now
            )
        progressing["lastUpdateTime"] = ts(now)
        available = _cond(
            "Available",
            "True" if available_ok else "False",
            "MinimumReplicasAvailable" if available_ok else "MinimumReplicasUnavailable",
            "Deployment has minimum availability."
            if available_ok
            else "Deployment does not have minimum availability.",
            now - timedelta(hours=1),
        )
        available["lastUpdateTime"] = ts(now)
        status: dict[str, Any] = {
            "observedGeneration": dep["metadata"].get("generation", 1),
            "replicas": total,
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "conditions": [available, progressing],
        }
        if desired - ready > 0:
            status["unavailableReplicas"] = desired - ready
        if ready == 0:
            status.pop("readyReplicas")
            status.pop("availableReplicas")
        dep["status"] = status
        return dep


def _pod_ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))


def scale_deployment(state: ClusterState, ns: str, name: str, replicas: int) -> dict[str, Any]:
    """Apply a replica change the way the controllers would, instantly: adjust the current
    ReplicaSet's pods (new ones take the deployment's ``scale_state``, default running), bump
    generation/resourceVersion, record a ScalingReplicaSet event, recompute status."""
    with state.lock:
        dep = state.deployment(ns, name)
        before = int(dep["spec"]["replicas"])
        dep["spec"]["replicas"] = replicas
        dep["metadata"]["generation"] = int(dep["metadata"].get("generation", 1)) + 1
        rss = state.replicasets_of(ns, name)
        if rss:
            current = rss[-1]
            old_live = sum(
                1
                for rs in rss[:-1]
                for p in state.list("pods", ns)
                if _owner_name(p) == rs["metadata"]["name"]
                and p["status"].get("phase") not in ("Failed", "Succeeded")
            )
            want = max(replicas - old_live, 0)
            pods = [
                p
                for p in state.list("pods", ns)
                if _owner_name(p) == current["metadata"]["name"]
                and p["status"].get("phase") not in ("Failed", "Succeeded")
            ]
            opts = state.deployment_options.get((ns, name), {})
            builder = Builder({"cluster": state.cluster, "auto_events": False}, now=state.now)
            builder.state = state
            builder.nodes = sorted(k[1] for k in state.objects["nodes"]) or builder.nodes
            builder.pod_index = len(state.objects["pods"])
            if len(pods) < want:
                group = {"state": opts.get("scale_state") or "running", "count": 1, "age": "5s"}
                if opts.get("cpu"):
                    group["cpu"] = opts["cpu"]
                for i in range(want - len(pods)):
                    builder.pod(
                        current, group, len(pods) + i + 1000 * dep["metadata"]["generation"], state.now
                    )
            elif len(pods) > want:
                # Controllers delete unready pods first, then the youngest.
                victims = sorted(pods, key=lambda p: p["metadata"]["creationTimestamp"], reverse=True)
                victims.sort(key=_pod_ready)
                victims = victims[: len(pods) - want]
                for p in victims:
                    state.delete("pods", ns, p["metadata"]["name"])
                    state.delete("podmetrics", ns, p["metadata"]["name"])
            current["spec"]["replicas"] = want
            current["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] = str(replicas)
            if want != len(pods):
                word = "up" if want > len(pods) else "down"
                add_event(
                    state,
                    dep,
                    "Normal",
                    "ScalingReplicaSet",
                    f"Scaled {word} replica set {current['metadata']['name']} from {len(pods)} to {want}",
                    count=1,
                    last=state.now,
                    first=state.now,
                    component="deployment-controller",
                    field_path=None,
                    seq=len(state.objects["events"]) + 1,
                )
        refresh_deployment(state, ns, name)
        dep["metadata"]["resourceVersion"] = state.next_rv()
        state.scale_history.append({"namespace": ns, "name": name, "from": before, "to": replicas})
        for hpa in state.list("horizontalpodautoscalers", ns):
            if hpa["spec"]["scaleTargetRef"]["name"] == name:
                hpa["status"]["currentReplicas"] = replicas
        return dep


def synth_logs(state: ClusterState, ns: str, pod: str, container: str, previous: bool) -> str:
    """Deterministic logs for pods the scenario gave none: access lines, and a crash at the end
    of the previous instance for crashing/OOM-killed pods."""
    spec = state.pod_specs.get((ns, pod), {})
    status = spec.get("state", "running")
    rng = random.Random(f"{ns}/{pod}/{container}/{previous}")
    base = state.now - timedelta(minutes=30)
    lines = [
        f"{ts(base)} INFO  starting {container} (image {spec.get('image', '?')})",
        f"{ts(base)} INFO  listening on :8080",
    ]
    paths = ["/api/cart", "/api/checkout", "/healthz", "/api/items", "/api/orders"]
    for i in range(40):
        when = base + timedelta(seconds=30 * i + rng.randrange(30))
        code = rng.choice([200] * 12 + [201, 404, 500, 503])
        lines.append(
            f"{ts(when)} INFO  {rng.choice(['GET', 'POST'])} {rng.choice(paths)} {code} "
            f"{rng.randrange(3, 900)}ms"
        )
    if previous and status == "oomkilled":
        lines.append(f"{ts(state.now - timedelta(minutes=2))} WARN  heap usage 97% of limit")
        lines.append('Exception in thread "main" java.lang.OutOfMemoryError: Java heap space')
    elif previous and status == "crashloop":
        lines.append(
            f"{ts(state.now - timedelta(minutes=2))} ERROR fatal: cannot connect to database: "
            "connection refused"
        )
    return "\n".join(lines) + "\n"
