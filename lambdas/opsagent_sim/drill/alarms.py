"""The alarm as EventBridge delivers it (a real-format sample, renamed and retimed) and the
CloudWatch seeds (datapoints, the alarm defined and set to ALARM)."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from opsagent_sim.drill.scenario import AlarmSpec, DrillScenario
from opsagent_sim.samples import load_sample

ACCOUNT = "123456789012"
REGION = "us-east-1"


def cw_timestamp(moment: datetime) -> str:
    """CloudWatch's event format: 2026-11-20T14:05:40.989+0000."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def build_alarm_event(scenario: DrillScenario, now: datetime) -> dict:
    """The scenario's alarm as EventBridge delivers it: the sample, renamed, re-pointed and retimed."""
    return alarm_event(scenario.alarm, now)


def _arn(name: str) -> str:
    return f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"


def alarm_event(spec: AlarmSpec, now: datetime) -> dict:
    event = copy.deepcopy(load_sample(spec.fixture))
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
