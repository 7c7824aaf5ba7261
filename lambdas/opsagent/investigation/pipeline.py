"""One alarm state change, end to end.

``handle_alarm_event(event)``:

1. parse (not an alarm state change, or not ``ALARM`` -> ``ignored``, no side effects);
2. claim the delivery (alarm ARN + state timestamp) -> a duplicate delivery is ``duplicate``;
3. open or join the alarm's incident (flap window) -> a join comments on the open ticket
   (``coalesced``);
4. pre-enrich: resolve a composite's child alarms, query the alarm's metric window and list the
   workload's pods, through the same operations the agent calls;
5. investigate with the Bedrock Agent, or without a model (runbook fallback) when no agent is
   configured or Bedrock fails (AgentUnavailable: throttling, dependency_failed, access_denied,
   timeout ...);
6. file the RCA as a ticket (tickets domain API, fingerprint = alarm ARN) and record it in the
   audit trail; mark the delivery done.

If anything after the claim raises, the claim is released and the exception propagates, so the
asynchronous Lambda retry (or EventBridge redelivery) can run the investigation again. If the
Lambda dies without running its clean-up (timeout, out of memory), its own retry takes the claim
over, and any other delivery once the claim's lease (the invocation's remaining time) is over; a
delivery that meets an investigation in progress raises (retryable) instead of reporting success,
so nothing is acknowledged that was not investigated.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from opsagent.agent_runtime import attempt_session_id
from opsagent.context import CallContext
from opsagent.errors import OpsAgentError
from opsagent.investigation.alarm import (
    AlarmFacts,
    MetricRef,
    NotAnAlarmEvent,
    TriggeringAlarm,
    extract_facts,
    name_from_arn,
    parse_event,
)
from opsagent.investigation.config import TriggerSettings
from opsagent.investigation.dedup import AlarmStateStore, DeliveryInProgress, IncidentSlot
from opsagent.investigation.fallback import investigate_without_model, metric_params
from opsagent.investigation.operations import Dispatch, OperationRunner
from opsagent.investigation.rca import RcaReport
from opsagent.investigation.workload import WorkloadRef, resolve_workload

log = logging.getLogger("opsagent.investigation")
TRIGGER_OPERATION = "investigateAlarm"


class Outcome(BaseModel):
    status: Literal["investigated", "duplicate", "coalesced", "ignored"]
    message: str
    incident_id: str | None = None
    ticket_id: str | None = None
    ticket_url: str | None = None
    produced_by: str | None = None
    fallback_reason: str | None = None
    probable_cause: str | None = None
    confidence: str | None = None
    report: RcaReport | None = Field(default=None, exclude=True)

    def summary(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class TicketSink(Protocol):
    def create(self, report: RcaReport, ctx: CallContext) -> tuple[str, str, bool]:
        """File the RCA; (ticket id, url, deduplicated into an existing open ticket)."""

    def comment(self, ticket_id: str, text: str, ctx: CallContext) -> None: ...

    def is_open(self, ticket_id: str, fingerprint: str, ctx: CallContext) -> bool | None:
        """False when the ticket is known to be closed; None when unknown."""


@dataclass
class Dependencies:
    """Everything with I/O, injectable for tests (defaults are the production ones)."""

    store: AlarmStateStore | None = None
    tickets: TicketSink | None = None
    audit: Any = None
    session_factory: Callable[..., Any] | None = None
    agent_client: Any = None
    dispatch: Dispatch | None = None
    runbooks_loader: Callable[[], list[Any]] | None = None
    describe_alarms: Callable[[list[str]], list[dict]] | None = None
    on_progress: Callable[[str, dict], None] | None = None


#: The tickets API takes descriptions and comments of at most 16 KB of UTF-8
#: (opsagent.tickets.models.MAX_TEXT_BYTES); the service appends a footer to a description.
TEXT_LIMIT_BYTES = 16 * 1024
COMMENT_BUDGET = TEXT_LIMIT_BYTES - 256


def ticket_budget(ctx: CallContext, service_name: str, fingerprint: str) -> int:
    """Bytes the RCA may use in a ticket description: 16 KB minus the footer the tickets service
    appends ("Filed by OpsAgent (incident ..., trigger ..., service ..., severity ..., fingerprint ...)")."""
    footer = 160 + sum(len(v.encode()) for v in (ctx.incident_id, ctx.trigger, service_name, fingerprint))
    return TEXT_LIMIT_BYTES - footer


def _service_name(facts: AlarmFacts) -> str:
    if facts.workload.name:
        return facts.workload.name
    slug = re.sub(r"[^a-z0-9._-]+", "-", facts.alarm_name.lower()).strip("-._")
    return (slug or "unknown")[:63]


def _severity(report: RcaReport) -> str:
    cause = report.probable_cause
    if cause.category in {"bad_image", "oom", "crashloop", "config_error"} and cause.confidence == "high":
        return "sev2"
    return "sev3"


class DomainTickets:
    """The tickets domain API (:mod:`opsagent.tickets.service`; backend from ``OPSAGENT_TICKETS`` /
    ``OPSAGENT_TICKETS_TABLE``). It audits createTicket / addTicketComment itself."""

    def create(self, report: RcaReport, ctx: CallContext) -> tuple[str, str, bool]:
        from opsagent.tickets import service
        from opsagent.tickets.models import TicketRequest

        service_name = _service_name(report.alarm)
        request = TicketRequest(
            title=report.title(),
            description=report.to_markdown(
                max_bytes=ticket_budget(ctx, service_name, report.alarm.fingerprint)
            ),
            severity=_severity(report),
            service=service_name,
            fingerprint=report.alarm.fingerprint,
        )
        result = service.create_ticket(ctx, request)
        return result.id, result.url, bool(result.deduplicated)

    def comment(self, ticket_id: str, text: str, ctx: CallContext) -> None:
        from opsagent.tickets import service
        from opsagent.tickets.models import MAX_TEXT_BYTES, clip_bytes

        service.add_comment(ctx, ticket_id, clip_bytes(text, MAX_TEXT_BYTES - 64))

    def is_open(self, ticket_id: str, fingerprint: str, ctx: CallContext) -> bool | None:
        from opsagent.tickets import service

        try:
            found = service.search(ctx, fingerprint=fingerprint, include_closed=True, limit=25, audit=None)
        except Exception:
            return None
        for ticket in found.tickets:
            if ticket.id == ticket_id:
                return ticket.status != "closed"
        return None


#: Process-wide observers of every investigation's stages (the drill prints from them):
#: ``callback(stage, data)`` with stage in alarm | duplicate | coalesced | enriched | report.
OBSERVERS: list[Callable[[str, dict], None]] = []


def _progress(deps: Dependencies, stage: str, **data: Any) -> None:
    for callback in [*OBSERVERS, *([deps.on_progress] if deps.on_progress else [])]:
        try:
            callback(stage, data)
        except Exception:  # an observer must never break an investigation
            log.exception("progress observer failed")


def _describe_alarms_cloudwatch(names: list[str]) -> list[dict]:
    from opsagent.aws import client

    resp = client("cloudwatch").describe_alarms(AlarmNames=names[:10], AlarmTypes=["MetricAlarm"])
    return list(resp.get("MetricAlarms", []))


_RULE_CHILD = re.compile(
    r"""(?P<neg>\bNOT\s+)?\bALARM\(\s*(?:"(?P<dq>[^"]+)"|'(?P<sq>[^']+)'|(?P<bare>[^\s()"']+))\s*\)"""
)


