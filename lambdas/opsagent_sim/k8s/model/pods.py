"""Pods (and their PodMetrics) as the kubelet reports them, from one compact pod group."""

from __future__ import annotations

import functools
import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from opsagent_sim.k8s.model.objects import (
    condition,
    cpu_nanocores,
    det_uid,
    mem_kibibytes,
    owner_name,
    parse_duration,
    ts,
)


def deploy_of(pod: dict[str, Any]) -> str:
    owner = owner_name(pod) or ""
    return owner.rsplit("-", 1)[0] if owner else ""


def container_id(*parts: Any) -> str:
    return "containerd://" + hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()


@functools.lru_cache(maxsize=1024)
def image_id(image: str) -> str:
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
            "imageID": image_id(image),
            "containerID": container_id(namespace, name, cname, restarts),
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
                    "terminated": terminated(
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
                "terminated": terminated(
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
            condition("PodScheduled", "False", "Unschedulable", message, now - timedelta(minutes=9))
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
            condition(
                "PodReadyToStartContainers", "True" if phase != "Failed" else "False", None, None, started
            ),
            condition("Initialized", "True", None, None, started),
            condition("Ready", "True" if pod_ready else "False", not_ready_reason, not_ready_msg, started),
            condition(
                "ContainersReady", "True" if pod_ready else "False", not_ready_reason, not_ready_msg, started
            ),
            condition("PodScheduled", "True", None, None, started),
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
            condition(
                "DisruptionTarget",
                "True",
                "TerminationByKubelet",
                status["message"],
                now - timedelta(minutes=12),
            ),
        )
    return {"metadata": meta, "spec": spec, "status": status}


def terminated(
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
