"""The offline drill: watch OpsAgent investigate an incident end to end, with no AWS account.

    python -m opsagent_sim.drill                     # the default scenario (cpu-saturation)
    python -m opsagent_sim.drill oom-crashloop       # one scenario (--full: the whole ticket)
    python -m opsagent_sim.drill --list              # what scenarios exist
    python -m opsagent_sim.drill --eval              # all scenarios, pass rate; exit 1 below 100 %

What one run does (nothing is mocked inside OpsAgent; only the outside world is emulated):

1. starts the AWS emulator (moto's ThreadedMotoServer on 127.0.0.1, a free port) and points every
   boto3 client at it (``AWS_ENDPOINT_URL``, fake credentials), and the Kubernetes emulator
   (:class:`~opsagent_sim.k8s_emulator.KubeEmulator`) with the scenario's cluster;
2. creates the state, audit and tickets tables with the infra's keys, seeds CloudWatch with the
   scenario's datapoints (timestamps relative to now) and the alarm (``put_metric_alarm`` +
   ``set_alarm_state``, so listActiveAlarms sees it);
3. builds the alarm's EventBridge event from the real-format sample (``tests/fixtures/events``),
   retimed to now, and hands it to the real trigger, ``opsagent.handlers.trigger.lambda_handler``,
   with no agent configured: the no-model path (runbook steps through the real action groups);
4. prints the investigation (alarm, runbook, each step's key evidence, probable cause,
   proposals), the ticket and the audit trail; delivers the same event again to show the
   de-duplication; checks the scenario's expected findings.

Scenarios live in ``opsagent_sim/drill_scenarios/<name>.yaml`` (see :class:`DrillScenario`); each
ties a Kubernetes scenario (``opsagent_sim/scenarios``), metric seeds, an alarm and the findings
the investigation must reach. ``--eval`` exits non-zero below 100 %: the no-model investigation is
deterministic, so anything less is a regression, not noise.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import logging
import os
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TextIO

import yaml
from pydantic import BaseModel, ConfigDict, Field

SCENARIO_DIR = Path(__file__).resolve().parent / "drill_scenarios"
REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES_DIR = REPO_ROOT / "tests" / "fixtures" / "events"
DEFAULT_SCENARIO = "cpu-saturation"
FLAP_AFTER_MINUTES = 6
ACCOUNT = "123456789012"
REGION = "us-east-1"
CONFIDENCE_RANK = {"unknown": 0, "low": 1, "medium": 2, "high": 3}


# --- scenario definitions -------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MetricSeed(_Strict):
    """Datapoints put into CloudWatch, one per ``period`` seconds, the last one at ~now."""

    namespace: str
    name: str
    dimensions: dict[str, str] = Field(default_factory=dict)
    unit: str = "None"
    period: int = Field(default=60, ge=1)
    values: list[float] = Field(min_length=1, max_length=1440)


class MetricOverride(_Strict):
    namespace: str
    name: str
    dimensions: dict[str, str] = Field(default_factory=dict)
    period: int = 300
    stat: str = "Average"


class AlarmSpec(_Strict):
    """The alarm event, from a real-format sample with overrides."""

    fixture: Literal["alarm-single-metric", "alarm-metric-math", "alarm-composite"]
    name: str | None = None
    description: str | None = None
    metric: MetricOverride | None = Field(default=None, description="single-metric alarms: the metric")
    dimensions: dict[str, str] | None = Field(default=None, description="metric math: every metricStat's")
    threshold: float | None = None
    recent: list[float] | None = Field(default=None, description="reasonData.recentDatapoints")
    triggering: list[str] | None = Field(default=None, description="composite: the child alarms that fired")
    children: list[AlarmSpec] = Field(
        default_factory=list, description="composite: child alarms defined in CloudWatch and set to ALARM"
    )


class Expectation(_Strict):
    """What a correct investigation reaches. Every listed item must hold."""

    runbook: str | None = None
    category: str | None = None
    min_confidence: Literal["low", "medium", "high"] = "low"
    cause_keywords: list[str] = Field(default_factory=list, description="in the probable cause (any case)")
    signals: list[str] = Field(default_factory=list, description="finding signals, e.g. OOMKilled")
    proposals: list[str] = Field(default_factory=list, description="operations proposed (never executed)")
    redacted: list[str] = Field(default_factory=list, description="secrets that must not reach the ticket")


class DrillScenario(_Strict):
    name: str
    title: str
    k8s_scenario: str
    cluster: str = "prod-eks"
    namespace: str = "shop"
    trigger: dict[str, Any] = Field(default_factory=dict, description="OPSAGENT_TRIGGER overrides")
    policy: dict[str, Any] | None = Field(
        default=None, description="OPSAGENT_POLICY (default: allow namespace)"
    )
    alarm: AlarmSpec
    metrics: list[MetricSeed] = Field(default_factory=list)
    expect: Expectation = Field(default_factory=Expectation)


def list_scenarios() -> list[str]:
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))


def load_scenario(name: str | Path) -> DrillScenario:
    path = Path(name)
    if not path.suffix:
        path = SCENARIO_DIR / f"{name}.yaml"
    if not path.exists():
        raise SystemExit(f"no drill scenario {name!r}; available: {', '.join(list_scenarios())}")
    data = yaml.safe_load(path.read_text()) or {}
    data.setdefault("name", path.stem)
    return DrillScenario.model_validate(data)


# --- the alarm event and CloudWatch seeds ---------------------------------------------------------


def cw_timestamp(moment: datetime) -> str:
    """CloudWatch's event format: 2026-11-20T14:05:40.989+0000."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def load_fixture(name: str) -> dict:
    path = FIXTURES_DIR / f"{name}.json"
    if not path.exists():
        raise SystemExit(f"sample event {path} not found: run the drill from the repository checkout")
    return json.loads(path.read_text())