def rule_children(rule: str) -> list[TriggeringAlarm]:
    """The child alarms a composite's ``alarmRule`` needs in ALARM: ``ALARM(name)``, ``ALARM("name")``
    or ``ALARM("arn:...:alarm:name")``; ``NOT ALARM(...)`` children are conditions, not causes."""
    out: list[TriggeringAlarm] = []
    for m in _RULE_CHILD.finditer(rule):
        if m.group("neg"):
            continue
        value = (m.group("dq") or m.group("sq") or m.group("bare") or "").strip()
        arn = value if value.startswith("arn:") else ""
        name = name_from_arn(value) if arn else value
        if name and all(t.name != name for t in out):
            out.append(TriggeringAlarm(arn=arn, name=name))
    return out


def child_metrics(alarm: dict) -> list[MetricRef]:
    """The metrics of one DescribeAlarms MetricAlarm: its single metric, or the MetricStats of its
    metric-math queries (``Dimensions`` are ``[{Name, Value}]`` lists in that API)."""

    def ref(ref_id: str, metric: dict, period: Any, stat: Any) -> MetricRef:
        dims = {d["Name"]: d["Value"] for d in metric.get("Dimensions") or [] if "Name" in d}
        name = metric.get("MetricName", "")
        return MetricRef(
            id=ref_id,
            namespace=metric.get("Namespace", ""),
            name=name,
            dimensions=dims,
            period=period,
            stat=stat,
        )

    refs = []
    if alarm.get("MetricName"):
        refs.append(ref(alarm.get("AlarmName", "child"), alarm, alarm.get("Period"), alarm.get("Statistic")))
    for query in alarm.get("Metrics") or []:
        if stat := query.get("MetricStat"):
            refs.append(
                ref(query.get("Id", "m"), stat.get("Metric") or {}, stat.get("Period"), stat.get("Stat"))
            )
    return refs


