"""Reading a Deployment, its Scale, its HPA and its events, and summarising them (bounded)."""

from __future__ import annotations

import re
from typing import Any

from opsagent.errors import NotFound, PolicyRefused
from opsagent.scaling.models import Condition, EventItem, HpaInfo, ReplicaCounts, Rollout

MAX_EVENTS = 10
MAX_EVENTS_SCANNED = 200
HPA_PAGE_SIZE = 500
MAX_HPAS_SCANNED = 5000  # more in one namespace: refuse (cannot tell), never guess "no HPA"
MAX_MESSAGE = 300
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
_RS_IN_MESSAGE = re.compile(r'ReplicaSet "([a-z0-9][-a-z0-9.]{0,252})"')


def deployment_path(namespace: str, name: str) -> str:
    return f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}"


def scale_path(namespace: str, name: str) -> str:
    return deployment_path(namespace, name) + "/scale"


def _clip(text: Any, limit: int = MAX_MESSAGE) -> str | None:
    if text is None:
        return None
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_deployment(kube: Any, namespace: str, name: str) -> dict[str, Any]:
    try:
        return kube.get(deployment_path(namespace, name))
    except NotFound:
        raise NotFound(
            f"deployment {namespace}/{name} does not exist (check the name with listPods or the alarm)",
            namespace=namespace,
            deployment=name,
        ) from None


def read_scale(kube: Any, namespace: str, name: str) -> dict[str, Any]:
    try:
        return kube.get(scale_path(namespace, name))
    except NotFound:
        raise NotFound(
            f"deployment {namespace}/{name} does not exist", namespace=namespace, deployment=name
        ) from None


def scale_replicas(scale: dict[str, Any]) -> int:
    return int((scale.get("spec") or {}).get("replicas") or 0)


def replica_counts(dep: dict[str, Any]) -> ReplicaCounts:
    spec, status = dep.get("spec") or {}, dep.get("status") or {}
    return ReplicaCounts(
        spec=int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1),
        current=int(status.get("replicas") or 0),
        ready=int(status.get("readyReplicas") or 0),
        available=int(status.get("availableReplicas") or 0),
        updated=int(status.get("updatedReplicas") or 0),
        unavailable=int(status.get("unavailableReplicas") or 0),
    )


def rollout(dep: dict[str, Any]) -> Rollout:
    """What ``kubectl rollout status`` would say, from generation and conditions."""
    meta, spec, status = dep.get("metadata") or {}, dep.get("spec") or {}, dep.get("status") or {}
    generation = meta.get("generation")
    observed = status.get("observedGeneration")
    revision = (meta.get("annotations") or {}).get(REVISION_ANNOTATION)
    counts = replica_counts(dep)
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    progressing = conditions.get("Progressing") or {}

    def result(state: str, message: str) -> Rollout:
        return Rollout(
            status=state,
            message=message,
            revision=revision,
            generation=generation,
            observed_generation=observed,
        )

    if spec.get("paused"):
        return result("paused", "the rollout is paused (spec.paused=true)")
    if generation is not None and (observed is None or observed < generation):
        return result("progressing", "waiting for the controller to observe the latest spec")
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        return result("stalled", _clip(progressing.get("message")) or "progress deadline exceeded")
    if counts.updated < counts.spec:
        return result("progressing", f"{counts.updated} of {counts.spec} replicas updated")
    if counts.current > counts.updated:
        return result("progressing", f"{counts.current - counts.updated} old replicas pending termination")
    if counts.available < counts.updated:
        return result("progressing", f"{counts.available} of {counts.updated} updated replicas available")
    return result(
        "complete", f"{counts.available} of {counts.spec} replicas available on the latest revision"
    )


def conditions(dep: dict[str, Any]) -> list[Condition]:
    return [
        Condition(
            type=str(c.get("type")),
            status=str(c.get("status")),
            reason=c.get("reason"),
            message=_clip(c.get("message")),
            last_update=c.get("lastUpdateTime") or c.get("lastTransitionTime"),
        )
        for c in ((dep.get("status") or {}).get("conditions") or [])[:6]
    ]


