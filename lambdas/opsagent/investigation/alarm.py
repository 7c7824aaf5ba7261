"""EventBridge "CloudWatch Alarm State Change" events: the wire model and the facts we derive.

Three alarm kinds arrive on the same detail-type:

* single metric — ``configuration.metrics`` holds one ``metricStat``;
* metric math — one ``expression`` query plus the ``metricStat`` queries it reads;
* composite — no metrics, ``configuration.alarmRule``; ``state.reasonData.triggeringAlarms`` names
  the child alarms that flipped it (their metrics are looked up during enrichment).

``state.reasonData`` is a JSON *string*; timestamps look like ``2019-10-02T17:04:40.989+0000``.
The raw ``state.timestamp`` string is kept verbatim: with the alarm ARN it is the idempotency key
of a delivery (EventBridge delivers at least once).
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from opsagent.errors import InvalidInput
from opsagent.investigation.workload import WorkloadMapping, WorkloadRef, resolve_workload

DETAIL_TYPE = "CloudWatch Alarm State Change"
SOURCE = "aws.cloudwatch"
_ARN_NAME = re.compile(r"^arn:aws[a-z-]*:cloudwatch:[a-z0-9-]+:\d{12}:alarm:(?P<name>.+)$")
_SESSION_UNSAFE = re.compile(r"[^0-9A-Za-z._:-]+")
MAX_FINGERPRINT_CHARS = 256  # opsagent.tickets.models.MAX_FINGERPRINT_CHARS (not imported: keep this light)


def parse_timestamp(value: str) -> datetime:
    """``2019-10-02T17:04:40.989+0000`` / ``...Z`` / ISO-8601 -> aware UTC datetime."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"unparsable alarm timestamp {value[:40]!r}", field="timestamp") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


# --- the wire model (only what we read; everything else is ignored) ----------------------------


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Metric(_Wire):
    namespace: str
    name: str
    dimensions: dict[str, str] = Field(default_factory=dict)


class MetricStat(_Wire):
    metric: Metric
    period: int | None = None
    stat: str | None = None
    unit: str | None = None


class MetricQuery(_Wire):
    id: str
    metric_stat: MetricStat | None = Field(default=None, alias="metricStat")
    expression: str | None = None
    label: str | None = None
    return_data: bool | None = Field(default=None, alias="returnData")


class AlarmConfiguration(_Wire):
    description: str | None = None
    metrics: list[MetricQuery] = Field(default_factory=list)
    alarm_rule: str | None = Field(default=None, alias="alarmRule")


class AlarmState(_Wire):
    value: str
    reason: str = ""
    reason_data: str | None = Field(default=None, alias="reasonData")
    timestamp: str

    @field_validator("timestamp")
    @classmethod
    def _parsable(cls, value: str) -> str:
        parse_timestamp(value)
        return value

    def reason_payload(self) -> dict[str, Any]:
        """reasonData decoded; {} when absent or not a JSON object (never raises)."""
        if not self.reason_data:
            return {}
        try:
            data = json.loads(self.reason_data)
        except (TypeError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}


class PreviousState(_Wire):
    """Only its value is read; nothing about it may make an alarm unreadable."""

    value: str | None = None


class AlarmDetail(_Wire):
    alarm_name: str = Field(alias="alarmName", min_length=1, max_length=255)
    configuration: AlarmConfiguration = Field(default_factory=AlarmConfiguration)
    state: AlarmState
    previous_state: PreviousState | None = Field(default=None, alias="previousState")


class AlarmStateChangeEvent(_Wire):
    id: str = ""
    detail_type: str = Field(alias="detail-type")
    source: str
    account: str = ""
    time: str = ""
    region: str = ""
    resources: list[str] = Field(default_factory=list)
    detail: AlarmDetail

    @property
    def alarm_arn(self) -> str:
        for arn in self.resources:
            if _ARN_NAME.match(arn):
                return arn
        return f"arn:aws:cloudwatch:{self.region}:{self.account}:alarm:{self.detail.alarm_name}"


class NotAnAlarmEvent(InvalidInput):
    """The event is not a CloudWatch alarm state change (nothing to do)."""


