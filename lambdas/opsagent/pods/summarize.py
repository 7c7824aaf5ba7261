"""Pure functions from Kubernetes Pod/Event JSON (as the API returns it) to bounded summaries.

No I/O here: :mod:`opsagent.pods.operations` streams objects from the cluster into these.

Problem reasons and how they rank (most severe first; ties: more restarts first, then API order):

====================================  ========  ==========================================================
reason                                severity  taken from
====================================  ========  ==========================================================
CrashLoopBackOff                      100       ``state.waiting.reason`` (+ ``lastState.terminated``)
OOMKilled (container down now)        95        ``state.terminated.reason``
ImagePullBackOff, ErrImagePull, ...   90        ``state.waiting.reason`` (+ image)
CreateContainerConfigError, ...       90        ``state.waiting.reason`` (missing Secret/ConfigMap...)
Init:<reason>                         88        the same on an init container, or a failed init container
Failed / Error                        80        ``status.phase`` Failed, or a container terminated non-zero
Unschedulable / SchedulingGated       75        ``PodScheduled`` condition False: the scheduler's message
OOMKilled (earlier instance)          70        ``lastState.terminated.reason`` of a running container
Unknown                               65        ``status.phase`` Unknown (node lost)
NotReady                              60        Running but not Ready (which containers)
Terminating, stuck                    55        deletion was due more than a minute ago (needs a clock)
Evicted                               50        ``status.reason`` Evicted + ``status.message``
Pending / ContainerCreating           45        Pending for another reason (still being created)
HighRestarts                          30        >= 5 restarts and a recorded last termination
Terminating                           15        ``metadata.deletionTimestamp`` set, within its grace period
====================================  ========  ==========================================================

A pod being deleted is reported as Terminating whatever its containers do: during a graceful
shutdown readiness fails and containers exit 143/137, which is the rollout, not a failure.
Restarts are counted like kubectl's RESTARTS column: regular and sidecar containers, plus the init
containers' while the pod is still initializing.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from opsagent.pods.models import (
    ConditionInfo,
    ContainerInfo,
    EventInfo,
    PodDescription,
    PodList,
    ProblemPod,
    ProblemSummary,
)
from opsagent.redaction import sanitize

MAX_PROBLEM_PODS = 10
MAX_OWNERS = 8
MAX_REASONS = 15
MAX_SAMPLE_OWNERS = 8  # workloads named in sample_pods
SAMPLES_PER_OWNER = 3  # pod names per workload
MAX_EVENTS = 10
MAX_CONTAINERS = 10
MAX_LABELS = 12
HIGH_RESTARTS = 5
MESSAGE_CHARS = 200
NAME_CHARS = 253
STUCK_TERMINATING_SLACK_S = 60

_PULL = {
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "ErrImageNeverPull",
    "RegistryUnavailable",
    "SignatureValidationFailed",
}
_CREATE = {
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
    "PreStartHookError",
    "PostStartHookError",
    "ContainerCannotRun",
    "StartError",
}
_BENIGN_WAITING = {"ContainerCreating", "PodInitializing"}
_HASH = re.compile(r"[a-z0-9]{5,10}")


# ---------------------------------------------------------------------------- small helpers
def _short(value: Any, limit: int = NAME_CHARS) -> str | None:
    """Names and reasons from the cluster: control characters out, bounded length."""
    if value is None:
        return None
    return sanitize(str(value), limit)


def _message(value: Any) -> str | None:
    text = sanitize(value, MESSAGE_CHARS) if value else None
    return text or None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _controller_ref(meta: dict[str, Any]) -> dict[str, Any] | None:
    refs = meta.get("ownerReferences") or []
    for ref in refs:
        if ref.get("controller"):
            return ref
    return refs[0] if refs else None


def owner_of(pod: dict[str, Any]) -> str | None:
    """``Kind/name`` of the workload that owns the pod (raw, unsanitized); a ReplicaSet named
    ``<deploy>-<pod-template-hash>`` is reported as its Deployment."""
    meta = pod.get("metadata") or {}
    ref = _controller_ref(meta)
    if not ref:
        return None
    kind, name = str(ref.get("kind") or "?"), str(ref.get("name") or "?")
    if kind == "ReplicaSet":
        pod_hash = (meta.get("labels") or {}).get("pod-template-hash")
        if pod_hash and name.endswith(f"-{pod_hash}"):
            kind, name = "Deployment", name[: -len(pod_hash) - 1]
    return f"{kind}/{name}"


def matches_workload(pod: dict[str, Any], workload: str) -> bool:
    """Is the pod part of the Deployment/StatefulSet/DaemonSet/Job (or app) called ``workload``?

    True when an ownerReference names it (a ReplicaSet ``<workload>-<pod-template-hash>`` counts as
    its Deployment; a Job ``<workload>-<digits>`` as its CronJob), or when the labels
    ``app.kubernetes.io/name`` or ``app`` equal it."""
    meta = pod.get("metadata") or {}
    labels = meta.get("labels") or {}
    if labels.get("app.kubernetes.io/name") == workload or labels.get("app") == workload:
        return True
    prefix = f"{workload}-"
    for ref in meta.get("ownerReferences") or []:
        name = str(ref.get("name") or "")
        if name == workload:
            return True
        if not name.startswith(prefix):
            continue
        suffix = name[len(prefix) :]
        kind = ref.get("kind")
        if kind == "ReplicaSet":
            pod_hash = labels.get("pod-template-hash")
            if suffix == pod_hash or (not pod_hash and _HASH.fullmatch(suffix)):
                return True
        elif kind == "Job" and suffix.isdigit():
            return True
    return False


def _resources(spec_container: dict[str, Any]) -> tuple[dict[str, str] | None, dict[str, str] | None]:
    res = spec_container.get("resources") or {}

    def clean(d: Any) -> dict[str, str] | None:
        if not isinstance(d, dict) or not d:
            return None
        return {str(k)[:63]: str(v)[:32] for k, v in list(d.items())[:6]}

    return clean(res.get("requests")), clean(res.get("limits"))


def _spec_containers(pod: dict[str, Any], key: str = "containers") -> dict[str, dict[str, Any]]:
    return {c.get("name"): c for c in (pod.get("spec") or {}).get(key) or [] if isinstance(c, dict)}


def _condition(status: dict[str, Any], ctype: str) -> dict[str, Any] | None:
    for cond in status.get("conditions") or []:
        if cond.get("type") == ctype:
            return cond
    return None


def _ready_text(pod: dict[str, Any]) -> tuple[str, list[str]]:
    """``"1/2"`` and the names of the containers that are not ready."""
    spec_names = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
    statuses = {s.get("name"): s for s in (pod.get("status") or {}).get("containerStatuses") or []}
    names = spec_names or list(statuses)
    not_ready = [n for n in names if not (statuses.get(n) or {}).get("ready")]
    return f"{len(names) - len(not_ready)}/{len(names)}", not_ready


def is_ready(pod: dict[str, Any]) -> bool:
    cond = _condition(pod.get("status") or {}, "Ready")
    return bool(cond and cond.get("status") == "True")


def restarts_of(pod: dict[str, Any]) -> int:
    """kubectl's RESTARTS: regular + sidecar (``restartPolicy: Always``) init containers; the other
    init containers count only while the pod is still initializing (afterwards they are history)."""
    status = pod.get("status") or {}
    init_specs = _spec_containers(pod, "initContainers")
    init_total = sidecars = 0
    initializing = False
    for cs in status.get("initContainerStatuses") or []:
        count = _int(cs.get("restartCount")) or 0
        init_total += count
        if (init_specs.get(cs.get("name")) or {}).get("restartPolicy") == "Always":
            sidecars += count
        elif not _init_completed(cs):
            initializing = True
    main = sum(_int(cs.get("restartCount")) or 0 for cs in status.get("containerStatuses") or [])
    initialized = (_condition(status, "Initialized") or {}).get("status") == "True"
    return main + (init_total if initializing and not initialized else sidecars)


# ---------------------------------------------------------------------------- classification
def _container_candidates(
    pod: dict[str, Any], statuses: list[dict[str, Any]], specs: dict[str, dict[str, Any]], init: bool
) -> list[tuple[int, dict[str, Any]]]:
    out: list[tuple[int, dict[str, Any]]] = []
    for cs in statuses:
        name = cs.get("name")
        state = cs.get("state") or {}
        last = (cs.get("lastState") or {}).get("terminated") or {}
        waiting = state.get("waiting") or {}
        terminated = state.get("terminated") or {}
        base = {
            "container": name,
            "last_exit_code": _int(last.get("exitCode")),
            "last_termination_reason": last.get("reason"),
            "since": last.get("finishedAt"),
        }
        limits = _resources(specs.get(name) or {})[1] or {}
        wreason = waiting.get("reason")
        found: tuple[int, dict[str, Any]] | None = None
        if wreason == "CrashLoopBackOff":
            detail = last.get("message") or None
            fields = {**base, "reason": "CrashLoopBackOff", "detail": detail}
            if last.get("reason") == "OOMKilled":
                fields["memory_limit"] = limits.get("memory")
            found = (100, fields)
        elif wreason in _PULL:
            found = (
                90,
                {
                    **base,
                    "reason": wreason,
                    "image": cs.get("image") or (specs.get(name) or {}).get("image"),
                    "detail": waiting.get("message"),
                    "since": None,
                },
            )
        elif wreason in _CREATE:
            found = (90, {**base, "reason": wreason, "detail": waiting.get("message"), "since": None})
        elif wreason and wreason not in _BENIGN_WAITING:
            found = (45, {**base, "reason": wreason, "detail": waiting.get("message")})
        elif terminated and (init is False or _int(terminated.get("exitCode")) not in (0, None)):
            code = _int(terminated.get("exitCode"))
            treason = terminated.get("reason") or ("Error" if code else "Completed")
            if treason == "OOMKilled":
                found = (
                    95,
                    {
                        **base,
                        "reason": "OOMKilled",
                        "last_exit_code": code,
                        "last_termination_reason": "OOMKilled",
                        "memory_limit": limits.get("memory"),
                        "since": terminated.get("finishedAt"),
                        "detail": terminated.get("message"),
                    },
                )
            elif code:
                found = (
                    80,
                    {
                        **base,
                        "reason": treason,
                        "last_exit_code": code,
                        "last_termination_reason": treason,
                        "since": terminated.get("finishedAt"),
                        "detail": terminated.get("message"),
                    },
                )
        elif last.get("reason") == "OOMKilled" and not init:
            found = (70, {**base, "reason": "OOMKilled", "memory_limit": limits.get("memory")})
        if found:
            severity, fields = found
            if init:
                severity, fields = 88, {**fields, "reason": f"Init:{fields['reason']}"}
            out.append((severity, fields))
    return out


def _parse_ts(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _terminating(meta: dict[str, Any], now: datetime | None) -> tuple[int, dict[str, Any]]:
    """``deletionTimestamp`` is when the grace period *ends*; later than that (plus slack) the pod
    is stuck: a finalizer, or a node that no longer answers."""
    due = meta.get("deletionTimestamp")
    grace = _int(meta.get("deletionGracePeriodSeconds"))
    finalizers = [str(f) for f in meta.get("finalizers") or []][:3]
    detail = f"deletion requested; grace period ({grace}s) ends {due}" if grace else f"deletion due {due}"
    severity = 15
    due_at = _parse_ts(due)
    if now is not None and due_at is not None:
        late = (now - due_at).total_seconds()
        if late > STUCK_TERMINATING_SLACK_S:
            severity = 55
            detail = f"stuck: deletion was due {int(late // 60)} min ago ({due}); " + (
                f"finalizers: {', '.join(finalizers)}" if finalizers else "is its node still Ready?"
            )
    return severity, {"reason": "Terminating", "detail": detail, "since": due}


def classify(pod: dict[str, Any], now: datetime | None = None) -> tuple[int, dict[str, Any]] | None:
    """The pod's most severe problem as ``(severity, ProblemPod fields)``, or None when healthy
    (Running and Ready with few restarts, or Succeeded). ``now`` (timezone-aware) lets a pod that
    stays Terminating past its grace period be called stuck."""
    meta = pod.get("metadata") or {}
    status = pod.get("status") or {}
    phase = status.get("phase") or "Unknown"
    restarts = restarts_of(pod)
    candidates: list[tuple[int, dict[str, Any]]] = []

    if phase == "Succeeded":
        return None
    if meta.get("deletionTimestamp"):
        candidates.append(_terminating(meta, now))
        return _finish(pod, phase, restarts, candidates)
    specs = _spec_containers(pod)
    init_specs = _spec_containers(pod, "initContainers")
    containers = _container_candidates(pod, status.get("initContainerStatuses") or [], init_specs, True)
    containers += _container_candidates(pod, status.get("containerStatuses") or [], specs, False)
    if phase == "Failed" and status.get("reason") == "Evicted":
        # the kubelet killed the containers (exit 137 / ContainerStatusUnknown): eviction is the story
        candidates.append((50, {"reason": "Evicted", "detail": status.get("message")}))
        containers = []
    elif phase == "Failed":
        # keep the failing container's exit code on the pod-level reason
        failing = next((f for sev, f in containers if f.get("last_exit_code")), {})
        candidates.append(
            (
                80,
                {
                    **{k: failing.get(k) for k in ("container", "last_exit_code", "last_termination_reason")},
                    "reason": "Failed",
                    "detail": status.get("message") or failing.get("detail") or status.get("reason"),
                    "since": failing.get("since"),
                },
            )
        )
        containers = [c for c in containers if c[0] > 80]
    elif phase == "Unknown":
        candidates.append(
            (65, {"reason": "Unknown", "detail": status.get("message") or status.get("reason")})
        )
    candidates += containers

    if phase == "Pending":
        scheduled = _condition(status, "PodScheduled")
        if scheduled and scheduled.get("status") == "False":
            gated = scheduled.get("reason") == "SchedulingGated"
            candidates.append(
                (
                    75,
                    {
                        "reason": "SchedulingGated" if gated else "Unschedulable",
                        "detail": scheduled.get("message") or scheduled.get("reason"),
                        "since": scheduled.get("lastTransitionTime"),
                    },
                )
            )
        else:
            waiting = [
                (cs.get("state") or {}).get("waiting") or {}
                for cs in (status.get("initContainerStatuses") or [])
                + (status.get("containerStatuses") or [])
            ]
            reason = next((w.get("reason") for w in waiting if w.get("reason")), None) or "Pending"
            candidates.append((45, {"reason": reason, "since": meta.get("creationTimestamp")}))

    _, not_ready = _ready_text(pod)
    if phase == "Running" and not is_ready(pod):
        ready_cond = _condition(status, "Ready") or {}
        detail = (
            "containers not ready: " + ", ".join(str(n) for n in not_ready[:5])
            if not_ready
            else ready_cond.get("message") or ready_cond.get("reason") or "Ready condition is not True"
        )
        candidates.append(
            (
                60,
                {
                    "reason": "NotReady",
                    "container": not_ready[0] if not_ready else None,
                    "detail": detail,
                    "since": ready_cond.get("lastTransitionTime"),
                },
            )
        )
    # the container with most restarts tells the story; a restart count without a recorded
    # termination (the kubelet keeps the last one) is history, not a current problem
    worst = max(status.get("containerStatuses") or [{}], key=lambda cs: _int(cs.get("restartCount")) or 0)
    last = (worst.get("lastState") or {}).get("terminated") or {}
    if restarts >= HIGH_RESTARTS and last:
        candidates.append(
            (
                30,
                {
                    "reason": "HighRestarts",
                    "container": worst.get("name"),
                    "last_exit_code": _int(last.get("exitCode")),
                    "last_termination_reason": last.get("reason"),
                    "since": last.get("finishedAt"),
                },
            )
        )
    return _finish(pod, phase, restarts, candidates)


def _finish(
    pod: dict[str, Any], phase: str, restarts: int, candidates: list[tuple[int, dict[str, Any]]]
) -> tuple[int, dict[str, Any]] | None:
    if not candidates:
        return None
    severity, fields = max(candidates, key=lambda c: c[0])
    fields = {k: v for k, v in fields.items() if v is not None}
    fields.update(
        name=(pod.get("metadata") or {}).get("name") or "?",
        phase=phase,
        ready=_ready_text(pod)[0],
        restarts=restarts,
        node=(pod.get("spec") or {}).get("nodeName"),
        owner=owner_of(pod),
    )
    return severity, fields


_FIELD_LIMITS = {
    "name": NAME_CHARS,
    "reason": 63,
    "container": 63,
    "image": 200,
    "phase": 32,
    "last_termination_reason": 63,
    "memory_limit": 32,
    "node": NAME_CHARS,
    "owner": 300,
    "since": 40,
    "ready": 16,
}


def problem_pod(fields: dict[str, Any]) -> ProblemPod:
    """The model for one classified pod: every cluster string sanitized (control characters,
    secrets) and bounded. Done only for the pods that are shown, not for every pod scanned."""
    clean: dict[str, Any] = {}
    for key, value in fields.items():
        if value is None:
            continue
        if key == "detail":
            clean[key] = _message(value)
        elif key in _FIELD_LIMITS:
            clean[key] = _short(value, _FIELD_LIMITS[key])
        else:
            clean[key] = value
    return ProblemPod(**clean)


# ---------------------------------------------------------------------------- listPods
class PodListAccumulator:
    """Streams pods into aggregates and a bounded heap of the worst ones: memory stays
    O(MAX_PROBLEM_PODS + distinct owners/reasons), whatever the namespace size."""

    def __init__(
        self,
        *,
        workload: str | None = None,
        max_problem_pods: int = MAX_PROBLEM_PODS,
        now: datetime | None = None,
    ) -> None:
        self.workload = workload
        self.now = now
        self.max_problem_pods = max_problem_pods
        self.scanned = 0
        self.total = 0
        self.phases: Counter = Counter()
        self.ready = 0
        self.not_ready = 0
        self.restarts = 0
        self.problems = 0
        self.by_reason: Counter = Counter()
        self.by_owner: Counter = Counter()
        self._heap: list[tuple[tuple[int, int, int], dict[str, Any]]] = []
        # owner -> (ready names, other names), each at most SAMPLES_PER_OWNER; owners beyond
        # MAX_SAMPLE_OWNERS are only counted
        self._samples: dict[str, tuple[list[str], list[str]]] = {}
        self._sample_owners_seen: set[str] = set()

    def _sample(self, pod: dict[str, Any], ready: bool) -> None:
        name = _short((pod.get("metadata") or {}).get("name"), 253)
        if not name:
            return
        owner = _short(owner_of(pod), 300) or "(no owner)"
        self._sample_owners_seen.add(owner)
        if owner not in self._samples:
            if len(self._samples) >= MAX_SAMPLE_OWNERS:
                return
            self._samples[owner] = ([], [])
        bucket = self._samples[owner][0 if ready else 1]
        if len(bucket) < SAMPLES_PER_OWNER:
            bucket.append(name)

    def add(self, pod: dict[str, Any]) -> None:
        self.scanned += 1
        if self.workload and not matches_workload(pod, self.workload):
            return
        self.total += 1
        status = pod.get("status") or {}
        phase = str(status.get("phase") or "Unknown")[:32]
        self.phases[phase] += 1
        ready = is_ready(pod)
        self._sample(pod, ready)
        if ready:
            self.ready += 1
        elif phase in ("Running", "Pending", "Unknown"):
            self.not_ready += 1
        self.restarts += restarts_of(pod)
        found = classify(pod, self.now)
        if found is None:
            return
        severity, fields = found
        self.problems += 1
        self.by_reason[fields["reason"]] += 1
        self.by_owner[fields.get("owner") or "(no owner)"] += 1
        # min-heap on (severity, restarts, -arrival): the root is the least severe kept pod
        key = (severity, fields["restarts"], -self.total)
        if len(self._heap) < self.max_problem_pods:
            heapq.heappush(self._heap, (key, fields))
        elif key > self._heap[0][0]:
            heapq.heapreplace(self._heap, (key, fields))

    def result(
        self,
        namespace: str,
        *,
        selector: str | None = None,
        scan_stopped: bool = False,
        note: str | None = None,
    ) -> PodList:
        worst = [problem_pod(fields) for _, fields in sorted(self._heap, key=lambda e: e[0], reverse=True)]
        reasons = {_short(k, 63) or "?": v for k, v in self.by_reason.most_common(MAX_REASONS)}
        if len(self.by_reason) > MAX_REASONS:
            reasons["(other)"] = sum(self.by_reason.values()) - sum(reasons.values())
        owners = {_short(k, 300) or "?": v for k, v in self.by_owner.most_common(MAX_OWNERS)}
        owners_omitted = max(0, len(self.by_owner) - MAX_OWNERS)
        omitted = self.problems - len(worst)
        if note is None and self.total == 0:
            note = (
                "no pods matched: check the namespace name, the selector and the workload name"
                if self.scanned == 0
                else f"none of the {self.scanned} pods in the namespace belong to workload {self.workload!r}"
            )
        return PodList(
            namespace=namespace,
            selector=selector or None,
            workload=self.workload,
            pods_total=self.total,
            phases=dict(self.phases.most_common(8)),
            ready=self.ready,
            not_ready=self.not_ready,
            restarts_total=self.restarts,
            problem_pods_total=self.problems,
            problems_by_reason=reasons,
            problems_by_owner=owners,
            problems_by_owner_omitted=owners_omitted,
            problem_pods=worst,
            problem_pods_omitted=omitted,
            sample_pods={o: (r + other)[:SAMPLES_PER_OWNER] for o, (r, other) in self._samples.items()},
            sample_pods_omitted=len(self._sample_owners_seen) - len(self._samples),
            truncated=bool(omitted or owners_omitted or scan_stopped),
            note=note,
        )


# ---------------------------------------------------------------------------- describePod
def _ts_key(ts: Any) -> str:
    """Sortable form of an RFC 3339 timestamp (with or without fractional seconds)."""
    if not ts:
        return ""
    text = str(ts)
    base, frac = text[:19], ""
    if len(text) > 19 and text[19] == ".":
        frac = "".join(ch for ch in text[20:30] if ch.isdigit())
    return f"{base}.{frac.ljust(9, '0')}"


def event_time(event: dict[str, Any]) -> str | None:
    return (
        event.get("lastTimestamp")
        or (event.get("series") or {}).get("lastObservedTime")
        or event.get("eventTime")
        or event.get("firstTimestamp")
        or (event.get("metadata") or {}).get("creationTimestamp")
    )


def summarize_event(event: dict[str, Any]) -> EventInfo:
    source = event.get("source") or {}
    count = _int(event.get("count")) or _int((event.get("series") or {}).get("count")) or 1
    return EventInfo(
        type=_short(event.get("type"), 16),
        reason=_short(event.get("reason"), 63),
        message=_message(event.get("message")),
        count=count,
        last_seen=_short(event_time(event), 40),
        source=_short(source.get("component") or event.get("reportingComponent"), 63),
    )


def newest_events(
    events: Iterable[dict[str, Any]], *, uid: str | None = None, limit: int = MAX_EVENTS
) -> tuple[list[EventInfo], int]:
    """The ``limit`` newest events (newest first) and how many others there were. Events of an
    earlier pod with the same name (StatefulSets reuse names) are skipped when uids are known."""
    heap: list[tuple[str, int, dict[str, Any]]] = []
    seen = 0
    for i, event in enumerate(events):
        ev_uid = (event.get("involvedObject") or {}).get("uid")
        if uid and ev_uid and ev_uid != uid:
            continue
        seen += 1
        entry = (_ts_key(event_time(event)), i, event)
        if len(heap) < limit:
            heapq.heappush(heap, entry)
        elif entry[:2] > heap[0][:2]:
            heapq.heapreplace(heap, entry)
    ordered = sorted(heap, key=lambda e: e[:2], reverse=True)
    return [summarize_event(e) for _, _, e in ordered], seen - len(ordered)


def _container_info(cs: dict[str, Any] | None, spec: dict[str, Any], name: str) -> ContainerInfo:
    cs = cs or {}
    state = cs.get("state") or {}
    kind = next((k for k in ("running", "waiting", "terminated") if k in state), "unknown")
    detail = state.get(kind) or {}
    last = (cs.get("lastState") or {}).get("terminated") or {}
    requests, limits = _resources(spec)
    return ContainerInfo(
        name=_short(name, 63) or "?",
        image=_short(cs.get("image") or spec.get("image"), 200),
        ready=bool(cs.get("ready")),
        restarts=_int(cs.get("restartCount")) or 0,
        state=kind,
        state_reason=_short(detail.get("reason"), 63),
        state_message=_message(detail.get("message")),
        exit_code=_int(detail.get("exitCode")) if kind == "terminated" else None,
        started_at=_short(detail.get("startedAt"), 40),
        last_termination_reason=_short(last.get("reason"), 63),
        last_exit_code=_int(last.get("exitCode")),
        last_finished_at=_short(last.get("finishedAt"), 40),
        last_termination_message=_message(last.get("message")),
        requests=requests,
        limits=limits,
    )


def _init_completed(cs: dict[str, Any]) -> bool:
    terminated = (cs.get("state") or {}).get("terminated") or {}
    return bool(terminated) and _int(terminated.get("exitCode")) == 0


def _summary(fields: dict[str, Any]) -> ProblemSummary:
    shown = problem_pod(fields)
    return ProblemSummary(reason=shown.reason, detail=shown.detail, container=shown.container)


def describe(
    pod: dict[str, Any],
    events: Iterable[dict[str, Any]] = (),
    *,
    max_events: int = MAX_EVENTS,
    now: datetime | None = None,
) -> PodDescription:
    """One pod, as a human would read ``kubectl describe pod``, bounded."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    statuses = {cs.get("name"): cs for cs in status.get("containerStatuses") or []}
    specs = _spec_containers(pod)
    names = list(specs) or list(statuses)
    containers = [_container_info(statuses.get(n), specs.get(n) or {}, n) for n in names[:MAX_CONTAINERS]]

    init_specs = _spec_containers(pod, "initContainers")
    init_statuses = {cs.get("name"): cs for cs in status.get("initContainerStatuses") or []}
    init_failing = [
        _container_info(init_statuses.get(n), init_specs.get(n) or {}, n)
        for n in (list(init_specs) or list(init_statuses))
        if n in init_statuses and not _init_completed(init_statuses[n])
    ][:MAX_CONTAINERS]

    problem = classify(pod, now)
    event_list, events_omitted = newest_events(events, uid=meta.get("uid"), limit=max_events)
    labels = {str(k)[:253]: str(v)[:63] for k, v in list((meta.get("labels") or {}).items())[:MAX_LABELS]}
    return PodDescription(
        namespace=_short(meta.get("namespace"), 63) or "?",
        name=meta.get("name") or "?",
        phase=_short(status.get("phase") or "Unknown", 32),
        status_reason=_short(status.get("reason"), 63),
        status_message=_message(status.get("message")),
        problem=_summary(problem[1]) if problem else None,
        node=_short(spec.get("nodeName"), NAME_CHARS),
        qos_class=_short(status.get("qosClass"), 32),
        owner=_short(owner_of(pod), 300),
        created=_short(meta.get("creationTimestamp"), 40),
        start_time=_short(status.get("startTime"), 40),
        deleting_since=_short(meta.get("deletionTimestamp"), 40),
        labels=labels,
        conditions=[
            ConditionInfo(
                type=_short(c.get("type"), 63) or "?",
                status=_short(c.get("status"), 16) or "?",
                reason=_short(c.get("reason"), 63),
                message=_message(c.get("message")),
                since=_short(c.get("lastTransitionTime"), 40),
            )
            for c in (status.get("conditions") or [])[:8]
        ],
        containers=containers,
        containers_omitted=max(0, len(names) - MAX_CONTAINERS),
        init_containers=init_failing,
        events=event_list,
        events_omitted=events_omitted,
        truncated=bool(events_omitted or len(names) > MAX_CONTAINERS),
    )
