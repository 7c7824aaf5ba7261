"""Inputs and outputs of the metrics operations (plain pydantic; no Lambda, no Bedrock)."""

from __future__ import annotations

import math
import re
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from opsagent.errors import InvalidInput

BASIC_STATISTICS = ("Average", "Sum", "Minimum", "Maximum", "SampleCount")
_PERCENTILE = re.compile(r"^[pP](\d{1,2}(\.\d{1,2})?|100(\.0{1,2})?)$")
# CloudWatch's other extended statistics, accepted so an alarm's statistic can be queried as is:
# tm99 / wm90 / tc90 / ts90 (trimmed/winsorized mean, trimmed count/sum), TM(10%:90%), PR(:300), IQM.
_TRIMMED = re.compile(r"^(tm|wm|tc|ts)(\d{1,2}(\.\d{1,2})?|100)$", re.I)
_RANGED = re.compile(r"^(TM|WM|TC|TS|PR)\(\d*(\.\d+)?%?:\d*(\.\d+)?%?\)$", re.I)
#: Periods below a minute are CloudWatch high-resolution periods; above, multiples of 60.
HIGH_RESOLUTION_PERIODS = (1, 5, 10, 30)
MAX_PERIOD = 86_400
MAX_MINUTES = 1_440
DEFAULT_MINUTES = 60
#: Datapoints fetched per query at most (24 h at 1 minute); the period is raised to stay under it.
MAX_DATAPOINTS = 1_440
#: Datapoints returned in ``series``.
MAX_SERIES_POINTS = 30
CONTAINER_INSIGHTS = "ContainerInsights"

STATISTIC_HELP = (
    "Average, Sum, Minimum, Maximum, SampleCount, or a percentile pNN / pNN.N (p50, p90, p99, p99.9)"
)
PERIOD_HELP = "1, 5, 10, 30 (high resolution) or a multiple of 60 up to 86400"


def canonical_statistic(value: str) -> str:
    """``average`` -> ``Average``, ``P99`` -> ``p99``; anything else is an error naming the allowed values."""
    text = value.strip()
    for stat in BASIC_STATISTICS:
        if text.lower() == stat.lower():
            return stat
    if _PERCENTILE.match(text):
        return "p" + text[1:]
    if _TRIMMED.match(text):
        return text[:2].lower() + text[2:]
    if _RANGED.match(text) and text[3:-1] != ":":
        return text[:2].upper() + text[2:]
    if text.upper() == "IQM":
        return "IQM"
    raise ValueError(f"statistic {text[:40]!r} is not one of {STATISTIC_HELP}")


def valid_period(period: int) -> bool:
    return period in HIGH_RESOLUTION_PERIODS or (60 <= period <= MAX_PERIOD and period % 60 == 0)


def smallest_valid_period_at_least(seconds: float) -> int:
    """The smallest period CloudWatch accepts that is >= ``seconds``."""
    for p in HIGH_RESOLUTION_PERIODS:
        if p >= seconds:
            return p
    return min(MAX_PERIOD, max(60, math.ceil(seconds / 60) * 60))