def parse_event(event: Any) -> AlarmStateChangeEvent:
    """Validate an EventBridge event: :class:`NotAnAlarmEvent` if it is not an alarm state change,
    InvalidInput (naming the problems) if it is one that cannot be read."""
    if not isinstance(event, dict):
        raise NotAnAlarmEvent("the event is not a JSON object")
    if event.get("detail-type") != DETAIL_TYPE or event.get("source") != SOURCE:
        raise NotAnAlarmEvent(
            "not a CloudWatch alarm state change",
            detail_type=str(event.get("detail-type"))[:80],
            source=str(event.get("source"))[:80],
        )
    try:
        return AlarmStateChangeEvent.model_validate(event)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:10]]
        raise InvalidInput("malformed alarm state change event", problems=problems) from None


# --- the facts an investigation works from ----------------------------------------------------


class MetricRef(BaseModel):
    id: str
    namespace: str
    name: str
    dimensions: dict[str, str] = Field(default_factory=dict)
    period: int | None = None
    stat: str | None = None


class TriggeringAlarm(BaseModel):
    arn: str
    name: str
    state: str | None = None
    timestamp: str | None = None


AlarmKind = Literal["metric", "metric_math", "composite"]


class AlarmFacts(BaseModel):
    """Everything the trigger knows about one alarm transition, before asking anyone."""

    alarm_name: str
    alarm_arn: str
    account: str = ""
    region: str = ""
    kind: AlarmKind
    state: str
    previous_state: str | None = None
    state_timestamp: str = Field(description="Verbatim from the event (part of the idempotency key)")
    state_time: datetime
    reason: str = ""
    description: str | None = None
    metric_namespace: str | None = None
    metric_name: str | None = None
    dimensions: dict[str, str] = Field(default_factory=dict)
    metrics: list[MetricRef] = Field(default_factory=list)
    expression: str | None = None
    expression_label: str | None = None
    alarm_rule: str | None = None
    triggering_alarms: list[TriggeringAlarm] = Field(default_factory=list)
    recent_datapoints: list[float] = Field(default_factory=list)
    threshold: float | None = None
    period: int | None = None
    statistic: str | None = None
    workload: WorkloadRef = Field(default_factory=WorkloadRef)

    @property
    def incident_id(self) -> str:
        """``<alarm name>@<state timestamp>``: readable, unique per transition (the convention of
        the sample events)."""
        return f"{self.alarm_name}@{self.state_timestamp}"

    @property
    def fingerprint(self) -> str:
        """Ticket de-duplication key: the alarm, whatever the transition. The ARN itself, or for an
        ARN longer than the tickets API's 256 characters (alarm names go up to 255) its first 191
        characters + ``#sha256:`` + 57 hex digits of its SHA-256 (stable, readable, collision-free)."""
        if len(self.alarm_arn) <= MAX_FINGERPRINT_CHARS:
            return self.alarm_arn
        digest = hashlib.sha256(self.alarm_arn.encode()).hexdigest()
        head = self.alarm_arn[: MAX_FINGERPRINT_CHARS - 65]
        return f"{head}#sha256:{digest[:57]}"

    @property
    def dedup_key(self) -> str:
        return f"{self.alarm_arn}@{self.state_timestamp}"

    def session_id(self) -> str:
        """An InvokeAgent sessionId for this incident: ``^[0-9a-zA-Z._:-]+$``, 2-100 chars,
        readable prefix + a digest of the full incident id (so truncation cannot collide)."""
        digest = hashlib.sha256(self.dedup_key.encode()).hexdigest()[:12]
        stamp = self.state_time.strftime("%Y%m%dT%H%M%S")
        name = _SESSION_UNSAFE.sub("-", self.alarm_name).strip("-.:") or "alarm"
        return f"{name[: 100 - len(stamp) - len(digest) - 2]}.{stamp}.{digest}"

    def template_vars(self) -> dict[str, str]:
        """Values for runbook step templates (strings, like Bedrock parameters); unknowns omitted."""
        values = {
            "alarm_name": self.alarm_name,
            "metric_namespace": self.metric_namespace,
            "metric_name": self.metric_name,
            "dimensions": ",".join(f"{k}={v}" for k, v in sorted(self.dimensions.items())) or None,
            "namespace": self.workload.namespace,
            "workload": self.workload.name,
            "cluster": self.workload.cluster,
            "pod": self.workload.pod,
        }
        return {k: v for k, v in values.items() if v}

    def summary_line(self) -> str:
        metric = f"{self.metric_namespace}/{self.metric_name}" if self.metric_name else self.kind
        latest = f" latest={self.recent_datapoints[-1]:g}" if self.recent_datapoints else ""
        thr = f" threshold={self.threshold:g}" if self.threshold is not None else ""
        return f"{self.alarm_name} [{self.state}] {metric}{latest}{thr} -> {self.workload.label()}"