def newest_replicaset(dep: dict[str, Any]) -> str | None:
    """The ReplicaSet the Progressing condition names (no extra API call)."""
    for c in (dep.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Progressing" and (m := _RS_IN_MESSAGE.search(str(c.get("message") or ""))):
            return m.group(1)
    return None


def _event_time(ev: dict[str, Any]) -> str:
    series = ev.get("series") or {}
    return str(
        series.get("lastObservedTime")
        or ev.get("lastTimestamp")
        or ev.get("eventTime")
        or ev.get("firstTimestamp")
        or (ev.get("metadata") or {}).get("creationTimestamp")
        or ""
    )


def recent_events(kube: Any, namespace: str, objects: list[tuple[str, str]]) -> tuple[list[EventItem], int]:
    """Events about the given (kind, name) objects, newest first, at most MAX_EVENTS."""
    found: list[dict[str, Any]] = []
    for kind, name in objects:
        selector = f"involvedObject.kind={kind},involvedObject.name={name}"
        found.extend(
            kube.list(
                f"/api/v1/namespaces/{namespace}/events",
                {"fieldSelector": selector},
                page_size=MAX_EVENTS_SCANNED,
                limit=MAX_EVENTS_SCANNED,
            )
        )
    found.sort(key=_event_time, reverse=True)
    items = []
    for ev in found[:MAX_EVENTS]:
        involved = ev.get("involvedObject") or {}
        items.append(
            EventItem(
                type=ev.get("type"),
                reason=ev.get("reason"),
                message=_clip(ev.get("message") or ev.get("note")),
                count=(ev.get("series") or {}).get("count") or ev.get("count"),
                last_seen=_event_time(ev) or None,
                object=f"{involved.get('kind')}/{involved.get('name')}",
            )
        )
    return items, max(0, len(found) - MAX_EVENTS)


def find_hpa(kube: Any, namespace: str, name: str) -> HpaInfo | None:
    """The autoscaling/v2 HPA whose scaleTargetRef is this Deployment, if any. Scans every HPA of
    the namespace (page by page); past MAX_HPAS_SCANNED it raises PolicyRefused(hpa_managed)
    rather than answer "none" without having looked at them all."""
    hpas = kube.list(
        f"/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers",
        page_size=HPA_PAGE_SIZE,
        limit=MAX_HPAS_SCANNED + 1,
    )
    for scanned, hpa in enumerate(hpas, start=1):
        if scanned > MAX_HPAS_SCANNED:
            raise PolicyRefused(
                f"namespace {namespace!r} has more than {MAX_HPAS_SCANNED} HorizontalPodAutoscalers; "
                f"cannot tell whether one manages {name}, so it is not scaled",
                rule="hpa_managed",
                limit=MAX_HPAS_SCANNED,
            )
        spec, status = hpa.get("spec") or {}, hpa.get("status") or {}
        ref = spec.get("scaleTargetRef") or {}
        if ref.get("kind") == "Deployment" and ref.get("name") == name:
            return HpaInfo(
                name=str((hpa.get("metadata") or {}).get("name")),
                min_replicas=spec.get("minReplicas", 1),
                max_replicas=spec.get("maxReplicas"),
                current_replicas=status.get("currentReplicas"),
                desired_replicas=status.get("desiredReplicas"),
            )
    return None


def containers(dep: dict[str, Any]) -> list[dict[str, str]]:
    pod_spec = ((dep.get("spec") or {}).get("template") or {}).get("spec") or {}
    return [
        {"name": str(c.get("name")), "image": _clip(c.get("image"), 200) or ""}
        for c in (pod_spec.get("containers") or [])[:5]
    ]


def labels(dep: dict[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in ((dep.get("metadata") or {}).get("labels") or {}).items()}


def template_labels(dep: dict[str, Any]) -> dict[str, str]:
    template = ((dep.get("spec") or {}).get("template") or {}).get("metadata") or {}
    return {str(k): str(v) for k, v in (template.get("labels") or {}).items()}
