"""Reconciliation after writes: deployment/ReplicaSet status from pods, scaling as the controllers
would do it (instantly)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from opsagent_sim.k8s.model.events import add_event
from opsagent_sim.k8s.model.objects import condition, owner_name, ts
from opsagent_sim.k8s.model.store import ClusterState


def pods_by_owner(state: ClusterState, ns: str) -> dict[str | None, list[dict[str, Any]]]:
    out: dict[str | None, list[dict[str, Any]]] = {}
    for pod in state.list("pods", ns):
        out.setdefault(owner_name(pod), []).append(pod)
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
            progressing = condition(
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{rs_name}" has successfully progressed.',
                now,
            )
        elif opts.get("progress") == "deadline_exceeded":
            progressing = condition(
                "Progressing",
                "False",
                "ProgressDeadlineExceeded",
                f'ReplicaSet "{rs_name}" has timed out progressing.',
                now,
            )
        else:
            progressing = condition(
                "Progressing", "True", "ReplicaSetUpdated", f'ReplicaSet "{rs_name}" is progressing.', now
            )
        progressing["lastUpdateTime"] = ts(now)
        available = condition(
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
                if owner_name(p) == rs["metadata"]["name"]
                and p["status"].get("phase") not in ("Failed", "Succeeded")
            )
            want = max(replicas - old_live, 0)
            pods = [
                p
                for p in state.list("pods", ns)
                if owner_name(p) == current["metadata"]["name"]
                and p["status"].get("phase") not in ("Failed", "Succeeded")
            ]
            opts = state.deployment_options.get((ns, name), {})
            from opsagent_sim.k8s.model.scenario import Builder  # new pods the way a scenario makes them

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