def build_alarm_event(scenario: DrillScenario, now: datetime) -> dict:
    """The scenario's alarm as EventBridge delivers it: the sample, renamed, re-pointed and retimed."""
    return alarm_event(scenario.alarm, now)


def _arn(name: str) -> str:
    return f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"


def alarm_event(spec: AlarmSpec, now: datetime) -> dict:
    event = copy.deepcopy(load_fixture(spec.fixture))
    detail = event["detail"]
    name = spec.name or detail["alarmName"]
    detail["alarmName"] = name
    event["id"] = str(uuid.uuid4())
    event["time"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    event["account"], event["region"] = ACCOUNT, REGION
    event["resources"] = [_arn(name)]
    cfg = detail["configuration"]
    if spec.description is not None:
        cfg["description"] = spec.description
    if spec.metric is not None:
        m = spec.metric
        cfg["metrics"] = [
            {
                "id": "m1",
                "metricStat": {
                    "metric": {"namespace": m.namespace, "name": m.name, "dimensions": m.dimensions},
                    "period": m.period,
                    "stat": m.stat,
                },
                "returnData": True,
            }
        ]
    if spec.dimensions is not None:
        for q in cfg.get("metrics", []):
            if "metricStat" in q:
                q["metricStat"]["metric"]["dimensions"] = dict(spec.dimensions)

    state = detail["state"]
    reason_data = json.loads(state.get("reasonData") or "{}")
    period = int(reason_data.get("period") or (spec.metric.period if spec.metric else 60))
    recent = spec.recent if spec.recent is not None else reason_data.get("recentDatapoints", [])
    threshold = spec.threshold if spec.threshold is not None else reason_data.get("threshold")
    if "triggeringAlarms" in reason_data:
        if spec.triggering is not None:
            stamp = cw_timestamp(now - timedelta(seconds=40))
            reason_data["triggeringAlarms"] = [
                {"arn": _arn(n), "state": {"value": "ALARM", "timestamp": stamp}} for n in spec.triggering
            ]
            state["reason"] = (
                f"{_arn(spec.triggering[0])} transitioned to ALARM at {now:%A %d %B, %Y %H:%M:%S} UTC"
            )
    else:
        reason_data.update(
            queryDate=cw_timestamp(now),
            startDate=cw_timestamp(now - timedelta(seconds=period * max(1, len(recent)))),
            period=period,
            recentDatapoints=recent,
            threshold=threshold,
        )
        reason_data.pop("evaluatedDatapoints", None)
        if spec.metric is not None:
            reason_data["statistic"] = spec.metric.stat
        n = len(recent)
        points = ", ".join(f"{v:g}" for v in recent)
        state["reason"] = (
            f"Threshold Crossed: {n} out of the last {n} datapoints [{points}] were greater than the "
            f"threshold ({threshold}) (minimum {n} datapoints for OK -> ALARM transition)."
        )
    state["reasonData"] = json.dumps(reason_data)
    state["timestamp"] = cw_timestamp(now)
    prev = detail.get("previousState") or {}
    prev["timestamp"] = cw_timestamp(now - timedelta(minutes=25))
    prev.pop("reasonData", None)
    prev["value"] = prev.get("value") or "OK"
    detail["previousState"] = prev
    return event


def seed_cloudwatch(cloudwatch: Any, scenario: DrillScenario, event: dict, now: datetime) -> None:
    """Datapoints ending at ~now, then the alarm itself (defined and set to ALARM)."""
    for seed in scenario.metrics:
        n = len(seed.values)
        data = [
            {
                "MetricName": seed.name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in seed.dimensions.items()],
                "Timestamp": now - timedelta(seconds=seed.period * (n - 1 - i) + 5),
                "Value": float(v),
                "Unit": seed.unit,
            }
            for i, v in enumerate(seed.values)
        ]
        for start in range(0, n, 500):
            cloudwatch.put_metric_data(Namespace=seed.namespace, MetricData=data[start : start + 500])

    for child in scenario.alarm.children:
        seed_alarm(cloudwatch, alarm_event(child, now))
    seed_alarm(cloudwatch, event)


