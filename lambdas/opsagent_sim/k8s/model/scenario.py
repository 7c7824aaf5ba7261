"""Compact YAML scenarios expanded into real Kubernetes objects (:class:`Builder`).

Everything is deterministic: names, uids, IPs and generated problems derive from hashes of the
scenario content and ``seed``s, so the same scenario always yields the same objects (timestamps
are relative to ``now``).

Scenario format (YAML; ``opsagent_sim/k8s/scenarios/*.yaml``; every key optional)::

    name: cpu-saturation            # defaults to the file name
    description: ...
    cluster: prod-eks
    now: "2026-11-20T14:05:00Z"      # reference time for ages (default: wall clock)
    namespace: shop                  # default namespace of the entries below
    namespaces: [shop, payments]     # created even when empty
    nodes: 6                         # ip-10-0-16-10.ec2.internal ... (pods are spread round-robin)
    auto_events: true                # kubelet/scheduler/controller events for problem pods
    deployments:
      - name: checkout
        namespace: shop
        replicas: 3                  # spec.replicas
        image: 1234.dkr.ecr.us-east-1.amazonaws.com/checkout:1.42.0
        revision: 7                  # deployment.kubernetes.io/revision; names the ReplicaSet
        labels: {opsagent.io/scaling: disabled}   # extra metadata.labels (selector is app=<name>)
        annotations: {team: payments}
        selector: {app: checkout}    # default {app: <name>}
        requests: {cpu: 500m, memory: 512Mi}
        limits: {cpu: "1", memory: 1Gi}
        containers: [{name: app, image: ..., port: 8080}, {name: envoy}]   # default: one named <name>
        cpu: 950m                    # PodMetrics usage of running pods (memory: 400Mi)
        scale_state: running         # state of pods created by a scale-up (e.g. oomkilled)
        progress: deadline_exceeded  # Progressing=False ProgressDeadlineExceeded while not rolled out
        pods:                        # groups of pods of the current ReplicaSet (default: replicas x running)
          - {count: 2, state: running}
          - state: oomkilled         # running | notready | crashloop | oomkilled | imagepullbackoff |
            restarts: 14             #   errimagepull | containercreating | pending | evicted |
            last_exit_code: 137      #   completed | terminating
            last_reason: OOMKilled
            node: ip-10-0-16-11.ec2.internal
            reason: "0/6 nodes are available: 6 Insufficient memory."   # pending: PodScheduled message
            cpu: 990m                # PodMetrics usage
            logs: "current log text"             # or {container: text}
            previous_logs: "previous instance"   # served with previous=true
        previous:                    # an older ReplicaSet that still has pods (a rollout in progress)
          revision: 6
          image: ...:1.41.0
          replicas: 3
          pods: [{count: 3, state: running}]
    pods:                            # extra pods: standalone (name required) or joining a deployment
      - {name: debug-shell, state: running, image: busybox}
      - {deployment: checkout, state: notready}
    hpas:
      - {name: checkout, target: checkout, min: 3, max: 10, cpu_target: 70, current_cpu: 96,
         current_replicas: 3, desired_replicas: 10}
    events:                          # object: pod/<name>, pod/<deployment>[i], deployment/<name>, ...
      - {object: deployment/checkout, type: Normal, reason: ScalingReplicaSet, message: ..., age: 2m}
    generate:                        # one mapping or a list: many pods, deterministically
      {namespace: shop, count: 5000, deployment: svc, deployments: 50, problem_ratio: 0.02,
       problems: [crashloop, oomkilled], seed: 7}
    rbac:
      deny: [{verb: patch, resource: deployments/scale, namespace: shop}]   # verb/resource may be "*"
      allow: [...]                   # when present, everything not allowed is denied
    auth: {token: s3cret, user: "arn:aws:sts::123456789012:assumed-role/opsagent-pods/fn"}
    faults: [{method: GET, path: "/pods$", status: 503, times: 2, delay: 0}]
"""

from __future__ import annotations

import copy
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from opsagent_sim.k8s.model.controllers import pods_by_owner, refresh_deployment
from opsagent_sim.k8s.model.events import add_event, problem_events
from opsagent_sim.k8s.model.objects import (
    POD_STATES,
    PROBLEM_STATES,
    ScenarioError,
    condition,
    owner_ref,
    parse_duration,
    safe_hash,
    ts,
)
from opsagent_sim.k8s.model.pods import deploy_of, make_pod, make_pod_metrics
from opsagent_sim.k8s.model.store import ClusterState

SCENARIO_DIR = Path(__file__).resolve().parents[1] / "scenarios"


# ---- scenario loading ---------------------------------------------------------------------------


def load_scenario(scenario: str | Path | dict[str, Any] | None) -> dict[str, Any]:
    """A scenario as a dict: ``None`` (empty cluster), a dict, a path to YAML, or the name of a
    bundled scenario (``cpu-saturation`` -> ``opsagent_sim/k8s/scenarios/cpu-saturation.yaml``)."""
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
                "ownerReferences": [owner_ref(dep, "apps/v1", "Deployment")],
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
            owner=owner_ref(rs, "apps/v1", "ReplicaSet"),
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
        cpu = group.get("cpu") or self.state.deployment_options.get((ns, deploy_of(pod)), {}).get("cpu")
        mem = group.get("memory") or self.state.deployment_options.get((ns, deploy_of(pod)), {}).get("memory")
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
                        condition(
                            "AbleToScale",
                            "True",
                            "ReadyForNewScale",
                            "recommended size matches current size",
                            self.now,
                        ),
                        condition(
                            "ScalingActive",
                            "True",
                            "ValidMetricFound",
                            "the HPA was able to successfully calculate a replica count from cpu resource "
                            "utilization (percentage of request)",
                            self.now,
                        ),
                        condition(
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
