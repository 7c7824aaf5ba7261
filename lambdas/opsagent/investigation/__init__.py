"""The alarm-triggered investigation: parse a CloudWatch alarm state change, de-duplicate it,
gather first evidence, let the Bedrock Agent investigate (or, without a model, run the matching
runbook's read-only steps), and file a structured root-cause analysis as a ticket + audit trail.

Modules (import what you use; nothing heavy at import time):

* ``alarm``     — pydantic models of the EventBridge event and :func:`~.alarm.extract_facts`.
* ``config``    — :class:`~.config.TriggerSettings` (``OPSAGENT_TRIGGER`` + agent ids).
* ``dedup``     — at-least-once delivery de-duplication and flap coalescing in the state table.
* ``operations``— run any of the 10 action-group operations by operationId, exactly as the agent would.
* ``rca``       — the RCA report model and its Markdown rendering (bounded).
* ``analysis``  — deterministic findings from tool evidence (the no-model probable cause).
* ``fallback``  — the runbook-driven investigation used when Bedrock cannot be.
* ``agent``     — the InvokeAgent-driven investigation (confirmations decided by configuration).
* ``pipeline``  — :func:`~.pipeline.handle_alarm_event`, everything above in order.
"""
