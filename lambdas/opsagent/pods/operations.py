"""The three pods operations as plain functions: validated inputs in, bounded pydantic models out.

Callable from the action group (``opsagent.handlers.pods``), the alarm trigger, the drill and the CLI::

    from opsagent.pods import list_pods, describe_pod, get_pod_logs
    list_pods("shop", selector="app=checkout")
    describe_pod("shop", "checkout-7d9f8b6c5d-x2x7q")
    get_pod_logs("shop", "checkout-7d9f8b6c5d-x2x7q", lines=200, previous=True)

Every input is validated (:mod:`opsagent.k8s.names`) and checked against
``OPSAGENT_ALLOWED_NAMESPACES`` before any request; cluster errors arrive already mapped to
:mod:`opsagent.errors` by the client and are only made more specific here (a 404 names the pod).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pydantic import BaseModel

from opsagent.errors import InvalidInput, NotFound
from opsagent.namespaces import allowed_namespaces, check_read_allowed
from opsagent.pods.models import PodDescription, PodList, PodLogs
from opsagent.pods.summarize import MAX_EVENTS, PodListAccumulator, describe
from opsagent.redaction import count_markers, redact, strip_control

if TYPE_CHECKING:
    from opsagent.k8s.client import KubeClient

PAGE_SIZE = 500
MAX_PODS_SCANNED = 25_000  # a Lambda has time for ~25k pods; beyond that the summary says it stopped
MAX_EVENTS_SCANNED = 1_000
BODY_BUDGET = 8_000  # bytes of serialized JSON, the size the model sees

DEFAULT_LOG_LINES = 100
MAX_LOG_LINES = 500
LOG_TEXT_BUDGET = 6 * 1024  # bytes of the JSON-encoded text field
LOG_LINE_CHARS = 1_000  # one long line (a JSON blob, a stack trace on one line) is cut at this
LOG_FETCH_BYTES = 512 * 1024  # what we read from the API at most (tailLines limits it first)
REDACT_WINDOW_FACTOR = 8  # redact the newest raw lines up to 8x the shown budget, not all 512 KB


# ---------------------------------------------------------------------------- shared checks
def _names():
    from opsagent.k8s import names  # light (re + errors), imported on first call

    return names


def _kube(kube: KubeClient | None) -> KubeClient:
    if kube is not None:
        return kube
    from opsagent.k8s import get_kube

    return get_kube()


def check_namespace_allowed(namespace: str) -> None:
    """Raise PolicyRefused (403) when ``OPSAGENT_ALLOWED_NAMESPACES`` is set and excludes ``namespace``."""
    check_read_allowed(namespace, allowed_namespaces())


def _pod_path(namespace: str, pod: str | None = None) -> str:
    path = f"/api/v1/namespaces/{quote(namespace, safe='')}/pods"
    return f"{path}/{quote(pod, safe='')}" if pod else path


def _body_size(model: BaseModel) -> int:
    """Bytes of the JSON the handler sends (Powertools: compact separators, ASCII escapes)."""
    return len(json.dumps(model.model_dump(mode="json"), separators=(",", ":")))


def _get_pod(kube: KubeClient, namespace: str, pod: str) -> dict[str, Any]:
    try:
        return kube.get(_pod_path(namespace, pod))
    except NotFound:
        raise NotFound(
            f"pod {pod!r} not found in namespace {namespace!r}: it may have been replaced "
            "(pods of a Deployment get new names); call listPods to see the current pods",
            resource="pods",
            name=pod,
            namespace=namespace,
        ) from None


# ---------------------------------------------------------------------------- listPods
def list_pods(
    namespace: str,
    selector: str | None = None,
    workload: str | None = None,
    *,
    kube: KubeClient | None = None,
    max_problem_pods: int = 10,
    now: datetime | None = None,
) -> PodList:
    """Health summary of the pods in ``namespace`` (optionally filtered by label ``selector``
    and/or owning ``workload``), streaming the API page by page. ``now`` (default: the clock)
    tells a pod stuck Terminating from one within its grace period."""
    names = _names()
    namespace = names.validate_namespace(namespace)
    selector = names.validate_label_selector(selector, "selector") if selector else None
    workload = names.validate_name(workload, "workload") if workload else None
    check_namespace_allowed(namespace)
    client = _kube(kube)

    params = {"labelSelector": selector} if selector else None
    acc = PodListAccumulator(
        workload=workload, max_problem_pods=max_problem_pods, now=now or datetime.now(UTC)
    )
    stopped = False
    for pod in client.list(_pod_path(namespace), params, page_size=PAGE_SIZE, limit=MAX_PODS_SCANNED + 1):
        if acc.scanned >= MAX_PODS_SCANNED:
            stopped = True
            break
        acc.add(pod)
    note = (
        f"stopped after {MAX_PODS_SCANNED} pods: narrow with selector or workload for complete counts"
        if stopped
        else None
    )
    result = acc.result(namespace, selector=selector, scan_stopped=stopped, note=note)
    return _fit_pod_list(result)


def _fit_pod_list(result: PodList) -> PodList:
    """Drop sample pod names, then the least severe listed pods / owners until the body fits
    BODY_BUDGET (only hit with extreme names and messages; the counts stay exact and the omissions
    are reported)."""
    while _body_size(result) > BODY_BUDGET and (
        result.sample_pods or result.problem_pods or result.problems_by_owner
    ):
        if result.sample_pods:
            result.sample_pods.popitem()
            result.sample_pods_omitted += 1
        elif result.problem_pods:
            result.problem_pods.pop()
            result.problem_pods_omitted += 1
        else:
            result.problems_by_owner.popitem()
            result.problems_by_owner_omitted += 1
        result.truncated = True
    return result


# ---------------------------------------------------------------------------- describePod
def describe_pod(
    namespace: str, pod: str, *, kube: KubeClient | None = None, now: datetime | None = None
) -> PodDescription:
    """One pod's containers, conditions, owner and its newest events (bounded)."""
    names = _names()
    namespace = names.validate_namespace(namespace)
    pod = names.validate_name(pod, "pod")
    check_namespace_allowed(namespace)
    client = _kube(kube)

    obj = _get_pod(client, namespace, pod)
    events = client.list(
        f"/api/v1/namespaces/{quote(namespace, safe='')}/events",
        {"fieldSelector": f"involvedObject.name={pod},involvedObject.kind=Pod"},
        page_size=PAGE_SIZE,
        limit=MAX_EVENTS_SCANNED,
    )
    result = describe(obj, events, max_events=MAX_EVENTS, now=now or datetime.now(UTC))
    # fit: events first (oldest shown goes first), then init containers, containers, labels
    while _body_size(result) > BODY_BUDGET:
        if result.events:
            result.events.pop()
            result.events_omitted += 1
        elif result.init_containers:
            result.init_containers.pop()
        elif len(result.containers) > 1:
            result.containers.pop()
            result.containers_omitted += 1
        elif result.labels:
            result.labels.popitem()
        else:
            break
        result.truncated = True
    return result


