"""The model-driven investigation: one InvokeAgent session per incident.

The prompt carries the alarm facts and the pre-enrichment evidence (cited as T1, T2 ...), and asks
for a fenced JSON block at the end (probable cause, confidence, findings citing operations or
T-refs, gaps, proposals). Tool calls come from the traces. Nobody can confirm a mutation in real
time on this path, so confirmation requests (``returnControl`` with USER_CONFIRMATION) are answered
by configuration:

* ``propose`` (default): DENY, and the request becomes a proposal in the ticket;
* ``confirm``: CONFIRM when the operation is listed in ``confirm_operations`` and the scaling
  policy's request-level rules (protected / allowed namespaces, replica floor and ceiling) allow it;
  the operation re-checks the full policy (step, cooldown, budget, HPA, opt-out) anyway.

:class:`~opsagent.agent_runtime.AgentUnavailable` propagates to the caller, which falls back to the
runbook investigation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from opsagent.investigation.alarm import AlarmFacts
from opsagent.investigation.analysis import analyze, next_steps
from opsagent.investigation.config import TriggerSettings
from opsagent.investigation.operations import OperationRunner, ToolResult, spec_for_route
from opsagent.investigation.rca import ActionTaken, Finding, ProbableCause, Proposal, RcaReport, Usage

MAX_PROMPT_CHARS = 12_000
EVIDENCE_IN_PROMPT = 2_500
_JSON_BLOCK = re.compile(r"```(?:json)?\s*(\{.*?\})\s*```", re.S)
_REF = re.compile(r"^(T\d{1,3}|ALARM)$")

SessionFactory = Callable[..., Any]


def default_session_factory(**kwargs: Any) -> Any:
    from opsagent.agent_runtime import AgentSession

    return AgentSession(**kwargs)


def build_prompt(facts: AlarmFacts, evidence: list[ToolResult], settings: TriggerSettings) -> str:
    a = facts
    lines = [
        "A CloudWatch alarm fired. Investigate it as the on-call SRE would, using your tools, then answer.",
        "",
        f"Alarm: {a.alarm_name} ({a.kind}) state {a.state} since {a.state_timestamp}",
        f"Reason: {a.reason[:500]}",
    ]
    if a.description:
        lines.append(f"Description: {a.description[:300]}")
    if a.metric_name:
        dims = ",".join(f"{k}={v}" for k, v in a.dimensions.items())
        lines.append(
            f"Metric: {a.metric_namespace}/{a.metric_name} dimensions {dims or '-'} stat {a.statistic}"
        )
    if a.expression:
        lines.append(
            f"Expression: {a.expression} ({a.expression_label or ''}) over {[m.id for m in a.metrics]}"
        )
    if a.alarm_rule:
        lines.append(f"Composite rule: {a.alarm_rule}; triggered by {[t.name for t in a.triggering_alarms]}")
    if a.recent_datapoints:
        lines.append(f"Recent datapoints: {a.recent_datapoints[-10:]} threshold {a.threshold}")
    wl = a.workload
    lines.append(
        f"Workload: namespace={wl.namespace or 'unknown'} name={wl.name or 'unknown'} "
        f"cluster={wl.cluster or 'unknown'} (from {wl.source})"
    )
    mode = settings.config.mutation_mode
    lines.append(
        "Mutations: nobody can confirm in real time. "
        + (
            "Any scale request will be DENIED and recorded as a proposal; propose what you would do."
            if mode == "propose"
            else "Scale requests within policy will be confirmed automatically; be conservative."
        )
    )
    if evidence:
        lines += ["", "Evidence already gathered (cite as T-refs):"]
        for r in evidence:
            lines.append(f"[{r.ref}] {r.operation} {json.dumps(r.parameters)} -> HTTP {r.status}")
            lines.append(r.text[:EVIDENCE_IN_PROMPT])
    lines += [
        "",
        "Do not open a ticket yourself: the trigger files your answer as the incident ticket.",
        "Finish with a fenced ```json block with keys: probable_cause (string), "
        "confidence (high|medium|low), findings (list of {summary, evidence: [operationId or T-ref, ...]}), "
        "gaps (list of strings: what you could not check), proposals (list of {operation, parameters, why}).",
    ]
    text = "\n".join(lines)
    return text if len(text) <= MAX_PROMPT_CHARS else text[: MAX_PROMPT_CHARS - 20] + "\n...(truncated)"


def _tool_result_from_call(call: Any) -> ToolResult:
    group = str(getattr(call, "action_group", "") or "")
    path = str(getattr(call, "api_path", "") or "")
    spec = spec_for_route(group, path)
    params = getattr(call, "parameters", None) or {}
    if isinstance(params, list):  # trace shape [{"name","type","value"}]
        params = {p.get("name"): p.get("value") for p in params if isinstance(p, dict)}
    params = {**dict(params), **dict(getattr(call, "request_body", None) or {})}
    text = getattr(call, "observation_text", None) or ""
    status = _status_from_text(text)
    return ToolResult(
        ref="T?",
        operation=getattr(call, "operation", None) or (spec.operation_id if spec else None),
        action_group=group or "unknown",
        api_path=path,
        parameters={str(k): str(v) for k, v in dict(params).items()},
        source="agent",
        status=status,
        text=str(text)[:8000],
    )


def _status_from_text(text: str) -> int | None:
    """Bedrock's trace carries the tool's body, not its status: infer an error from our error bodies."""
    try:
        body = json.loads(text)
    except (TypeError, ValueError):
        return 200 if text else None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return {"invalid_input": 400, "not_found": 404, "policy_refused": 403, "permission_missing": 403}.get(
            body["error"], 500
        )
    return 200


def _policy_allows(params: dict[str, str]) -> tuple[bool, str]:
    """Request-level policy rules (no I/O); the operation enforces the full policy."""
    try:
        from opsagent.scaling.policy import load_policy

        policy = load_policy()
    except Exception as exc:
        return False, f"scaling policy unavailable: {type(exc).__name__}"
    ns = params.get("namespace", "")
    if ns in policy.protected:
        return False, f"namespace {ns} is protected"
    allowed = list(getattr(policy, "allowed_namespaces", []) or [])
    if ns not in allowed:
        return False, f"namespace {ns} is not in the allowed namespaces"
    try:
        replicas = int(params.get("replicas", ""))
    except ValueError:
        return False, "replicas missing or not an integer"
    lo, hi = getattr(policy, "min_replicas", 1), getattr(policy, "max_replicas", 10)
    if not lo <= replicas <= hi:
        return False, f"replicas {replicas} outside [{lo}, {hi}]"
    return True, "request-level policy rules pass"


def _confirmation_params(req: Any) -> dict[str, str]:
    params = getattr(req, "parameters", None) or {}
    if isinstance(params, list):
        params = {p.get("name"): p.get("value") for p in params if isinstance(p, dict)}
    out = {str(k): str(v) for k, v in dict(params).items()}
    body = getattr(req, "request_body", None) or getattr(req, "body", None)
    if isinstance(body, dict):
        out.update({str(k): str(v) for k, v in body.items()})
    return out


def parse_answer(text: str) -> dict[str, Any]:
    """The last fenced JSON object in the answer ({} when there is none or it is invalid)."""
    for block in reversed(_JSON_BLOCK.findall(text or "")):
        try:
            data = json.loads(block)
        except ValueError:
            continue
        if isinstance(data, dict):
            return data
    return {}


def _cite(items: Any, results: list[ToolResult]) -> list[str]:
    refs: list[str] = []
    for item in items if isinstance(items, list) else [items]:
        item = str(item).strip()
        if _REF.match(item):
            found = [item] if item == "ALARM" or any(r.ref == item for r in results) else []
        else:
            found = [r.ref for r in results if r.operation == item]
        refs += [x for x in found if x not in refs]
    return refs[:10]


def investigate_with_agent(
    facts: AlarmFacts,
    runner: OperationRunner,
    settings: TriggerSettings,
    *,
    session_factory: SessionFactory = default_session_factory,
    client: Any = None,
) -> RcaReport:
    """Raises AgentUnavailable (from the session) when Bedrock cannot be used."""
    cfg = settings.config
    evidence = list(runner.results)
    kwargs: dict[str, Any] = {
        "agent_id": settings.agent_id,
        "alias_id": settings.agent_alias_id,
        "session_id": runner.ctx.session_id,
        "session_attributes": {"incident_id": facts.incident_id, "trigger": "alarm"},
        "enable_trace": True,
    }
    if client is not None:
        kwargs["client"] = client
    session = session_factory(**kwargs)
    usage = Usage()
    actions: list[ActionTaken] = []
    proposals: list[Proposal] = []
    gaps: list[str] = []

    def absorb(turn: Any) -> None:
        for call in getattr(turn, "tool_calls", None) or []:
            runner.record(_tool_result_from_call(call))
        u = getattr(turn, "usage", None)
        if u is not None:
            usage.input_tokens += int(getattr(u, "input_tokens", 0) or 0)
            usage.output_tokens += int(getattr(u, "output_tokens", 0) or 0)

    turn = session.ask(build_prompt(facts, evidence, settings))
    absorb(turn)
    answered = 0
    while getattr(turn, "pending_confirmation", None) is not None:
        req = turn.pending_confirmation
        spec = spec_for_route(str(getattr(req, "action_group", "")), str(getattr(req, "api_path", "")))
        operation = spec.operation_id if spec else str(getattr(req, "api_path", "unknown"))
        params = _confirmation_params(req)
        if answered >= cfg.max_confirmations:
            gaps.append(f"agent asked to run {operation} again after {answered} confirmations; stopped")
            confirm, why = False, f"max_confirmations={cfg.max_confirmations} reached"
        elif cfg.mutation_mode == "confirm" and operation in cfg.confirm_operations:
            confirm, why = _policy_allows(params) if operation == "scaleDeployment" else (True, "configured")
        else:
            confirm, why = False, f"mutation_mode={cfg.mutation_mode}: proposals only"
        if confirm:
            actions.append(
                ActionTaken(operation=operation, parameters=params, decision="confirmed", detail=why)
            )
        else:
            proposals.append(
                Proposal(
                    operation=operation,
                    parameters=params,
                    why=params.get("reason", ""),
                    status="denied",
                    detail=f"requested by the agent; denied by the trigger ({why})",
                )
            )
        answered += 1
        before = len(runner.results)
        turn = session.answer_confirmation(req, confirm=confirm)
        absorb(turn)
        if confirm:
            # Link the action to the tool call that carried it out (its body says applied/refused).
            done = [r for r in runner.results[before:] if r.operation == operation]
            if done:
                actions[-1].evidence = [done[-1].ref]
                body = done[-1].body()
                if isinstance(body, dict) and body.get("error") == "policy_refused":
                    actions[-1].decision = "refused"
                    actions[-1].detail = str(body.get("message", ""))[:300]
                elif done[-1].ok:
                    actions[-1].decision = "applied"
        if answered > cfg.max_confirmations:
            break

    text = str(getattr(turn, "text", "") or "")
    data = parse_answer(text)
    results = runner.results
    findings = [
        Finding(summary=str(f.get("summary", ""))[:600], evidence=_cite(f.get("evidence", []), results))
        for f in data.get("findings", [])
        if isinstance(f, dict) and f.get("summary")
    ][:15]
    next_steps_list: list[str] = []
    confidence = str(data.get("confidence", "")).lower()
    if data.get("probable_cause"):
        cause = ProbableCause(
            summary=str(data["probable_cause"])[:1000],
            confidence=confidence if confidence in ("high", "medium", "low") else "unknown",
            evidence=sorted({r for f in findings for r in f.evidence}),
        )
    else:
        # No structured block: keep the answer, and let the deterministic analysis speak for the evidence.
        auto_findings, cause, _ = analyze(facts, results)
        next_steps_list = next_steps(facts, cause.category)
        cause = cause.model_copy(
            update={
                "summary": f"(from the evidence; the agent gave no structured answer) {cause.summary}"[:1000]
            }
        )
        findings = findings or auto_findings
        gaps.append("the agent's answer had no structured JSON block")
    gaps += [str(g)[:300] for g in data.get("gaps", []) if g][:10]
    for p in data.get("proposals", []) if isinstance(data.get("proposals"), list) else []:
        if isinstance(p, dict) and p.get("operation"):
            params = p.get("parameters") if isinstance(p.get("parameters"), dict) else {}
            params = {str(k): str(v)[:200] for k, v in params.items()}
            twin = next(
                (
                    q
                    for q in proposals
                    if q.operation == p["operation"]
                    and all(q.parameters.get(k, v) == v for k, v in params.items())
                ),
                None,
            )
            if twin is not None:  # the request the trigger already denied, restated in the answer
                twin.why = twin.why or str(p.get("why", ""))[:300]
                continue
            proposals.append(
                Proposal(
                    operation=str(p["operation"])[:64],
                    parameters=params,
                    why=str(p.get("why", ""))[:300],
                )
            )
    return RcaReport(
        incident_id=facts.incident_id,
        alarm=facts,
        produced_by="agent",
        answer=text[:6000] or None,
        findings=findings,
        probable_cause=cause,
        tool_calls=list(results),
        actions_taken=actions,
        proposals=proposals,
        gaps=gaps,
        next_steps=next_steps_list,
        usage=usage,
        session_id=runner.ctx.session_id,
    )