class MetricQuery(BaseModel):
    """One metric over a window ending now. ``dimensions`` must be the metric's complete set."""

    metric_namespace: str = Field(min_length=1, max_length=255, description="CloudWatch namespace")
    metric_name: str = Field(min_length=1, max_length=255)
    dimensions: dict[str, str] = Field(default_factory=dict)
    statistic: str = "Average"
    period: int | None = Field(default=None, description="seconds; default 60, raised to cap datapoints")
    minutes: int = Field(default=DEFAULT_MINUTES, ge=1, le=MAX_MINUTES)
    # Container Insights shortcuts (Kubernetes names)
    namespace: str | None = Field(default=None, max_length=253, description="Kubernetes namespace")
    workload: str | None = Field(default=None, max_length=253)
    pod: str | None = Field(default=None, max_length=253)

    @field_validator("metric_namespace", "metric_name")
    @classmethod
    def _names(cls, value: str) -> str:
        value = value.strip()
        if not value or not all(" " <= ch <= "~" for ch in value):
            raise ValueError("must be 1-255 printable ASCII characters")
        return value

    @field_validator("metric_namespace")
    @classmethod
    def _no_leading_colon(cls, value: str) -> str:
        if value.startswith(":"):
            raise ValueError("a CloudWatch namespace cannot start with ':'")
        return value

    @field_validator("statistic")
    @classmethod
    def _statistic(cls, value: str) -> str:
        return canonical_statistic(value)

    @field_validator("period")
    @classmethod
    def _period(cls, value: int | None) -> int | None:
        if value is not None and not valid_period(value):
            raise ValueError(f"period {value} is not {PERIOD_HELP}")
        return value

    @field_validator("namespace", "workload", "pod")
    @classmethod
    def _k8s_name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value:
            return None
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", value):
            raise ValueError("must be a Kubernetes name (lowercase letters, digits, '-', '.')")
        return value

    @model_validator(mode="after")
    def _shortcuts(self) -> MetricQuery:
        if self.workload and self.pod:
            raise ValueError("give either workload or pod, not both")
        if (self.workload or self.pod or self.namespace) and self.metric_namespace != CONTAINER_INSIGHTS:
            raise ValueError(
                f"namespace/workload/pod are shortcuts for metric_namespace={CONTAINER_INSIGHTS}; "
                "for other namespaces put everything in dimensions"
            )
        if self.period is not None and self.period > self.minutes * 60:
            raise ValueError(f"period {self.period}s is longer than the {self.minutes}-minute window")
        return self

    @classmethod
    def create(cls, **values: Any) -> MetricQuery:
        """Build from loose inputs; pydantic errors become one :class:`InvalidInput` listing each problem."""
        try:
            return cls(**values)
        except ValidationError as exc:
            raise InvalidInput("invalid metric query", problems=describe_errors(exc)) from None


def describe_errors(exc: ValidationError) -> list[dict[str, str]]:
    out = []
    for err in exc.errors()[:10]:
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        field = ".".join(str(p) for p in err.get("loc", ())) or "query"
        out.append({"field": field, "problem": msg[:300]})
    return out


class MetricRef(BaseModel):
    """Exactly what was asked of CloudWatch (after shortcuts and defaults)."""

    metric_namespace: str
    metric_name: str
    dimensions: dict[str, str]
    statistic: str
    period: int = Field(description="seconds per datapoint actually used")


class SeriesPoint(BaseModel):
    t: str = Field(description="ISO-8601 UTC timestamp")
    v: float


class MetricSummary(BaseModel):
    min: float
    max: float
    avg: float = Field(description="mean of the datapoints (each already the chosen statistic)")
    last: float
    first_timestamp: str
    last_timestamp: str
    trend: str = Field(description="rising, falling, flat or insufficient_data (fewer than 3 datapoints)")
    change_pct: float | None = Field(
        default=None,
        description="percent change from the median of the first third of the window to the median of "
        "the last third (10 -> 100 is 900); absent when the early level is 0",
    )


class MetricResult(BaseModel):
    metric: MetricRef
    start: str
    end: str = Field(
        description="exclusive; the last complete period ends here (the current one is still filling)"
    )
    datapoints: int
    summary: MetricSummary | None = None
    series: list[SeriesPoint] = Field(default_factory=list, description=f"<= {MAX_SERIES_POINTS} points")
    series_method: str | None = None
    notes: list[str] = Field(default_factory=list)
    hint: str | None = Field(default=None, description="why there may be no data, what to try")
    similar_metrics: list[str] = Field(
        default_factory=list,
        description="when there is no data: dimension sets (Name=Value,...) that exist for this metric",
    )
    partial: bool = Field(
        default=False, description="CloudWatch returned partial data or the fetch was capped"
    )


class AlarmMetric(BaseModel):
    """A metric alarm's metric, in the shape queryMetric takes."""

    metric_namespace: str
    metric_name: str
    dimensions: str = Field(description="Key=Value,... ready to pass to queryMetric")
    statistic: str | None = None
    period: int | None = None


class ActiveAlarm(BaseModel):
    name: str
    type: str = Field(description="metric or composite")
    state_since: str | None = Field(description="ISO-8601 UTC time the alarm entered ALARM")
    reason: str | None = None
    description: str | None = None
    watches: str = Field(
        description="namespace/metric {dimensions}, 'metric math: ...' or 'composite: <rule>'"
    )
    condition: str | None = None
    metric: AlarmMetric | None = None


class ActiveAlarms(BaseModel):
    alarms: list[ActiveAlarm]
    total: int = Field(description="alarms in ALARM that matched")
    omitted: int = Field(default=0, description="matching alarms left out to keep the answer small")
    scan_truncated: bool = Field(default=False, description="stopped paging DescribeAlarms early")
