"""The root-cause analysis an investigation produces, and its Markdown rendering for the ticket.

Every finding cites the tool calls behind it (``T1``, ``T2`` ... in the "Evidence" section, or
``ALARM`` for the alarm itself), so a reader can check each claim against what was observed.
The rendering is bounded: each evidence excerpt is clipped and the whole text stays under
``max_bytes`` of UTF-8 (the tickets API counts bytes: 16 KB), saying what was left out.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from opsagent.investigation.alarm import AlarmFacts
from opsagent.investigation.evidence import key_evidence
from opsagent.investigation.operations import ToolResult

Confidence = Literal["high", "medium", "low", "unknown"]


class Finding(BaseModel):
    summary: str = Field(max_length=600)
    evidence: list[str] = Field(default_factory=list, description="Tool-call refs (T1...) or ALARM")
    signal: str | None = Field(default=None, description="Machine-readable problem, e.g. OOMKilled")


class ProbableCause(BaseModel):
    summary: str = Field(max_length=1000)
    confidence: Confidence = "unknown"
    category: str | None = Field(default=None, description="e.g. oom, bad_image, cpu_saturation")
    evidence: list[str] = Field(default_factory=list)


class Proposal(BaseModel):
    """A mutation someone should consider; never executed by the fallback or in propose mode."""

    operation: str
    parameters: dict[str, str] = Field(default_factory=dict)
    why: str = ""
    status: Literal["proposed", "denied", "confirmed", "skipped"] = "proposed"
    detail: str | None = None


class ActionTaken(BaseModel):
    operation: str
    parameters: dict[str, str] = Field(default_factory=dict)
    decision: Literal["confirmed", "denied", "applied", "refused", "failed", "recorded"]
    detail: str | None = None
    evidence: list[str] = Field(default_factory=list)


class Usage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens


class RunbookRef(BaseModel):
    id: str
    title: str = ""
    score: float | None = None
    reasons: str | None = None


class RcaReport(BaseModel):
    incident_id: str
    alarm: AlarmFacts
    produced_by: Literal["agent", "runbook"] = Field(description="agent = Bedrock model; runbook = no model")
    fallback_reason: str | None = Field(
        default=None, description="Why no model was used (AgentUnavailable reason)"
    )
    fallback_detail: str | None = None
    runbook: RunbookRef | None = None
    answer: str | None = Field(default=None, description="The agent's final answer, bounded")
    findings: list[Finding] = Field(default_factory=list)
    probable_cause: ProbableCause = Field(default_factory=lambda: ProbableCause(summary="undetermined"))
    tool_calls: list[ToolResult] = Field(default_factory=list)
    actions_taken: list[ActionTaken] = Field(default_factory=list)
    proposals: list[Proposal] = Field(default_factory=list)
    gaps: list[str] = Field(default_factory=list)
    next_steps: list[str] = Field(default_factory=list, description="Manual follow-ups for a human")
    usage: Usage = Field(default_factory=Usage)
    session_id: str | None = None
    evidence_chars: int = Field(default=1200, description="Per tool call in the ticket (step_evidence_chars)")
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def model_used(self) -> bool:
        return self.produced_by == "agent"

    def title(self) -> str:
        """``[alarm] <probable cause>`` (the cause names the workload), at most 200 characters."""
        if self.probable_cause.confidence == "unknown":
            return f"[{self.alarm.alarm_name}] {self.alarm.workload.label()}: investigation"[:200]
        title = f"[{self.alarm.alarm_name}] {self.probable_cause.summary}"
        return title if len(title) <= 200 else title[:199].rstrip() + "…"

    def to_markdown(self, *, max_bytes: int = 12_000, excerpt_chars: int | None = None) -> str:
        chars = excerpt_chars or self.evidence_chars
        return render_markdown(self, max_bytes=max_bytes, excerpt_chars=chars)


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    return (
        text
        if len(text) <= limit
        else text[: max(0, limit - 30)].rstrip() + f" ...[+{len(text) - limit + 30} chars]"
    )


def _line(text: str, limit: int | None = None) -> str:
    """Free text (tool messages, the agent's words) as one Markdown-inert line: whitespace collapsed,
    so it cannot open a heading, list or fence of its own; a leading block marker escaped."""
    text = " ".join(str(text).split())
    if limit is not None:
        text = _clip(text, limit)
    return "\\" + text if text[:1] in "#>-+*=|~`" and text else text


def _fenced(text: str, info: str = "") -> str:
    """``text`` in a code fence longer than any backtick run inside it, so it cannot close the fence."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def _refs(refs: list[str]) -> str:
    return f" [{', '.join(refs)}]" if refs else ""


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _cut(text: str, max_bytes: int, marker: str = "") -> str:
    """``text`` within ``max_bytes`` of UTF-8 (on a character boundary), ``marker`` appended when cut."""
    if _size(text) <= max_bytes:
        return text
    room = max(0, max_bytes - _size(marker))
    return text.encode("utf-8")[:room].decode("utf-8", errors="ignore") + marker


def render_markdown(report: RcaReport, *, max_bytes: int = 12_000, excerpt_chars: int = 1200) -> str:
    a = report.alarm
    mode = (
        "Bedrock agent"
        if report.model_used
        else f"**no model** (runbook fallback; reason: {report.fallback_reason or 'n/a'})"
    )
    head = [
        f"## OpsAgent investigation — {a.alarm_name}",
        f"- Incident: `{report.incident_id}`",
        f"- Produced by: {mode}",
        f"- Alarm: {a.summary_line()}",
    ]
    if a.reason:
        head.append(f"- Reason: {_line(a.reason, 300)}")
    if a.kind == "metric_math" and a.expression:
        head.append(f"- Expression: `{a.expression}` ({a.expression_label or 'metric math'})")
    if a.kind == "composite":
        names = ", ".join(t.name for t in a.triggering_alarms) or "unknown"
        head.append(f"- Composite rule: `{a.alarm_rule}`; triggered by: {names}")
    if report.runbook:
        head.append(f"- Runbook: `{report.runbook.id}` {_line(report.runbook.title, 200)}".rstrip())

    cause = report.probable_cause
    body = [
        "",
        "### Probable cause",
        f"{_line(cause.summary)} (confidence: **{cause.confidence}**){_refs(cause.evidence)}",
        "",
        "### Findings",
    ]
    body += [f"{i}. {_line(f.summary)}{_refs(f.evidence)}" for i, f in enumerate(report.findings, 1)] or [
        "- none"
    ]
    if report.actions_taken:
        body += ["", "### Actions taken"]
        body += [
            f"- {x.operation} {_params(x.parameters)} -> **{x.decision}**"
            + (f": {_line(x.detail, 300)}" if x.detail else "")
            for x in report.actions_taken
        ]
    body += ["", "### Proposed actions (not executed)" if not report.model_used else "### Proposed actions"]
    body += [
        f"- {p.operation} {_params(p.parameters)} — {_line(p.why) or 'no reason given'} ({p.status})"
        + (f" — {_line(p.detail)}" if p.detail else "")
        for p in report.proposals
    ] or ["- none"]
    if report.next_steps:
        body += ["", "### Recommended next steps (for a human)"]
        body += [f"- {_line(step)}" for step in report.next_steps]
    body += ["", "### Gaps in the evidence"]
    body += [f"- {_line(g)}" for g in report.gaps] or ["- none noted"]
    if report.model_used or report.usage.total:
        body += ["", f"Token usage: {report.usage.input_tokens} in / {report.usage.output_tokens} out"]
    if report.model_used and report.answer:
        body += ["", "### Agent answer (its own words, as text)", _fenced(_clip(report.answer, 3000), "text")]

    blocks = []
    for t in report.tool_calls:
        status = t.status if t.status is not None else "?"
        lines = [
            f"**{t.ref}** `{t.operation or t.api_path}` {_params(t.parameters)} -> {status} ({t.source})"
        ]
        if t.why:
            lines.append(f"_why: {_line(t.why, 200)}_")
        lines.append(f"Key evidence: {_line(key_evidence(t))}")
        lines.append(_fenced(_clip(t.text, excerpt_chars), "json"))
        blocks.append("\n".join(lines))

    # The analysis first (at most 3/4 of the budget), then as many evidence blocks as fit.
    text = _cut("\n".join(head + body), max_bytes * 3 // 4, "\n…(report shortened to fit the ticket)")
    text += "\n\n### Evidence"
    remaining = max_bytes - _size(text) - 400  # room for the omission note
    omitted = []
    for block in blocks:
        if _size(block) + 1 > remaining:
            omitted.append(block.split(" ", 1)[0].strip("*"))
            continue
        text += "\n" + block
        remaining -= _size(block) + 1
    if not blocks:
        text += "\n- no tool calls"
    if omitted:
        names = ", ".join(omitted[:20]) + (f" and {len(omitted) - 20} more" if len(omitted) > 20 else "")
        text += (
            f"\n\n_(evidence truncated: {names} omitted to stay under {max_bytes} bytes; "
            "see the audit trail)_"
        )
    return _cut(text, max_bytes)


def _params(params: dict[str, str]) -> str:
    if not params:
        return ""
    return "(" + ", ".join(f"{_line(k, 40)}={_line(v, 60)}" for k, v in params.items()) + ")"
