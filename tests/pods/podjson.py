"""Realistic Kubernetes Pod / Event JSON, shaped like `kubectl get pod -o json` output on EKS.

Each builder returns a full object (metadata with ownerReferences and labels, spec with resources,
status with conditions and container statuses) for one well-known situation."""

from __future__ import annotations

import copy
from typing import Any

T0 = "2026-03-02T09:00:00Z"
T1 = "2026-03-02T09:41:07Z"
T2 = "2026-03-02T09:47:55Z"


def _conditions(ready: bool, scheduled: bool = True, sched_msg: str | None = None) -> list[dict[str, Any]]:
    conds = [
        {
            "type": "PodReadyToStartContainers",
            "status": "True" if scheduled else "False",
            "lastTransitionTime": T0,
        },
        {"type": "Initialized", "status": "True", "lastTransitionTime": T0},
        {
            "type": "Ready",
            "status": "True" if ready else "False",
            "lastTransitionTime": T1,
            **(
                {}
                if ready
                else {"reason": "ContainersNotReady", "message": "containers with unready status: [api]"}
            ),
        },
        {
            "type": "ContainersReady",
            "status": "True" if ready else "False",
            "lastTransitionTime": T1,
            **(
                {}
                if ready
                else {"reason": "ContainersNotReady", "message": "containers with unready status: [api]"}
            ),
        },
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": T0},
    ]
    if not scheduled:
        conds = [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "lastTransitionTime": T1,
                "message": sched_msg
                or "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are "
                "available: 3 No preemption victims found for incoming pod.",
            }
        ]
    return conds


def running_state(started: str = T1) -> dict[str, Any]:
    return {"running": {"startedAt": started}}


def container_status(
    name: str = "api",
    *,
    image: str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/checkout:1.14.2",
    ready: bool = True,
    restarts: int = 0,
    state: dict[str, Any] | None = None,
    last: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "name": name,
        "state": state or running_state(),
        "lastState": {"terminated": last} if last else {},
        "ready": ready,
        "restartCount": restarts,
        "image": image,
        "imageID": image.split(":")[0] + "@sha256:" + "ab" * 32,
        "containerID": "containerd://" + "cd" * 32,
        "started": bool((state or running_state()).get("running")),
    }


def pod(
    name: str = "checkout-7d9f8b6c5d-x2x7q",
    *,
    namespace: str = "shop",
    app: str = "checkout",
    owner: tuple[str, str] | None = ("ReplicaSet", "checkout-7d9f8b6c5d"),
    pod_hash: str | None = "7d9f8b6c5d",
    phase: str = "Running",
    ready: bool = True,
    containers: list[dict[str, Any]] | None = None,
    init_containers: list[dict[str, Any]] | None = None,
    node: str | None = "ip-10-0-12-34.ec2.internal",
    memory_limit: str = "512Mi",
    uid: str | None = None,
    **status_extra: Any,
) -> dict[str, Any]:
    statuses = containers if containers is not None else [container_status()]
    labels = {"app": app, "app.kubernetes.io/name": app}
    if pod_hash:
        labels["pod-template-hash"] = pod_hash
    meta: dict[str, Any] = {
        "name": name,
        "generateName": name.rsplit("-", 1)[0] + "-",
        "namespace": namespace,
        "uid": uid or f"uid-{name}",
        "resourceVersion": "48213",
        "creationTimestamp": T0,
        "labels": labels,
    }
    if owner:
        meta["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": owner[0],
                "name": owner[1],
                "uid": f"uid-{owner[1]}",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    spec_containers = [
        {
            "name": cs["name"],
            "image": cs["image"],
            "ports": [{"containerPort": 8080, "protocol": "TCP"}],
            "resources": {
                "requests": {"cpu": "250m", "memory": "256Mi"},
                "limits": {"cpu": "1", "memory": memory_limit},
            },
            "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 5},
        }
        for cs in statuses
    ]
    spec: dict[str, Any] = {
        "containers": spec_containers,
        "restartPolicy": "Always",
        "serviceAccountName": "checkout",
        "schedulerName": "default-scheduler",
    }
    if init_containers is not None:
        spec["initContainers"] = [{"name": c["name"], "image": c["image"]} for c in init_containers]
    if node:
        spec["nodeName"] = node
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": _conditions(ready),
        "hostIP": "10.0.12.34",
        "podIP": "10.0.13.77",
        "startTime": T0,
        "containerStatuses": statuses,
        "qosClass": "Burstable",
    }
    if init_containers is not None:
        status["initContainerStatuses"] = init_containers
    status.update(status_extra)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}