def resolve_composite(facts: AlarmFacts, settings: TriggerSettings, deps: Dependencies) -> list[str]:
    """Fill a composite alarm's metric/workload from its triggering child alarms. Returns gaps."""
    if facts.kind != "composite" or (facts.metric_name and facts.workload.known):
        return []
    names = [t.name for t in facts.triggering_alarms]
    if not names and facts.alarm_rule:
        facts.triggering_alarms = rule_children(facts.alarm_rule)[:10]
        names = [t.name for t in facts.triggering_alarms]
    if not names:
        return ["composite alarm without triggering alarms: workload unknown"]
    try:
        children = (deps.describe_alarms or _describe_alarms_cloudwatch)(names)
    except Exception as exc:
        return [f"could not describe the child alarms {names}: {type(exc).__name__}"]
    # Children in ALARM first (their workload is the one in trouble), then in the rule's order.
    for child in sorted(children, key=lambda c: c.get("StateValue", "ALARM") != "ALARM"):
        facts.metrics += child_metrics(child)
    if facts.metrics and not facts.metric_name:
        first = facts.metrics[0]
        facts.metric_namespace, facts.metric_name, facts.dimensions = (
            first.namespace,
            first.name,
            first.dimensions,
        )
        facts.period, facts.statistic = facts.period or first.period, facts.statistic or first.stat
    if facts.threshold is None:
        limits = [c["Threshold"] for c in children if isinstance(c.get("Threshold"), int | float)]
        facts.threshold = float(limits[0]) if limits else None
    if not facts.workload.known:
        for m in facts.metrics:
            ref = resolve_workload(m.dimensions, settings.workload_mapping, alarm_name=facts.alarm_name)
            if ref.known:
                facts.workload = ref
                break
    return [] if facts.workload.known else [f"child alarms {names} do not name a workload"]


def enrich(facts: AlarmFacts, runner: OperationRunner, settings: TriggerSettings) -> None:
    """First evidence, so the investigation starts from facts: the metric window and the pods."""
    cfg = settings.config
    if facts.metric_namespace and facts.metric_name:
        runner.run(
            "queryMetric",
            metric_params(facts, cfg.metric_window_minutes),
            source="enrichment",
            why="The alarm's metric over the last window",
        )
    wl: WorkloadRef = facts.workload
    if wl.namespace and wl.name:
        runner.run(
            "listPods",
            {"namespace": wl.namespace, "workload": wl.name},
            source="enrichment",
            why="The workload's pods: phase, readiness, restarts, problems",
        )


def _audit(deps: Dependencies, ctx: CallContext, params: dict, decision: str, **kw: Any) -> None:
    if deps.audit is None:
        return
    deps.audit.record(ctx, TRIGGER_OPERATION, params, decision, **kw)


def _flap_comment(facts: AlarmFacts, slot: IncidentSlot, window: int) -> str:
    points = ", ".join(f"{v:g}" for v in facts.recent_datapoints[-5:]) or "n/a"
    return (
        f"Alarm {facts.alarm_name} entered ALARM again at {facts.state_timestamp} "
        f"(occurrence #{slot.alarm_count} within the {window}-minute flap window; no new investigation). "
        f"Reason: {facts.reason[:300]} Recent datapoints: [{points}]."
    )


