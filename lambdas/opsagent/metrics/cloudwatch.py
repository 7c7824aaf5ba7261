"""The two metrics operations against CloudWatch: :func:`query_metric` and :func:`list_active_alarms`.

Both take plain arguments / pydantic models and return pydantic models; the action-group adapter,
the alarm trigger, the drill and the CLI call them the same way. boto3 is imported only when a
client is first needed (``opsagent.aws.client``).

IAM actions used: ``cloudwatch:GetMetricData``, ``cloudwatch:ListMetrics`` (only to suggest
dimension sets when a query comes back empty; optional) and ``cloudwatch:DescribeAlarms``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from opsagent.errors import (
    ConfigurationError,
    InvalidInput,
    OpsAgentError,
    PermissionMissing,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from opsagent.metrics.dimensions import format_dimensions
from opsagent.metrics.models import (
    CONTAINER_INSIGHTS,
    MAX_DATAPOINTS,
    MAX_SERIES_POINTS,
    ActiveAlarm,
    ActiveAlarms,
    AlarmMetric,
    MetricQuery,
    MetricRef,
    MetricResult,
    MetricSummary,
    SeriesPoint,
    smallest_valid_period_at_least,
)
from opsagent.metrics.series import lttb, round_sig, trend_of
from opsagent.redaction import sanitize

#: GetMetricData pages fetched at most per query (each <= MAX_DATAPOINTS points anyway).
MAX_METRIC_PAGES = 5
#: DescribeAlarms pages (100 alarms each) scanned at most.
MAX_ALARM_PAGES = 10
DEFAULT_ALARM_LIMIT = 20
MAX_ALARM_LIMIT = 50
#: Serialized size budget for the alarm list (the whole body stays well under 8 KB).
ALARM_BYTES_BUDGET = 6_000
REASON_CHARS = 240
DESCRIPTION_CHARS = 160
RULE_CHARS = 300
#: CloudWatch keeps sub-minute (high-resolution) datapoints for 3 hours only.
HIGH_RESOLUTION_RETENTION_MINUTES = 180
SIMILAR_METRICS = 5
#: An alarm's dimensions longer than this are not handed back as queryMetric parameters.
ALARM_DIMENSIONS_CHARS = 1_024

# Kubernetes' safe-encoding alphabet for ReplicaSet hashes and generated name suffixes.
_DEPLOYMENT_POD = re.compile(
    r"^(?P<workload>.+)-[bcdfghjklmnpqrstvwxz2456789]{6,10}-[bcdfghjklmnpqrstvwxz2456789]{5}$"
)
CONTAINER_INSIGHTS_ORDER = (
    "ClusterName",
    "Namespace",
    "Service",
    "PodName",
    "FullPodName",
    "NodeName",
    "InstanceId",
)
CONTAINER_INSIGHTS_HINT = (
    "ContainerInsights (EKS) pod metrics exist for these exact dimension sets: "
    "{ClusterName}, {ClusterName,Namespace}, {ClusterName,Namespace,Service}, "
    "{ClusterName,Namespace,PodName} where PodName is the WORKLOAD name (e.g. the Deployment 'checkout', "
    "not 'checkout-7d9f-abcde'), and with enhanced observability {ClusterName,Namespace,PodName,FullPodName} "
    "for one pod. Node metrics use {ClusterName,NodeName,InstanceId}."
)


class MetricsSettings(BaseModel):
    """``OPSAGENT_CLUSTER_NAME`` (fills ContainerInsights' ClusterName) and
    ``OPSAGENT_ALLOWED_NAMESPACES`` (comma list or JSON array; reads are limited to it when set)."""

    cluster_name: str | None = None
    allowed_namespaces: str | list[str] | None = None

    def namespace_allowlist(self) -> frozenset[str] | None:
        from opsagent.namespaces import parse_allowlist

        return parse_allowlist(self.allowed_namespaces)


def load_metrics_settings() -> MetricsSettings:
    from opsagent.settings import load_settings

    return load_settings(MetricsSettings)


# --------------------------------------------------------------------------------------------- errors


def aws_error(exc: Exception, action: str) -> OpsAgentError | None:
    """Map a botocore failure of ``action`` (e.g. ``cloudwatch:GetMetricData``) to a domain error;
    ``None`` when ``exc`` is not an AWS/transport failure (a bug: let it surface)."""
    if isinstance(exc, OpsAgentError):
        return exc
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        err = response.get("Error") or {}
        code = str(err.get("Code") or "")
        message = str(err.get("Message") or "")[:300]
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0
        lowered = code.lower()
        if lowered in {
            "accessdenied",
            "accessdeniedexception",
            "unauthorizedoperation",
            "authorizationerror",
        }:
            return PermissionMissing(
                f"the function's IAM role is not allowed to call {action}", action=action, aws_code=code
            )
        if lowered in {"expiredtoken", "expiredtokenexception", "invalidclienttokenid", "unrecognizedclient"}:
            return PermissionMissing(f"AWS rejected the credentials calling {action}: {code}", action=action)
        if "throttl" in lowered or lowered in {
            "requestlimitexceeded",
            "toomanyrequestsexception",
            "limitexceeded",
        }:
            return UpstreamUnavailable(
                f"CloudWatch is throttling {action}; retry in a few seconds", action=action, aws_code=code
            )
        if lowered in {
            "invalidparametervalue",
            "invalidparametercombination",
            "missingparameter",
            "validationerror",
            "invalidnexttoken",
            "invalidformat",
        }:
            return InvalidInput(f"CloudWatch rejected the request: {message or code}", aws_code=code)
        if status >= 500 or lowered in {"internalservicefault", "internalfailure", "serviceunavailable"}:
            return UpstreamUnavailable(f"CloudWatch failed ({code or status}) on {action}", action=action)
        return UpstreamUnavailable(f"CloudWatch error {code or status} on {action}: {message}", action=action)
    name = type(exc).__name__
    if name == "NoCredentialsError" or name == "NoRegionError":
        return ConfigurationError(f"AWS client is not configured ({name}) for {action}")
    if "Timeout" in name:
        return UpstreamTimeout(f"CloudWatch did not answer {action} in time", action=action)
    if name in {"EndpointConnectionError", "ConnectionClosedError", "ProxyConnectionError"} or isinstance(
        exc, ConnectionError
    ):
        return UpstreamUnavailable(f"cannot reach CloudWatch for {action}", action=action)
    return None


def _call(action: str, fn: Callable[..., dict], **kwargs: Any) -> dict:
    try:
        return fn(**kwargs)
    except Exception as exc:
        mapped = aws_error(exc, action)
        if mapped is None:
            raise
        raise mapped from exc


def _cloudwatch(client: Any | None) -> Any:
    if client is not None:
        return client
    from opsagent.aws import client as aws_client

    return aws_client("cloudwatch")


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _clip(text: str | None, limit: int) -> str | None:
    """Alarm text for the model: control characters out, secrets redacted (descriptions are free
    text anyone with PutMetricAlarm wrote), whitespace collapsed, bounded."""
    if text is None:
        return None
    text = " ".join((sanitize(str(text)) or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_container_insights(metric_namespace: str) -> bool:
    """ContainerInsights and ContainerInsights/Prometheus: their ``Namespace`` dimension is the
    Kubernetes namespace, which OPSAGENT_ALLOWED_NAMESPACES limits."""
    return metric_namespace == CONTAINER_INSIGHTS or metric_namespace.startswith(CONTAINER_INSIGHTS + "/")


def _check_allowlist(dims: dict[str, str], settings: MetricsSettings) -> None:
    from opsagent.namespaces import check_read_allowed

    ns = dims.get("Namespace")
    if ns is not None:
        check_read_allowed(ns, settings.namespace_allowlist())


# --------------------------------------------------------------------------------------- queryMetric


def resolve_dimensions(query: MetricQuery, settings: MetricsSettings) -> tuple[dict[str, str], list[str]]:
    """Apply the ContainerInsights shortcuts and defaults; enforce the namespace allowlist."""
    dims = dict(query.dimensions)
    notes: list[str] = []
    if query.metric_namespace != CONTAINER_INSIGHTS:
        if _is_container_insights(query.metric_namespace):
            _check_allowlist(dims, settings)
        return dims, notes

    def put(name: str, value: str, source: str) -> None:
        if name in dims and dims[name] != value:
            raise InvalidInput(
                f"{source}={value!r} contradicts dimension {name}={dims[name]!r}", field=source.split()[0]
            )
        dims[name] = value

    if query.namespace:
        put("Namespace", query.namespace, "namespace")
    if query.workload:
        put("PodName", query.workload, "workload (ContainerInsights PodName is the workload name)")
    if query.pod:
        put("FullPodName", query.pod, "pod (ContainerInsights FullPodName, enhanced observability)")
        notes.append(
            "pod maps to FullPodName, which only Container Insights with enhanced observability publishes"
        )
    if (query.workload or query.pod) and "Namespace" not in dims:
        raise InvalidInput(
            "workload/pod need the Kubernetes namespace too (parameter namespace)", field="namespace"
        )
    if query.pod and "PodName" not in dims:
        # FullPodName metrics carry PodName (the workload) too; derive it only from a Deployment pod's
        # name (<workload>-<pod-template-hash>-<suffix>), never guess for other pods.
        match = _DEPLOYMENT_POD.match(query.pod)
        if match:
            dims["PodName"] = match["workload"]
            notes.append(f"PodName={match['workload']} derived from the Deployment pod name")
    if "ClusterName" not in dims:
        if settings.cluster_name:
            dims["ClusterName"] = settings.cluster_name
            notes.append("ClusterName filled from OPSAGENT_CLUSTER_NAME")
        else:
            notes.append(
                "no ClusterName given and OPSAGENT_CLUSTER_NAME is unset; ContainerInsights needs it"
            )
    # canonical order (CloudWatch ignores order; it keeps answers and requests predictable)
    order = {name: i for i, name in enumerate(CONTAINER_INSIGHTS_ORDER)}
    dims = dict(sorted(dims.items(), key=lambda kv: order.get(kv[0], len(order))))
    _check_allowlist(dims, settings)
    return dims, notes


def effective_period(query: MetricQuery) -> tuple[int, list[str]]:
    """Default 60 s; raised so the window holds at most MAX_DATAPOINTS, and to 60 s when a
    high-resolution period is asked for further back than CloudWatch keeps such data."""
    notes: list[str] = []
    period = query.period or 60
    if period < 60 and query.minutes > HIGH_RESOLUTION_RETENTION_MINUTES:
        notes.append(
            f"period raised from {period}s to 60s: sub-minute data is kept for "
            f"{HIGH_RESOLUTION_RETENTION_MINUTES} minutes only"
        )
        period = 60
    needed = query.minutes * 60 / period
    if needed > MAX_DATAPOINTS:
        new = smallest_valid_period_at_least(query.minutes * 60 / MAX_DATAPOINTS)
        notes.append(f"period raised from {period}s to {new}s to keep at most {MAX_DATAPOINTS} datapoints")
        period = new
    return period, notes


def _fetch(
    cw: Any, ref: MetricRef, start: datetime, end: datetime
) -> tuple[list[tuple[datetime, float]], bool]:
    """All datapoints of one MetricStat query, following NextToken (bounded). Returns (points, partial)."""
    request: dict[str, Any] = {
        "MetricDataQueries": [
            {
                "Id": "m1",
                "MetricStat": {
                    "Metric": {
                        "Namespace": ref.metric_namespace,
                        "MetricName": ref.metric_name,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in ref.dimensions.items()],
                    },
                    "Period": ref.period,
                    "Stat": ref.statistic,
                },
                "ReturnData": True,
            }
        ],
        "StartTime": start,
        "EndTime": end,
        "ScanBy": "TimestampAscending",
        "MaxDatapoints": MAX_DATAPOINTS,
    }
    points: dict[datetime, float] = {}
    partial = False
    for _page in range(MAX_METRIC_PAGES):
        page = _call("cloudwatch:GetMetricData", cw.get_metric_data, **request)
        for result in page.get("MetricDataResults") or []:
            if result.get("Id") != "m1":
                continue
            status = result.get("StatusCode")
            if status == "Forbidden":
                raise PermissionMissing(
                    "CloudWatch answered Forbidden for this metric (cross-account or KMS permission?)",
                    action="cloudwatch:GetMetricData",
                )
            if status == "InternalError":
                raise UpstreamUnavailable("CloudWatch returned InternalError for the metric; retry")
            partial = status == "PartialData"  # the last page decides
            for ts, value in zip(result.get("Timestamps") or [], result.get("Values") or [], strict=False):
                if value is not None:
                    points[ts] = float(value)
        token = page.get("NextToken")
        if not token:
            break
        if len(points) >= MAX_DATAPOINTS:
            partial = True
            break
        request["NextToken"] = token
    else:
        partial = True  # pages exhausted with a token left
    ordered = sorted(points.items())[-MAX_DATAPOINTS:]
    return ordered, partial


def _similar(cw: Any, ref: MetricRef, allow: set[str] | None = None) -> tuple[list[str], str | None]:
    """Up to SIMILAR_METRICS dimension sets that exist for this metric, most similar first (none
    naming a Kubernetes namespace outside ``allow``)."""
    try:
        page = cw.list_metrics(Namespace=ref.metric_namespace, MetricName=ref.metric_name)
    except Exception as exc:  # optional help: never fail the query over it
        err = aws_error(exc, "cloudwatch:ListMetrics")
        return [], (err.message if err else type(exc).__name__)
    wanted = ref.dimensions

    def score(dims: dict[str, str]) -> tuple[int, int, int]:
        same = sum(1 for k, v in dims.items() if wanted.get(k) == v)
        keys = len(set(dims) & set(wanted))
        return (same, keys, -len(set(dims) ^ set(wanted)))

    seen: set[str] = set()
    candidates: list[tuple[tuple[int, int, int], str]] = []
    for metric in (page.get("Metrics") or [])[:500]:
        dims = {d["Name"]: d["Value"] for d in metric.get("Dimensions") or []}
        if allow is not None and dims.get("Namespace") not in (None, *allow):
            continue
        text = format_dimensions(dims)
        if text in seen or len(text) > 400:
            continue
        seen.add(text)
        candidates.append((score(dims), text))
    candidates.sort(key=lambda c: c[0], reverse=True)
    return [text for _, text in candidates[:SIMILAR_METRICS]], None


def query_metric(
    query: MetricQuery,
    *,
    settings: MetricsSettings | None = None,
    client: Any | None = None,
    now: datetime | None = None,
) -> MetricResult:
    """Fetch one metric over the last ``query.minutes`` and summarise it (see ``opsagent.metrics.series``)."""
    settings = settings or load_metrics_settings()
    dims, notes = resolve_dimensions(query, settings)
    period, period_notes = effective_period(query)
    notes += period_notes
    ref = MetricRef(
        metric_namespace=query.metric_namespace,
        metric_name=query.metric_name,
        dimensions=dims,
        statistic=query.statistic,
        period=period,
    )
    # EndTime is exclusive and CloudWatch rounds StartTime down: ending at "now" makes the newest
    # datapoint cover a fraction of a period (a Sum looks like a sudden drop). End at the last
    # period boundary instead; aligned times are also what CloudWatch answers fastest.
    now_s = int((now or datetime.now(UTC)).timestamp())
    end_s = now_s - now_s % period
    start_s = end_s - query.minutes * 60
    start_s -= start_s % period
    end, start = datetime.fromtimestamp(end_s, UTC), datetime.fromtimestamp(start_s, UTC)
    cw = _cloudwatch(client)
    points, partial = _fetch(cw, ref, start, end)
    result = MetricResult(
        metric=ref,
        start=_iso(start) or "",
        end=_iso(end) or "",
        datapoints=len(points),
        partial=partial,
        notes=notes,
    )
    notes = result.notes  # pydantic copied the list: keep appending to the model's own
    if partial:
        notes.append("partial data: CloudWatch did not return every datapoint in the window")
    if not points:
        hint = (
            "No datapoints in the window. CloudWatch matches a metric only with its exact, complete set of "
            "dimensions (names and values are case-sensitive); the metric may also not be published in this "
            "region/account or not during the window."
        )
        if query.metric_namespace == CONTAINER_INSIGHTS:
            hint += " " + CONTAINER_INSIGHTS_HINT
        result.hint = hint
        allow = settings.namespace_allowlist() if _is_container_insights(ref.metric_namespace) else None
        result.similar_metrics, problem = _similar(cw, ref, allow)
        if result.similar_metrics:
            notes.append("similar_metrics lists dimension sets that exist for this metric name")
        elif problem:
            notes.append(f"could not look up existing dimension sets: {problem}")
        return result
    values = [v for _, v in points]
    trend, change = trend_of(values)
    result.summary = MetricSummary(
        min=round_sig(min(values)),
        max=round_sig(max(values)),
        avg=round_sig(sum(values) / len(values)),
        last=round_sig(values[-1]),
        first_timestamp=_iso(points[0][0]) or "",
        last_timestamp=_iso(points[-1][0]) or "",
        trend=trend,
        change_pct=None if change is None else round(change * 100, 1),
    )
    numeric = [(ts.timestamp(), v) for ts, v in points]
    sampled = lttb(numeric, MAX_SERIES_POINTS)
    result.series = [
        SeriesPoint(t=_iso(datetime.fromtimestamp(t, UTC)) or "", v=round_sig(v)) for t, v in sampled
    ]
    result.series_method = (
        "all datapoints"
        if len(sampled) == len(points)
        else f"LTTB downsampling of {len(points)} datapoints to {len(sampled)} (keeps spikes and dips)"
    )
    return result


# ---------------------------------------------------------------------------------- listActiveAlarms

_OPERATORS = {
    "GreaterThanOrEqualToThreshold": ">=",
    "GreaterThanThreshold": ">",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "<=",
    "LessThanLowerOrGreaterThanUpperThreshold": "outside the band",
    "LessThanLowerThreshold": "below the band",
    "GreaterThanUpperThreshold": "above the band",
}


def _metric_text(namespace: str, name: str, dims: dict[str, str]) -> str:
    text = f"{namespace}/{name}"
    return f"{text} {format_dimensions(dims)}" if dims else text


def _alarm_metric(
    namespace: str, name: str, dims: dict[str, str], stat: str | None, period: int | None
) -> AlarmMetric | None:
    """The alarm's metric as queryMetric parameters; None when they would not fit a tool answer
    (``watches`` still names it, clipped)."""
    text = format_dimensions(dims)
    if len(text) > ALARM_DIMENSIONS_CHARS:
        return None
    return AlarmMetric(
        metric_namespace=namespace, metric_name=name, dimensions=text, statistic=stat, period=period
    )


def _describe_metric_alarm(alarm: dict[str, Any]) -> tuple[str, str | None, AlarmMetric | None]:
    period = alarm.get("Period")
    stat = alarm.get("Statistic") or alarm.get("ExtendedStatistic")
    op = _OPERATORS.get(alarm.get("ComparisonOperator") or "", alarm.get("ComparisonOperator") or "?")
    evals = alarm.get("EvaluationPeriods")
    to_alarm = alarm.get("DatapointsToAlarm") or evals
    if alarm.get("MetricName"):
        dims = {d["Name"]: d["Value"] for d in alarm.get("Dimensions") or []}
        namespace = alarm.get("Namespace") or ""
        metric = _alarm_metric(namespace, alarm["MetricName"], dims, stat, period)
        threshold = alarm.get("ThresholdMetricId") or alarm.get("Threshold")
        condition = f"{stat} {op} {threshold} for {to_alarm} of {evals} periods of {period}s"
        return _metric_text(namespace, alarm["MetricName"], dims), condition, metric
    # metric math: the expression that returns data, and the inputs it reads
    queries = alarm.get("Metrics") or []
    expression = next(
        (q.get("Expression") for q in queries if q.get("Expression") and q.get("ReturnData")), None
    )
    expression = expression or next((q.get("Expression") for q in queries if q.get("Expression")), None)
    inputs = [q for q in queries if q.get("MetricStat")]
    first: AlarmMetric | None = None
    parts = []
    for q in inputs[:3]:
        ms = q["MetricStat"]
        m = ms.get("Metric") or {}
        dims = {d["Name"]: d["Value"] for d in m.get("Dimensions") or []}
        parts.append(f"{q.get('Id')}={_metric_text(m.get('Namespace', ''), m.get('MetricName', ''), dims)}")
        if first is None:
            first = _alarm_metric(
                m.get("Namespace", ""), m.get("MetricName", ""), dims, ms.get("Stat"), ms.get("Period")
            )
    watches = "metric math"
    if expression:
        watches += f": {expression}"
    if parts:
        watches += " (" + "; ".join(parts) + (" ..." if len(inputs) > 3 else "") + ")"
    threshold = alarm.get("ThresholdMetricId") or alarm.get("Threshold")
    condition = f"value {op} {threshold} for {to_alarm} of {evals} periods"
    return watches, condition, first


def _to_active(alarm: dict[str, Any], kind: str) -> ActiveAlarm:
    since = alarm.get("StateTransitionedTimestamp") or alarm.get("StateUpdatedTimestamp")
    if kind == "composite":
        watches, condition, metric = f"composite: {alarm.get('AlarmRule') or '?'}", None, None
    else:
        watches, condition, metric = _describe_metric_alarm(alarm)
    return ActiveAlarm(
        name=str(alarm.get("AlarmName") or "?")[:255],
        type=kind,
        state_since=_iso(since) if isinstance(since, datetime) else (str(since) if since else None),
        reason=_clip(alarm.get("StateReason"), REASON_CHARS),
        description=_clip(alarm.get("AlarmDescription"), DESCRIPTION_CHARS),
        watches=_clip(watches, RULE_CHARS) or "",
        condition=_clip(condition, 160),
        metric=metric,
    )


def _scan_alarms(cw: Any, name_prefix: str | None) -> tuple[list[tuple[dict[str, Any], str]], bool]:
    request: dict[str, Any] = {
        "StateValue": "ALARM",
        "AlarmTypes": ["MetricAlarm", "CompositeAlarm"],
        "MaxRecords": 100,
    }
    if name_prefix:
        request["AlarmNamePrefix"] = name_prefix
    found: list[tuple[dict[str, Any], str]] = []
    token: str | None = None
    for _ in range(MAX_ALARM_PAGES):
        if token:
            request["NextToken"] = token
        page = _call("cloudwatch:DescribeAlarms", cw.describe_alarms, **request)
        for kind, key in (("metric", "MetricAlarms"), ("composite", "CompositeAlarms")):
            for alarm in page.get(key) or []:
                # filter again: not every implementation honours StateValue with a prefix
                if alarm.get("StateValue") != "ALARM":
                    continue
                if name_prefix and not str(alarm.get("AlarmName", "")).startswith(name_prefix):
                    continue
                found.append((alarm, kind))
        token = page.get("NextToken")
        if not token:
            return found, False
    return found, True


def _since_key(item: tuple[dict[str, Any], str]) -> float:
    alarm = item[0]
    since = alarm.get("StateTransitionedTimestamp") or alarm.get("StateUpdatedTimestamp")
    return since.timestamp() if isinstance(since, datetime) else 0.0


def list_active_alarms(
    name_prefix: str | None = None, limit: int = DEFAULT_ALARM_LIMIT, *, client: Any | None = None
) -> ActiveAlarms:
    """Metric and composite alarms currently in ALARM, most recently triggered first, bounded."""
    if name_prefix is not None:
        name_prefix = name_prefix.strip() or None
    if name_prefix and (len(name_prefix) > 255 or not all(" " <= ch <= "~" for ch in name_prefix)):
        raise InvalidInput("name_prefix must be 1-255 printable ASCII characters", field="name_prefix")
    if not 1 <= limit <= MAX_ALARM_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_ALARM_LIMIT}", field="limit")
    cw = _cloudwatch(client)
    found, truncated = _scan_alarms(cw, name_prefix)
    found.sort(key=_since_key, reverse=True)
    alarms: list[ActiveAlarm] = []
    used = 0
    for alarm, kind in found:
        if len(alarms) >= limit:
            break
        item = _to_active(alarm, kind)
        size = len(item.model_dump_json(exclude_none=True))
        if alarms and used + size > ALARM_BYTES_BUDGET:
            break
        alarms.append(item)
        used += size
    return ActiveAlarms(
        alarms=alarms, total=len(found), omitted=len(found) - len(alarms), scan_truncated=truncated
    )
