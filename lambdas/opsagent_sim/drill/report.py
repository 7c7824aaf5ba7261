"""The drill's printed report."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, TextIO

from opsagent_sim.drill.scenario import FLAP_AFTER_MINUTES, DrillScenario
from opsagent_sim.drill.world import DrillEnv

if TYPE_CHECKING:
    from opsagent_sim.drill.runner import DrillResult


class Printer:
    def __init__(self, out: TextIO | None, *, full: bool = False, verbose: bool = False) -> None:
        self.out = out
        self.full = full
        self.verbose = verbose

    def p(self, text: str = "") -> None:
        if self.out is not None:
            print(text, file=self.out)

    def rule(self, title: str) -> None:
        self.p(f"\n== {title} " + "=" * max(3, 76 - len(title)))

    def header(self, scenario: DrillScenario, env: DrillEnv) -> None:
        self.p(f"OpsAgent offline drill: {scenario.name} - {scenario.title}")
        self.p(f"  AWS emulator:        moto on {env.aws_url} (no AWS account; fake credentials)")
        self.p(f"  Kubernetes emulator: {env.kube.url} (scenario {scenario.k8s_scenario}.yaml)")
        self.p("  Bedrock agent:       not configured -> the no-model investigation (runbook fallback)")

    def investigation(self, r: DrillResult) -> None:
        rep = r.report
        out = r.outcome
        self.rule("Alarm")
        if rep is not None:
            a = rep.alarm
            self.p(f"  {a.summary_line()}")
            self.p(f"  kind {a.kind}; state {a.state} at {a.state_timestamp}; incident {rep.incident_id}")
            if a.expression:
                self.p(f"  expression {a.expression} over {[m.name for m in a.metrics]}")
            self.p(f"  reason: {a.reason[:200]}")
        self.p(
            f"  trigger: lambda_handler(event) -> {out.get('status')} in {r.trigger_seconds:.1f}s"
            + (f" (no model: {out.get('fallback_reason')})" if out.get("produced_by") == "runbook" else "")
        )
        if rep is None:
            self.p(f"  {out.get('message')}")
            return
        from opsagent.investigation.evidence import key_evidence

        self.rule("Investigation")
        if rep.runbook:
            self.p(f"  runbook: {rep.runbook.id} - {rep.runbook.title} (score {rep.runbook.score})")
        for t in rep.tool_calls:
            params = ", ".join(f"{k}={v}" for k, v in t.parameters.items())
            self.p(f"  {t.ref:<4}{t.operation}({params[:90]}) -> {t.status} [{t.source}]")
            self.p(f"        {key_evidence(t, 150)}")
        cause = rep.probable_cause
        self.rule("Probable cause")
        self.p(f"  {cause.summary}")
        self.p(f"  confidence: {cause.confidence}; evidence: {', '.join(cause.evidence) or '-'}")
        self.p("  findings:")
        for i, f in enumerate(rep.findings, 1):
            self.p(f"    {i}. {f.summary} [{', '.join(f.evidence)}]")
        self.p("  proposals (not executed):" if rep.proposals else "  proposals: none")
        for prop in rep.proposals:
            params = ", ".join(f"{k}={v}" for k, v in prop.parameters.items() if k != "reason")
            self.p(f"    - {prop.operation}({params}) - {prop.detail or ''}"[:300])
        if rep.gaps:
            self.p("  gaps:")
            for g in rep.gaps:
                self.p(f"    - {g}")

        self.rule(f"Ticket {r.ticket.get('ticket_id', '?')}")
        t = r.ticket
        self.p(f"  {t.get('title')}")
        self.p(f"  status {t.get('status')}, severity {t.get('severity')}, service {t.get('service')}")
        text = str(t.get("description", ""))
        if not self.full and "\n### Evidence" in text:
            head, _, rest = text.partition("\n### Evidence")
            blocks = rest.count("Key evidence:")
            text = (
                head
                + f"\n### Evidence\n({blocks} tool results with key evidence and excerpts; --full shows them)"
            )
        for line in text.splitlines():
            self.p(f"  | {line}")
        for c in r.ticket_comments:
            self.p(f"  comment: {' '.join(c.split())[:230]}")

        self.rule("Audit trail")
        for rec in r.audit:
            detail = (rec.detail or "")[:110]
            self.p(f"  {rec.at[11:23]} {rec.operation:<17} {rec.decision:<12} {rec.rule or '':<20} {detail}")

        self.rule("Duplicate delivery and flapping")
        d, f = r.duplicate, r.flap
        self.p(f"  same event delivered again     -> {d.get('status')}: {d.get('message')}")
        self.p(
            f"  ALARM again {FLAP_AFTER_MINUTES} minutes later    -> {f.get('status')}: {f.get('message')}"
        )
        self.p(f"  tickets for this alarm: {r.tickets_for_alarm}; comments on it: {len(r.ticket_comments)}")

        if r.log_lines:
            self.rule("Lambda log")
            if self.verbose:
                for line in r.log_lines:
                    self.p(f"  {line[:400]}")
            else:
                n = len(r.log_lines)
                self.p(f"  {n} warning line(s) from the tools (log level WARNING); --verbose shows them")

        self.rule("Expected findings")
        for c in r.checks:
            self.p(
                f"  [{'ok' if c.ok else 'FAIL'}] {c.name}"
                + (f" - {c.detail}" if c.detail and not c.ok else "")
            )
        verdict = "PASS" if r.passed else "FAIL"
        self.p(f"\n{verdict}: {r.scenario} in {r.seconds:.1f}s")

    def failure(self, r: DrillResult, exc: Exception) -> None:
        self.p(f"\nFAIL: {r.scenario}: the pipeline failed: {r.error}")
        if os.environ.get("OPSAGENT_DRILL_DEBUG"):
            import traceback

            traceback.print_exception(exc, file=self.out or sys.stderr)
        else:
            self.p("  (OPSAGENT_DRILL_DEBUG=1 prints the traceback)")
