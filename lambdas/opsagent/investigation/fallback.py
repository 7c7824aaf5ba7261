"""The no-model investigation: when Bedrock cannot be used, run the matching runbook's read-only
steps through the same operations the agent uses and reason over the evidence deterministically.

Flow: match the alarm to the runbooks (``opsagent.runbooks.match_runbooks``) -> render each step's
parameter templates from the alarm facts (steps whose placeholders cannot be filled are skipped
and listed as gaps) -> run each read-only step with :class:`~.operations.OperationRunner` (a
mutation in ``steps`` is refused by the runner and recorded as a gap) -> :func:`~.analysis.analyze`
-> an :class:`~.rca.RcaReport` marked ``produced_by="runbook"`` with the runbook's proposals (never
executed). Without a matching runbook a built-in generic triage (pods, deployment, alarm metric)
runs instead, so there is always evidence.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opsagent.investigation.alarm import AlarmFacts
from opsagent.investigation.analysis import analyze
from opsagent.investigation.operations import OPERATIONS, READ_ONLY, OperationRunner
from opsagent.investigation.rca import Proposal, RcaReport, RunbookRef

GENERIC_RUNBOOK_ID = "generic-triage"


def _attr(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def generic_steps(facts: AlarmFacts) -> list[dict[str, Any]]:
    """The triage every SRE starts with, when no runbook matches."""
    steps: list[dict[str, Any]] = []
    wl = facts.workload
    if wl.namespace and wl.name:
        steps.append(
            {
                "operation": "listPods",
                "params": {"namespace": wl.namespace, "selector": f"app={wl.name}"},
                "why": "Are the workload's pods running and ready?",
            }
        )
        steps.append(
            {
                "operation": "getDeployment",
                "params": {"namespace": wl.namespace, "deployment": wl.name},
                "why": "Replicas, rollout state and autoscaler",
            }
        )
    if facts.metric_namespace and facts.metric_name:
        steps.append(
            {"operation": "queryMetric", "params": metric_params(facts), "why": "The alarm's metric"}
        )
    steps.append({"operation": "listActiveAlarms", "params": {}, "why": "What else is alarming"})
    return steps


def metric_params(facts: AlarmFacts, minutes: int = 60) -> dict[str, str]:
    """queryMetric parameters for the alarm's (first) metric."""
    params = {
        "metric_namespace": facts.metric_namespace or "",
        "metric_name": facts.metric_name or "",
        "minutes": str(minutes),
    }
    if facts.dimensions:
        params["dimensions"] = ",".join(f"{k}={v}" for k, v in facts.dimensions.items())
    if facts.statistic:
        params["statistic"] = facts.statistic
    if facts.period and facts.period <= minutes * 60:
        params["period"] = str(facts.period)
    return params


def _match(
    facts: AlarmFacts, runbooks_loader: Callable[[], list[Any]] | None
) -> tuple[Any | None, float | None, str]:
    """(runbook, score, note). Never raises: a broken runbook store is a gap, not a failure."""
    try:
        from opsagent import runbooks as rb

        books = runbooks_loader() if runbooks_loader else rb.load_runbooks()
        ranked = rb.match_runbooks(books, facts)
    except Exception as exc:  # ImportError before the module lands, invalid files, ...
        return None, None, f"runbooks unavailable ({type(exc).__name__}: {str(exc)[:160]})"
    if not ranked:
        return None, None, "no runbook matches this alarm"
    first = ranked[0]
    if isinstance(first, tuple):
        book, score = first[0], first[1]
    else:
        book, score = _attr(first, "runbook", first), _attr(first, "score")
    return book, (float(score) if isinstance(score, int | float) else None), ""