def seed_alarm(cloudwatch: Any, event: dict) -> None:
    """Define the event's alarm in CloudWatch (metric, metric math or composite) and set it to ALARM."""
    detail = event["detail"]
    cfg = detail["configuration"]
    reason_data = json.loads(detail["state"].get("reasonData") or "{}")
    name = detail["alarmName"]
    if cfg.get("alarmRule"):
        # moto 5.2.5 does not implement PutCompositeAlarm: the composite exists only as the event;
        # what the trigger needs from CloudWatch are its children, defined above.
        return
    else:
        common = {
            "AlarmName": name,
            "AlarmDescription": cfg.get("description", ""),
            "EvaluationPeriods": max(1, len(reason_data.get("recentDatapoints") or [1])),
            "Threshold": float(reason_data.get("threshold") or 0),
            "ComparisonOperator": "GreaterThanThreshold",
        }
        queries = cfg.get("metrics", [])
        if len(queries) == 1 and "metricStat" in queries[0]:
            ms = queries[0]["metricStat"]
            cloudwatch.put_metric_alarm(
                **common,
                Namespace=ms["metric"]["namespace"],
                MetricName=ms["metric"]["name"],
                Dimensions=[{"Name": k, "Value": v} for k, v in ms["metric"].get("dimensions", {}).items()],
                Statistic=ms.get("stat", "Average"),
                Period=int(ms.get("period", 60)),
            )
        else:
            metrics = []
            for q in queries:
                item: dict[str, Any] = {"Id": q["id"], "ReturnData": bool(q.get("returnData", False))}
                if q.get("expression"):
                    item["Expression"] = q["expression"]
                    item["Label"] = q.get("label", q["id"])
                else:
                    ms = q["metricStat"]
                    item["MetricStat"] = {
                        "Metric": {
                            "Namespace": ms["metric"]["namespace"],
                            "MetricName": ms["metric"]["name"],
                            "Dimensions": [
                                {"Name": k, "Value": v} for k, v in ms["metric"].get("dimensions", {}).items()
                            ],
                        },
                        "Period": int(ms.get("period", 60)),
                        "Stat": ms.get("stat", "Sum"),
                    }
                metrics.append(item)
            cloudwatch.put_metric_alarm(**common, Metrics=metrics)
    cloudwatch.set_alarm_state(
        AlarmName=name,
        StateValue="ALARM",
        StateReason=detail["state"]["reason"][:1000],
        StateReasonData=detail["state"].get("reasonData") or "{}",
    )