def handle_alarm_event(
    event: Any,
    *,
    settings: TriggerSettings | None = None,
    deps: Dependencies | None = None,
    lambda_context: Any = None,
) -> Outcome:
    settings = settings or TriggerSettings.from_env()
    deps = deps or Dependencies()
    cfg = settings.config
    try:
        parsed = parse_event(event)
    except NotAnAlarmEvent as exc:
        return Outcome(status="ignored", message=f"not handled: {exc.message}")
    # An alarm state change we cannot read raises InvalidInput: Lambda retries it and the DLQ keeps it.
    if parsed.detail.state.value != "ALARM":
        return Outcome(status="ignored", message=f"state {parsed.detail.state.value}: nothing to investigate")
    facts = extract_facts(parsed, settings.workload_mapping)
    _progress(deps, "alarm", facts=facts)
    ctx = CallContext(
        incident_id=facts.incident_id,
        # One InvokeAgent session per attempt (a Lambda retry starts afresh); audit records carry it.
        session_id=attempt_session_id(facts.session_id()),
        agent_id=settings.agent_id or "none",
        agent_alias=settings.agent_alias_id or "none",
        trigger="alarm",
    )
    store = deps.store or AlarmStateStore(settings.state_table)
    lease = _lease_seconds(cfg.lease_seconds, lambda_context)
    claim = store.claim_delivery(
        facts,
        ttl_hours=cfg.dedup_ttl_hours,
        lease_seconds=lease,
        owner=str(getattr(lambda_context, "aws_request_id", "") or ""),
    )
    if claim.outcome == "duplicate" and claim.status == "started":
        raise DeliveryInProgress(
            "another invocation is investigating this alarm transition; retry later",
            incident_id=facts.incident_id,
        )
    if claim.outcome == "duplicate":
        _audit(
            deps,
            ctx.model_copy(update={"incident_id": claim.incident_id or facts.incident_id}),
            {"alarm": facts.alarm_name, "state_timestamp": facts.state_timestamp},
            "deduplicated",
            rule="duplicate_delivery",
            detail=f"duplicate delivery ignored (first delivery status: {claim.status})",
        )
        _progress(deps, "duplicate", claim=claim)
        return Outcome(
            status="duplicate",
            message="duplicate delivery ignored",
            incident_id=claim.incident_id,
            ticket_id=claim.ticket_id,
        )
    try:
        return _investigate_claimed(facts, ctx, settings, deps, store, lambda_context, lease)
    except BaseException:
        store.release_delivery(facts, claim.token)
        raise


def _agent_deadline(lambda_context: Any, reserve_seconds: int) -> float | None:
    """``time.monotonic()`` by which the agent must be done: the invocation's end minus the time
    the fallback and the ticket need. None outside Lambda."""
    try:
        remaining = int(lambda_context.get_remaining_time_in_millis()) / 1000
    except (AttributeError, TypeError, ValueError):
        return None
    return time.monotonic() + remaining - reserve_seconds


#: Lease beyond the invocation's remaining time (clock skew between containers, clean-up).
LEASE_MARGIN_SECONDS = 30


