"""The no-model investigation: when Bedrock cannot be used, run the matching runbook's read-only
steps through the same operations the agent uses and reason over the evidence deterministically.

Flow: match the alarm to the runbooks (``opsagent.runbooks.match_runbooks``) -> render each step's
parameter templates from the alarm facts (steps whose placeholders cannot be filled are skipped
and listed as gaps) -> run each read-only step with :class:`~.operations.OperationRunner` (a
mutation in ``steps`` is refused by the runner and recorded as a gap) -> :func:`~.analysis.analyze`
-> an :class:`~.rca.RcaReport` marked ``produced_by="runbook"`` with the runbook's proposals (never
executed). ``generic-triage`` (a runbook marked ``fallback``) covers alarms nothing else matches; the
built-in triage below only runs when the runbooks cannot be loaded at all, so there is always
evidence. A ``{pod}`` placeholder the alarm cannot fill takes the worst problem pod that an earlier
listPods step reported (what an SRE would describe next).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from opsagent.investigation.alarm import AlarmFacts
from opsagent.investigation.analysis import analyze, collect_signals, next_steps
from opsagent.investigation.operations import OPERATIONS, READ_ONLY, OperationRunner, ToolResult
from opsagent.investigation.rca import Proposal, RcaReport, RunbookRef

BUILTIN_TRIAGE_ID = "builtin-triage"


def generic_steps(facts: AlarmFacts) -> list[dict[str, Any]]:
    """Built-in triage, used only when the runbooks cannot be loaded at all."""
    steps: list[dict[str, Any]] = []
    wl = facts.workload
    if wl.namespace and wl.name:
        steps.append(
            {
                "operation": "listPods",
                "params": {"namespace": wl.namespace, "workload": wl.name},
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
        steps.append({"operation": "queryMetric", "params": metric_params(facts), "why": "The alarm metric"})
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


def match_runbook(
    facts: AlarmFacts, runbooks_loader: Callable[[], list[Any]] | None = None
) -> tuple[Any | None, float | None, str]:
    """(best runbook, score, note). Never raises: a broken runbook store is a gap, not a failure."""
    try:
        from opsagent.runbooks import load_runbooks, match_runbooks

        books = runbooks_loader() if runbooks_loader else load_runbooks()
        ranked = match_runbooks(books, facts)
    except Exception as exc:  # invalid files, missing directory in a zip, ...
        return None, None, f"runbooks unavailable ({type(exc).__name__}: {str(exc)[:160]})"
    if not ranked:
        return None, None, "no runbook matches this alarm"
    return ranked[0].runbook, float(ranked[0].score), "; ".join(ranked[0].reasons)[:300]


def _render(step: Any, variables: dict[str, str]) -> tuple[dict[str, str] | None, str | None]:
    """(params, None) or (None, why it was skipped)."""
    if isinstance(step, dict):
        return dict(step.get("params") or {}), None
    from opsagent.runbooks import StepSkipped, render_step

    try:
        return render_step(step, variables), None
    except StepSkipped as exc:
        return None, exc.reason


def pod_from_evidence(results: list[ToolResult]) -> str | None:
    """The pod a ``{pod}`` step should look at: the worst problem pod listPods reported."""
    for res in reversed(results):
        if res.operation == "listPods" and res.ok:
            body = res.body()
            pods = body.get("problem_pods") if isinstance(body, dict) else None
            if isinstance(pods, list) and pods and isinstance(pods[0], dict) and pods[0].get("name"):
                return str(pods[0]["name"])
    return None


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
    book, score, note = match_runbook(facts, runbooks_loader)
    gaps: list[str] = []
    if book is None:
        gaps.append(f"{note}; ran the built-in triage instead")
    variables = facts.template_vars()
    steps: list[Any] = list(book.steps) if book is not None else generic_steps(facts)
    done = {(r.operation, tuple(sorted(r.parameters.items()))) for r in runner.results if r.ok}

    for index, step in enumerate(steps):
        operation = step["operation"] if isinstance(step, dict) else step.operation
        why = step.get("why") if isinstance(step, dict) else step.why
        if index >= max_steps:
            gaps.append(f"{len(steps) - max_steps} runbook step(s) not run (max_steps={max_steps})")
            break
        if operation not in OPERATIONS:
            gaps.append(f"step {index + 1}: unknown operation {operation!r}")
            continue
        if operation not in READ_ONLY:
            gaps.append(f"step {index + 1}: {operation} changes state; not run")
            continue
        if "pod" not in variables and (pod := pod_from_evidence(runner.results)):
            variables["pod"] = pod  # a {pod} step looks at the worst pod the evidence names
        params, skip = _render(step, variables)
        if params is None:
            gaps.append(f"step {index + 1}: {skip}")
            continue
        if (operation, tuple(sorted(params.items()))) in done:
            continue  # the pre-enrichment already made exactly this call
        runner.run(operation, params, source="runbook", why=why)

    findings, cause, analysis_gaps = analyze(facts, runner.results)
    proposals = []
    for prop in book.proposals if book is not None else []:
        params, skip = _render(prop, variables)
        decide = "; ".join(f"{k}: {v}" for k, v in prop.decide.items())
        if params is not None and prop.operation == "scaleDeployment" and "replicas" in prop.decide:
            suggestion = suggest_replicas(facts, runner.results, cause.category)
            if suggestion:
                params["replicas"], note = suggestion
                decide = f"replicas: {note}"
        proposals.append(
            Proposal(
                operation=prop.operation,
                parameters=params or {},
                why=prop.why,
                status="proposed" if params is not None else "skipped",
                detail=("not executed (no model, no human in the loop)" if params is not None else skip)
                + (f"; decide {decide}" if decide else ""),
            )
        )
    return RcaReport(
        incident_id=facts.incident_id,
        alarm=facts,
        produced_by="runbook",
        fallback_reason=reason,
        fallback_detail=detail,
        runbook=RunbookRef(id=book.id, title=book.title, score=score, reasons=note)
        if book is not None
        else RunbookRef(id=BUILTIN_TRIAGE_ID, title="Built-in triage (runbooks unavailable)"),
        findings=findings,
        probable_cause=cause,
        tool_calls=list(runner.results),
        proposals=proposals,
        gaps=gaps + analysis_gaps,
        next_steps=next_steps(facts, cause.category),
    )


def suggest_replicas(
    facts: AlarmFacts, results: list[ToolResult], category: str | None
) -> tuple[str, str] | None:
    """For CPU saturation: enough replicas to bring CPU to ~75 % of the alarm threshold, within the
    policy's allowed range as getDeployment reported it. None when the evidence does not allow a number."""
    if category != "cpu_saturation" or facts.threshold is None or facts.threshold <= 0:
        return None
    sig = collect_signals(results)
    spec = sig.deployment.get("spec")
    window = sig.deployment.get("allowed_range")
    cpu = [v["last"] for k, v in sig.metrics.items() if "cpu" in k.lower()] or facts.recent_datapoints[-1:]
    if (
        not isinstance(spec, int)
        or spec <= 0
        or not cpu
        or not (isinstance(window, list) and len(window) == 2)
    ):
        return None
    target = facts.threshold * 0.75
    wanted = math.ceil(spec * max(cpu) / target)
    low, high = int(window[0]), int(window[1])
    replicas = max(low, min(high, wanted))
    if replicas <= spec:
        return None
    return str(replicas), (
        f"suggested {replicas}: ceil({spec} replicas x CPU {max(cpu):g} / target {target:g}) = {wanted}, "
        f"within the policy's allowed range [{low}, {high}]; run with dry_run first"
    )