# --- the emulated world ---------------------------------------------------------------------------


@dataclass
class DrillEnv:
    scenario: DrillScenario
    now: datetime
    aws_url: str
    kube: Any
    tables: dict[str, str]


@dataclass
class FakeLambdaContext:
    function_name: str = "opsagent-trigger-drill"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:opsagent-trigger-drill"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 300_000


@contextlib.contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """Send the Lambda loggers' output (Powertools JSON lines on stdout/stderr) to a buffer while the
    handler runs, so the report reads well; the drill says how many lines there were (--verbose
    prints them)."""
    buffer = io.StringIO()
    swapped: list[tuple[logging.StreamHandler, Any]] = []
    loggers = [
        logging.getLogger(),
        *(v for v in logging.Logger.manager.loggerDict.values() if isinstance(v, logging.Logger)),
    ]
    for lg in loggers:
        for handler in lg.handlers:
            if type(handler) is logging.StreamHandler and handler.stream in (sys.stdout, sys.stderr):
                swapped.append((handler, handler.setStream(buffer)))
    try:
        yield buffer
    finally:
        for handler, stream in swapped:
            handler.setStream(stream)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _reset_caches() -> None:
    from opsagent.aws import reset_clients
    from opsagent.k8s import reset_kube

    reset_clients()
    reset_kube()
    with contextlib.suppress(ImportError):
        from opsagent.tickets.service import reset_backend

        reset_backend()


def quiet_logging() -> None:
    """The report is the output: no request logs from the emulators, only warnings from OpsAgent."""
    for name in ("werkzeug", "moto", "botocore", "urllib3", "opsagent_sim"):
        logging.getLogger(name).setLevel(logging.ERROR)


