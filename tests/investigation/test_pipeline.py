"""handle_alarm_event end to end with moto tables, a fake ticket sink and canned tool bodies."""

from __future__ import annotations

import pytest

from opsagent.audit import AuditTrail
from opsagent.investigation.pipeline import Dependencies, handle_alarm_event

from .conftest import AUDIT_TABLE, OOM_PODS, FakeDispatch, FakeTickets
from .conftest import retime as _retime


def _deps(dispatch=None, tickets=None, **kw):
    kw.setdefault("audit", AuditTrail(AUDIT_TABLE))
    kw.setdefault("runbooks_loader", lambda: [])
    return Dependencies(tickets=tickets or FakeTickets(), dispatch=dispatch or FakeDispatch(), **kw)


@pytest.mark.parametrize("kind", ["single-metric", "metric-math", "composite"])
def test_each_alarm_variant_is_investigated_without_a_model(tables, alarm, settings_factory, kind):
    settings = settings_factory(default_namespace="shop")
    dispatch = FakeDispatch()
    deps = _deps(
        dispatch,
        describe_alarms=lambda names: [
            {
                "AlarmName": "checkout-5xx-rate",
                "Metrics": [
                    {
                        "Id": "errors",
                        "MetricStat": {
                            "Metric": {
                                "Namespace": "AWS/ApplicationELB",
                                "MetricName": "HTTPCode_Target_5XX_Count",
                                "Dimensions": [
                                    {"Name": "TargetGroup", "Value": "targetgroup/checkout/73e2d6bc24d8a067"}
                                ],
                            },
                            "Period": 60,
                            "Stat": "Sum",
                        },
                    }
                ],
            }
        ],
    )
    out = handle_alarm_event(alarm(kind), settings=settings, deps=deps)
    assert out.status == "investigated", out.message
    assert out.produced_by == "runbook" and out.fallback_reason == "not_configured"
    report, ctx = deps.tickets.created[0]
    assert ctx.trigger == "alarm" and ctx.incident_id == out.incident_id
    assert report.alarm.workload.label() == "shop/checkout"
    # pre-enrichment went through the action-group events: metric window and the workload's pods
    ops = dispatch.operations()
    assert ops[:2] == ["queryMetric", "listPods"]
    pods_event = dispatch.events[1]
    assert {"name": "workload", "type": "string", "value": "checkout"} in pods_event["parameters"]
    assert pods_event["sessionAttributes"] == {"incident_id": out.incident_id, "trigger": "alarm"}
    trail = AuditTrail(AUDIT_TABLE).for_incident(out.incident_id)
    assert trail[-1].operation == "investigateAlarm" and trail[-1].decision == "recorded"
    assert trail[-1].after["ticket_id"] == out.ticket_id
    assert trail[-1].after["produced_by"] == "runbook"


def test_states_other_than_alarm_are_ignored_without_side_effects(tables, alarm, settings_factory):
    event = alarm("single-metric")
    event["detail"]["state"]["value"] = "OK"
    deps = _deps()
    out = handle_alarm_event(event, settings=settings_factory(), deps=deps)
    assert out.status == "ignored" and "OK" in out.message
    assert deps.tickets.created == [] and deps.dispatch.events == []


def test_an_unrelated_event_is_ignored(tables, settings_factory):
    out = handle_alarm_event(
        {"source": "aws.ec2", "detail-type": "x"}, settings=settings_factory(), deps=_deps()
    )
    assert out.status == "ignored"


def test_duplicate_delivery_gives_one_investigation_one_ticket_one_trail(tables, alarm, settings_factory):
    deps, settings = _deps(), settings_factory()
    first = handle_alarm_event(alarm("single-metric"), settings=settings, deps=deps)
    second = handle_alarm_event(alarm("single-metric"), settings=settings, deps=deps)
    assert first.status == "investigated"
    assert second.status == "duplicate" and second.message == "duplicate delivery ignored"
    assert second.incident_id == first.incident_id and second.ticket_id == first.ticket_id
    assert len(deps.tickets.created) == 1
    trail = AuditTrail(AUDIT_TABLE).for_incident(first.incident_id)
    assert [r.decision for r in trail if r.operation == "investigateAlarm"] == ["recorded", "deduplicated"]
    assert trail[-1].rule == "duplicate_delivery"