# ---------------------------------------------------------------------------- getPodLogs
def _container_names(obj: dict[str, Any]) -> tuple[list[str], list[str]]:
    spec = obj.get("spec") or {}
    main = [str(c.get("name")) for c in spec.get("containers") or []]
    other = [
        str(c.get("name")) for key in ("initContainers", "ephemeralContainers") for c in spec.get(key) or []
    ]
    return main, other


def _has_previous(obj: dict[str, Any], container: str) -> bool:
    status = obj.get("status") or {}
    for key in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        for cs in status.get(key) or []:
            if cs.get("name") == container:
                return bool(cs.get("restartCount")) or bool((cs.get("lastState") or {}).get("terminated"))
    return True  # no status yet: let the API answer


def _json_len(line: str) -> int:
    """Bytes ``line`` takes inside the JSON body (escapes included) plus its ``\\n`` separator: the
    two quote characters json.dumps adds stand in for the two bytes of the escaped newline."""
    return len(json.dumps(line))


def tail_within(lines: list[str], budget: int) -> list[str]:
    """The newest lines whose JSON-encoded size fits ``budget``."""
    kept: list[str] = []
    used = 0
    for line in reversed(lines):
        cost = _json_len(line)
        if used + cost > budget:
            break
        kept.append(line)
        used += cost
    kept.reverse()
    return kept


def _showable_start(lines: list[str], budget: int) -> int:
    """Index of the oldest line worth redacting: the newest lines whose raw size (a long line
    counts as what is left of it after the cut) stays within ``budget``."""
    used = 0
    for i in range(len(lines) - 1, -1, -1):
        used += min(len(lines[i]), LOG_LINE_CHARS) + 1
        if used > budget:
            return i + 1
    return 0