@contextlib.contextmanager
def drill_environment(scenario: DrillScenario, *, now: datetime | None = None) -> Iterator[DrillEnv]:
    """Emulators up, environment pointed at them, tables created, metrics and alarm seeded.
    Restores ``os.environ`` (and the client caches) on exit, so it can run inside tests."""
    from moto.server import ThreadedMotoServer

    from opsagent_sim.k8s_emulator import KubeEmulator

    now = (now or datetime.now(UTC)).replace(
        microsecond=(now or datetime.now(UTC)).microsecond // 1000 * 1000
    )
    quiet_logging()
    suffix = uuid.uuid4().hex[:8]
    tables = {
        "state": f"opsagent-drill-state-{suffix}",
        "audit": f"opsagent-drill-audit-{suffix}",
        "tickets": f"opsagent-drill-tickets-{suffix}",
    }
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    aws_url = f"http://{host}:{port}"
    policy = scenario.policy or {"allowed_namespaces": [scenario.namespace]}
    trigger = {"mutation_mode": "propose", "flap_window_minutes": 30, **scenario.trigger}
    env = {
        "AWS_ACCESS_KEY_ID": "drill",
        "AWS_SECRET_ACCESS_KEY": "drill",
        "AWS_SESSION_TOKEN": "drill",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": aws_url,
        "POWERTOOLS_SERVICE_NAME": "opsagent-drill",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "OpsAgentDrill",
        "OPSAGENT_STATE_TABLE": tables["state"],
        "OPSAGENT_AUDIT_TABLE": tables["audit"],
        "OPSAGENT_TICKETS_TABLE": tables["tickets"],
        "OPSAGENT_CLUSTER_NAME": scenario.cluster,
        "OPSAGENT_ALLOWED_NAMESPACES": scenario.namespace,
        "OPSAGENT_POLICY": json.dumps(policy),
        "OPSAGENT_TRIGGER": json.dumps(trigger),
    }
    removed = ("OPSAGENT_AGENT_ID", "OPSAGENT_AGENT_ALIAS_ID", "OPSAGENT_TICKETS", "AWS_PROFILE")
    saved = {
        k: os.environ.get(k)
        for k in (*env, *removed, "OPSAGENT_K8S_ENDPOINT", "OPSAGENT_K8S_TOKEN", "OPSAGENT_K8S_CA_FILE")
    }
    try:
        os.environ.update(env)
        for key in removed:
            os.environ.pop(key, None)
        _reset_caches()
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"{aws_url}/moto-api/reset", method="POST"), timeout=10)
        with KubeEmulator(scenario.k8s_scenario, now=now) as kube:
            os.environ.pop("OPSAGENT_K8S_CA_FILE", None)
            os.environ.update(kube.env())
            os.environ["OPSAGENT_CLUSTER_NAME"] = scenario.cluster  # metrics' ClusterName; the endpoint wins
            _reset_caches()
            _create_tables(tables)
            from opsagent.aws import client

            event_for_seed = build_alarm_event(scenario, now)
            seed_cloudwatch(client("cloudwatch"), scenario, event_for_seed, now)
            yield DrillEnv(scenario=scenario, now=now, aws_url=aws_url, kube=kube, tables=tables)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _reset_caches()
        server.stop()


def _create_tables(tables: dict[str, str]) -> None:
    from opsagent.audit import create_table as create_audit_table
    from opsagent.state import create_table as create_state_table
    from opsagent.tickets.dynamodb import create_table as create_tickets_table

    create_state_table(tables["state"])
    create_audit_table(tables["audit"])
    create_tickets_table(tables["tickets"])


# --- one run --------------------------------------------------------------------------------------


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


# --- output ---------------------------------------------------------------------------------------


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opsagent drill", description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", nargs="?", default=DEFAULT_SCENARIO, help="scenario name or YAML path")
    parser.add_argument("--eval", action="store_true", help="run every scenario and print the pass rate")
    parser.add_argument("--list", action="store_true", help="list the scenarios")
    parser.add_argument("--full", action="store_true", help="print the whole ticket, evidence included")
    parser.add_argument("--verbose", action="store_true", help="print the Lambda log lines too")
    args = parser.parse_args(argv)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    if args.list:
        for name in list_scenarios():
            print(f"{name:<28} {load_scenario(name).title}")
        return 0
    if args.eval:
        return eval_main([])
    result = run_drill(args.scenario, out=sys.stdout, full=args.full, verbose=args.verbose)
    return 0 if result.passed else 1


def eval_main(argv: list[str] | None = None) -> int:
    """``opsagent eval`` / ``make eval``: every scenario (or those named), pass rate, exit 1 below 100 %."""
    parser = argparse.ArgumentParser(
        prog="opsagent eval", description="run drill scenarios, print the pass rate"
    )
    parser.add_argument("scenarios", nargs="*", help="scenario names (default: all)")
    args = parser.parse_args(argv)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    print("OpsAgent drill evaluation (no model: runbook fallback against emulated AWS + Kubernetes)")
    passed, total, _ = run_eval(args.scenarios or list_scenarios(), out=sys.stdout)
    return 0 if total and passed == total else 1


if __name__ == "__main__":
    sys.exit(main())