def test_flapping_within_the_window_comments_instead_of_a_new_ticket(tables, alarm, settings_factory):
    deps, settings = _deps(), settings_factory(flap_window_minutes=30)
    first = handle_alarm_event(alarm("single-metric"), settings=settings, deps=deps)
    again = handle_alarm_event(_retime(alarm("single-metric"), 12), settings=settings, deps=deps)
    assert again.status == "coalesced"
    assert again.incident_id == first.incident_id and again.ticket_id == first.ticket_id
    assert len(deps.tickets.created) == 1
    assert len(deps.tickets.comments) == 1
    ticket_id, text = deps.tickets.comments[0]
    assert ticket_id == first.ticket_id and "occurrence #2" in text and "flap window" in text
    trail = AuditTrail(AUDIT_TABLE).for_incident(first.incident_id)
    assert trail[-1].rule == "flap_window" and trail[-1].decision == "deduplicated"
    # outside the window (after the last ALARM) -> a new investigation
    late = handle_alarm_event(_retime(alarm("single-metric"), 12 + 31), settings=settings, deps=deps)
    assert late.status == "investigated" and late.incident_id != first.incident_id
    assert len(deps.tickets.created) == 2


def test_flap_after_the_ticket_was_closed_starts_a_new_investigation(tables, alarm, settings_factory):
    deps, settings = _deps(), settings_factory(flap_window_minutes=30)
    first = handle_alarm_event(alarm("single-metric"), settings=settings, deps=deps)
    deps.tickets.closed.add(first.ticket_id)
    again = handle_alarm_event(_retime(alarm("single-metric"), 5), settings=settings, deps=deps)
    assert again.status == "investigated" and again.incident_id != first.incident_id


def test_a_failed_investigation_releases_the_claim_so_the_retry_runs(tables, alarm, settings_factory):
    settings = settings_factory()
    failing = _deps(tickets=FakeTickets(fail=RuntimeError("ticket backend down")))
    with pytest.raises(RuntimeError):
        handle_alarm_event(alarm("single-metric"), settings=settings, deps=failing)
    deps = _deps()
    out = handle_alarm_event(alarm("single-metric"), settings=settings, deps=deps)
    assert out.status == "investigated" and len(deps.tickets.created) == 1


def test_fallback_report_finds_the_oom_crash_loop_and_cites_the_evidence(tables, alarm, settings_factory):
    dispatch = FakeDispatch(bodies={"/namespaces/{namespace}/pods": (200, OOM_PODS)})
    deps = _deps(dispatch)
    out = handle_alarm_event(alarm("single-metric"), settings=settings_factory(), deps=deps)
    report, _ = deps.tickets.created[0]
    pods_ref = next(t.ref for t in report.tool_calls if t.operation == "listPods")
    assert report.probable_cause.category == "oom" and report.probable_cause.confidence == "high"
    assert pods_ref in report.probable_cause.evidence
    oom = next(f for f in report.findings if f.signal == "OOMKilled")
    assert oom.evidence == [pods_ref] and "cart-7d9f-abcde" in oom.summary
    text = report.to_markdown()
    assert "**no model**" in text and "not_configured" in text and "OOMKilled" in text
    assert out.confidence == "high"


def test_a_failing_tool_is_evidence_not_a_crash(tables, alarm, settings_factory):
    def boom(group, event, context):
        raise ConnectionError("kube api down")

    deps = _deps(dispatch=boom)
    out = handle_alarm_event(alarm("single-metric"), settings=settings_factory(), deps=deps)
    report, _ = deps.tickets.created[0]
    assert out.status == "investigated"
    assert all(t.status == 500 for t in report.tool_calls)
    assert any("answered 500" in g and "kube api down" in g for g in report.gaps)


def test_step_evidence_chars_bounds_each_excerpt_in_the_ticket(tables, alarm, settings_factory):
    big = {"pods_total": 1, "filler": "z" * 3000}
    dispatch = FakeDispatch(bodies={"/namespaces/{namespace}/pods": (200, big)})
    deps = _deps(dispatch)
    handle_alarm_event(alarm("single-metric"), settings=settings_factory(step_evidence_chars=300), deps=deps)
    report, _ = deps.tickets.created[0]
    text = report.to_markdown()
    assert "z" * 200 in text and "z" * 300 not in text


