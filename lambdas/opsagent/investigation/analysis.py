"""Deterministic findings from tool evidence: the probable cause when no model is available.

The analysis reads the JSON bodies the operations returned (whatever their exact shape: it looks
for Kubernetes reason tokens, restart counts, images, and metric summaries anywhere in them) and
applies a short, ordered list of rules an SRE would apply first:

1. image cannot be pulled (ImagePullBackOff / ErrImagePull / InvalidImageName)  -> bad_image
2. containers OOMKilled                                                       -> oom
3. CreateContainerConfigError (missing ConfigMap/Secret key)                  -> config_error
4. CrashLoopBackOff without OOM                                               -> crashloop
5. FailedScheduling / Unschedulable                                           -> scheduling
6. a CPU metric above the alarm threshold while pods run without restarts     -> cpu_saturation
7. otherwise: the alarm's own signal, confidence low.

Every finding cites the tool calls (T-refs) whose output contained the signal. Reason tokens count
only in the bodies that describe Kubernetes objects (listPods, describePod, getDeployment): log
lines, ticket titles and alarm names are free text anyone can write "OOMKilled" into.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, Field

from opsagent.investigation.alarm import AlarmFacts
from opsagent.investigation.operations import ToolResult
from opsagent.investigation.rca import Finding, ProbableCause

REASONS = (
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "OOMKilled",
    "CreateContainerConfigError",
    "CreateContainerError",
    "CrashLoopBackOff",
    "FailedScheduling",
    "Unschedulable",
    "Evicted",
    "ProgressDeadlineExceeded",
    "Unhealthy",
)
_TOKEN = re.compile(r"\b(" + "|".join(REASONS) + r")\b")
_LOG_PATTERNS = {
    "out_of_memory": re.compile(r"OutOfMemory|out of memory|Killed process|heap", re.I),
    "panic": re.compile(r"\bpanic:|Traceback \(most recent call last\)|Exception in thread", re.I),
    "dependency": re.compile(r"connection refused|timed out|timeout|no route to host|ECONNRESET", re.I),
}
_CPU = re.compile(r"cpu", re.I)
_MAX_NAMES = 5
#: Operations whose bodies are Kubernetes object state (where a reason token means a pod state).
OBJECT_STATE_OPERATIONS = frozenset({"listPods", "describePod", "getDeployment"})


class Signals(BaseModel):
    """What the evidence shows, with the refs that showed it."""

    reasons: dict[str, list[str]] = Field(default_factory=dict, description="reason token -> refs")
    subjects: dict[str, list[str]] = Field(default_factory=dict, description="reason -> pod/object names")
    max_restarts: int = Field(default=0, description="Most restarts of one pod/container")
    total_restarts: int = Field(default=0, description="restarts_total reported by listPods")
    restart_refs: list[str] = Field(default_factory=list)
    pods_total: int | None = None
    pods_ready: int | None = None
    pods_refs: list[str] = Field(default_factory=list)
    deployment: dict[str, Any] = Field(default_factory=dict, description="spec/ready/unavailable/rollout/hpa")
    deployment_refs: list[str] = Field(default_factory=list)
    metrics: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="metric name -> summary + ref"
    )
    images: dict[str, list[str]] = Field(default_factory=dict, description="image -> refs")
    log_hits: dict[str, list[str]] = Field(default_factory=dict)
    metric_last: float | None = None
    metric_max: float | None = None
    metric_refs: list[str] = Field(default_factory=list)
    failed_calls: list[str] = Field(default_factory=list)

    def has(self, *reasons: str) -> bool:
        return any(r in self.reasons for r in reasons)

    def refs(self, *reasons: str) -> list[str]:
        out: list[str] = []
        for r in reasons:
            out += [x for x in self.reasons.get(r, []) if x not in out]
        return out

    def names(self, *reasons: str) -> list[str]:
        out: list[str] = []
        for r in reasons:
            out += [x for x in self.subjects.get(r, []) if x not in out]
        return out[:_MAX_NAMES]


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _walk(value: Any, visit) -> None:
    if isinstance(value, dict):
        visit(value)
        for v in value.values():
            _walk(v, visit)
    elif isinstance(value, list):
        for v in value:
            _walk(v, visit)


def collect_signals(results: Iterable[ToolResult]) -> Signals:
    sig = Signals()
    reasons: dict[str, list[str]] = defaultdict(list)
    subjects: dict[str, list[str]] = defaultdict(list)
    images: dict[str, list[str]] = defaultdict(list)
    for res in results:
        if not res.ok:
            sig.failed_calls.append(res.ref)
            continue
        body = res.body()
        if body is None:
            body = res.text
        object_state = res.operation in OBJECT_STATE_OPERATIONS
        for text in _strings(body) if object_state else ():
            for token in set(_TOKEN.findall(text)):
                if res.ref not in reasons[token]:
                    reasons[token].append(res.ref)
        if res.operation == "getPodLogs":
            for name, pattern in _LOG_PATTERNS.items():
                if any(pattern.search(t) for t in _strings(body)):
                    sig.log_hits.setdefault(name, []).append(res.ref)

        def visit(node: dict, ref: str = res.ref, object_state: bool = object_state) -> None:
            name = node.get("name") if isinstance(node.get("name"), str) else None
            if object_state and name and name not in {"main", "app"}:
                found = {t for s in _strings(node) for t in _TOKEN.findall(s)}
                for token in found:
                    if name not in subjects[token] and len(subjects[token]) < 20:
                        subjects[token].append(name)
            for key, v in node.items():
                low = key.lower()
                if "restart" in low and isinstance(v, int) and not isinstance(v, bool) and v > 0:
                    if "total" in low:
                        sig.total_restarts = max(sig.total_restarts, v)
                    elif v > sig.max_restarts:
                        sig.max_restarts = v
                    if ref not in sig.restart_refs:
                        sig.restart_refs.append(ref)
                if low == "image" and isinstance(v, str) and ref not in images[v]:
                    images[v].append(ref)

        if isinstance(body, dict | list):
            _walk(body, visit)
        if not isinstance(body, dict):
            continue
        if res.operation == "queryMetric":
            summary = body.get("summary") if isinstance(body.get("summary"), dict) else {}
            last, peak = summary.get("last"), summary.get("max")
            name = str((body.get("metric") or {}).get("metric_name", ""))
            if isinstance(last, int | float):
                sig.metric_last = float(last)
                sig.metric_max = float(peak) if isinstance(peak, int | float) else None
                sig.metric_refs.append(res.ref)
                sig.metrics[name] = {**summary, "ref": res.ref}
        elif res.operation == "listPods" and isinstance(body.get("pods_total"), int):
            sig.pods_total, sig.pods_ready = body["pods_total"], body.get("ready")
            sig.pods_refs.append(res.ref)
        elif res.operation == "getDeployment" and isinstance(body.get("replicas"), dict):
            r, rollout = body["replicas"], body.get("rollout") or {}
            hpa = body.get("hpa") if isinstance(body.get("hpa"), dict) else None
            dep_images = [c.get("image", "") for c in body.get("containers", []) if isinstance(c, dict)]
            sig.deployment = {
                "spec": r.get("spec"),
                "ready": r.get("ready"),
                "unavailable": r.get("unavailable"),
                "rollout": rollout.get("status"),
                "revision": rollout.get("revision"),
                "hpa": hpa,
                "images": [i for i in dep_images if i],
                "allowed_range": (body.get("scaling") or {}).get("allowed_range"),
            }
            sig.deployment_refs.append(res.ref)
    # A pod is named in a list/describe *and* its parent object; keep the most specific names.
    sig.reasons = dict(reasons)
    sig.subjects = {
        k: [n for n in v if not any(n != o and o.startswith(n) for o in v)] for k, v in subjects.items()
    }
    sig.images = dict(images)
    return sig


def short_image(image: str) -> str:
    """``123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/catalog:2.3.1-rc1`` -> ``catalog:2.3.1-rc1``."""
    return image.rsplit("/", 1)[-1]


def _dedup(refs: list[str]) -> list[str]:
    out: list[str] = []
    for r in refs:
        if r not in out:
            out.append(r)
    return out


def _who(sig: Signals, *reasons: str) -> str:
    names = sig.names(*reasons)
    return f" ({', '.join(names)})" if names else ""


def analyze(facts: AlarmFacts, results: list[ToolResult]) -> tuple[list[Finding], ProbableCause, list[str]]:
    """Findings, the probable cause and gaps, from the alarm and the tool evidence."""
    sig = collect_signals(results)
    findings: list[Finding] = []
    gaps: list[str] = []

    alarm_finding = _alarm_finding(facts)
    if alarm_finding:
        findings.append(alarm_finding)

    if sig.has("ImagePullBackOff", "ErrImagePull", "InvalidImageName"):
        keys = ("ImagePullBackOff", "ErrImagePull", "InvalidImageName")
        found = [k for k in keys if sig.has(k)]
        findings.append(
            Finding(
                summary=f"Pods cannot pull their image: {', '.join(found)}{_who(sig, *keys)}",
                evidence=sig.refs(*keys),
                signal=found[0],
            )
        )
    if sig.has("OOMKilled"):
        findings.append(
            Finding(
                summary="Containers were OOMKilled (memory limit exceeded)" + _who(sig, "OOMKilled"),
                evidence=sig.refs("OOMKilled"),
                signal="OOMKilled",
            )
        )
    if sig.has("CrashLoopBackOff"):
        findings.append(
            Finding(
                summary=f"Containers are in CrashLoopBackOff{_who(sig, 'CrashLoopBackOff')}",
                evidence=sig.refs("CrashLoopBackOff"),
                signal="CrashLoopBackOff",
            )
        )
    if sig.max_restarts or sig.total_restarts:
        parts = []
        if sig.total_restarts:
            parts.append(f"{sig.total_restarts} restarts in total")
        if sig.max_restarts:
            parts.append(f"up to {sig.max_restarts} in one pod")
        findings.append(
            Finding(
                summary=f"Containers restarted ({', '.join(parts)})",
                evidence=sig.restart_refs,
                signal="Restarts",
            )
        )
    for reason in ("CreateContainerConfigError", "CreateContainerError", "FailedScheduling", "Unschedulable"):
        if sig.has(reason):
            findings.append(
                Finding(summary=f"{reason}{_who(sig, reason)}", evidence=sig.refs(reason), signal=reason)
            )
    for reason in ("ProgressDeadlineExceeded", "Evicted", "Unhealthy"):
        if sig.has(reason):
            findings.append(
                Finding(summary=f"{reason}{_who(sig, reason)}", evidence=sig.refs(reason), signal=reason)
            )
    dep = sig.deployment
    if dep:
        hpa = dep.get("hpa")
        hpa_text = (
            f"HPA {hpa.get('min_replicas')}-{hpa.get('max_replicas')} (current {hpa.get('current_replicas')})"
            if hpa
            else "no HPA"
        )
        findings.append(
            Finding(
                summary=f"Deployment {facts.workload.name}: {dep.get('ready')}/{dep.get('spec')} replicas "
                f"ready, rollout {dep.get('rollout')} (revision {dep.get('revision')}), {hpa_text}",
                evidence=sig.deployment_refs,
                signal="deployment",
            )
        )
    healthy = (
        sig.pods_total
        and sig.pods_ready == sig.pods_total
        and not sig.total_restarts
        and not sig.has("CrashLoopBackOff", "OOMKilled", "ImagePullBackOff", "ErrImagePull")
    )
    if healthy:
        findings.append(
            Finding(
                summary=f"All {sig.pods_total} pods are Running and Ready with no restarts (no crash)",
                evidence=sig.pods_refs,
                signal="pods_healthy",
            )
        )
    for name, summary in sig.metrics.items():
        if _CPU.search(name) and name != facts.metric_name:
            findings.append(
                Finding(
                    summary=f"{name}: last {summary.get('last'):g}, max {summary.get('max'):g}, "
                    f"trend {summary.get('trend')}",
                    evidence=[summary["ref"]],
                    signal="cpu_metric",
                )
            )
    if len(sig.images) > 1:
        listed = ", ".join(short_image(i) for i in sorted(sig.images)[:4])
        refs = sorted({r for v in sig.images.values() for r in v})
        findings.append(Finding(summary=f"More than one image in play (rollout?): {listed}", evidence=refs))
    for hit, refs in sig.log_hits.items():
        label = {
            "out_of_memory": "out-of-memory",
            "panic": "crash traces",
            "dependency": "dependency errors",
        }[hit]
        findings.append(Finding(summary=f"Logs show {label}", evidence=refs, signal=f"logs:{hit}"))

    cause = _cause(facts, sig)
    for res in results:
        if res.ref in sig.failed_calls:
            body = res.body()
            msg = body.get("message", "") if isinstance(body, dict) else res.text
            gaps.append(f"{res.ref} {res.operation} answered {res.status}: {str(msg)[:160]}")
    if not facts.workload.known:
        gaps.append(
            "The alarm's dimensions do not name a Kubernetes workload (configure OPSAGENT_TRIGGER.workloads)"
        )
    if not any(r.operation == "getPodLogs" and r.ok for r in results):
        gaps.append("No container logs were read")
    if cause.category == "cpu_saturation" and not any(
        r.operation == "getDeployment" and r.ok for r in results
    ):
        gaps.append("Replica count / autoscaler limits were not checked")
    return findings, cause, gaps


def _alarm_finding(facts: AlarmFacts) -> Finding | None:
    if not facts.recent_datapoints and facts.kind != "composite":
        return None
    if facts.kind == "composite":
        names = ", ".join(t.name for t in facts.triggering_alarms) or "child alarms"
        return Finding(
            summary=f"Composite alarm {facts.alarm_name} fired; triggered by {names}", evidence=["ALARM"]
        )
    points = ", ".join(f"{v:g}" for v in facts.recent_datapoints[-5:])
    what = facts.expression_label or facts.metric_name or "metric"
    thr = f" vs threshold {facts.threshold:g}" if facts.threshold is not None else ""
    return Finding(
        summary=f"{what} recent datapoints [{points}]{thr}", evidence=["ALARM"], signal="threshold"
    )


def _cause(facts: AlarmFacts, sig: Signals) -> ProbableCause:
    who = facts.workload.label()
    dep = sig.deployment
    if sig.has("ImagePullBackOff", "ErrImagePull", "InvalidImageName"):
        keys = ("ImagePullBackOff", "ErrImagePull", "InvalidImageName")
        images = [short_image(i) for i in (dep.get("images") or sorted(sig.images))][:2]
        names = sig.names(*keys)
        where = (
            f" (revision {dep['revision']}, {', '.join(images)})" if dep.get("revision") and images else ""
        )
        stalled = ""
        if dep.get("rollout") in ("stalled", "progressing") or sig.has("ProgressDeadlineExceeded"):
            stalled = "; the rollout is stuck"
            if dep.get("unavailable"):
                stalled += f" with {dep['unavailable']} replica(s) unavailable"
        return ProbableCause(
            summary=f"Bad image in the latest rollout of {who}{where}: "
            f"{len(names) or 'the'} new pod(s) cannot pull it (ImagePullBackOff){stalled}; "
            "the previous ReplicaSet keeps serving at reduced capacity",
            confidence="high",
            category="bad_image",
            evidence=_dedup(sig.refs(*keys, "ProgressDeadlineExceeded") + sig.deployment_refs),
        )
    if sig.has("OOMKilled"):
        looping = sig.has("CrashLoopBackOff") or sig.max_restarts > 0 or sig.total_restarts > 0
        restarts = sig.total_restarts or sig.max_restarts
        return ProbableCause(
            summary=f"Containers of {who} exceed their memory limit and are OOMKilled"
            + (f", restarting in a crash loop ({restarts} restarts)" if looping else "")
            + ("; the logs confirm out-of-memory" if sig.log_hits.get("out_of_memory") else ""),
            confidence="high" if looping else "medium",
            category="oom",
            evidence=_dedup(
                sig.refs("OOMKilled", "CrashLoopBackOff")
                + sig.restart_refs
                + sig.log_hits.get("out_of_memory", [])
            ),
        )
    if sig.has("CreateContainerConfigError"):
        return ProbableCause(
            summary=f"Pods of {who} cannot start: CreateContainerConfigError "
            "(missing ConfigMap/Secret or key)",
            confidence="high",
            category="config_error",
            evidence=sig.refs("CreateContainerConfigError"),
        )
    if sig.has("CrashLoopBackOff"):
        return ProbableCause(
            summary=f"Containers of {who} crash on start (CrashLoopBackOff); the logs hold the reason",
            confidence="medium",
            category="crashloop",
            evidence=_dedup(sig.refs("CrashLoopBackOff") + sig.log_hits.get("panic", [])),
        )
    if sig.has("FailedScheduling", "Unschedulable"):
        return ProbableCause(
            summary=f"Pods of {who} cannot be scheduled (insufficient cluster capacity or constraints)",
            confidence="medium",
            category="scheduling",
            evidence=sig.refs("FailedScheduling", "Unschedulable"),
        )
    metric_text = f"{facts.metric_name or ''} {facts.alarm_name} {facts.description or ''}"
    if _CPU.search(metric_text):
        cpu = {k: v for k, v in sig.metrics.items() if _CPU.search(k)}
        alarm_metric = sig.metrics.get(facts.metric_name or "")
        latest = alarm_metric["last"] if alarm_metric else None
        if latest is None and facts.recent_datapoints:
            latest = facts.recent_datapoints[-1]
        if latest is None:
            latest = max((v["last"] for v in cpu.values()), default=None)
        above = latest is not None and (facts.threshold is None or latest > facts.threshold)
        if above:
            healthy = bool(sig.pods_total) and sig.pods_ready == sig.pods_total and not sig.total_restarts
            no_autoscaling = bool(dep) and not dep.get("hpa")
            hpa = dep.get("hpa") or {}
            hpa_at_max = bool(hpa) and hpa.get("current_replicas") == hpa.get("max_replicas")
            level = f"{latest:g}" + (
                f" (threshold {facts.threshold:g})" if facts.threshold is not None else ""
            )
            over_limit = next((v["last"] for k, v in cpu.items() if "limit" in k), None)
            if over_limit is not None:
                level += f", {over_limit:g}% of the pod CPU limit,"
            capacity = ""
            if no_autoscaling and dep.get("spec"):
                capacity = f"; no HPA, so capacity stays at {dep['spec']} replicas"
            elif hpa_at_max:
                capacity = f"; the HPA is at its maximum ({hpa.get('max_replicas')})"
            corroborated = healthy and (no_autoscaling or hpa_at_max) and len(cpu) >= 1
            return ProbableCause(
                summary=f"CPU saturation on {who}: CPU at {level} while all pods run without crashing; "
                f"load exceeds the current replicas' capacity{capacity}",
                confidence="high" if corroborated else ("medium" if cpu else "low"),
                category="cpu_saturation",
                evidence=_dedup(
                    ["ALARM", *(v["ref"] for v in cpu.values()), *sig.pods_refs, *sig.deployment_refs]
                ),
            )
    return ProbableCause(
        summary=f"{facts.alarm_name} fired but the evidence gathered shows no pod-level fault on {who}",
        confidence="low" if results_seen(sig) else "unknown",
        category=None,
        evidence=["ALARM"],
    )


NEXT_STEPS = {
    "bad_image": [
        "Roll back: kubectl rollout undo deployment/{workload} -n {namespace} (or deploy a tag that exists)",
        "Check the tag/digest exists in the registry for this region and that nodes may pull it",
    ],
    "oom": [
        "Raise the container memory limit or fix the leak (owning team; scaling out does not help a leak)",
        "Compare memory per pod with the limit over the last hours (pod_memory_utilization_over_pod_limit)",
    ],
    "config_error": ["Create the missing ConfigMap/Secret (or key) named in the pod events, then restart"],
    "crashloop": [
        "Read the previous container's logs for the start-up error; roll back if a release caused it"
    ],
    "scheduling": ["Add node capacity or relax the pod's constraints (requests, affinity, taints)"],
    "cpu_saturation": [
        "Scale out within the policy (see the proposal) or enable an HPA; then watch CPU and latency",
        "If a release made a code path hotter, compare with the previous revision",
    ],
}


def next_steps(facts: AlarmFacts, category: str | None) -> list[str]:
    values = {
        "workload": facts.workload.name or "<workload>",
        "namespace": facts.workload.namespace or "<ns>",
    }
    return [step.format(**values) for step in NEXT_STEPS.get(category or "", [])]


def results_seen(sig: Signals) -> bool:
    return bool(sig.reasons or sig.metric_refs or sig.max_restarts)