def _lease_seconds(configured: int, lambda_context: Any) -> int:
    """How long a claim keeps other deliveries out: in Lambda, exactly as long as this invocation
    can still run (+ margin); elsewhere (CLI, drill) the configured lease."""
    try:
        remaining_ms = int(lambda_context.get_remaining_time_in_millis())
    except (AttributeError, TypeError, ValueError):
        return configured
    return max(1, remaining_ms // 1000) + LEASE_MARGIN_SECONDS


def _investigate_claimed(
    facts: AlarmFacts,
    ctx: CallContext,
    settings: TriggerSettings,
    deps: Dependencies,
    store: AlarmStateStore,
    lambda_context: Any,
    lease: int,
) -> Outcome:
    cfg = settings.config
    tickets = deps.tickets or DomainTickets()
    slot = store.open_or_join(
        facts, window_minutes=cfg.flap_window_minutes, ttl_hours=cfg.dedup_ttl_hours, lease_seconds=lease
    )
    stale = slot.role == "join" and (
        slot.orphaned  # its lead died without a ticket: nobody would report this re-fire
        or (slot.ticket_id and tickets.is_open(slot.ticket_id, facts.fingerprint, ctx) is False)
    )
    if stale and store.replace_incident(
        facts, stale_incident_id=slot.incident_id, ttl_hours=cfg.dedup_ttl_hours, lease_seconds=lease
    ):
        slot = IncidentSlot(role="lead", incident_id=facts.incident_id)
    if slot.role == "join":
        join_ctx = ctx.model_copy(update={"incident_id": slot.incident_id})
        comment = _flap_comment(facts, slot, cfg.flap_window_minutes)
        if slot.ticket_id:
            tickets.comment(slot.ticket_id, comment, join_ctx)
            detail = f"flapping: commented on {slot.ticket_id} instead of a new investigation"
        else:
            store.leave_note(facts, incident_id=slot.incident_id, note=comment)
            detail = "flapping: the open investigation has no ticket yet; left a note it will post"
        _audit(
            deps,
            join_ctx,
            {"alarm": facts.alarm_name, "state_timestamp": facts.state_timestamp},
            "deduplicated",
            rule="flap_window",
            detail=detail,
            after={"ticket_id": slot.ticket_id, "occurrence": slot.alarm_count},
        )
        store.finish_delivery(
            facts, incident_id=slot.incident_id, ticket_id=slot.ticket_id, result="coalesced"
        )
        _progress(deps, "coalesced", slot=slot)
        return Outcome(
            status="coalesced",
            message=detail,
            incident_id=slot.incident_id,
            ticket_id=slot.ticket_id,
        )

    try:
        return _lead(facts, ctx, settings, deps, store, tickets, lambda_context)
    except BaseException:
        store.release_incident(facts, incident_id=facts.incident_id)
        raise


def _lead(
    facts: AlarmFacts,
    ctx: CallContext,
    settings: TriggerSettings,
    deps: Dependencies,
    store: AlarmStateStore,
    tickets: TicketSink,
    lambda_context: Any,
) -> Outcome:
    cfg = settings.config
    started = datetime.now(UTC)
    t0 = time.monotonic()
    dispatch = deps.dispatch
    if dispatch is None and cfg.tool_functions:
        from opsagent.investigation.operations import lambda_dispatch

        dispatch = lambda_dispatch(cfg.tool_functions)
    runner = OperationRunner(ctx, dispatch=dispatch, lambda_context=lambda_context)
    pre_gaps = resolve_composite(facts, settings, deps)
    if cfg.enrich:
        enrich(facts, runner, settings)
    _progress(deps, "enriched", results=list(runner.results))

    report: RcaReport | None = None
    reason, detail = (
        "not_configured",
        "no agent id/alias configured (OPSAGENT_AGENT_ID, OPSAGENT_AGENT_ALIAS_ID)",
    )
    progress = None
    if settings.agent_configured:
        from opsagent.investigation.agent import (
            AgentProgress,
            default_session_factory,
            investigate_with_agent,
        )

        progress = AgentProgress()  # survives a failure: changes confirmed/denied before it, tokens
        try:
            report = investigate_with_agent(
                facts,
                runner,
                settings,
                session_factory=deps.session_factory or default_session_factory,
                client=deps.agent_client,
                progress=progress,
                deadline=_agent_deadline(lambda_context, cfg.reserve_seconds),
            )
        except OpsAgentError as exc:
            reason = str(getattr(exc, "reason", None) or exc.code)
            detail = exc.message[:300]
            log.warning("agent unavailable, investigating without a model", extra={"reason": reason})
        except Exception as exc:  # a bug or an unexpected SDK error must not lose the incident
            reason, detail = "internal", f"{type(exc).__name__}: {str(exc)[:200]}"
            log.exception("agent investigation failed, investigating without a model")
    if report is None:
        agent_calls = [r for r in runner.results if r.source == "agent"]
        report = investigate_without_model(
            facts,
            runner,
            reason=reason,
            detail=detail,
            max_steps=cfg.max_steps,
            runbooks_loader=deps.runbooks_loader,
        )
        if agent_calls:
            report.gaps.append(
                f"the agent made {len(agent_calls)} tool call(s) before failing; kept as evidence"
            )
        if progress is not None:  # what the agent already did or asked for is part of the record
            report.actions_taken = [*progress.actions, *report.actions_taken]
            report.proposals = [*progress.proposals, *report.proposals]
            report.usage = progress.usage
            report.gaps += progress.gaps
    report.gaps = pre_gaps + report.gaps
    report.session_id = ctx.session_id
    report.evidence_chars = cfg.step_evidence_chars
    report.started_at, report.finished_at = started, datetime.now(UTC)
    _progress(deps, "report", report=report)

    opened_by_agent = _ticket_opened_by_agent(report)
    if opened_by_agent:
        # The agent filed one despite the prompt: put the RCA on it instead of opening a twin.
        tickets.comment(opened_by_agent, report.to_markdown(max_bytes=COMMENT_BUDGET), ctx)
        ticket_id, url, deduplicated = opened_by_agent, "", True
    else:
        from opsagent.tickets.http import AmbiguousWrite

        try:
            ticket_id, url, deduplicated = tickets.create(report, ctx)
        except AmbiguousWrite as exc:
            return _ticket_unknown(facts, ctx, deps, store, report, exc)
    # The ticket is filed: from here on nothing may fail the event, or the retry would investigate
    # (and, in confirm mode, act) a second time. What cannot be done is logged as an error and said.
    missing: list[str] = []
    notes: list[str] = []
    try:
        notes = _after_ticket(
            lambda: store.attach_ticket(facts, incident_id=facts.incident_id, ticket_id=ticket_id)
        )
    except Exception as exc:
        log.exception(
            "could not attach the ticket to the incident in the state table; the ticket is filed",
            extra={"ticket_id": ticket_id, "incident_id": facts.incident_id},
        )
        missing.append(f"state table: ticket not attached to the incident ({type(exc).__name__})")
    if notes:
        try:
            tickets.comment(
                ticket_id, "Alarm flapped while the investigation ran:\n- " + "\n- ".join(notes), ctx
            )
        except Exception:
            log.exception(
                "could not post the flap notes on the ticket", extra={"ticket_id": ticket_id, "notes": notes}
            )
            missing.append("flap notes not posted (see the log)")
    try:
        _record_report(deps, ctx, facts, report, ticket_id, deduplicated, int((time.monotonic() - t0) * 1000))
    except Exception as exc:
        log.exception(
            "the investigation's audit records could not be written; the ticket is filed",
            extra={"ticket_id": ticket_id, "incident_id": facts.incident_id},
        )
        missing.append(f"audit trail incomplete ({type(exc).__name__})")
    try:
        _after_ticket(
            lambda: store.finish_delivery(
                facts, incident_id=facts.incident_id, ticket_id=ticket_id, result="investigated"
            )
        )
    except Exception as exc:
        log.exception(
            "could not mark the delivery done in the state table; the ticket is filed",
            extra={"ticket_id": ticket_id, "incident_id": facts.incident_id},
        )
        missing.append(f"state table: delivery not marked done ({type(exc).__name__})")
    return Outcome(
        status="investigated",
        message=f"investigated ({report.produced_by}); ticket {ticket_id}"
        + (" (existing open ticket, commented)" if deduplicated else "")
        + "".join(f"; {m}" for m in missing),
        incident_id=facts.incident_id,
        ticket_id=ticket_id,
        ticket_url=url or None,
        produced_by=report.produced_by,
        fallback_reason=report.fallback_reason,
        probable_cause=report.probable_cause.summary,
        confidence=report.probable_cause.confidence,
        report=report,
    )


def _ticket_unknown(
    facts: AlarmFacts,
    ctx: CallContext,
    deps: Dependencies,
    store: AlarmStateStore,
    report: RcaReport,
    exc: OpsAgentError,
) -> Outcome:
    """The create was sent and its outcome is unknown (a timeout, a 5xx after a gateway forwarded
    it), and the tickets service's search by fingerprint did not find it yet. Failing the event would
    make Lambda re-run the investigation and POST again: instead the delivery is done, the audit
    says how to reconcile, and the next create for this alarm searches by fingerprint first (the
    tickets service's create_or_comment), so it comments on the ticket if it exists by then."""
    detail = (
        f"ticket create outcome unknown ({exc.message[:200]}); not re-sent. Reconcile: search tickets by "
        f"fingerprint {facts.fingerprint!r}; the next alarm searches by it before creating"
    )
    log.error("ticket create outcome unknown; not re-sent", extra={"incident_id": facts.incident_id})
    missing = []
    try:
        _audit(
            deps,
            ctx,
            {"alarm": facts.alarm_name, "state_timestamp": facts.state_timestamp},
            "failed",
            rule="ticket_outcome_unknown",
            detail=detail,
            after={"fingerprint": facts.fingerprint, "category": report.probable_cause.category},
        )
    except Exception as audit_exc:
        log.exception("could not audit the unknown ticket outcome")
        missing.append(f"audit trail incomplete ({type(audit_exc).__name__})")
    try:
        _after_ticket(
            lambda: store.finish_delivery(
                facts, incident_id=facts.incident_id, ticket_id=None, result="ticket_unknown"
            )
        )
    except Exception as state_exc:
        log.exception("could not mark the delivery done after an unknown ticket outcome")
        missing.append(f"state table: delivery not marked done ({type(state_exc).__name__})")
    return Outcome(
        status="investigated",
        message=f"investigated ({report.produced_by}); {detail}" + "".join(f"; {m}" for m in missing),
        incident_id=facts.incident_id,
        produced_by=report.produced_by,
        fallback_reason=report.fallback_reason,
        probable_cause=report.probable_cause.summary,
        confidence=report.probable_cause.confidence,
        report=report,
    )


#: Attempts (and the pause between them) for the state-table writes after the ticket exists.
AFTER_TICKET_ATTEMPTS = 3
AFTER_TICKET_PAUSE_SECONDS = 0.2


def _after_ticket(write: Callable[[], Any]) -> Any:
    """A state-table write after the ticket exists: retried a few times (a redelivery must find the
    delivery done), and the last error re-raised for the caller to log, never to fail the event."""
    for attempt in range(1, AFTER_TICKET_ATTEMPTS + 1):
        try:
            return write()
        except OpsAgentError:
            if attempt == AFTER_TICKET_ATTEMPTS:
                raise
            time.sleep(AFTER_TICKET_PAUSE_SECONDS * attempt)
    return None


def _ticket_opened_by_agent(report: RcaReport) -> str | None:
    for call in report.tool_calls:
        if call.source == "agent" and call.operation == "createTicket" and call.ok:
            body = call.body()
            if isinstance(body, dict) and isinstance(body.get("id"), str) and body["id"]:
                return body["id"]
    return None


def _record_report(
    deps: Dependencies,
    ctx: CallContext,
    facts: AlarmFacts,
    report: RcaReport,
    ticket_id: str,
    deduplicated: bool,
    duration_ms: int,
) -> None:
    """The audit trail of the investigation: changes the trigger confirmed, denied/proposed
    mutations, then the RCA itself."""
    for a in report.actions_taken:
        if deps.audit is None:
            break
        refs = f" [{', '.join(a.evidence)}]" if a.evidence else ""
        deps.audit.record(
            ctx,
            a.operation,
            dict(a.parameters),
            "recorded",
            rule="trigger_confirmed",
            detail=f"confirmed by the trigger (mutation_mode=confirm); result: {a.decision}{refs}"
            + (f"; {a.detail}" if a.detail else ""),
        )
    for p in report.proposals:
        _audit_op = p.operation if len(p.operation) <= 64 else "unknown"
        if deps.audit is None:
            break
        deps.audit.record(
            ctx,
            _audit_op,
            dict(p.parameters),
            "refused" if p.status == "denied" else "recorded",
            rule="trigger_mutation_mode" if p.status == "denied" else "proposal_only",
            detail=(p.detail or "proposed, not executed")[:300] + (f"; why: {p.why[:200]}" if p.why else ""),
        )
    _audit(
        deps,
        ctx,
        {
            "alarm": facts.alarm_name,
            "alarm_arn": facts.alarm_arn,
            "kind": facts.kind,
            "workload": facts.workload.label(),
            "state_timestamp": facts.state_timestamp,
        },
        "recorded",
        rule="no_model" if not report.model_used else None,
        detail=f"{report.probable_cause.summary} (confidence {report.probable_cause.confidence})"[:1000],
        after={
            "ticket_id": ticket_id,
            "ticket_deduplicated": deduplicated,
            "produced_by": report.produced_by,
            "fallback_reason": report.fallback_reason,
            "runbook": report.runbook.id if report.runbook else None,
            "category": report.probable_cause.category,
            "confidence": report.probable_cause.confidence,
            "findings": [f"{f.summary} [{','.join(f.evidence)}]" for f in report.findings][:10],
            "tool_calls": [f"{t.ref} {t.operation} {t.status}" for t in report.tool_calls][:20],
            "actions": [f"{a.operation} {a.decision}" for a in report.actions_taken],
            "proposals": [
                f"{p.operation} {json.dumps(p.parameters)[:120]} {p.status}" for p in report.proposals
            ],
            "gaps": report.gaps[:10],
            "tokens": {"input": report.usage.input_tokens, "output": report.usage.output_tokens},
            "duration_ms": duration_ms,
        },
    )