# --- a Lambda that dies mid-investigation (timeout, OOM) never silently drops the alarm -------------


class Ctx:
    """A Lambda context: async retries of one event keep its request id (AWS docs)."""

    def __init__(self, request_id: str, remaining_ms: int = 300_000) -> None:
        self.aws_request_id = request_id
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def _killed_store(clock):
    """A store whose clean-up never runs, as when Lambda kills the runtime at its timeout."""
    from opsagent.investigation.dedup import AlarmStateStore

    from .conftest import STATE_TABLE

    store = AlarmStateStore(STATE_TABLE, clock=lambda: clock[0])
    store.release_delivery = lambda *a, **k: None
    store.release_incident = lambda *a, **k: None
    return store


def _crash(store, alarm, settings, request_id="req-1"):
    failing = _deps(tickets=FakeTickets(fail=RuntimeError("killed at the 300 s timeout")), store=store)
    with pytest.raises(RuntimeError):
        handle_alarm_event(
            alarm("single-metric"), settings=settings, deps=failing, lambda_context=Ctx(request_id)
        )


def test_lambdas_own_retry_after_a_crash_investigates_again(tables, alarm, settings_factory):
    clock = [1_000_000.0]
    store, settings = _killed_store(clock), settings_factory(flap_window_minutes=30)
    _crash(store, alarm, settings)
    clock[0] += 10 + 60  # killed (out of memory) after 10 s; Lambda retries a minute later, same request id
    deps = _deps(store=store)
    out = handle_alarm_event(
        alarm("single-metric"), settings=settings, deps=deps, lambda_context=Ctx("req-1")
    )
    assert out.status == "investigated", out.message  # not "duplicate", not coalesced into itself
    assert len(deps.tickets.created) == 1


def test_a_redelivery_takes_over_once_the_dead_invocations_lease_is_over(tables, alarm, settings_factory):
    clock = [1_000_000.0]
    store, settings = _killed_store(clock), settings_factory(flap_window_minutes=30)
    _crash(store, alarm, settings)
    clock[0] += 300 + 31  # the lease covers the invocation's remaining time, not 15 minutes
    deps = _deps(store=store)
    out = handle_alarm_event(
        alarm("single-metric"), settings=settings, deps=deps, lambda_context=Ctx("req-2")
    )
    assert out.status == "investigated", out.message


def test_a_delivery_that_finds_the_alarm_in_progress_fails_so_it_is_retried(tables, alarm, settings_factory):
    from opsagent.errors import OpsAgentError

    clock = [1_000_000.0]
    store, settings = _killed_store(clock), settings_factory()
    _crash(store, alarm, settings)
    clock[0] += 10  # another delivery of the same transition while the first may still be running
    with pytest.raises(OpsAgentError) as err:
        handle_alarm_event(
            alarm("single-metric"), settings=settings, deps=_deps(store=store), lambda_context=Ctx("req-2")
        )
    assert err.value.retryable  # an error: Lambda retries it (then the DLQ), never a silent "duplicate"


def test_a_failed_investigation_does_not_swallow_the_next_alarm(tables, alarm, settings_factory):
    settings = settings_factory(flap_window_minutes=30)
    failing = _deps(tickets=FakeTickets(fail=RuntimeError("ticket backend down")))
    with pytest.raises(RuntimeError):
        handle_alarm_event(alarm("single-metric"), settings=settings, deps=failing)
    deps = _deps()
    out = handle_alarm_event(_retime(alarm("single-metric"), 5), settings=settings, deps=deps)
    assert out.status == "investigated", out.message  # not coalesced into an incident with no ticket


def test_an_incident_whose_lead_died_is_taken_over_by_the_next_alarm(tables, alarm, settings_factory):
    clock = [1_000_000.0]
    store, settings = _killed_store(clock), settings_factory(flap_window_minutes=30)
    _crash(store, alarm, settings)  # killed: no clean-up, the incident has no ticket and never will
    clock[0] += 400  # past the dead lead's lease
    deps = _deps(store=store)
    out = handle_alarm_event(
        _retime(alarm("single-metric"), 7), settings=settings, deps=deps, lambda_context=Ctx("req-9")
    )
    assert out.status == "investigated", out.message
    assert len(deps.tickets.created) == 1