def _render(step: Any, variables: dict[str, str]) -> tuple[dict[str, str] | None, str | None]:
    """(params, skip reason)."""
    try:
        from opsagent.runbooks import render_step
    except ImportError:
        render_step = None
    if render_step is not None and not isinstance(step, dict):
        try:
            rendered = render_step(step, variables)
        except Exception as exc:
            return None, str(getattr(exc, "message", exc))[:200]
        if rendered is None:
            return None, "placeholders could not be filled"
        if isinstance(rendered, tuple):  # (params, reason)
            return rendered[0], rendered[1]
        if isinstance(rendered, dict):
            return {k: str(v) for k, v in rendered.items()}, None
        params = _attr(rendered, "params") or _attr(rendered, "parameters")
        reason = _attr(rendered, "skipped") or _attr(rendered, "reason")
        if params is None:
            return None, str(reason or "placeholders could not be filled")
        return {k: str(v) for k, v in params.items()}, None
    params: dict[str, str] = {}
    for key, template in (_attr(step, "params") or {}).items():
        try:
            params[key] = str(template).format_map(variables)
        except (KeyError, IndexError, ValueError) as exc:
            return None, f"placeholder {exc} unknown for this alarm"
    return params, None


def investigate_without_model(
    facts: AlarmFacts,
    runner: OperationRunner,
    *,
    reason: str,
    detail: str | None = None,
    max_steps: int = 8,
    runbooks_loader: Callable[[], list[Any]] | None = None,
) -> RcaReport:
    """Run the matched runbook's read-only steps and build the report (mutations only proposed)."""
    book, score, note = _match(facts, runbooks_loader)
    gaps: list[str] = []
    if note:
        gaps.append(f"{note}; ran the generic triage instead")
    variables = facts.template_vars()
    steps = list(_attr(book, "steps") or []) if book is not None else generic_steps(facts)
    already = {(r.operation, tuple(sorted(r.parameters.items()))) for r in runner.results}

    for index, step in enumerate(steps):
        operation = _attr(step, "operation")
        why = _attr(step, "why")
        if index >= max_steps:
            gaps.append(f"{len(steps) - max_steps} runbook step(s) not run (max_steps={max_steps})")
            break
        if operation not in OPERATIONS:
            gaps.append(f"step {index + 1}: unknown operation {operation!r}")
            continue
        if operation not in READ_ONLY:
            gaps.append(f"step {index + 1}: {operation} changes state; listed as a proposal, not run")
            continue
        params, skip = (_attr(step, "params"), None) if book is None else _render(step, variables)
        if params is None:
            gaps.append(f"step {index + 1} ({operation}) skipped: {skip}")
            continue
        if (operation, tuple(sorted(params.items()))) in already:
            continue  # the enrichment already ran exactly this call
        runner.run(operation, params, source="runbook", why=why)

    findings, cause, analysis_gaps = analyze(facts, runner.results)
    proposals = []
    for p in list(_attr(book, "proposals") or []) if book is not None else []:
        params, _ = _render(p, variables) if not isinstance(p, dict) else (_fill(p, variables), None)
        proposals.append(
            Proposal(
                operation=str(_attr(p, "operation") or "unknown"),
                parameters=params or {},
                why=str(_attr(p, "why") or _attr(p, "description") or ""),
                status="proposed",
                detail="not executed: no model and no human in the loop",
            )
        )
    return RcaReport(
        incident_id=facts.incident_id,
        alarm=facts,
        produced_by="runbook",
        fallback_reason=reason,
        fallback_detail=detail,
        runbook=RunbookRef(
            id=str(_attr(book, "id") or "?"), title=str(_attr(book, "title") or ""), score=score
        )
        if book is not None
        else RunbookRef(id=GENERIC_RUNBOOK_ID, title="Generic triage (no runbook matched)"),
        findings=findings,
        probable_cause=cause,
        tool_calls=list(runner.results),
        proposals=proposals,
        gaps=gaps + analysis_gaps,
    )


def _fill(p: dict, variables: dict[str, str]) -> dict[str, str]:
    out = {}
    for k, v in (p.get("params") or {}).items():
        try:
            out[k] = str(v).format_map(variables)
        except (KeyError, IndexError, ValueError):
            out[k] = str(v)
    return out