def prepare_log_text(raw: str, *, budget: int = LOG_TEXT_BUDGET) -> dict[str, Any]:
    """Raw log text -> the safe, bounded part we show: control characters stripped, secrets
    redacted (before cutting, so a secret is never half-shown), long lines cut, newest lines kept.

    Only the newest lines that could be shown (``REDACT_WINDOW_FACTOR`` x the budget, raw) are
    redacted: up to 512 KB arrive for ~6 KB shown, and the regexes are the costly part. A key block
    cut at the window's start is still caught (base64 lines above a lone END line)."""
    text, removed = strip_control(raw)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    dropped = _showable_start(lines, budget * REDACT_WINDOW_FACTOR)
    lines = redact("\n".join(lines[dropped:])).text.split("\n") if dropped < len(lines) else []
    cut_long = False
    for i, line in enumerate(lines):
        if len(line) > LOG_LINE_CHARS:
            lines[i] = line[:LOG_LINE_CHARS] + f"…[+{len(line) - LOG_LINE_CHARS} chars]"
            cut_long = True
    kept = tail_within(lines, budget)
    shown = "\n".join(kept)
    counts = count_markers(shown)
    return {
        "text": shown,
        "lines_total": dropped + len(lines),
        "lines_returned": len(kept),
        "lines_omitted": dropped + len(lines) - len(kept),
        "cut_long_lines": cut_long,
        "control_chars_removed": removed,
        "redactions": sum(counts.values()),
        "redactions_by_kind": dict(counts),
    }


def get_pod_logs(
    namespace: str,
    pod: str,
    container: str | None = None,
    lines: int = DEFAULT_LOG_LINES,
    previous: bool = False,
    *,
    kube: KubeClient | None = None,
) -> PodLogs:
    """The newest ``lines`` (1-500) of one container's log, redacted and bounded to ~6 KB."""
    names = _names()
    namespace = names.validate_namespace(namespace)
    pod = names.validate_name(pod, "pod")
    container = names.validate_container_name(container) if container else None
    if isinstance(lines, bool) or not isinstance(lines, int) or not 1 <= lines <= MAX_LOG_LINES:
        raise InvalidInput(
            f"lines must be an integer from 1 to {MAX_LOG_LINES} (got {str(lines)[:20]}); "
            f"ask for {MAX_LOG_LINES} at most and use previous=true for a crashed instance",
            field="lines",
            rule="range",
            limit=MAX_LOG_LINES,
        )
    check_namespace_allowed(namespace)
    client = _kube(kube)

    obj = _get_pod(client, namespace, pod)
    main, other = _container_names(obj)
    if container is None:
        if len(main) != 1:
            raise InvalidInput(
                f"pod {pod!r} has {len(main)} containers: pass container= one of {', '.join(main[:10])}",
                field="container",
                rule="required",
                containers=main[:10],
            )
        container = main[0]
    elif container not in main + other:
        raise InvalidInput(
            f"pod {pod!r} has no container {container!r}; containers: {', '.join((main + other)[:10])}",
            field="container",
            rule="exists",
            containers=(main + other)[:10],
        )
    if previous and not _has_previous(obj, container):
        raise InvalidInput(
            f"container {container!r} of pod {pod!r} has not restarted, so there is no previous instance; "
            "call again with previous=false",
            field="previous",
            rule="no_previous_instance",
        )

    params = {"container": container, "tailLines": lines}
    if previous:
        params["previous"] = "true"
    path = _pod_path(namespace, pod) + "/log"
    raw = client.get_text(path, params, max_bytes=LOG_FETCH_BYTES)
    if getattr(raw, "truncated", False):
        # tailLines gave more than we read: we hold the *oldest* part. Ask again for as many lines as
        # fit, so what we keep is the newest.
        fitting = max(1, raw.count("\n") - 1)
        if fitting < lines:
            raw = client.get_text(path, {**params, "tailLines": fitting}, max_bytes=LOG_FETCH_BYTES)
    shown = prepare_log_text(str(raw))
    return PodLogs(
        namespace=namespace,
        pod=pod,
        container=container,
        previous=previous,
        lines_requested=lines,
        lines_returned=shown["lines_returned"],
        truncated=bool(shown["lines_omitted"] or shown["cut_long_lines"] or getattr(raw, "truncated", False)),
        lines_omitted=shown["lines_omitted"],
        redactions=shown["redactions"],
        redactions_by_kind=shown["redactions_by_kind"],
        control_chars_removed=shown["control_chars_removed"],
        text=shown["text"],
    )