# ---------------------------------------------------------------------------- situations
def healthy(name: str = "checkout-7d9f8b6c5d-aaaaa", **kw: Any) -> dict[str, Any]:
    return pod(name, **kw)


def crashloop(
    name: str = "checkout-7d9f8b6c5d-crash", restarts: int = 14, exit_code: int = 1
) -> dict[str, Any]:
    cs = container_status(
        ready=False,
        restarts=restarts,
        state={
            "waiting": {
                "reason": "CrashLoopBackOff",
                "message": f"back-off 5m0s restarting failed container=api pod={name}_shop(uid)",
            }
        },
        last={
            "exitCode": exit_code,
            "reason": "Error",
            "message": "panic: dial tcp 10.0.40.2:5432: connect: connection refused",
            "startedAt": T1,
            "finishedAt": T2,
            "containerID": "containerd://" + "ef" * 32,
        },
    )
    return pod(name, ready=False, containers=[cs])


def oomkilled_crashloop(name: str = "checkout-7d9f8b6c5d-oomcl") -> dict[str, Any]:
    cs = container_status(
        ready=False,
        restarts=6,
        state={
            "waiting": {"reason": "CrashLoopBackOff", "message": "back-off 2m40s restarting failed container"}
        },
        last={"exitCode": 137, "reason": "OOMKilled", "startedAt": T1, "finishedAt": T2},
    )
    return pod(name, ready=False, containers=[cs], memory_limit="256Mi")


def oomkilled_recovered(name: str = "checkout-7d9f8b6c5d-oomok") -> dict[str, Any]:
    cs = container_status(
        restarts=1, last={"exitCode": 137, "reason": "OOMKilled", "startedAt": T0, "finishedAt": T1}
    )
    return pod(name, containers=[cs], memory_limit="1Gi")


def image_pull(name: str = "checkout-5c8f7d9b4-pull1", reason: str = "ImagePullBackOff") -> dict[str, Any]:
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/checkout:1.15.0-typo"
    msg = (
        f'Back-off pulling image "{image}"'
        if reason == "ImagePullBackOff"
        else f'rpc error: code = NotFound desc = failed to pull and unpack image "{image}": not found'
    )
    cs = container_status(image=image, ready=False, state={"waiting": {"reason": reason, "message": msg}})
    return pod(
        name,
        phase="Pending",
        ready=False,
        containers=[cs],
        pod_hash="5c8f7d9b4",
        owner=("ReplicaSet", "checkout-5c8f7d9b4"),
    )


def unschedulable(name: str = "checkout-7d9f8b6c5d-pend1", message: str | None = None) -> dict[str, Any]:
    p = pod(name, phase="Pending", ready=False, containers=[], node=None)
    p["status"] = {
        "phase": "Pending",
        "conditions": _conditions(False, scheduled=False, sched_msg=message),
        "qosClass": "Burstable",
    }
    p["spec"]["containers"] = [
        {"name": "api", "image": "checkout:1.14.2", "resources": {"requests": {"cpu": "4", "memory": "8Gi"}}}
    ]
    return p


def evicted(name: str = "checkout-7d9f8b6c5d-evict") -> dict[str, Any]:
    cs = container_status(
        ready=False,
        state={
            "terminated": {
                "exitCode": 137,
                "reason": "ContainerStatusUnknown",
                "finishedAt": T1,
                "message": "The container could not be located when the pod was terminated",
            }
        },
    )
    return pod(
        name,
        phase="Failed",
        ready=False,
        containers=[cs],
        reason="Evicted",
        message="The node was low on resource: memory. Threshold quantity: 100Mi, available: 88200Ki. "
        "Container api was using 1843Mi, request is 256Mi, has larger consumption of memory.",
    )