def test_a_flap_while_the_lead_is_alive_still_waits_for_its_ticket(tables, alarm, settings_factory):
    clock = [1_000_000.0]
    store, settings = _killed_store(clock), settings_factory(flap_window_minutes=30)
    _crash(store, alarm, settings)
    clock[0] += 60  # the lead may still be running
    out = handle_alarm_event(
        _retime(alarm("single-metric"), 1),
        settings=settings,
        deps=_deps(store=store),
        lambda_context=Ctx("r"),
    )
    assert out.status == "coalesced"


def _put_child_alarm(name: str, dims: dict[str, str], state: str = "ALARM") -> None:
    from opsagent.aws import client

    cw = client("cloudwatch")
    cw.put_metric_alarm(
        AlarmName=name,
        Namespace="ContainerInsights",
        MetricName="pod_cpu_utilization",
        Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
        Statistic="Average",
        Period=300,
        EvaluationPeriods=2,
        Threshold=80.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    cw.set_alarm_state(AlarmName=name, StateValue=state, StateReason="test")


@pytest.mark.parametrize(
    "rule",
    [
        'ALARM("arn:aws:cloudwatch:us-east-1:123456789012:alarm:checkout-high-cpu") AND '
        'NOT ALARM("arn:aws:cloudwatch:us-east-1:123456789012:alarm:maintenance-window")',
        "ALARM( checkout-high-cpu ) AND NOT ALARM(maintenance-window)",
        "NOT ALARM(maintenance-window) AND ALARM('checkout-high-cpu')",
    ],
)
def test_a_composite_without_triggering_alarms_finds_its_children_in_the_rule(
    tables, alarm, settings_factory, rule
):
    _put_child_alarm("maintenance-window", {"Namespace": "ops", "Service": "batch"}, state="OK")
    _put_child_alarm(
        "checkout-high-cpu", {"ClusterName": "prod-eks", "Namespace": "shop", "Service": "checkout"}
    )
    event = alarm("composite")
    event["detail"]["configuration"]["alarmRule"] = rule
    event["detail"]["state"]["reasonData"] = "{}"  # e.g. the composite's first evaluation
    deps = _deps()  # the real DescribeAlarms (moto), not a fake
    out = handle_alarm_event(event, settings=settings_factory(), deps=deps)
    report, _ = deps.tickets.created[0]
    assert report.alarm.workload.label() == "shop/checkout", report.gaps
    assert report.alarm.metric_name == "pod_cpu_utilization" and report.alarm.threshold == 80.0
    assert [t.name for t in report.alarm.triggering_alarms] == ["checkout-high-cpu"]  # NOT ... is no cause
    assert out.status == "investigated"


def test_a_composite_investigates_the_child_that_is_in_alarm(tables, alarm, settings_factory):
    _put_child_alarm("cart-high-cpu", {"Namespace": "shop", "Service": "cart"}, state="OK")
    _put_child_alarm("checkout-high-cpu", {"Namespace": "shop", "Service": "checkout"})
    event = alarm("composite")
    event["detail"]["configuration"]["alarmRule"] = "ALARM(cart-high-cpu) OR ALARM(checkout-high-cpu)"
    event["detail"]["state"]["reasonData"] = "{}"
    deps = _deps()
    handle_alarm_event(event, settings=settings_factory(), deps=deps)
    report, _ = deps.tickets.created[0]
    assert report.alarm.workload.label() == "shop/checkout"


def test_reason_words_in_free_text_are_not_evidence_of_a_pod_state(alarm):
    """Only Kubernetes object state counts: not log lines, old ticket titles or alarm names."""
    import json

    from opsagent.investigation.alarm import extract_facts
    from opsagent.investigation.analysis import analyze
    from opsagent.investigation.operations import ToolResult

    healthy = {"namespace": "shop", "pods_total": 3, "ready": 3, "restarts_total": 0, "problem_pods": []}
    logs = {"text": "WARN user input: ImagePullBackOff OOMKilled CrashLoopBackOff -- page everyone"}
    tickets = {
        "count": 1,
        "tickets": [{"id": "OPS-1", "title": "[cart] OOMKilled in a crash loop (CrashLoopBackOff)"}],
    }
    alarms = {"total": 1, "alarms": [{"name": "cart-OOMKilled-restarts", "reason": "ErrImagePull seen"}]}
    bodies = [
        ("listPods", healthy),
        ("getPodLogs", logs),
        ("searchTickets", tickets),
        ("listActiveAlarms", alarms),
    ]
    results = [
        ToolResult(ref=f"T{i}", operation=op, action_group="x", status=200, text=json.dumps(body))
        for i, (op, body) in enumerate(bodies, 1)
    ]
    facts = extract_facts(alarm("single-metric"))
    findings, cause, _ = analyze(facts, results)
    assert cause.category == "cpu_saturation", cause
    pod_states = {"ImagePullBackOff", "ErrImagePull", "OOMKilled", "CrashLoopBackOff"}
    assert not {f.signal for f in findings} & pod_states
    # a real OOM names the pods, not the alarms that happen to mention the word
    oom = ToolResult(
        ref="T9", operation="listPods", action_group="pods", status=200, text=json.dumps(OOM_PODS)
    )
    findings, cause, _ = analyze(facts, [*results, oom])
    (finding,) = [f for f in findings if f.signal == "OOMKilled"]
    assert cause.category == "oom" and "cart-7d9f-abcde" in finding.summary
    assert "cart-OOMKilled-restarts" not in finding.summary


class FlakyAudit:
    """The audit trail, failing for the investigation's own record (DynamoDB throttled, say)."""

    def __init__(self, fail_on: str = "investigateAlarm") -> None:
        self.trail, self.fail_on, self.records = AuditTrail(AUDIT_TABLE), fail_on, []

    def record(self, ctx, operation, parameters, decision, **kw):
        from opsagent.errors import UpstreamUnavailable

        if operation == self.fail_on and decision == "recorded":
            raise UpstreamUnavailable("could not write the audit record: ProvisionedThroughputExceeded")
        self.records.append((operation, decision))
        return self.trail.record(ctx, operation, parameters, decision, **kw)


def test_an_audit_failure_after_the_ticket_does_not_investigate_twice(
    tables, alarm, settings_factory, caplog
):
    deps = _deps(audit=FlakyAudit())
    settings = settings_factory()
    out = handle_alarm_event(alarm("single-metric"), settings=settings, deps=deps)
    assert out.status == "investigated" and out.ticket_id
    assert "audit" in out.message  # the outcome says the record is missing
    assert any("audit" in r.message and r.levelname == "ERROR" for r in caplog.records)
    again = handle_alarm_event(alarm("single-metric"), settings=settings, deps=deps)
    assert again.status == "duplicate" and len(deps.tickets.created) == 1


class CommentsDown(FakeTickets):
    def comment(self, ticket_id, text, ctx):
        raise RuntimeError("ticket backend down for comments")


@pytest.mark.parametrize("comments_work", [True, False])
def test_a_refire_during_the_investigation_reaches_the_ticket(tables, alarm, settings_factory, comments_work):
    settings = settings_factory(flap_window_minutes=30)
    tickets = FakeTickets() if comments_work else CommentsDown()
    flaps = []

    class FlapDuringEnrichment(FakeDispatch):
        def __call__(self, group, event, context):
            if not flaps:  # the alarm re-fires while the lead is still gathering evidence
                flaps.append(
                    handle_alarm_event(_retime(alarm("single-metric"), 3), settings=settings, deps=_deps())
                )
            return super().__call__(group, event, context)

    out = handle_alarm_event(
        alarm("single-metric"), settings=settings, deps=_deps(FlapDuringEnrichment(), tickets)
    )
    assert flaps[0].status == "coalesced" and flaps[0].ticket_id is None
    assert out.status == "investigated"
    if comments_work:
        ((ticket_id, text),) = tickets.comments
        assert (
            ticket_id == out.ticket_id
            and "flapped while the investigation ran" in text
            and "occurrence #2" in text
        )
    else:
        assert "flap notes not posted" in out.message


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(previousState={"value": "OK"}),  # no timestamp/reason on the previous state
        lambda d: d.pop("previousState"),
        lambda d: d["configuration"].pop("metrics"),  # no metrics at all (and no rule)
        lambda d: d["state"].pop("reasonData"),
    ],
)
def test_alarms_missing_optional_parts_are_still_investigated(tables, alarm, settings_factory, mutate):
    event = alarm("single-metric")
    mutate(event["detail"])
    out = handle_alarm_event(event, settings=settings_factory(), deps=_deps())
    assert out.status == "investigated", out.message


