"""One drill run (the real trigger, three deliveries) and its checks against the scenario's expectations."""

from __future__ import annotations

import copy
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, TextIO

from pydantic import BaseModel, ConfigDict, Field

from opsagent_sim.drill.alarms import build_alarm_event
from opsagent_sim.drill.report import Printer
from opsagent_sim.drill.scenario import FLAP_AFTER_MINUTES, DrillScenario, load_scenario
from opsagent_sim.drill.world import FakeLambdaContext, captured_logs, drill_environment

CONFIDENCE_RANK = {"unknown": 0, "low": 1, "medium": 2, "high": 3}


class Check(BaseModel):
    name: str
    ok: bool
    detail: str = ""


class DrillResult(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    scenario: str
    outcome: dict[str, Any] = Field(default_factory=dict)
    duplicate: dict[str, Any] = Field(default_factory=dict)
    flap: dict[str, Any] = Field(default_factory=dict)
    cluster_writes: int = Field(default=0, description="Write requests the Kubernetes emulator received")
    report: Any = None
    ticket: dict[str, Any] = Field(default_factory=dict)
    ticket_comments: list[str] = Field(default_factory=list)
    tickets_for_alarm: int = 0
    audit: list[Any] = Field(default_factory=list)
    checks: list[Check] = Field(default_factory=list)
    seconds: float = 0.0
    trigger_seconds: float = 0.0
    log_lines: list[str] = Field(default_factory=list)
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and bool(self.checks) and all(c.ok for c in self.checks)


def _read_ticket(table: str, ticket_id: str) -> tuple[dict[str, Any], list[str], int]:
    from opsagent.aws import client
    from opsagent.tickets.dynamodb import DynamoDBBackend

    ddb = client("dynamodb")
    item = ddb.get_item(TableName=table, Key={"ticket_id": {"S": ticket_id}}, ConsistentRead=True).get(
        "Item", {}
    )
    ticket = {k: next(iter(v.values())) for k, v in item.items()}
    comments = DynamoDBBackend(table).comments(ticket_id)
    fp = ticket.get("fingerprint")
    count = 0
    if fp:
        resp = ddb.query(
            TableName=table,
            IndexName="by_fingerprint",
            KeyConditionExpression="fingerprint = :f",
            ExpressionAttributeValues={":f": {"S": fp}},
        )
        count = sum(1 for i in resp.get("Items", []) if i.get("kind", {}).get("S") == "ticket")
    return ticket, comments, count


def evaluate(scenario: DrillScenario, result: DrillResult) -> list[Check]:
    """The scenario's expectations against what the pipeline produced (ticket + audit, not exit codes)."""
    exp = scenario.expect
    checks: list[Check] = []
    report = result.report
    checks.append(
        Check(
            name="investigated",
            ok=result.outcome.get("status") == "investigated",
            detail=str(result.outcome.get("message", "")),
        )
    )
    if report is None:
        return [*checks, Check(name="report", ok=False, detail="no report produced")]
    cause = report.probable_cause
    if exp.runbook:
        got = report.runbook.id if report.runbook else None
        checks.append(
            Check(name="runbook", ok=got == exp.runbook, detail=f"expected {exp.runbook}, got {got}")
        )
    if exp.category:
        checks.append(
            Check(
                name="category",
                ok=cause.category == exp.category,
                detail=f"expected {exp.category}, got {cause.category}",
            )
        )
    checks.append(
        Check(
            name="confidence",
            ok=CONFIDENCE_RANK[cause.confidence] >= CONFIDENCE_RANK[exp.min_confidence],
            detail=f"at least {exp.min_confidence}, got {cause.confidence}",
        )
    )
    for word in exp.cause_keywords:
        checks.append(Check(name=f"cause mentions {word!r}", ok=word.lower() in cause.summary.lower()))
    signals = {f.signal for f in report.findings if f.signal}
    for sig in exp.signals:
        checks.append(Check(name=f"finding {sig}", ok=sig in signals, detail=f"signals: {sorted(signals)}"))
    proposed = {p.operation for p in report.proposals}
    for op in exp.proposals:
        checks.append(Check(name=f"proposes {op} (not executed)", ok=op in proposed))
    cited = all(f.evidence for f in report.findings) and bool(cause.evidence)
    checks.append(Check(name="findings cite evidence", ok=cited))
    description = str(result.ticket.get("description", ""))
    checks.append(
        Check(
            name="ticket filed with the RCA",
            ok=bool(result.ticket) and cause.summary[:60] in description and "no model" in description,
            detail=str(result.ticket.get("ticket_id", "")),
        )
    )
    for secret in exp.redacted:
        checks.append(
            Check(name="secret redacted in ticket", ok=secret not in description, detail=secret[:6] + "...")
        )
    ops = [(a.operation, a.decision) for a in result.audit]
    checks.append(
        Check(
            name="audit trail",
            ok=("investigateAlarm", "recorded") in ops and ("createTicket", "applied") in ops,
            detail=f"{len(ops)} record(s)",
        )
    )
    checks.append(
        Check(
            name="duplicate delivery ignored",
            ok=result.duplicate.get("status") == "duplicate" and result.tickets_for_alarm == 1,
            detail=f"second delivery -> {result.duplicate.get('status')}; tickets for the alarm: "
            f"{result.tickets_for_alarm}",
        )
    )
    checks.append(
        Check(
            name="flapping alarm coalesced into the ticket",
            ok=result.flap.get("status") == "coalesced"
            and result.flap.get("ticket_id") == result.outcome.get("ticket_id")
            and any("flap window" in c for c in result.ticket_comments),
            detail=f"ALARM again {FLAP_AFTER_MINUTES} min later -> {result.flap.get('status')}",
        )
    )
    checks.append(
        Check(name="no mutation executed", ok=not report.actions_taken and _replicas_unchanged(result))
    )
    return checks


def _replicas_unchanged(result: DrillResult) -> bool:
    applied = any(a.operation == "scaleDeployment" and a.decision == "applied" for a in result.audit)
    return not applied and result.cluster_writes == 0


def run_drill(
    name: str | Path, *, out: TextIO | None = None, full: bool = False, verbose: bool = False
) -> DrillResult:
    """Run one scenario in this process; print the report to ``out`` (None: silent)."""
    started = time.monotonic()
    scenario = load_scenario(name)
    result = DrillResult(scenario=scenario.name)
    printer = Printer(out, full=full, verbose=verbose)
    try:
        with drill_environment(scenario) as env:
            printer.header(scenario, env)
            from opsagent.investigation import pipeline

            captured: dict[str, Any] = {}

            def observe(stage: str, data: dict) -> None:
                if stage == "report":
                    captured["report"] = data["report"]

            # The alarm fired 6 minutes ago; it flaps (OK, then ALARM again) now, within the flap window.
            event = build_alarm_event(scenario, env.now - timedelta(minutes=FLAP_AFTER_MINUTES))
            flap = build_alarm_event(scenario, env.now)
            from opsagent.handlers.trigger import lambda_handler

            pipeline.OBSERVERS.append(observe)
            try:
                with captured_logs() as logs:
                    t0 = time.monotonic()
                    result.outcome = lambda_handler(copy.deepcopy(event), FakeLambdaContext())
                    result.trigger_seconds = time.monotonic() - t0
                    result.report = captured.get("report")
                    result.duplicate = lambda_handler(copy.deepcopy(event), FakeLambdaContext())
                    result.flap = lambda_handler(flap, FakeLambdaContext())
            finally:
                pipeline.OBSERVERS.remove(observe)
            result.log_lines = [line for line in logs.getvalue().splitlines() if line.strip()]
            result.cluster_writes = sum(
                1 for r in env.kube.requests if r.method in ("POST", "PUT", "PATCH", "DELETE")
            )
            ticket_id = result.outcome.get("ticket_id")
            if ticket_id:
                result.ticket, result.ticket_comments, result.tickets_for_alarm = _read_ticket(
                    env.tables["tickets"], ticket_id
                )
            incident = result.outcome.get("incident_id")
            if incident:
                from opsagent.audit import AuditTrail

                result.audit = AuditTrail(env.tables["audit"]).for_incident(incident)
            result.checks = evaluate(scenario, result)
            result.seconds = time.monotonic() - started
            printer.investigation(result)
    except Exception as exc:  # the drill reports a failed pipeline instead of a traceback wall
        result.error = f"{type(exc).__name__}: {exc}"
        result.seconds = time.monotonic() - started
        printer.failure(result, exc)
    return result


def run_eval(names: list[str], out: TextIO | None = None) -> tuple[int, int, list[DrillResult]]:
    """Run ``names`` silently, printing one line each and the pass rate to ``out``."""
    results = []
    for name in names:
        r = run_drill(name, out=None)
        results.append(r)
        if out is not None:
            failed = [c.name for c in r.checks if not c.ok]
            why = r.error or (", ".join(failed) if failed else "")
            cause = r.report.probable_cause if r.report is not None else None
            summary = f"{cause.category} ({cause.confidence})" if cause else "-"
            print(
                f"  {'PASS' if r.passed else 'FAIL'}  {name:<28} {r.seconds:5.1f}s  {summary:<24} {why}",
                file=out,
            )
    passed = sum(1 for r in results if r.passed)
    if out is not None:
        rate = 100.0 * passed / len(results) if results else 0.0
        print(f"\n{passed}/{len(results)} scenarios reached their expected findings ({rate:.0f}%)", file=out)
    return passed, len(results), results