def not_ready(name: str = "checkout-7d9f8b6c5d-nrdy1") -> dict[str, Any]:
    return pod(
        name,
        ready=False,
        containers=[container_status("api", ready=False), container_status("envoy", image="envoy:v1.31")],
    )


def high_restarts(name: str = "checkout-7d9f8b6c5d-rstrt", restarts: int = 9) -> dict[str, Any]:
    cs = container_status(
        restarts=restarts, last={"exitCode": 2, "reason": "Error", "startedAt": T0, "finishedAt": T1}
    )
    return pod(name, containers=[cs])


def config_error(name: str = "checkout-7d9f8b6c5d-cfger") -> dict[str, Any]:
    cs = container_status(
        ready=False,
        state={
            "waiting": {"reason": "CreateContainerConfigError", "message": 'secret "checkout-db" not found'}
        },
    )
    return pod(name, phase="Pending", ready=False, containers=[cs])


def init_crash(name: str = "checkout-7d9f8b6c5d-initc") -> dict[str, Any]:
    init = container_status(
        "migrate",
        image="checkout-migrate:1.14.2",
        ready=False,
        restarts=4,
        state={
            "waiting": {"reason": "CrashLoopBackOff", "message": "back-off 1m20s restarting failed container"}
        },
        last={
            "exitCode": 3,
            "reason": "Error",
            "message": "migration 0042 failed: relation exists",
            "startedAt": T1,
            "finishedAt": T2,
        },
    )
    main = container_status(ready=False, state={"waiting": {"reason": "PodInitializing"}})
    p = pod(name, phase="Pending", ready=False, containers=[main], init_containers=[init])
    for cond in p["status"]["conditions"]:  # a pod whose init container fails is not Initialized
        if cond["type"] == "Initialized":
            cond.update(status="False", reason="ContainersNotInitialized")
    return p


def succeeded_job(name: str = "report-28551140-abcde") -> dict[str, Any]:
    cs = container_status(
        "report", ready=False, state={"terminated": {"exitCode": 0, "reason": "Completed", "finishedAt": T1}}
    )
    p = pod(
        name,
        phase="Succeeded",
        ready=False,
        containers=[cs],
        owner=("Job", "report-28551140"),
        pod_hash=None,
        app="report",
    )
    return p


def failed_job(name: str = "report-28551141-fghij") -> dict[str, Any]:
    cs = container_status(
        "report", ready=False, state={"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": T1}}
    )
    return pod(
        name,
        phase="Failed",
        ready=False,
        containers=[cs],
        owner=("Job", "report-28551141"),
        pod_hash=None,
        app="report",
    )


def statefulset_pod(name: str = "redis-0") -> dict[str, Any]:
    return pod(name, app="redis", owner=("StatefulSet", "redis"), pod_hash=None)


def event(
    pod_name: str,
    reason: str,
    message: str,
    last: str,
    *,
    type_: str = "Warning",
    count: int = 1,
    uid: str | None = None,
    namespace: str = "shop",
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{pod_name}.{abs(hash((reason, last))) % 10**16:x}",
            "namespace": namespace,
            "creationTimestamp": last,
        },
        "involvedObject": {
            "kind": "Pod",
            "namespace": namespace,
            "name": pod_name,
            "uid": uid or f"uid-{pod_name}",
            "apiVersion": "v1",
            "fieldPath": "spec.containers{api}",
        },
        "reason": reason,
        "message": message,
        "source": {"component": "kubelet", "host": "ip-10-0-12-34.ec2.internal"},
        "firstTimestamp": T0,
        "lastTimestamp": last,
        "count": count,
        "type": type_,
        "eventTime": None,
        "reportingComponent": "kubelet",
        "reportingInstance": "ip-10-0-12-34.ec2.internal",
    }


def clone(obj: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(obj)