def test_an_alarm_state_change_that_cannot_be_read_fails_instead_of_being_dropped(
    tables, alarm, settings_factory
):
    from opsagent.errors import InvalidInput

    event = alarm("single-metric")
    event["detail"]["state"].pop("timestamp")
    deps = _deps()
    with pytest.raises(InvalidInput, match="malformed"):  # Lambda retries it, then the DLQ keeps it
        handle_alarm_event(event, settings=settings_factory(), deps=deps)
    assert deps.tickets.created == []


def test_a_redelivered_flap_is_a_duplicate_not_a_second_comment(tables, alarm, settings_factory):
    deps, settings = _deps(), settings_factory(flap_window_minutes=30)
    handle_alarm_event(alarm("single-metric"), settings=settings, deps=deps)
    flap = _retime(alarm("single-metric"), 4)
    assert handle_alarm_event(flap, settings=settings, deps=deps).status == "coalesced"
    again = handle_alarm_event(_retime(alarm("single-metric"), 4), settings=settings, deps=deps)
    assert again.status == "duplicate" and len(deps.tickets.comments) == 1


def test_the_fallback_stops_at_max_steps_and_says_so(tables, alarm, settings_factory):
    deps = _deps()
    handle_alarm_event(
        alarm("single-metric"), settings=settings_factory(max_steps=1, enrich=False), deps=deps
    )
    report, _ = deps.tickets.created[0]
    assert len(report.tool_calls) == 1
    assert any("not run (max_steps=1)" in g for g in report.gaps)


