"""One line of key evidence per tool call, for the drill report and the ticket.

Reads the operations' result models as JSON (PodList, PodDescription, PodLogs, MetricResult,
ActiveAlarms, DeploymentInfo, SearchResult, error bodies) and falls back to a clipped text for
anything it does not know, so a new field or operation never breaks a report.
"""

from __future__ import annotations

from typing import Any

from opsagent.investigation.operations import ToolResult


def _clip(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _counts(mapping: Any) -> str:
    if not isinstance(mapping, dict) or not mapping:
        return ""
    return ", ".join(f"{k} x{v}" for k, v in list(mapping.items())[:4])


def key_evidence(result: ToolResult, limit: int = 200) -> str:
    body = result.body()
    if not result.ok:
        if isinstance(body, dict):
            return _clip(f"HTTP {result.status} {body.get('error', '')}: {body.get('message', '')}", limit)
        return _clip(f"HTTP {result.status} {result.text}", limit)
    if not isinstance(body, dict):
        return _clip(result.text, limit)
    op = result.operation
    try:
        if op == "listPods":
            parts = [f"{body.get('pods_total', '?')} pods, {body.get('ready', '?')} ready"]
            if body.get("restarts_total"):
                parts.append(f"{body['restarts_total']} restarts")
            if body.get("problems_by_reason"):
                parts.append("problems: " + _counts(body["problems_by_reason"]))
            pods = body.get("problem_pods") or []
            if pods:
                worst = pods[0]
                extra = worst.get("last_termination_reason") or worst.get("detail") or ""
                parts.append(f"worst {worst.get('name')} {worst.get('reason')} {extra}".rstrip())
            return _clip("; ".join(parts), limit)
        if op == "describePod":
            problem = body.get("problem") or {}
            what = f"{problem.get('reason')}: {problem.get('detail') or ''}" if problem else "no problem"
            return _clip(f"{body.get('name')} {body.get('phase')}; {what}", limit)
        if op == "getPodLogs":
            lines = [ln for ln in str(body.get("text", "")).splitlines() if ln.strip()]
            tail = " | ".join(lines[-2:]) if lines else "(no lines)"
            prev = " (previous container)" if body.get("previous") else ""
            red = f"; {body['redactions']} secret(s) redacted" if body.get("redactions") else ""
            return _clip(f"{body.get('lines_returned', len(lines))} lines{prev}{red}; last: {tail}", limit)
        if op == "queryMetric":
            metric = body.get("metric") or {}
            name = metric.get("metric_name", "metric")
            summary = body.get("summary")
            if not summary:
                return _clip(f"{name}: no datapoints. {body.get('hint') or ''}", limit)
            stat = metric.get("statistic", "")
            last, peak, avg = summary.get("last"), summary.get("max"), summary.get("avg")
            trend, points = summary.get("trend"), body.get("datapoints")
            text = f"{name} ({stat}): last {last:g}, max {peak:g}, avg {avg:g}"
            return _clip(f"{text}, trend {trend} over {points} points", limit)
        if op == "listActiveAlarms":
            names = [a.get("name") for a in body.get("alarms", [])][:5]
            return _clip(
                f"{body.get('total', len(names))} alarm(s) in ALARM: {', '.join(map(str, names))}", limit
            )
        if op == "getDeployment":
            r = body.get("replicas") or {}
            rollout = body.get("rollout") or {}
            images = ", ".join(c.get("image", "").rsplit("/", 1)[-1] for c in body.get("containers", [])[:2])
            hpa = body.get("hpa")
            hpa_text = f"; HPA {hpa.get('min_replicas')}-{hpa.get('max_replicas')}" if hpa else "; no HPA"
            ready = f"replicas {r.get('ready', '?')}/{r.get('spec', '?')} ready"
            ready += f", {r.get('unavailable', 0)} unavailable"
            roll = f"rollout {rollout.get('status')} (rev {rollout.get('revision')})"
            return _clip(f"{ready}; {roll}; {images}{hpa_text}", limit)
        if op == "searchTickets":
            ids = [t.get("id") for t in body.get("tickets", [])][:3]
            return _clip(f"{body.get('count', 0)} open ticket(s) {', '.join(map(str, ids))}".rstrip(), limit)
    except (TypeError, ValueError, AttributeError):
        pass
    return _clip(result.text, limit)