def name_from_arn(arn: str) -> str:
    m = _ARN_NAME.match(arn)
    return m.group("name") if m else arn.rsplit(":", 1)[-1]


def _floats(values: Any) -> list[float]:
    out: list[float] = []
    for v in values if isinstance(values, list) else []:
        if isinstance(v, int | float) and not isinstance(v, bool):
            out.append(float(v))
    return out[-50:]


def extract_facts(event: AlarmStateChangeEvent | dict, mapping: WorkloadMapping | None = None) -> AlarmFacts:
    """Derive :class:`AlarmFacts` from a parsed (or raw) event."""
    if isinstance(event, dict):
        event = parse_event(event)
    detail = event.detail
    cfg = detail.configuration
    reason_data = detail.state.reason_payload()

    metrics = [
        MetricRef(
            id=q.id,
            namespace=q.metric_stat.metric.namespace,
            name=q.metric_stat.metric.name,
            dimensions=q.metric_stat.metric.dimensions,
            period=q.metric_stat.period,
            stat=q.metric_stat.stat,
        )
        for q in cfg.metrics
        if q.metric_stat is not None
    ]
    expressions = [q for q in cfg.metrics if q.expression]
    if cfg.alarm_rule is not None or (not cfg.metrics and "triggeringAlarms" in reason_data):
        kind: AlarmKind = "composite"
    elif expressions:
        kind = "metric_math"
    else:
        kind = "metric"

    triggering = []
    for item in reason_data.get("triggeringAlarms") or []:
        if isinstance(item, dict) and isinstance(item.get("arn"), str):
            st = item.get("state") if isinstance(item.get("state"), dict) else {}
            triggering.append(
                TriggeringAlarm(
                    arn=item["arn"],
                    name=name_from_arn(item["arn"]),
                    state=st.get("value"),
                    timestamp=st.get("timestamp"),
                )
            )

    primary = metrics[0] if metrics else None
    threshold = reason_data.get("threshold")
    period = reason_data.get("period")
    facts = AlarmFacts(
        alarm_name=detail.alarm_name,
        alarm_arn=event.alarm_arn,
        account=event.account,
        region=event.region,
        kind=kind,
        state=detail.state.value,
        previous_state=detail.previous_state.value if detail.previous_state else None,
        state_timestamp=detail.state.timestamp,
        state_time=parse_timestamp(detail.state.timestamp),
        reason=detail.state.reason[:1000],
        description=cfg.description[:1000] if cfg.description else None,
        metric_namespace=primary.namespace if primary else None,
        metric_name=primary.name if primary else None,
        dimensions=dict(primary.dimensions) if primary else {},
        metrics=metrics,
        expression=expressions[0].expression if expressions else None,
        expression_label=expressions[0].label if expressions else None,
        alarm_rule=cfg.alarm_rule,
        triggering_alarms=triggering[:10],
        recent_datapoints=_floats(reason_data.get("recentDatapoints")),
        threshold=float(threshold) if isinstance(threshold, int | float) else None,
        period=int(period) if isinstance(period, int | float) else (primary.period if primary else None),
        statistic=reason_data.get("statistic") if isinstance(reason_data.get("statistic"), str) else None,
    )
    if facts.statistic is None and primary:
        facts.statistic = primary.stat
    facts.workload = workload_for(facts, mapping)
    return facts


def workload_for(facts: AlarmFacts, mapping: WorkloadMapping | None) -> WorkloadRef:
    """The first metric whose dimensions name a workload wins; else the alarm-name rules/defaults."""
    best = None
    for m in facts.metrics:
        ref = resolve_workload(m.dimensions, mapping, alarm_name=facts.alarm_name)
        if ref.known:
            return ref
        best = best or (ref if ref.name else None)
    return best or resolve_workload({}, mapping, alarm_name=facts.alarm_name)