def test_metric_window_never_asks_for_a_period_longer_than_itself(alarm):
    from opsagent.investigation.alarm import extract_facts
    from opsagent.investigation.fallback import metric_params

    facts = extract_facts(alarm("single-metric"))  # period 300 s
    assert metric_params(facts, 60)["period"] == "300"
    assert "period" not in metric_params(facts, 4)  # 4 minutes < one 5-minute period


def test_cpu_saturation_is_high_confidence_only_when_capacity_is_known(alarm):
    """CPU over the threshold with healthy pods says 'saturation'; only the deployment (no HPA, or HPA at
    its maximum) says the capacity cannot grow by itself: that is what makes it high confidence."""
    import json

    from opsagent.investigation.alarm import extract_facts
    from opsagent.investigation.analysis import analyze
    from opsagent.investigation.operations import ToolResult

    facts = extract_facts(alarm("single-metric"))
    pods = {"namespace": "shop", "pods_total": 3, "ready": 3, "restarts_total": 0, "problem_pods": []}
    cpu = {"metric": {"metric_name": "pod_cpu_utilization"}, "summary": {"last": 96.4, "max": 97, "avg": 90}}
    deployment = {"replicas": {"spec": 3, "ready": 3, "unavailable": 0}, "rollout": {"status": "complete"}}

    def result(ref, op, body):
        return ToolResult(ref=ref, operation=op, action_group="x", status=200, text=json.dumps(body))

    base = [result("T1", "queryMetric", cpu), result("T2", "listPods", pods)]
    _, cause, gaps = analyze(facts, base)
    assert (cause.category, cause.confidence) == ("cpu_saturation", "medium")
    assert any("autoscaler limits were not checked" in g for g in gaps)
    _, cause, _ = analyze(facts, [*base, result("T3", "getDeployment", deployment)])
    assert (cause.category, cause.confidence) == ("cpu_saturation", "high") and "T3" in cause.evidence
    with_hpa = {**deployment, "hpa": {"min_replicas": 2, "max_replicas": 10, "current_replicas": 3}}
    _, cause, _ = analyze(facts, [*base, result("T3", "getDeployment", with_hpa)])
    assert cause.confidence == "medium"  # the HPA can still add replicas
