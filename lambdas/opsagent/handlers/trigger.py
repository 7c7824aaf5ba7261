"""Lambda entry point for EventBridge "CloudWatch Alarm State Change" events (handler string
``opsagent.handlers.trigger.lambda_handler``).

Rule pattern (infra): ``{"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"],
"detail": {"state": {"value": ["ALARM"]}}}``. Other states and other events are ignored without
side effects. See :mod:`opsagent.investigation.pipeline` for what happens to an ALARM.

Environment: OPSAGENT_STATE_TABLE, OPSAGENT_AUDIT_TABLE, OPSAGENT_TICKETS_TABLE / OPSAGENT_TICKETS,
OPSAGENT_AGENT_ID, OPSAGENT_AGENT_ALIAS_ID, OPSAGENT_TRIGGER (JSON, see
:mod:`opsagent.investigation.config`), plus what the tools need (OPSAGENT_CLUSTER_NAME, ...).
The function's timeout should leave room for a whole agent session (e.g. 300 s; the agent is cut off
``OPSAGENT_TRIGGER.reserve_seconds`` before the end, default 60, for the no-model fallback and the
ticket), and its asynchronous invocation config a retry or two with a DLQ. The handler raises (so
Lambda retries and the DLQ keeps the event) when: the investigation failed before its ticket was
filed (its claim is released first), another invocation is investigating the same transition
(``DeliveryInProgress``, retryable), or the event is an alarm state change it cannot read. An
invocation killed without clean-up (timeout, out of memory) is taken over by Lambda's own retry of
it (same request id) or, after its lease (its remaining time + 30 s), by any redelivery.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from opsagent.investigation.pipeline import Dependencies, handle_alarm_event
from opsagent.tracing import traced

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "opsagent"))
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "OpsAgent"))


def default_dependencies() -> Dependencies:
    """Production wiring: the audit trail from OPSAGENT_AUDIT_TABLE (optional: without it the
    investigation still files its ticket, and says so in the log)."""
    deps = Dependencies()
    if os.environ.get("OPSAGENT_AUDIT_TABLE"):
        from opsagent.audit import AuditTrail

        deps.audit = AuditTrail.from_env()
    else:
        logger.warning("OPSAGENT_AUDIT_TABLE is not set: the investigation is not audited")
    return deps


@logger.inject_lambda_context(correlation_id_path="id", clear_state=True)
@traced
@metrics.log_metrics
def lambda_handler(event: dict, context: Any) -> dict:
    detail = (event or {}).get("detail") or {}
    logger.append_keys(alarm=detail.get("alarmName"), state=(detail.get("state") or {}).get("value"))
    outcome = handle_alarm_event(event, deps=default_dependencies(), lambda_context=context)
    metrics.add_metric(name=f"Alarm_{outcome.status}", unit=MetricUnit.Count, value=1)
    if outcome.status == "investigated":
        name = "Investigation_model" if outcome.produced_by == "agent" else "Investigation_no_model"
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    logger.info("alarm handled", extra={f"outcome_{k}": v for k, v in outcome.summary().items()})
    return outcome.summary()
